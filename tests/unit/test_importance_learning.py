"""Importance with real (embedded) storage: new memories are scored, and each person's pattern is learned,
persisted and kept to them; pausing keeps what is said out of memory and out of the index."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.pipeline.context import RecallProvider
from bot.pipeline.message import TurnInput
from cogs.memory.controls import MemoryControlError, MemoryControls
from cogs.memory.feature import PausedTurns
from cogs.memory.importance import DEFAULT_WEIGHTS, ImportanceScorer
from storage.config import SQLSettings, StorageSettings
from storage.scope import Scope
from storage.service import StorageService
from storage.sql.models import Memory, utcnow

ALICE = Scope(user_id="1", guild_id="7", channel_id="70")
BOB = Scope(user_id="2", guild_id="7", channel_id="70")


def settings_for(tmp_path: Path) -> Settings:
    url = f"sqlite+aiosqlite:///{tmp_path / 'k.db'}"
    return Settings(storage=StorageSettings(data_dir=tmp_path / "data", sql=SQLSettings(url=url)))


async def open_controls(settings: Settings) -> tuple[StorageService, MemoryControls]:
    storage = await StorageService.open(settings.storage)
    scorer = ImportanceScorer(storage, settings.memory, settings.storage.compression.half_life_days)
    storage.memory.scorer = scorer.score_new
    return storage, MemoryControls(storage, settings, scorer)


@pytest.fixture
async def controls(tmp_path: Path) -> AsyncIterator[MemoryControls]:
    storage, controls = await open_controls(settings_for(tmp_path))
    yield controls
    await storage.close()


async def test_a_new_memory_is_stored_with_its_score_and_keeps_the_proposed_value(
    controls: MemoryControls,
) -> None:
    storage = controls.storage
    personal = await storage.add_memory(
        ALICE, "My brother Tom's wedding is in Lisbon on June 5th", importance=0.4
    )
    trivia = await storage.add_memory(ALICE, "likes green tea", importance=0.4)
    assert personal.importance > trivia.importance
    assert personal.meta["proposed"] == 0.4


async def test_pins_shift_the_persons_weights_and_they_survive_a_restart(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    storage, controls = await open_controls(settings)
    try:
        memory = await storage.add_memory(ALICE, "My friend Priya loves climbing")
        before = (await controls.scorer.weights(ALICE))["people"]
        pinned = await controls.pin(ALICE, memory.id)
        assert pinned.pinned and pinned.importance == 1.0
        assert (await controls.scorer.weights(ALICE))["people"] > before
        assert (await storage.memory.stats(ALICE))["pins"] == 1
        assert await controls.scorer.weights(BOB) == DEFAULT_WEIGHTS  # Alice's pattern is hers alone
    finally:
        await storage.close()
    storage, controls = await open_controls(settings)  # the importance cache is gone; SQL kept the pattern
    try:
        assert (await controls.scorer.weights(ALICE))["people"] > DEFAULT_WEIGHTS["people"]
    finally:
        await storage.close()


async def test_forgetting_place_memories_lowers_the_score_of_the_next_one(controls: MemoryControls) -> None:
    storage = controls.storage
    first = await storage.add_memory(ALICE, "The office is near the river in Porto")
    for text in ("Went to a cafe in Braga", "The gym is in Aveiro", "Stayed at a hotel in Faro"):
        memory = await storage.add_memory(ALICE, text)
        await controls.forget(ALICE, memory.id)
    later = await storage.add_memory(ALICE, "The office is near the river in Porto today")
    assert (await storage.memory.stats(ALICE))["forgets"] == 3
    assert later.importance < first.importance
    rescored = await storage.get_memory(ALICE, first.id)
    assert rescored is not None and rescored.importance < first.importance  # rescored with the new pattern


async def test_a_correction_supersedes_and_keeps_the_history(controls: MemoryControls) -> None:
    storage = controls.storage
    old = await storage.add_memory(ALICE, "Works as a nurse")
    replaced, new = await controls.correct(ALICE, old.id, "Works as a doctor")
    assert replaced.id == old.id and new.text == "Works as a doctor"
    history = await storage.list_memories(ALICE, current_only=False)
    previous = next(m for m in history if m.id == old.id)
    assert previous.valid_to is not None and previous.superseded_by == new.id
    assert [m.id for m in await storage.list_memories(ALICE)] == [new.id]
    with pytest.raises(MemoryControlError, match="already replaced"):
        await controls.correct(ALICE, old.id, "Works as a pilot")


async def test_someone_elses_memory_id_is_refused_and_nothing_changes(controls: MemoryControls) -> None:
    storage = controls.storage
    bobs = await storage.add_memory(BOB, "Bob's secret")
    for attempt in (
        controls.pin(ALICE, bobs.id),
        controls.forget(ALICE, bobs.id),
        controls.correct(ALICE, bobs.id, "mine now"),
    ):
        with pytest.raises(MemoryControlError, match=f"no memory #{bobs.id}"):
            await attempt
    assert await storage.get_memory(BOB, bobs.id) == bobs
    assert (await storage.memory.stats(ALICE)) == dict.fromkeys(
        ("pins", "unpins", "recalls", "corrections", "forgets"), 0
    )


async def test_recalls_count_restart_decay_and_the_scheduled_rescore_raises_importance(
    controls: MemoryControls,
) -> None:
    storage = controls.storage
    memory = await storage.add_memory(ALICE, "likes green tea")
    assert await storage.memory.note_recalled(ALICE, [memory.id, memory.id + 999]) == 1
    await storage.memory.note_recalled(ALICE, [memory.id])
    await storage.add_memory(BOB, "likes coffee")  # never recalled: not rescored
    assert await controls.scorer.rescore_recalled() == 1  # the scheduled job: only people with recalls
    after = await storage.memory.memory(ALICE, memory.id)
    assert after is not None and after.recalls == 2 and after.recalled_at is not None
    assert after.importance > memory.importance


async def test_a_batched_recall_count_counts_every_use_and_a_provider_flushes_it_on_settle(
    controls: MemoryControls,
) -> None:
    storage = controls.storage
    memory = await storage.add_memory(ALICE, "plays the cello on Sundays", importance=0.9)
    # Two turns' uses of one memory in one write: both count, in the memory and in the person's stats.
    assert await storage.memory.note_recalled(ALICE, [memory.id, memory.id]) == 1
    provider = RecallProvider(storage, k=1)
    turn = TurnInput(ALICE, "Alice", "how is the cello going?", ["m-cello"], utcnow())
    for _ in range(3):
        assert await provider.provide(turn)
    await provider.settle()  # the periodic flush has not come yet: settle writes the three uses
    after = await storage.memory.memory(ALICE, memory.id)
    assert after is not None and after.recalls == 5
    assert (await storage.memory.stats(ALICE))["recalls"] == 5


async def test_while_paused_nothing_said_is_kept_indexed_or_reflected(controls: MemoryControls) -> None:
    storage = controls.storage
    await controls.set_paused(ALICE, True)
    said = await storage.record_turn(ALICE, "user", "my secret plan", message_id="p1")
    reply = await storage.record_turn(ALICE, "assistant", "ok", message_id="p1:reply")
    assert said.meta["paused"] is True
    assert await storage.turns_for_indexing(ALICE, [said.id, reply.id]) == []  # what index/reflection read
    turn = TurnInput(ALICE, "Alice", "my secret plan", ["p1"], datetime.now(UTC))
    await PausedTurns(storage)(turn, said.id, reply.id)
    exported = await storage.personal.export(ALICE.platform, ALICE.user_id)
    assert exported["sql"]["turns"] == []
    await controls.set_paused(ALICE, False)
    kept = await storage.record_turn(ALICE, "user", "back to normal", message_id="p2")
    assert [t.id for t in await storage.turns_for_indexing(ALICE, [kept.id])] == [kept.id]


async def test_compression_demotes_by_learned_importance_and_never_a_pinned_memory(
    controls: MemoryControls,
) -> None:
    storage = controls.storage
    trivia = await storage.add_memory(ALICE, "likes green tea", importance=0.2)
    asked = await storage.add_memory(
        ALICE, "Remember this: my daughter Lia is allergic to peanuts", importance=0.2
    )
    pinned = await storage.add_memory(ALICE, "likes black coffee", importance=0.2)
    await controls.pin(ALICE, pinned.id)
    # Sixty days on (two half-lives): trivia has decayed below the archive line, the rest has not.
    later = utcnow() + timedelta(days=60)
    report = await storage.compress(now=later)
    assert report.memories_archived == 1
    async with storage.engine.connect() as conn:
        cold = set(await conn.scalars(select(Memory.id).where(Memory.cold_vector.is_not(None))))
    assert cold == {trivia.id} and asked.importance > 0.6
