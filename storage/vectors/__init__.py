"""The vector tier: a derived semantic index, one Chroma collection per (space, person, realm)."""

from __future__ import annotations

from pathlib import Path

from storage.config import VectorSettings
from storage.vectors.base import Partition, VectorHit, VectorIndex, VectorItem, VectorsUnavailable
from storage.vectors.chroma import ChromaIndex
from storage.vectors.process import ProcessIndex

__all__ = [
    "ChromaIndex",
    "Partition",
    "ProcessIndex",
    "VectorHit",
    "VectorIndex",
    "VectorItem",
    "VectorsUnavailable",
    "make_vector_index",
]


def make_vector_index(settings: VectorSettings, path: Path) -> ChromaIndex | ProcessIndex:
    """Build the configured vector index; ``path`` is ``StorageSettings.chroma_path()``.

    The embedded store runs in a child process of its own (``storage.vectors.child`` says why).
    """
    if settings.backend == "http":
        return ChromaIndex.from_settings(settings, path)
    return ProcessIndex(
        path,
        prefix=settings.collection_prefix,
        loaded_max=settings.loaded_indexes_max,
        exact_max=settings.exact_max,
        exact_cache_bytes=settings.exact_cache_mb << 20,
    )
