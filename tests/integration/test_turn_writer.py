"""Recording a turn with the one-statement writer, on SQLite and PostgreSQL: pause, replays, concurrency."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage.config import SQLSettings, StorageSettings
from storage.scope import Scope
from storage.service import StorageService
from storage.sql.models import Turn

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
