"""The embedded store holds at most ``loaded_max`` collections' indexes: past that it reopens its client,
which unloads them all, and recall stays exact across reopens.

Chroma 1.5.9's own index cache keeps up to one index in each of its 64 shards whatever its capacity, so
the bound is kept by ``ChromaIndex`` itself (storage/vectors/chroma.py, ``_admit``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from storage.vectors.base import Partition, VectorItem
from storage.vectors.chroma import BACKEND_EMBEDDED, ChromaIndex, _chroma_settings
from storage.vectors.chroma_bounded import open_persistent_client

SPACE = "f00dcafe01"
PEOPLE = [Partition(f"discord.{n}", "g1") for n in range(6)]


def counting_index(path: Path, prefix: str, loaded_max: int) -> tuple[ChromaIndex, list[int]]:
    """Return an embedded index whose client openings are counted in the returned list.

    Its calls run on one thread, in order, as in the vector process.
    """
    opened: list[int] = []

    def connect():  # type: ignore[no-untyped-def]
        opened.append(1)
        path.mkdir(parents=True, exist_ok=True)
        return open_persistent_client(path, _chroma_settings(), loaded_max)

    index = ChromaIndex(
        connect,
        backend=BACKEND_EMBEDDED,
        prefix=prefix,
        location=str(path),
        persist_path=path,
        executor=ThreadPoolExecutor(1),
        loaded_max=loaded_max,
    )
    return index, opened


def vector(seed: int) -> list[float]:
    return np.random.default_rng(seed).standard_normal(8).astype(np.float32).tolist()


async def test_a_collection_past_the_bound_reopens_the_client(tmp_path: Path, unique_prefix: str) -> None:
    index, opened = counting_index(tmp_path / "chroma", unique_prefix, loaded_max=2)
    try:
        # Two distinct people fill the window; a third one reopens the client, and starts a new window.
        for n, expected_opens in [(0, 1), (1, 1), (0, 1), (2, 2), (3, 2), (2, 2), (4, 3)]:
            await index.upsert(SPACE, PEOPLE[n], [VectorItem(id=f"m{n}", vector=vector(n))])
            assert len(opened) == expected_opens, f"after person {n}"
    finally:
        await index.close()


async def test_without_a_bound_the_client_stays_open(tmp_path: Path, unique_prefix: str) -> None:
    index, opened = counting_index(tmp_path / "chroma", unique_prefix, loaded_max=0)
    try:
        for n, person in enumerate(PEOPLE):
            await index.upsert(SPACE, person, [VectorItem(id=f"m{n}", vector=vector(n))])
        assert len(opened) == 1
    finally:
        await index.close()


async def test_recall_is_exact_across_reopens_with_writes_between(tmp_path: Path, unique_prefix: str) -> None:
    index, opened = counting_index(tmp_path / "chroma", unique_prefix, loaded_max=2)
    stored: dict[Partition, list[list[float]]] = {person: [] for person in PEOPLE}
    try:
        for write in range(4):
            for n, person in enumerate(PEOPLE):
                stored[person].append(vector(100 * n + write))
                await index.upsert(SPACE, person, [VectorItem(id=f"m{write}", vector=stored[person][-1])])
            for person in PEOPLE:
                hits = await index.query(SPACE, [person], stored[person][-1], k=10)
                assert hits[0].id == f"m{write}"
                assert abs(hits[0].distance) < 1e-4
                assert sorted(hit.id for hit in hits) == [f"m{i}" for i in range(write + 1)]
        assert len(opened) > 4  # the bound was crossed many times
    finally:
        await index.close()
