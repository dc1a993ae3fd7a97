"""Links between crystals: each crystal is joined to its most similar neighbours (cosine of centroids)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def link(
    centroids: Sequence[Sequence[float]], min_similarity: float, max_links: int
) -> list[tuple[int, int, float]]:
    """Return (i, j, similarity) pairs, i < j, linking each crystal to up to ``max_links`` similar ones.

    Every crystal with any neighbour keeps at least its nearest one, so no theme floats alone on the map.
    """
    n = len(centroids)
    if n < 2:
        return []
    matrix = np.array([list(c) for c in centroids], dtype=np.float64)
    matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-9)
    sims = matrix @ matrix.T
    chosen: dict[tuple[int, int], float] = {}
    for i in range(n):
        order = [j for j in np.argsort(-sims[i]).tolist() if j != i]
        picked = [j for j in order if sims[i, j] >= min_similarity][:max_links] or order[:1]
        for j in picked:
            chosen[(min(i, j), max(i, j))] = round(float(sims[i, j]), 4)
    return sorted((a, b, s) for (a, b), s in chosen.items())
