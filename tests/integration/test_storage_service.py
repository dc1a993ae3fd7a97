"""The storage service on every backend: durable turns, windows, memories, recall, isolation, degradation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from storage.config import CacheSettings, SQLSettings, StorageSettings, VectorSettings
from storage.embedding.base import Embedder
from storage.health import Status
from storage.scope import Scope
from storage.service import StorageService
from storage.sql.engine import SQLUnavailable, is_write
from storage.sql.models import Memory, Turn
from storage.vectors.base import VectorsUnavailable
from tests.conftest import (
    REDIS_HOST,
    REDIS_PORT,
    ChromaProcess,
    free_port,
    fresh_postgres_db,
    require_service,
)

ALICE = Scope(user_id="100", guild_id="1", channel_id="10")
BOB = Scope(user_id="200", guild_id="1", channel_id="10")
ALICE_OTHER_GUILD = Scope(user_id="100", guild_id="2", channel_id="20")
ALICE_DM = Scope(user_id="100", channel_id="dm100")


def storage_settings(tmp_path: Path, sql_url: str, **tiers: Any) -> StorageSettings:
    return StorageSettings(
        data_dir=tmp_path / "data",
        sql=SQLSettings(url=sql_url, connect_retries=0),
        cache=tiers.get("cache", CacheSettings()),
        vectors=tiers.get("vectors", VectorSettings()),
    )


@pytest.fixture(params=["embedded", "server"])
async def storage(
    request: pytest.FixtureRequest, tmp_path: Path, unique_prefix: str
) -> AsyncIterator[StorageService]:
    """Yield storage on SQLite + in-process cache + local Chroma, or PostgreSQL + Redis + Chroma server."""
    if request.param == "embedded":
        settings = storage_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'k.db'}")
        service = await StorageService.open(settings)
        yield service
        await service.close()
        return
    chroma: ChromaProcess = request.getfixturevalue("chroma_server")
    require_service("Redis", REDIS_HOST, REDIS_PORT)
    async with fresh_postgres_db() as postgres_url:
        settings = storage_settings(
            tmp_path,
            postgres_url,
            cache=CacheSettings(
                backend="redis",
                redis_url=f"redis://{REDIS_HOST}:{REDIS_PORT}/0",
                key_prefix=f"{unique_prefix}:",
            ),
            vectors=VectorSettings(backend="http", port=chroma.port, collection_prefix=unique_prefix),
        )
        service = await StorageService.open(settings)
        try:
            yield service
        finally:
            await service.cache.delete_prefix("")
            await service.vectors.drop_space(service.space)
            await service.close()


async def count(service: StorageService, model: Any) -> int:
    async with service.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(model)) or 0)


# ---------------------------------------------------------------- turns


async def test_recorded_turn_is_in_sql_and_in_the_window(storage: StorageService) -> None:
    await storage.record_turn(ALICE, "user", "hello there", speaker="Alice")
    await storage.record_turn(ALICE, "assistant", "hi Alice", speaker="Kindred")
    turns = await storage.recent_turns(ALICE)
    assert [t.text for t in turns] == ["hello there", "hi Alice"]
    assert await count(storage, Turn) == 2


async def test_same_message_id_is_recorded_once(storage: StorageService) -> None:
    first = await storage.record_turn(ALICE, "user", "once", message_id="m1")
    again = await storage.record_turn(ALICE, "user", "once", message_id="m1")
    assert again.id == first.id
    assert await count(storage, Turn) == 1


async def test_window_is_served_from_cache_and_sees_new_turns(storage: StorageService) -> None:
    await storage.record_turn(ALICE, "user", "one")
    await storage.recent_turns(ALICE)  # loads the window from SQL into the cache
    hits_before = storage.cache.stats().hits
    await storage.record_turn(ALICE, "user", "two")
    turns = await storage.recent_turns(ALICE)
    assert [t.text for t in turns] == ["one", "two"]
    assert storage.cache.stats().hits > hits_before


async def test_window_keeps_only_the_newest_turns(storage: StorageService) -> None:
    size = storage.settings.cache.recent_window
    for i in range(size + 5):
        await storage.record_turn(ALICE, "user", f"turn {i}")
    turns = await storage.recent_turns(ALICE)
    assert len(turns) == size
    assert turns[-1].text == f"turn {size + 4}"


async def test_window_reloads_from_sql_when_the_cache_loses_it(storage: StorageService) -> None:
    await storage.record_turn(ALICE, "user", "kept in SQL")
    await storage.recent_turns(ALICE)
    await storage.cache.delete_prefix("win:")
    assert [t.text for t in await storage.recent_turns(ALICE)] == ["kept in SQL"]


async def test_ending_a_session_starts_a_fresh_window_and_keeps_memories(storage: StorageService) -> None:
    await storage.record_turn(ALICE, "user", "old session")
    await storage.add_memory(ALICE, "Alice plays the cello")
    await storage.end_session(ALICE)
    assert await storage.recent_turns(ALICE) == []
    assert [m.text for m in await storage.list_memories(ALICE)] == ["Alice plays the cello"]


async def test_record_turn_rejects_an_unknown_role(storage: StorageService) -> None:
    with pytest.raises(ValueError, match="role must be"):
        await storage.record_turn(ALICE, "system", "nope")


# ---------------------------------------------------------------- isolation


async def test_two_users_in_one_channel_never_see_each_others_turns(storage: StorageService) -> None:
    await storage.record_turn(ALICE, "user", "alice secret")
    await storage.record_turn(BOB, "user", "bob secret")
    assert [t.text for t in await storage.recent_turns(ALICE)] == ["alice secret"]
    assert [t.text for t in await storage.recent_turns(BOB)] == ["bob secret"]


async def test_two_users_never_see_each_others_memories(storage: StorageService) -> None:
    alice_memory = await storage.add_memory(ALICE, "Alice's sister is called Maya")
    await storage.add_memory(BOB, "Bob's brother is called Tom")
    assert [m.text for m in await storage.list_memories(BOB)] == ["Bob's brother is called Tom"]
    assert await storage.get_memory(BOB, alice_memory.id) is None
    assert all("Maya" not in r.text for r in await storage.search(BOB, "who is Maya, the sister?"))
    assert await storage.delete_memory(BOB, alice_memory.id) is False


async def test_memories_stay_in_their_guild_unless_the_person_opts_in(storage: StorageService) -> None:
    await storage.add_memory(ALICE, "Alice is training for a marathon")
    assert await storage.list_memories(ALICE_OTHER_GUILD) == []
    assert await storage.list_memories(ALICE_DM) == []
    assert all("marathon" not in r.text for r in await storage.search(ALICE_DM, "marathon training"))
    await storage.set_cross_realm_recall(ALICE_DM, True)
    assert any("marathon" in r.text for r in await storage.search(ALICE_DM, "marathon training"))


async def test_a_known_person_is_resolved_without_writing(storage: StorageService) -> None:
    # After a restart every person is new to the service's id cache; finding a known one must only read
    # (on SQLite a write, even an INSERT that changes nothing, queues for the lock behind the background).
    await storage.record_turn(ALICE, "user", "my sister plays the cello", speaker="Alice")
    storage._ids.clear()  # what a restart leaves
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        statements.append(statement)

    event.listen(storage.engine.sync_engine, "before_cursor_execute", seen)
    try:
        found = await storage.search(ALICE, "cello", kinds=("turn",))
    finally:
        event.remove(storage.engine.sync_engine, "before_cursor_execute", seen)
    assert [r.text for r in found] == ["my sister plays the cello"]
    assert statements, "the search read nothing through the engine"
    assert [s for s in statements if is_write(s)] == []


async def test_after_a_restart_recall_still_follows_each_persons_realms(storage: StorageService) -> None:
    # The first search after a restart finds who asks by one read; opting in to recall across realms, and
    # someone never seen, still take the general path.
    await storage.add_memory(ALICE, "Alice is training for a marathon")
    await storage.add_memory(BOB, "Bob is training for a triathlon")
    await storage.set_cross_realm_recall(ALICE_DM, True)
    storage._ids.clear()  # what a restart leaves
    await storage.cache.delete_prefix("")
    assert any("marathon" in r.text for r in await storage.search(ALICE_DM, "marathon training"))
    bob_dm = Scope(user_id="200", channel_id="dm200")
    assert all("triathlon" not in r.text for r in await storage.search(bob_dm, "triathlon training"))
    assert any("triathlon" in r.text for r in await storage.search(BOB, "triathlon training"))
    newcomer = Scope(user_id="300", guild_id="1", channel_id="10")
    assert await storage.search(newcomer, "training") == []
    assert await storage.list_memories(newcomer) == []  # known now, with nothing of their own


async def test_turn_search_is_scoped_to_the_person(storage: StorageService) -> None:
    turn = await storage.record_turn(BOB, "user", "my favourite food is ramen", speaker="Bob")
    await storage.index_turns(BOB, [turn])
    assert [r.id for r in await storage.search(BOB, "favourite food", kinds=("turn",))] == [turn.id]
    assert await storage.search(ALICE, "favourite food", kinds=("turn",)) == []  # same channel, not hers
    assert await storage.search(ALICE_OTHER_GUILD, "favourite food", kinds=("turn",)) == []
    assert await storage.search(ALICE_DM, "favourite food", kinds=("turn",)) == []


# ---------------------------------------------------------------- memories and recall


async def test_search_finds_the_closest_memory_first(storage: StorageService) -> None:
    await storage.add_memory(ALICE, "Alice adopted a puppy named Biscuit")
    await storage.add_memory(ALICE, "Alice's tax forms are due in April")
    results = await storage.search(ALICE, "tell me about her new dog")
    assert results[0].text == "Alice adopted a puppy named Biscuit"
    assert results[0].reasons["semantic"] > results[1].reasons["semantic"]


async def test_deleted_memory_is_gone_from_sql_and_recall(storage: StorageService) -> None:
    memory = await storage.add_memory(ALICE, "Alice is allergic to peanuts")
    assert await storage.delete_memory(ALICE, memory.id) is True
    assert await storage.get_memory(ALICE, memory.id) is None
    assert all(r.id != memory.id for r in await storage.search(ALICE, "peanut allergy"))
    assert await count(storage, Memory) == 0


@pytest.mark.parametrize(("text", "importance"), [("   ", 0.5), ("fine", 1.5)])
async def test_add_memory_rejects_bad_input(storage: StorageService, text: str, importance: float) -> None:
    with pytest.raises(ValueError):
        await storage.add_memory(ALICE, text, importance=importance)


async def test_rate_tokens_run_out_per_subject(storage: StorageService) -> None:
    decisions = [await storage.take_rate_tokens("msg", ALICE.user_key, 2, 0.001) for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]
    assert (await storage.take_rate_tokens("msg", BOB.user_key, 2, 0.001)).allowed


async def test_health_reports_every_tier_ok(storage: StorageService) -> None:
    parts = {p.tier: p for p in await storage.health()}
    assert set(parts) == {"sql", "cache", "vectors", "embedding"}
    assert all(p.status is Status.OK for p in parts.values()), parts


# ---------------------------------------------------------------- degradation and reindex


class _DownIndex:
    """A vector tier that is unreachable: every call fails as a stopped Chroma server does."""

    backend = "chroma-http"

    async def _fail(self, *args: object, **kwargs: object) -> Any:
        raise VectorsUnavailable("Chroma at 127.0.0.1:1 is unreachable")

    upsert = query = delete = drop_user = drop_space = count = ping = _fail

    async def close(self) -> None:
        return None


async def test_vector_outage_falls_back_to_sql_and_reindex_restores(tmp_path: Path) -> None:
    server = ChromaProcess(free_port(), tmp_path / "chroma")
    server.start()
    settings = storage_settings(
        tmp_path,
        f"sqlite+aiosqlite:///{tmp_path / 'k.db'}",
        vectors=VectorSettings(backend="http", port=server.port),
    )
    storage = await StorageService.open(settings)
    try:
        server.stop()
        memory = await storage.add_memory(ALICE, "Alice's favourite colour is teal")
        results = await storage.search(ALICE, "favourite colour")
        assert [r.id for r in results] == [memory.id]
        assert "lexical" in results[0].reasons
        vectors = {p.tier: p for p in await storage.health()}["vectors"]
        assert vectors.status is Status.DOWN and "falls back to SQL" in vectors.detail
        server.start()
        report = await storage.reindex()
        assert report.memories == 1
        results = await storage.search(ALICE, "favourite colour")
        assert results[0].id == memory.id and "semantic" in results[0].reasons
        assert {p.tier: p for p in await storage.health()}["vectors"].status is Status.OK
    finally:
        await storage.close()
        server.stop()


async def test_memory_written_while_vectors_are_down_is_kept(tmp_path: Path) -> None:
    settings = storage_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'k.db'}")
    storage = await StorageService.open(settings, vectors=_DownIndex())  # type: ignore[arg-type]
    try:
        memory = await storage.add_memory(ALICE, "Alice moved to Lisbon")
        assert [m.id for m in await storage.list_memories(ALICE)] == [memory.id]
        async with storage.engine.connect() as conn:
            indexed = await conn.scalar(select(Memory.embedding_model).where(Memory.id == memory.id))
        assert indexed is None  # marked for the next reindex
    finally:
        await storage.close()


class _OtherModel:
    """A different embedding space (same dimension), as after switching models."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.model_id = "model2vec:some-other-model"
        self.dimension = inner.dimension

    async def embed(self, texts: Any) -> Any:
        return await self.inner.embed(texts)

    async def probe(self) -> int:
        return self.dimension

    async def close(self) -> None:
        return None


async def test_changed_embedding_model_warns_until_reindexed(tmp_path: Path) -> None:
    settings = storage_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'k.db'}")
    first = await StorageService.open(settings)
    await first.add_memory(ALICE, "Alice grows tomatoes")
    old_space = first.space
    embedder = first.embedder
    await first.close()

    second = await StorageService.open(settings, embedder=_OtherModel(embedder))
    try:
        parts = {p.tier: p for p in await second.health()}
        assert parts["embedding"].status is Status.DEGRADED
        assert "reindex" in parts["vectors"].detail
        assert "semantic" not in (await second.search(ALICE, "tomatoes"))[0].reasons  # no mixing of spaces
        report = await second.reindex()
        assert report.dropped_spaces == [old_space]
        assert (await second.search(ALICE, "tomatoes"))[0].reasons["semantic"] > 0
        assert all(p.status is Status.OK for p in await second.health())
    finally:
        await second.close()


async def test_unreachable_sql_at_start_gives_up_after_bounded_retries(tmp_path: Path) -> None:
    settings = storage_settings(tmp_path, f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/none")
    settings.sql.connect_retries = 2
    settings.sql.connect_retry_delay_s = 0.01
    with pytest.raises(SQLUnavailable, match="did not answer after 3 attempts"):
        await StorageService.open(settings)


# ---------------------------------------------------------------- places


async def test_channel_setting_overrides_the_guild_and_threads_inherit(storage: StorageService) -> None:
    await storage.update_place_settings("discord", "1", None, {"ambient": False, "persona": {"name": "G"}})
    await storage.update_place_settings("discord", "1", "10", {"ambient": True})
    assert await storage.place_settings("discord", "1", "10") == {"ambient": True, "persona": {"name": "G"}}
    assert (await storage.place_settings("discord", "1", "thread-5", parent_id="10"))["ambient"] is True
    assert (await storage.place_settings("discord", "1", "11"))["ambient"] is False
    assert await storage.place_settings("discord", None, "dm1") == {}


async def test_place_setting_change_is_seen_at_once(storage: StorageService) -> None:
    await storage.update_place_settings("discord", "1", "10", {"ambient": True})
    assert (await storage.place_settings("discord", "1", "10"))["ambient"] is True  # now cached
    await storage.update_place_settings("discord", "1", "10", {"ambient": None})
    assert "ambient" not in await storage.place_settings("discord", "1", "10")
    assert await storage.channels_with("discord", "1", "ambient") == []


async def test_claim_message_is_true_once_even_after_the_cache_forgets(storage: StorageService) -> None:
    assert await storage.claim_message(ALICE, "m-1") is True
    assert await storage.claim_message(ALICE, "m-1") is False
    await storage.record_turn(ALICE, "user", "hi", message_id="m-1")
    await storage.cache.delete_prefix("once:")
    assert await storage.claim_message(ALICE, "m-1") is False


async def test_turn_after_another_process_closed_the_session_starts_a_new_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sql_url: str
) -> None:
    from datetime import UTC, datetime, timedelta

    monkeypatch.setattr("storage.service.TOUCH_EVERY_S", 0.0)  # re-check the cached session on every turn
    settings = storage_settings(tmp_path, sql_url)
    shard, sweeper = await StorageService.open(settings), await StorageService.open(settings)
    try:
        first = await shard.record_turn(
            ALICE, "user", "one", created_at=datetime.now(UTC) - timedelta(hours=2)
        )
        # The touch a later turn makes (with its insert, in one go) keeps the session open...
        later = await shard.record_turn(ALICE, "user", "one more", created_at=datetime.now(UTC))
        assert later.conversation_id == first.conversation_id
        assert await sweeper.close_idle_sessions(idle_s=3600) == 0
        # ... and once a sweep has closed it anyway, the next turn starts a new one.
        assert await sweeper.close_idle_sessions(idle_s=0.001) == 1
        second = await shard.record_turn(ALICE, "user", "two")
        assert second.conversation_id != first.conversation_id
        third = await shard.record_turn(ALICE, "user", "three")
        assert third.conversation_id == second.conversation_id
    finally:
        await shard.close()
        await sweeper.close()


async def test_a_dropped_idle_postgres_connection_is_replaced(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncpg

    from tests.conftest import PG_HOST, PG_PORT

    monkeypatch.setattr("storage.sql.engine.PING_AFTER_IDLE_S", 0.0)  # treat every pooled connection as idle
    storage = await StorageService.open(storage_settings(tmp_path, postgres_url))
    try:
        await storage.record_turn(ALICE, "user", "before")
        admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user="postgres", database="test")
        try:
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1",
                postgres_url.rsplit("/", 1)[1],
            )
        finally:
            await admin.close()
        assert killed >= 1
        await storage.record_turn(ALICE, "user", "after")
        assert [t.text for t in await storage.recent_turns(ALICE)] == ["before", "after"]
    finally:
        await storage.close()
