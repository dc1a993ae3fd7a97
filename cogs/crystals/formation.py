"""Crystal formation: cluster one person's memories (in one realm) by meaning, and keep crystals stable.

Clustering is scikit-learn's agglomerative clustering (cosine, average linkage) of the memories' embeddings;
the number of themes is the one with the best silhouette score, so it follows the memories and works the
same for embedding models whose similarities sit at different levels. Each new cluster is matched to the
crystal it overlaps most, so a crystal keeps its id, its person-given name, its pin and its focus across
daily formations; a dissolved crystal's theme stays dissolved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from storage.crystals import CrystalRecord, SourceMemory
from storage.embedding.base import Vectors

# A new cluster is the same crystal as an old one when this share of their facets is common (Jaccard).
SAME_CRYSTAL_OVERLAP = 0.34


@dataclass(slots=True)
class Cluster:
    """A group of memories formation found, with its centre and, when matched, the crystal it continues."""

    members: list[int]  # indexes into the memories given to ``cluster``
    centroid: np.ndarray
    similarities: list[float]  # of each member to the centroid
    crystal: CrystalRecord | None = None


def cluster(vectors: Vectors, min_size: int, max_clusters: int, min_separation: float) -> list[Cluster]:
    """Group the rows of ``vectors`` (unit vectors) into clusters of at least ``min_size``, largest first.

    When no split separates the memories by at least ``min_separation`` (silhouette), they are one theme.
    """
    n = len(vectors)
    if n < min_size or n < 2:
        return []
    # Imported here: scikit-learn takes about a second to import, which every bot start would pay.
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.metrics import silhouette_score

    data = np.asarray(vectors, dtype=np.float64)
    best: tuple[float, np.ndarray] | None = None
    for k in range(2, min(max_clusters, n - 1) + 1):
        labels = AgglomerativeClustering(n_clusters=k, metric="cosine", linkage="average").fit_predict(data)
        score = float(silhouette_score(data, labels, metric="cosine"))
        if best is None or score > best[0] + 1e-9:  # ties keep the fewer, broader themes
            best = (score, labels)
    labels = best[1] if best is not None and best[0] >= min_separation else np.zeros(n, dtype=int)
    clusters = []
    for label in sorted(set(labels.tolist())):
        members = [i for i, lab in enumerate(labels) if lab == label]
        if len(members) >= min_size:
            clusters.append(_cluster_of(vectors, members))
    clusters.sort(key=lambda c: (-len(c.members), c.members[0]))
    return clusters


def match(
    clusters: list[Cluster], memories: Sequence[SourceMemory], existing: Sequence[CrystalRecord]
) -> None:
    """Attach to each cluster the existing crystal it continues (greedy by overlap, each crystal once)."""
    pairs = []
    for ci, c in enumerate(clusters):
        ids = {memories[i].id for i in c.members}
        for crystal in existing:
            old = set(crystal.facet_ids)
            if old:
                overlap = len(ids & old) / len(ids | old)
                if overlap >= SAME_CRYSTAL_OVERLAP:
                    pairs.append((overlap, ci, crystal))
    taken: set[int] = set()
    for _, ci, crystal in sorted(pairs, key=lambda p: (-p[0], p[1], p[2].id)):
        if clusters[ci].crystal is None and crystal.id not in taken:
            clusters[ci].crystal = crystal
            taken.add(crystal.id)


def absorb(
    vectors: Vectors, crystals: Sequence[CrystalRecord], threshold: float
) -> list[tuple[int, int, float]]:
    """Return (row, crystal id, similarity) for each vector close enough to a live crystal's centroid."""
    live = [c for c in crystals if c.centroid and not c.dissolved]
    if not live or len(vectors) == 0:
        return []
    centres = np.array([c.centroid for c in live], dtype=np.float32)
    centres /= np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-9)
    sims = np.asarray(vectors, dtype=np.float32) @ centres.T
    out = []
    for row in range(len(vectors)):
        best = int(np.argmax(sims[row]))
        if sims[row, best] >= threshold:
            out.append((row, live[best].id, float(sims[row, best])))
    return out


def brightness(importances: Sequence[float], pinned: Sequence[bool], size: int, largest: int) -> float:
    """Return a crystal's brightness: its memories' importance, with a little for its size and pins."""
    if not importances:
        return 0.0
    mean = sum(importances) / len(importances)
    share = size / max(largest, 1)
    pins = sum(pinned) / len(pinned)
    return round(min(1.0, 0.65 * mean + 0.25 * share + 0.1 * pins), 4)


def _cluster_of(vectors: Vectors, members: list[int]) -> Cluster:
    rows = np.asarray(vectors, dtype=np.float32)[members]
    centroid = rows.mean(axis=0)
    centroid /= max(float(np.linalg.norm(centroid)), 1e-9)
    return Cluster(members, centroid, [float(v) for v in rows @ centroid])
