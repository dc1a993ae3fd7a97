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

    # A stable identifier of the vector space, e.g. "model2vec:builtin/1a2b3c4d5e6f".
    model_id: str

    @property
    def dimension(self) -> int:
        """Return the vector length (providers that learn it from the server raise until probed)."""
        ...

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """Return an array of shape (len(texts), dimension), each row L2-normalised."""
        ...

    async def probe(self) -> int:
        """Make sure the provider answers and return the dimension."""
        ...

    async def close(self) -> None:
        """Release the provider's connections."""
        ...


def space_id(model_id: str, dimension: int) -> str:
    """Return a short fingerprint of a vector space; collections are named by it so spaces never mix."""
    return hashlib.sha1(f"{model_id}|{dimension}".encode()).hexdigest()[:10]
