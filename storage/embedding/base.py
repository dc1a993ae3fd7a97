"""The one interface every embedding provider implements."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


class EmbeddingError(Exception):
    """The embedding provider failed or answered with something unusable."""


class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors of a fixed dimension."""

    # A stable identifier of the vector space, e.g. "model2vec:builtin/minilm-l6-v2-256d".
    model_id: str
    dimension: int

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """Return an array of shape (len(texts), dimension), each row L2-normalised."""
        ...


def space_id(model_id: str, dimension: int) -> str:
    """Return a short fingerprint of a vector space; collections are named by it so spaces never mix."""
    return hashlib.sha1(f"{model_id}|{dimension}".encode()).hexdigest()[:10]
