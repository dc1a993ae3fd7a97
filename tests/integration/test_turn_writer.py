"""Recording a turn with the one-statement writer, on SQLite and PostgreSQL: pause, replays, concurrency."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError

from storage.config import SQLSettings, StorageSettings
from storage.scope import Scope
from storage.service import StorageService
from storage.sql.models import Turn
from storage.sql.turn_writer import TurnWriter, turn_params

ALICE = Scope(user_id="100", guild_id="1", channel_id="10")


@pytest.fixture
async def storage(sql_url: str, tmp_path: Path) -> AsyncIterator[StorageService]:
    settings = StorageSettings(data_dir=tmp_path / "data", sql=SQLSettings(url=sql_url, connect_retries=0))
    service = await StorageService.open(settings)
    yield service
    await service.close()


async def stored_meta(service: StorageService, turn_id: int) -> dict[str, object]:
    async with service.engine.connect() as conn:
        return dict(await conn.scalar(select(Turn.meta).where(Turn.id == turn_id)) or {})


async def test_turns_said_while_paused_are_marked_in_sql_and_the_record(storage: StorageService) -> None:
    first = await storage.record_turn(ALICE, "user", "before the pause", meta={"lang": "en"})
    assert first.meta == {"lang": "en"}
    await storage.memory.paused(ALICE)  # caches "not paused": SQL, not that cache, must decide
    await storage.memory.set_paused(ALICE, True)
    during = await storage.record_turn(ALICE, "user", "while paused", meta={"lang": "en"})
    assert during.meta == {"lang": "en", "paused": True}
    assert await stored_meta(storage, during.id) == {"lang": "en", "paused": True}
    await storage.memory.set_paused(ALICE, False)
    after = await storage.record_turn(ALICE, "assistant", "remembering again")
    assert after.meta == {} and await stored_meta(storage, after.id) == {}


async def test_a_replayed_message_on_the_fast_path_returns_the_first_record(storage: StorageService) -> None:
    await storage.record_turn(ALICE, "user", "warm the session up")  # ids and session now cached
    first = await storage.record_turn(ALICE, "user", "hello", message_id="m-1")
    again = await storage.record_turn(ALICE, "user", "hello (replayed)", message_id="m-1")
    assert again.id == first.id and again.text == "hello"
    async with storage.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(Turn).where(Turn.message_id == "m-1")) == 1


async def test_concurrent_turns_and_memories_from_many_people_all_land(storage: StorageService) -> None:
    people = [Scope(user_id=f"p{i}", guild_id="1", channel_id="10") for i in range(20)]

    async def talk(scope: Scope) -> None:
        for n in range(5):
            await storage.record_turn(scope, "user", f"message {n}", message_id=f"{scope.user_id}-{n}")
            if n == 2:  # a write through the pooled sessions, racing the turn writer for the lock
                await storage.add_memory(scope, f"{scope.user_id} likes tea")

    await asyncio.gather(*(talk(scope) for scope in people))
    for scope in people:
        window = await storage.recent_turns(scope)
        assert [t.text for t in window] == [f"message {n}" for n in range(5)]
    async with storage.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(Turn)) == 100


async def first_turn_ids(service: StorageService, scope: Scope) -> dict[str, object]:
    """Record one turn for the person; return the parameters a further turn of theirs needs."""
    turn = await service.record_turn(scope, "user", "first", message_id=f"{scope.user_id}-first")
    async with service.engine.connect() as conn:
        row = (await conn.execute(select(Turn).where(Turn.id == turn.id))).one()
    return {
        "conversation_id": row.conversation_id,
        "user_id": row.user_id,
        "scope_id": row.scope_id,
        "realm": row.realm,
        "role": "user",
        "speaker": None,
        "created_at": row.created_at,
    }


async def test_a_burst_of_turns_and_replays_each_get_their_own_answer(storage: StorageService) -> None:
    first = await storage.record_turn(ALICE, "user", "hello", message_id="b-0")
    said = [f"message {n}" for n in range(1, 31)]
    results = await asyncio.gather(
        *(storage.record_turn(ALICE, "user", text, message_id=f"b-{n}") for n, text in enumerate(said, 1)),
        storage.record_turn(ALICE, "user", "hello (replayed)", message_id="b-0"),
    )
    fresh, replay = results[:-1], results[-1]
    assert [r.text for r in fresh] == said
    assert len({r.id for r in fresh} | {first.id}) == 31
    assert replay.id == first.id and replay.text == "hello"
    async with storage.engine.connect() as conn:
        stored = dict((await conn.execute(select(Turn.id, Turn.text).where(Turn.user_id.is_not(None)))).all())
    assert all(stored[r.id] == r.text for r in fresh)


async def test_a_turn_that_cannot_be_written_fails_alone(storage: StorageService) -> None:
    base = await first_turn_ids(storage, ALICE)
    writer = TurnWriter(storage.engine)
    try:
        good = [turn_params({**base, "text": f"ok {n}", "message_id": f"ok-{n}"}, {}) for n in range(5)]
        orphan = turn_params({**base, "conversation_id": 987_654, "text": "x", "message_id": "bad"}, {})
        results = await asyncio.gather(
            *(writer.insert(p) for p in good[:3]),
            writer.insert(orphan),
            *(writer.insert(p) for p in good[3:]),
            return_exceptions=True,
        )
    finally:
        await writer.close()
    assert isinstance(results[3], IntegrityError)
    landed = [r for n, r in enumerate(results) if n != 3]
    assert all(isinstance(r, tuple) for r in landed)
    async with storage.engine.connect() as conn:
        texts = set((await conn.scalars(select(Turn.text).where(Turn.message_id.like("ok-%")))).all())
    assert texts == {f"ok {n}" for n in range(5)}


async def test_simultaneous_turns_on_sqlite_share_write_transactions(sqlite_url: str, tmp_path: Path) -> None:
    settings = StorageSettings(data_dir=tmp_path / "data", sql=SQLSettings(url=sqlite_url, connect_retries=0))
    service = await StorageService.open(settings)
    writer = TurnWriter(service.engine)
    try:
        base = await first_turn_ids(service, ALICE)
        assert writer._sync is not None
        commits: list[int] = []
        event.listen(writer._sync, "commit", lambda _conn: commits.append(1))
        params = [turn_params({**base, "text": f"t{n}", "message_id": f"t-{n}"}, {}) for n in range(40)]
        results = await asyncio.gather(*(writer.insert(p) for p in params))
        recorded = await asyncio.gather(
            *(writer.recorded(int(base["user_id"]), f"t-{n}", "user") for n in (0, 39))
        )
        unknown = await writer.recorded(int(base["user_id"]), "never-sent", "user")
    finally:
        await writer.close()
        await service.close()
    assert len({r[0] for r in results if r is not None}) == 40
    # One write lock round per batch, not per turn: a burst of 40 needs only a few transactions.
    assert 1 <= len(commits) < 40
    assert recorded == [True, True] and unknown is False
