"""The embedded vector store keeps at most ``vectors.loaded_indexes_max`` indexes loaded, and still answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from storage.config import VectorSettings
from storage.vectors import ChromaIndex, Partition, VectorItem, make_vector_index

SPACE = "a1b2c3d4e5"


async def test_recall_is_exact_for_every_person_after_their_index_was_evicted(
    tmp_path: Path, unique_prefix: str
) -> None:
    settings = VectorSettings(collection_prefix=unique_prefix, loaded_indexes_max=2)
    index = make_vector_index(settings, tmp_path / "chroma")
    rng = np.random.default_rng(7)
    people = [Partition(f"discord.{n}", "g1") for n in range(6)]
    stored: dict[Partition, np.ndarray] = {}
    try:
        for person in people:
            vectors = rng.standard_normal((8, 16)).astype(np.float32)
            stored[person] = vectors
            await index.upsert(
                SPACE, person, [VectorItem(id=f"m{i}", vector=v.tolist()) for i, v in enumerate(vectors)]
            )
        # The bound reached Chroma's index cache: six people, room for two.
        assert index._get_client()._server.hnsw_cache_size == 2  # type: ignore[attr-defined]
        # Two passes over six people with room for two: every query after the first pass reads an
        # evicted index back from disk and must still find each person's own vector, and only theirs.
        for _ in range(2):
            for person in people:
                for row in (0, 5):
                    hits = await index.query(SPACE, [person], stored[person][row].tolist(), k=3)
                    assert hits[0].id == f"m{row}"
                    assert abs(hits[0].distance) < 1e-4
                    assert len(hits) == 3
    finally:
        await index.drop_space(SPACE)
        await index.close()


async def test_zero_keeps_chromas_own_capacity(tmp_path: Path, unique_prefix: str) -> None:
    index = ChromaIndex.embedded(tmp_path / "chroma", prefix=unique_prefix, loaded_max=0)
    try:
        await index.upsert(SPACE, Partition("discord.1", "dm"), [VectorItem(id="m1", vector=[1.0, 0.0])])
        assert index._get_client()._server.hnsw_cache_size > 2  # type: ignore[attr-defined]
    finally:
        await index.close()
