"""The exact store for small partitions (storage/vectors/exact.py) behind the embedded index: moving a grown
partition into Chroma (and finishing a move a crash interrupted), its in-memory copies, a second connection's
writes, a corrupt file, and the ``where`` filters it evaluates itself. The general index contract runs
against it in test_vectors.py (the "exact" and "process" kinds)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from storage.vectors import ChromaIndex, Partition, VectorItem, VectorsUnavailable, exact
from storage.vectors.exact import FILE_NAME, PAGE_SIZE, ExactStore, where_predicate

SPACE = "a1b2c3d4e5"
ALICE = Partition("discord.111", "g1")
BOB = Partition("discord.222", "g1")


def vectors(n: int, seed: int = 3, dim: int = 8) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def batch(rows: np.ndarray, start: int = 0, **metadata: str | int | float | bool) -> list[VectorItem]:
    return [VectorItem(f"v{start + i}", row, dict(metadata)) for i, row in enumerate(rows)]


def in_chroma(store: Path) -> set[str]:
    import chromadb
    from chromadb.config import Settings

    client = chromadb.PersistentClient(path=str(store), settings=Settings(anonymized_telemetry=False))
    return {c.name for c in client.list_collections()}


async def test_a_partition_stays_in_the_exact_store_until_it_outgrows_it(
    tmp_path: Path, unique_prefix: str
) -> None:
    rows = vectors(12)
    index = ChromaIndex.embedded(tmp_path / "chroma", prefix=unique_prefix, exact_max=10)
    try:
        await index.upsert(SPACE, ALICE, batch(rows[:10], kind="turn"))
        await index.upsert(SPACE, BOB, batch(rows[:3], kind="turn"))
        assert index.collection_name(SPACE, ALICE) not in in_chroma(tmp_path / "chroma")

        await index.upsert(SPACE, ALICE, batch(rows[10:], start=10, kind="memory"))

        assert in_chroma(tmp_path / "chroma") == {index.collection_name(SPACE, ALICE)}
        assert await index.count(SPACE) == 15
        nearest = await index.query(SPACE, [ALICE, BOB], rows[11], k=2)
        assert nearest[0].id == "v11" and nearest[0].distance == pytest.approx(0.0, abs=1e-5)
        memories = await index.query(SPACE, [ALICE], rows[0], k=5, where={"kind": "memory"})
        assert sorted(hit.id for hit in memories) == ["v10", "v11"]
        stored = await index.get(SPACE, ALICE)
        assert set(stored.ids) == {f"v{i}" for i in range(12)}
    finally:
        await index.close()
    # Nothing of Alice's is left behind in the exact store, and Bob's is still there.
    exact = ExactStore(tmp_path / "chroma")
    try:
        assert exact.names() == [
            ChromaIndex.embedded(tmp_path, prefix=unique_prefix).collection_name(SPACE, BOB)
        ]
    finally:
        exact.close()


async def test_a_move_a_crash_interrupted_is_finished_at_the_next_start(
    tmp_path: Path, unique_prefix: str
) -> None:
    rows = vectors(6)
    index = ChromaIndex.embedded(tmp_path / "chroma", prefix=unique_prefix, exact_max=100)
    name = index.collection_name(SPACE, ALICE)
    await index.upsert(SPACE, ALICE, batch(rows))
    await index.close()
    # The state a crash leaves between "marked as moving" and "dropped from the exact store": a collection
    # holding only part of the partition.
    exact = ExactStore(tmp_path / "chroma")
    exact.mark_moving(name)
    exact.close()
    partial = ChromaIndex.embedded(tmp_path / "chroma", prefix=unique_prefix)
    await partial.upsert(SPACE, ALICE, batch(rows[:2]))
    await partial.close()

    index = ChromaIndex.embedded(tmp_path / "chroma", prefix=unique_prefix, exact_max=100)
    try:
        found = await index.query(SPACE, [ALICE], rows[5], k=10)
        assert {hit.id for hit in found} == {f"v{i}" for i in range(6)}
        assert found[0].id == "v5"
        assert await index.count(SPACE) == 6
    finally:
        await index.close()


async def test_a_write_is_searchable_at_once_and_the_loaded_copies_stay_in_their_bound(
    tmp_path: Path,
) -> None:
    rows = vectors(200, dim=64)
    # Room for about one partition of 100 vectors (64 floats each) at a time.
    store = ExactStore(tmp_path, cache_bytes=40_000)
    try:
        for n, person in enumerate(("a", "b", "c")):
            store.upsert(
                f"p-{person}", SPACE, person, [f"v{i}" for i in range(100)], rows[:100] + n, [{}] * 100
            )
        for _ in range(2):
            for n, person in enumerate(("a", "b", "c")):
                hit = store.search(f"p-{person}", rows[7] + n, 1, None)
                assert [h.id for h in hit] == ["v7"]
        assert len(store._loaded) == 1
        # A replaced vector and a new one, found without reading the partition again.
        store.upsert("p-c", SPACE, "c", ["v7", "new"], np.stack([rows[150], rows[151]]), [{"k": 1}, {}])
        assert [h.id for h in store.search("p-c", rows[150], 1, None)] == ["v7"]
        assert [h.id for h in store.search("p-c", rows[151], 1, None)] == ["new"]
        assert store.search("p-c", rows[150], 1, None)[0].metadata == {"k": 1}
    finally:
        store.close()


async def test_another_connections_writes_are_seen(tmp_path: Path) -> None:
    rows = vectors(3)
    first, second = ExactStore(tmp_path), ExactStore(tmp_path)
    try:
        first.upsert("p", SPACE, "a", ["v0"], rows[:1], [{}])
        assert [h.id for h in first.search("p", rows[1], 5, None)] == ["v0"]  # now loaded in memory
        second.upsert("p", SPACE, "a", ["v1"], rows[1:2], [{}])
        second.drop_matching(user_part="nobody")

        assert [h.id for h in first.search("p", rows[1], 1, None)] == ["v1"]
        second.drop("p")
        assert first.search("p", rows[1], 5, None) == []
    finally:
        first.close()
        second.close()


async def test_a_corrupt_exact_store_makes_the_index_unavailable(tmp_path: Path, unique_prefix: str) -> None:
    index = ChromaIndex.embedded(tmp_path / "chroma", prefix=unique_prefix, exact_max=100)
    await index.upsert(SPACE, ALICE, batch(vectors(2)))
    await index.close()
    (tmp_path / "chroma" / FILE_NAME).write_bytes(b"\x00not a database\xff" * 64)
    for leftover in (tmp_path / "chroma").glob(FILE_NAME + "-*"):
        leftover.unlink()

    index = ChromaIndex.embedded(tmp_path / "chroma", prefix=unique_prefix, exact_max=100)
    try:
        with pytest.raises(VectorsUnavailable, match="exact vector store"):
            await index.ping()
        with pytest.raises(VectorsUnavailable):
            await index.query(SPACE, [ALICE], vectors(1)[0], k=1)
    finally:
        await index.close()


async def test_a_vector_of_another_dimension_is_refused(tmp_path: Path) -> None:
    store = ExactStore(tmp_path)
    try:
        store.upsert("p", SPACE, "a", ["v0"], vectors(1, dim=8), [{}])
        store.search("p", vectors(1, dim=8)[0], 1, None)
        with pytest.raises(ValueError, match="dimension"):
            store.upsert("p", SPACE, "a", ["v1"], vectors(1, dim=4), [{}])
        with pytest.raises(ValueError, match="dimension"):
            store.search("p", vectors(1, dim=4)[0], 1, None)
    finally:
        store.close()


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"kind": "turn"}, ["t"]),
        ({"kind": {"$ne": "turn"}}, ["m", "n"]),
        ({"importance": {"$gte": 2}}, ["m", "n"]),
        ({"importance": {"$lt": 2.5}}, ["t", "m"]),
        ({"importance": 2.0}, ["m"]),  # numbers compare as numbers
        ({"pinned": 1}, []),  # a boolean is not a number
        ({"kind": {"$in": ["memory", "note"]}}, ["m", "n"]),
        ({"kind": {"$nin": ["memory"]}}, ["t", "n"]),
        ({"pinned": {"$ne": True}}, ["m"]),  # a key the item lacks matches nothing
        ({"$or": [{"kind": "turn"}, {"pinned": True}]}, ["t"]),
        ({"$and": [{"kind": {"$ne": "turn"}}, {"importance": {"$gt": 2}}]}, ["n"]),
    ],
)
def test_where_filters_are_evaluated_like_chromas(where: dict[str, object], expected: list[str]) -> None:
    items = {
        "t": {"kind": "turn", "importance": 1, "pinned": True},
        "m": {"kind": "memory", "importance": 2, "pinned": False},
        "n": {"kind": "note", "importance": 3.5},
    }
    test = where_predicate(where)
    assert [name for name, metadata in items.items() if test(metadata)] == expected


@pytest.mark.parametrize(
    "where",
    [{}, {"a": 1, "b": 2}, {"$and": []}, {"$not": [{"a": 1}]}, {"a": {"$like": "x"}}, {"a": {"$in": "x"}}],
)
def test_a_malformed_where_filter_is_refused_clearly(where: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"where|\$"):
        where_predicate(where)


def test_a_vector_row_stays_in_its_page(tmp_path: Path) -> None:
    # 256-dimension vectors (1 KB each, the default model's) must not spill into overflow pages: on 4 KB pages
    # each took a page of its own more, and the file was four times its data.
    store = ExactStore(tmp_path)
    try:
        rows = vectors(2000, dim=256)
        ids = [f"m{i}" for i in range(len(rows))]
        store.upsert("p", SPACE, "a", ids, rows, [{"kind": "memory", "at": 1.5}] * len(rows))
    finally:
        store.close()
    size = (tmp_path / FILE_NAME).stat().st_size
    assert size < 2000 * 1500, f"{size / 2000:.0f} bytes a vector"


def test_an_older_store_with_small_pages_is_rewritten_once_and_keeps_every_vector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = vectors(300, dim=256)
    monkeypatch.setattr(exact, "PAGE_SIZE", 4096)  # as stores were written before
    store = ExactStore(tmp_path)
    try:
        store.upsert("p", SPACE, "a", [f"m{i}" for i in range(300)], rows, [{"i": i} for i in range(300)])
    finally:
        store.close()
    assert _page_size(tmp_path) == 4096
    monkeypatch.undo()

    store = ExactStore(tmp_path)
    try:
        assert store.names() == ["p"]
        assert [h.id for h in store.search("p", rows[123], 1, None)] == ["m123"]
        stored = store.get("p", None)
        assert stored is not None and len(stored.ids) == 300
    finally:
        store.close()
    assert _page_size(tmp_path) == PAGE_SIZE
    small = (tmp_path / FILE_NAME).stat().st_size
    store = ExactStore(tmp_path)  # once: the rewritten file is left as it is
    try:
        assert store.names() == ["p"]
    finally:
        store.close()
    assert (tmp_path / FILE_NAME).stat().st_size == small


def _page_size(directory: Path) -> int:
    conn = sqlite3.connect(directory / FILE_NAME)
    try:
        return int(conn.execute("PRAGMA page_size").fetchone()[0])
    finally:
        conn.close()
