"""The embedded vector store keeps at most ``vectors.loaded_indexes_max`` indexes loaded and still recalls.

Chroma 1.5.9 reloads an evicted index from its files alone; these tests reopen the store the way a
restarted bot does, so every index is first read from disk and then evicted and read again.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import numpy as np

from storage.config import VectorSettings
from storage.vectors import ChromaIndex, Partition, VectorItem, make_vector_index

SPACE = "a1b2c3d4e5"
PEOPLE = [Partition(f"discord.{n}", "g1") for n in range(6)]

OLD_WRITER = """
import sys, chromadb, numpy as np
from chromadb.config import Settings
client = chromadb.PersistentClient(path=sys.argv[1], settings=Settings(anonymized_telemetry=False))
for name, vectors in zip(sys.argv[3:], np.load(sys.argv[2]), strict=True):
    handle = client.create_collection(name, configuration={"hnsw": {"space": "cosine"}})
    for i, vector in enumerate(vectors):
        handle.upsert(ids=[f"m{i}"], embeddings=vector.reshape(1, -1))
"""


def person_vectors(seed: int) -> dict[Partition, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {person: rng.standard_normal((7, 16)).astype(np.float32) for person in PEOPLE}


async def assert_recall_exact_twice(index: ChromaIndex, stored: dict[Partition, np.ndarray]) -> None:
    # Two passes over six people with room for two: the second pass reads every index back after its
    # eviction and must still find each person's newest vector and all seven of theirs.
    for _ in range(2):
        for person in PEOPLE:
            hits = await index.query(SPACE, [person], stored[person][6].tolist(), k=7)
            assert [hit.id for hit in hits][:1] == ["m6"]
            assert abs(hits[0].distance) < 1e-4
            assert sorted(hit.id for hit in hits) == [f"m{i}" for i in range(7)]


async def test_recall_is_exact_after_eviction_of_collections_this_index_wrote(
    tmp_path: Path, unique_prefix: str
) -> None:
    stored = person_vectors(7)
    # exact_max=0: every partition in Chroma, whose loaded indexes this is about.
    settings = VectorSettings(collection_prefix=unique_prefix, loaded_indexes_max=2, exact_max=0)
    writer = make_vector_index(settings, tmp_path / "chroma")
    for person, vectors in stored.items():
        for i, vector in enumerate(vectors):  # one write each, as turns and memories arrive
            await writer.upsert(SPACE, person, [VectorItem(id=f"m{i}", vector=vector.tolist())])
    await writer.close()

    index = make_vector_index(settings, tmp_path / "chroma")
    try:
        await assert_recall_exact_twice(index, stored)
    finally:
        await index.close()


async def test_the_bound_reaches_chromas_index_cache(tmp_path: Path, unique_prefix: str) -> None:
    # In this process, where the client can be looked at (the default runs it in the vector process).
    index = ChromaIndex.embedded(tmp_path / "chroma", prefix=unique_prefix, loaded_max=2)
    try:
        await index.upsert(SPACE, Partition("discord.1", "dm"), [VectorItem(id="m1", vector=[1.0, 0.0])])
        assert index._get_client()._server.hnsw_cache_size == 2  # type: ignore[attr-defined]
    finally:
        await index.close()


async def test_collections_written_with_chromas_default_threshold_survive_eviction(
    tmp_path: Path, unique_prefix: str
) -> None:
    stored = person_vectors(11)
    path = tmp_path / "chroma"
    reader = ChromaIndex.embedded(path, prefix=unique_prefix, loaded_max=2)
    # A store from before this change, written by another process with Chroma's own configuration (sync
    # every 1,000 writes): in this process each index is then first read from disk, as after a restart.
    names = [reader.collection_name(SPACE, person) for person in PEOPLE]
    np.save(tmp_path / "vectors.npy", np.stack([stored[person] for person in PEOPLE]))
    await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", OLD_WRITER, str(path), str(tmp_path / "vectors.npy"), *names],
        check=True,
    )

    try:
        await assert_recall_exact_twice(reader, stored)
    finally:
        await reader.close()


async def test_zero_keeps_chromas_own_capacity(tmp_path: Path, unique_prefix: str) -> None:
    index = ChromaIndex.embedded(tmp_path / "chroma", prefix=unique_prefix, loaded_max=0)
    try:
        await index.upsert(SPACE, Partition("discord.1", "dm"), [VectorItem(id="m1", vector=[1.0, 0.0])])
        assert index._get_client()._server.hnsw_cache_size > 2  # type: ignore[attr-defined]
    finally:
        await index.close()
