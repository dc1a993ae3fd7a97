"""The vector index against real Chroma: embedded in this process (a temporary directory), embedded in the
vector child process (the default), and a Chroma server over HTTP."""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from storage.config import VectorSettings
from storage.health import Status
from storage.vectors import (
    ChromaIndex,
    Partition,
    ProcessIndex,
    VectorItem,
    VectorsUnavailable,
    make_vector_index,
)
from tests.conftest import ChromaProcess, free_port

SPACE = "a1b2c3d4e5"
OTHER_SPACE = "f6a7b8c9d0"

ALICE_G1 = Partition("discord.111", "g1")
ALICE_G2 = Partition("discord.111", "g2")
ALICE_DM = Partition("discord.111", "dm")
BOB_G1 = Partition("discord.222", "g1")

X = [1.0, 0.0, 0.0]
Y = [0.0, 1.0, 0.0]
XY = [1.0, 1.0, 0.0]


Index = ChromaIndex | ProcessIndex


# Small enough that the 6,000-vector test below moves its partition from the exact store into Chroma.
EXACT_MAX = 1000


def make_index(kind: str, tmp_path: Path, prefix: str, request: pytest.FixtureRequest) -> Index:
    """Return an index of one kind: embedded Chroma only, embedded with the exact store for small partitions
    (in this process, or in the vector child process as the default runs it), or a Chroma server."""
    if kind == "embedded":
        return ChromaIndex.embedded(tmp_path / "chroma", prefix=prefix)
    if kind == "exact":
        return ChromaIndex.embedded(tmp_path / "chroma", prefix=prefix, exact_max=EXACT_MAX)
    if kind == "process":
        return ProcessIndex(tmp_path / "chroma", prefix=prefix, exact_max=EXACT_MAX)
    server: ChromaProcess = request.getfixturevalue("chroma_server")
    return ChromaIndex.http("127.0.0.1", server.port, prefix=prefix)


@pytest.fixture(params=["embedded", "exact", "process", "http"])
async def index(request: pytest.FixtureRequest, tmp_path: Path, unique_prefix: str) -> AsyncIterator[Index]:
    """Yield an index on each backend, under a collection prefix of its own."""
    idx = make_index(request.param, tmp_path, unique_prefix, request)
    try:
        yield idx
    finally:
        # The HTTP server is shared by the session; leave nothing behind in it. (A test that closed its
        # index on purpose has nothing to clean.)
        with contextlib.suppress(VectorsUnavailable):
            for space in (SPACE, OTHER_SPACE):
                await idx.drop_space(space)
        await idx.close()


def items(*pairs: tuple[str, list[float]], kind: str | None = None) -> list[VectorItem]:
    """Return VectorItems from (id, vector) pairs, all tagged with one kind when given."""
    metadata: dict[str, str | int | float | bool] = {"kind": kind} if kind else {}
    return [VectorItem(id=item_id, vector=vector, metadata=dict(metadata)) for item_id, vector in pairs]


async def test_query_returns_nearest_first_with_cosine_distances(index: Index) -> None:
    await index.upsert(SPACE, ALICE_G1, items(("far", Y), ("near", X), ("mid", XY)))

    hits = await index.query(SPACE, [ALICE_G1], np.array(X, dtype=np.float32), k=3)

    assert [hit.id for hit in hits] == ["near", "mid", "far"]
    expected = [0.0, 1.0 - 1.0 / math.sqrt(2.0), 1.0]
    assert [hit.distance for hit in hits] == pytest.approx(expected, abs=1e-4)


async def test_query_returns_at_most_k_hits(index: Index) -> None:
    await index.upsert(SPACE, ALICE_G1, items(("a", X), ("b", XY), ("c", Y)))

    hits = await index.query(SPACE, [ALICE_G1], X, k=2)

    assert [hit.id for hit in hits] == ["a", "b"]


async def test_hits_carry_the_metadata_stored_with_them(index: Index) -> None:
    await index.upsert(
        SPACE, ALICE_G1, [VectorItem("m1", X, {"kind": "memory", "importance": 0.8, "pinned": True})]
    )

    hits = await index.query(SPACE, [ALICE_G1], X, k=1)

    assert hits[0].metadata == {"kind": "memory", "importance": 0.8, "pinned": True}


async def test_upsert_replaces_a_vector_with_the_same_id(index: Index) -> None:
    await index.upsert(SPACE, ALICE_G1, items(("m1", X), ("m2", XY)))
    await index.upsert(SPACE, ALICE_G1, items(("m1", Y)))

    hits = await index.query(SPACE, [ALICE_G1], X, k=2)

    assert [hit.id for hit in hits] == ["m2", "m1"]
    assert await index.count(SPACE) == 2


async def test_two_users_never_see_each_others_vectors(index: Index) -> None:
    await index.upsert(SPACE, ALICE_G1, items(("alice-1", X)))
    await index.upsert(SPACE, BOB_G1, items(("bob-1", X), ("bob-2", XY)))

    alice = await index.query(SPACE, [ALICE_G1], X, k=10)
    bob = await index.query(SPACE, [BOB_G1], X, k=10)

    assert [hit.id for hit in alice] == ["alice-1"]
    assert [hit.id for hit in bob] == ["bob-1", "bob-2"]


async def test_two_realms_of_one_user_are_separate(index: Index) -> None:
    await index.upsert(SPACE, ALICE_G1, items(("in-g1", X)))
    await index.upsert(SPACE, ALICE_G2, items(("in-g2", X)))

    hits = await index.query(SPACE, [ALICE_G2], X, k=10)

    assert [hit.id for hit in hits] == ["in-g2"]


async def test_query_over_several_partitions_merges_them_by_distance(index: Index) -> None:
    await index.upsert(SPACE, ALICE_G1, items(("g1-near", X), ("g1-far", Y)))
    await index.upsert(SPACE, ALICE_DM, items(("dm-mid", XY)))

    hits = await index.query(SPACE, [ALICE_G1, ALICE_DM], X, k=3)

    assert [hit.id for hit in hits] == ["g1-near", "dm-mid", "g1-far"]


async def test_query_over_several_partitions_keeps_only_the_k_nearest(index: Index) -> None:
    await index.upsert(SPACE, ALICE_G1, items(("g1-near", X), ("g1-far", Y)))
    await index.upsert(SPACE, ALICE_DM, items(("dm-mid", XY)))

    hits = await index.query(SPACE, [ALICE_G1, ALICE_DM], X, k=2)

    assert [hit.id for hit in hits] == ["g1-near", "dm-mid"]


async def test_where_filters_within_a_partition(index: Index) -> None:
    await index.upsert(SPACE, ALICE_G1, items(("t1", X), ("t2", Y), kind="turn"))
    await index.upsert(SPACE, ALICE_G1, items(("m1", X), kind="memory"))

    hits = await index.query(SPACE, [ALICE_G1], X, k=10, where={"kind": "turn"})

    assert [hit.id for hit in hits] == ["t1", "t2"]


async def test_where_finds_a_rare_match_beyond_the_nearest_neighbours(index: Index) -> None:
    rng = np.random.default_rng(11)
    near = np.asarray(X) + 0.05 * rng.standard_normal((60, 3))
    await index.upsert(
        SPACE, ALICE_G1, [VectorItem(f"m{i}", row, {"kind": "memory"}) for i, row in enumerate(near)]
    )
    await index.upsert(SPACE, ALICE_G1, items(("lonely-turn", Y), kind="turn"))

    hits = await index.query(SPACE, [ALICE_G1], X, k=1, where={"kind": "turn"})

    assert [hit.id for hit in hits] == ["lonely-turn"]


async def test_where_accepts_in_and_and(index: Index) -> None:
    await index.upsert(SPACE, ALICE_G1, [VectorItem("t1", X, {"kind": "turn", "pinned": False})])
    await index.upsert(SPACE, ALICE_G1, [VectorItem("m1", XY, {"kind": "memory", "pinned": True})])
    await index.upsert(SPACE, ALICE_G1, [VectorItem("c1", Y, {"kind": "crystal", "pinned": True})])

    either = await index.query(SPACE, [ALICE_G1], X, k=10, where={"kind": {"$in": ["turn", "crystal"]}})
    both = await index.query(
        SPACE, [ALICE_G1], X, k=10, where={"$and": [{"kind": {"$eq": "memory"}}, {"pinned": True}]}
    )

    assert [hit.id for hit in either] == ["t1", "c1"]
    assert [hit.id for hit in both] == ["m1"]


async def test_where_on_numbers_is_left_to_chroma(index: Index) -> None:
    await index.upsert(
        SPACE, ALICE_G1, [VectorItem("low", X, {"importance": 1}), VectorItem("high", XY, {"importance": 5})]
    )

    hits = await index.query(SPACE, [ALICE_G1], X, k=10, where={"importance": {"$gte": 3}})

    assert [hit.id for hit in hits] == ["high"]


async def test_query_of_a_partition_that_does_not_exist_returns_nothing(index: Index) -> None:
    assert await index.query(SPACE, [ALICE_G1], X, k=5) == []


async def test_query_of_a_missing_partition_does_not_create_it(index: Index) -> None:
    await index.query(SPACE, [ALICE_G1], X, k=5)

    assert await index.drop_user(ALICE_G1.user_key) == 0


async def test_spaces_are_separate(index: Index) -> None:
    await index.upsert(SPACE, ALICE_G1, items(("old-space", X)))
    await index.upsert(OTHER_SPACE, ALICE_G1, items(("new-space", X)))

    hits = await index.query(OTHER_SPACE, [ALICE_G1], X, k=10)

    assert [hit.id for hit in hits] == ["new-space"]


async def test_delete_removes_only_the_named_ids(index: Index) -> None:
    await index.upsert(SPACE, ALICE_G1, items(("keep", X), ("gone", XY)))

    await index.delete(SPACE, ALICE_G1, ["gone"])

    assert [hit.id for hit in await index.query(SPACE, [ALICE_G1], X, k=10)] == ["keep"]


async def test_delete_in_a_missing_partition_is_a_no_op(index: Index) -> None:
    await index.upsert(SPACE, ALICE_G1, items(("keep", X)))

    await index.delete(SPACE, ALICE_G2, ["keep"])

    assert await index.count(SPACE) == 1


async def test_drop_user_removes_every_partition_of_that_user_in_every_space(index: Index) -> None:
    await index.upsert(SPACE, ALICE_G1, items(("a1", X)))
    await index.upsert(SPACE, ALICE_DM, items(("a2", X)))
    await index.upsert(OTHER_SPACE, ALICE_G2, items(("a3", X)))

    dropped = await index.drop_user(ALICE_G1.user_key)

    assert dropped == 3
    for space, partition in ((SPACE, ALICE_G1), (SPACE, ALICE_DM), (OTHER_SPACE, ALICE_G2)):
        assert await index.query(space, [partition], X, k=10) == []


async def test_drop_user_leaves_other_users_alone(index: Index) -> None:
    await index.upsert(SPACE, ALICE_G1, items(("alice", X)))
    await index.upsert(SPACE, BOB_G1, items(("bob", X)))

    await index.drop_user(ALICE_G1.user_key)

    assert [hit.id for hit in await index.query(SPACE, [BOB_G1], X, k=10)] == ["bob"]


async def test_drop_user_does_not_touch_a_user_whose_key_merely_starts_the_same(index: Index) -> None:
    longer = Partition("discord.1111", "g1")
    await index.upsert(SPACE, Partition("discord.111", "g1"), items(("short", X)))
    await index.upsert(SPACE, longer, items(("long", X)))

    await index.drop_user("discord.111")

    assert [hit.id for hit in await index.query(SPACE, [longer], X, k=10)] == ["long"]


async def test_drop_space_removes_that_space_and_keeps_the_others(index: Index) -> None:
    await index.upsert(SPACE, ALICE_G1, items(("old", X)))
    await index.upsert(SPACE, BOB_G1, items(("old-bob", X)))
    await index.upsert(OTHER_SPACE, ALICE_G1, items(("new", X)))

    dropped = await index.drop_space(SPACE)

    assert dropped == 2
    assert await index.count(SPACE) == 0
    assert await index.count(OTHER_SPACE) == 1


async def test_count_totals_vectors_per_space_and_overall(index: Index) -> None:
    await index.upsert(SPACE, ALICE_G1, items(("a", X), ("b", Y)))
    await index.upsert(SPACE, BOB_G1, items(("c", X)))
    await index.upsert(OTHER_SPACE, ALICE_G1, items(("d", X)))

    assert await index.count(SPACE) == 3
    assert await index.count(OTHER_SPACE) == 1
    assert await index.count() == 4


async def test_user_keys_that_would_sanitise_alike_stay_apart(index: Index) -> None:
    colon, underscore, dot = Partition("a:b", "dm"), Partition("a_b", "dm"), Partition("a.b", "dm")
    await index.upsert(SPACE, colon, items(("colon", X)))
    await index.upsert(SPACE, underscore, items(("underscore", X)))
    await index.upsert(SPACE, dot, items(("dot", X)))

    assert [hit.id for hit in await index.query(SPACE, [underscore], X, k=10)] == ["underscore"]
    assert await index.drop_user("a:b") == 1
    assert [hit.id for hit in await index.query(SPACE, [dot], X, k=10)] == ["dot"]


async def test_unusual_and_very_long_keys_still_make_valid_collections(index: Index) -> None:
    odd = Partition("matrix.@zoë:example.org", "g" + "9" * 300)

    await index.upsert(SPACE, odd, items(("odd", X)))

    assert [hit.id for hit in await index.query(SPACE, [odd], X, k=1)] == ["odd"]


async def test_upsert_larger_than_chromas_batch_limit_stores_everything(index: Index) -> None:
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((6000, 8)).astype(np.float32)

    await index.upsert(SPACE, ALICE_G1, [VectorItem(f"v{i}", row) for i, row in enumerate(vectors)])

    assert await index.count(SPACE) == 6000


async def test_a_collection_dropped_elsewhere_is_recreated_on_the_next_upsert(
    index: Index, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    await index.upsert(SPACE, ALICE_G1, items(("before", X)))
    await index.query(SPACE, [ALICE_G1], X, k=1)  # the handle is now cached
    other = _twin(index, tmp_path, request)
    await other.drop_user(ALICE_G1.user_key)
    await other.close()

    await index.upsert(SPACE, ALICE_G1, items(("after", X)))

    assert [hit.id for hit in await index.query(SPACE, [ALICE_G1], X, k=10)] == ["after"]


async def test_health_is_ok_and_names_the_backend(index: Index) -> None:
    health = await index.health()

    assert health.tier == "vectors"
    assert health.status is Status.OK
    assert health.backend in ("chroma-embedded", "chroma-http")
    assert health.latency_ms is not None


async def test_a_closed_index_refuses_work(index: Index) -> None:
    await index.close()

    with pytest.raises(VectorsUnavailable):
        await index.ping()


def _twin(index: Index, tmp_path: Path, request: pytest.FixtureRequest) -> Index:
    """Return a second index on the same store, as another process would have."""
    return make_index(request.node.callspec.params["index"], tmp_path, index.prefix, request)


# ---------------------------------------------------------------- failures and settings


async def test_a_server_that_is_not_running_raises_vectors_unavailable(unique_prefix: str) -> None:
    index = ChromaIndex.http("127.0.0.1", free_port(), prefix=unique_prefix, timeout_s=5.0)

    with pytest.raises(VectorsUnavailable):
        await index.query(SPACE, [ALICE_G1], X, k=5)


async def test_health_of_a_server_that_is_not_running_is_down(unique_prefix: str) -> None:
    index = ChromaIndex.http("127.0.0.1", free_port(), prefix=unique_prefix, timeout_s=5.0)

    health = await index.health()

    assert health.status is Status.DOWN
    assert health.backend == "chroma-http"
    assert "127.0.0.1" in health.detail


@pytest.mark.slow
async def test_an_index_made_while_the_server_was_down_works_once_it_is_up(
    tmp_path: Path, unique_prefix: str
) -> None:
    server = ChromaProcess(free_port(), tmp_path / "late-chroma")
    index = ChromaIndex.http("127.0.0.1", server.port, prefix=unique_prefix, timeout_s=5.0)
    with pytest.raises(VectorsUnavailable):
        await index.ping()
    server.start()
    try:
        await index.upsert(SPACE, ALICE_G1, items(("late", X)))

        assert [hit.id for hit in await index.query(SPACE, [ALICE_G1], X, k=1)] == ["late"]
    finally:
        await index.close()
        server.stop()


@pytest.mark.slow
async def test_a_server_that_stops_turns_calls_into_vectors_unavailable(
    tmp_path: Path, unique_prefix: str
) -> None:
    server = ChromaProcess(free_port(), tmp_path / "dying-chroma")
    server.start()
    index = ChromaIndex.http("127.0.0.1", server.port, prefix=unique_prefix, timeout_s=5.0)
    try:
        await index.upsert(SPACE, ALICE_G1, items(("x", X)))
        server.stop()

        with pytest.raises(VectorsUnavailable):
            await index.query(SPACE, [ALICE_G1], X, k=1)
    finally:
        await index.close()
        server.stop()


@pytest.mark.parametrize("kind", [ChromaIndex.embedded, ProcessIndex])
async def test_a_corrupt_embedded_store_raises_vectors_unavailable(
    tmp_path: Path, unique_prefix: str, kind: type[Index]
) -> None:
    store = tmp_path / "broken"
    store.mkdir()
    (store / "chroma.sqlite3").write_bytes(b"this is not a database" * 100)
    index = kind(store, prefix=unique_prefix)

    with pytest.raises(VectorsUnavailable, match="broken"):
        await index.ping()
    await index.close()


async def test_an_embedded_path_that_is_a_file_raises_vectors_unavailable(
    tmp_path: Path, unique_prefix: str
) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    index = ChromaIndex.embedded(not_a_dir, prefix=unique_prefix)

    with pytest.raises(VectorsUnavailable):
        await index.count()


async def test_make_vector_index_builds_the_embedded_backend_by_default(tmp_path: Path) -> None:
    index = make_vector_index(VectorSettings(), tmp_path / "chroma")
    try:
        assert isinstance(index, ProcessIndex)
        assert index.backend == "chroma-embedded"
        assert (await index.health()).status is Status.OK
    finally:
        await index.close()


async def test_make_vector_index_builds_the_http_backend(chroma_server: ChromaProcess) -> None:
    settings = VectorSettings(backend="http", host="127.0.0.1", port=chroma_server.port)
    index = make_vector_index(settings, Path("unused"))
    try:
        assert index.backend == "chroma-http"
        assert (await index.health()).status is Status.OK
    finally:
        await index.close()


def test_a_collection_prefix_chroma_would_reject_is_refused_up_front(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="collection_prefix"):
        ChromaIndex.embedded(tmp_path, prefix="-bad..prefix-")


async def test_a_malformed_space_id_is_refused(index: Index) -> None:
    with pytest.raises(ValueError, match="space"):
        await index.upsert("not-a-space", ALICE_G1, items(("x", X)))
