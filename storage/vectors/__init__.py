"""The vector tier: a derived semantic index, one Chroma collection per (space, person, realm)."""

from __future__ import annotations

from pathlib import Path

from storage.config import VectorSettings
from storage.vectors.base import Partition, VectorHit, VectorIndex, VectorItem, VectorsUnavailable
from storage.vectors.chroma import ChromaIndex

__all__ = [
    "ChromaIndex",
    "Partition",
    "VectorHit",
    "VectorIndex",
    "VectorItem",
    "VectorsUnavailable",
    "make_vector_index",
]


def make_vector_index(settings: VectorSettings, path: Path) -> ChromaIndex:
    """Build the configured vector index; ``path`` is ``StorageSettings.chroma_path()``."""
    return ChromaIndex.from_settings(settings, path)
