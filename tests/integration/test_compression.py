"""Memory tiers and compression: the cold tier, recall from it, merging, session summaries, memory budget."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from bot.llm import LLMUnavailable
from bot.scheduler.compression import CompressionRunner, MemoryBudget, compression, make_summariser
from storage.compression import dequantise, quantise
from storage.config import CompressionSettings, SQLSettings, StorageSettings, VectorSettings
from storage.records import TurnRecord
from storage.scope import Scope
from storage.service import StorageService
from storage.sql.models import Conversation, Memory, Turn, utcnow
from storage.vectors.base import Partition
from tests.conftest import ChromaProcess

ALICE = Scope(user_id="100", guild_id="1", channel_id="10")
BOB = Scope(user_id="200", guild_id="1", channel_id="10")
ALICE_OTHER_GUILD = Scope(user_id="100", guild_id="2", channel_id="20")

LONG_AGO = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
LATER = timedelta(days=400)


def settings_for(tmp_path: Path, sql_url: str, **compression: Any) -> StorageSettings:
    return StorageSettings(
        data_dir=tmp_path / "data",
        sql=SQLSettings(url=sql_url, connect_retries=0),
        compression=CompressionSettings(**compression),
    )


@pytest.fixture
async def storage(sql_url: str, tmp_path: Path) -> AsyncIterator[StorageService]:
    """Yield storage on each SQL backend, with the embedded vector index and in-process cache."""
    service = await StorageService.open(settings_for(tmp_path, sql_url))
    try:
        yield service
    finally:
        await service.close()


async def in_index(storage: StorageService, scope: Scope, item_id: str) -> bool:
    stored = await storage.vectors.get(storage.space, Partition(scope.user_key, scope.realm), [item_id])
    return stored.ids == [item_id]


async def memory_row(storage: StorageService, memory_id: int) -> Memory:
    async with storage.engine.connect() as conn:
        row = (await conn.execute(select(Memory).where(Memory.id == memory_id))).one()
    return Memory(**row._asdict())


async def turn_cold(storage: StorageService, turn_id: int) -> bytes | None:
    async with storage.engine.connect() as conn:
        return await conn.scalar(select(Turn.cold_vector).where(Turn.id == turn_id))


async def old_session(storage: StorageService, scope: Scope, texts: Sequence[str]) -> list[TurnRecord]:
    """Record a closed session of long ago, indexed as the worker would."""
    turns = [
        await storage.record_turn(scope, "user", text, speaker="Alice", created_at=LONG_AGO) for text in texts
    ]
    await storage.index_turns(scope, turns)
    await storage.end_session(scope)
    return turns


class FakeSummariser:
    """Summarises by naming how many turns it was given, and remembers what it was given."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []

    async def __call__(self, turns: Sequence[TurnRecord]) -> str | None:
        self.calls.append([t.id for t in turns])
        return f"A talk of {len(turns)} turns about the garden."


# ---------------------------------------------------------------------------------------------- quantising


def test_quantised_vector_comes_back_within_half_a_step() -> None:
    rng = np.random.default_rng(7)
    for _ in range(50):
        vector = rng.standard_normal(256).astype(np.float32)
        vector /= np.linalg.norm(vector)
        step = np.abs(vector).max() / 127
        assert np.abs(dequantise(quantise(vector)) - vector).max() <= step / 2 + 1e-7


def test_quantised_vector_takes_one_byte_per_component_plus_a_header() -> None:
    assert len(quantise(np.ones(256, dtype=np.float32))) == 256 + 5


def test_zero_vector_quantises_to_zeros() -> None:
    assert not dequantise(quantise(np.zeros(8, dtype=np.float32))).any()


# ---------------------------------------------------------------------------------------------- archiving


async def test_old_unimportant_memory_moves_from_the_index_to_the_cold_tier(storage: StorageService) -> None:
    memory = await storage.add_memory(ALICE, "I once tried a yoga class", importance=0.2)
    report = await storage.compress(now=utcnow() + LATER)
    assert report.memories_archived == 1
    assert (await memory_row(storage, memory.id)).cold_vector is not None
    assert not await in_index(storage, ALICE, f"m{memory.id}")


async def test_pinned_memory_never_goes_cold(storage: StorageService) -> None:
    memory = await storage.add_memory(ALICE, "My daughter is called Rosa", importance=0.0, pinned=True)
    await storage.compress(now=utcnow() + timedelta(days=3650))
    assert (await memory_row(storage, memory.id)).cold_vector is None
    assert await in_index(storage, ALICE, f"m{memory.id}")


async def test_important_memory_stays_hot_while_its_importance_holds(storage: StorageService) -> None:
    memory = await storage.add_memory(ALICE, "I am allergic to peanuts", importance=1.0)
    await storage.compress(now=utcnow() + timedelta(days=30))
    assert await in_index(storage, ALICE, f"m{memory.id}")


async def test_old_turns_of_a_closed_session_go_cold(storage: StorageService) -> None:
    turns = await old_session(storage, ALICE, ["the tomatoes are finally red", "we picked twelve today"])
    report = await storage.compress()
    assert report.turns_archived == 2
    assert all([await turn_cold(storage, t.id) is not None for t in turns])
    assert not await in_index(storage, ALICE, f"t{turns[0].id}")


async def test_turns_of_an_open_session_stay_hot(storage: StorageService) -> None:
    turn = await storage.record_turn(ALICE, "user", "still talking about tomatoes", created_at=LONG_AGO)
    await storage.index_turns(ALICE, [turn])
    await storage.compress()
    assert await turn_cold(storage, turn.id) is None


async def test_compaction_leaves_no_index_files_of_the_dropped_collection(
    tmp_path: Path, sqlite_url: str
) -> None:
    storage = await StorageService.open(settings_for(tmp_path, sqlite_url))
    try:
        await old_session(storage, ALICE, [f"garden note number {i}" for i in range(150)])
        chroma = storage.settings.chroma_path()
        before = {p.name for p in chroma.iterdir() if p.is_dir()}
        report = await storage.compress()
        after = {p.name for p in chroma.iterdir() if p.is_dir()}
    finally:
        await storage.close()
    assert report.partitions_compacted == 1
    assert before and not (before & after)


# ---------------------------------------------------------------------------------------------- recall


async def test_recall_finds_an_archived_memory_in_the_cold_tier(storage: StorageService) -> None:
    memory = await storage.add_memory(ALICE, "My bike is a green Peugeot", importance=0.1)
    await storage.compress(now=utcnow() + LATER)
    found = await storage.search(ALICE, "what bike do I ride", k=3, kinds=("memory",))
    assert [(r.id, "cold" in r.reasons) for r in found] == [(memory.id, True)]


async def test_recalled_cold_memory_is_promoted_back_into_the_index(storage: StorageService) -> None:
    memory = await storage.add_memory(ALICE, "My bike is a green Peugeot", importance=0.1)
    await storage.compress(now=utcnow() + LATER)
    await storage.search(ALICE, "what bike do I ride", k=3, kinds=("memory",))
    await storage.tiers.settle()
    row = await memory_row(storage, memory.id)
    assert (row.cold_vector, row.recalled_at is not None) == (None, True)
    assert await in_index(storage, ALICE, f"m{memory.id}")


async def test_recall_finds_an_archived_turn_and_promotes_it(storage: StorageService) -> None:
    turns = await old_session(storage, ALICE, ["my sister Maria is getting married in June"])
    await storage.compress()
    found = await storage.search(ALICE, "when is Maria's wedding", k=3, kinds=("turn",))
    await storage.tiers.settle()
    assert [r.id for r in found] == [turns[0].id]
    assert await in_index(storage, ALICE, f"t{turns[0].id}")


async def test_cold_recall_never_surfaces_another_persons_memories(storage: StorageService) -> None:
    await storage.add_memory(ALICE, "My bike is a green Peugeot", importance=0.1)
    await storage.compress(now=utcnow() + LATER)
    assert await storage.search(BOB, "what bike do I ride", k=5) == []


async def test_cold_recall_stays_in_its_realm(storage: StorageService) -> None:
    await storage.add_memory(ALICE, "My bike is a green Peugeot", importance=0.1)
    await storage.compress(now=utcnow() + LATER)
    assert await storage.search(ALICE_OTHER_GUILD, "what bike do I ride", k=5) == []


async def test_reindex_keeps_cold_memories_cold_and_recallable(storage: StorageService) -> None:
    memory = await storage.add_memory(ALICE, "My bike is a green Peugeot", importance=0.1)
    await storage.compress(now=utcnow() + LATER)
    await storage.reindex()
    assert not await in_index(storage, ALICE, f"m{memory.id}")
    found = await storage.search(ALICE, "what bike do I ride", k=1, kinds=("memory",))
    assert [r.id for r in found] == [memory.id]


# ---------------------------------------------------------------------------------------------- merging


async def test_near_duplicates_merge_into_one_with_their_provenance(storage: StorageService) -> None:
    first = await storage.add_memory(ALICE, "Alice loves hiking in the mountains", source_turn_ids=[1, 2])
    second = await storage.add_memory(ALICE, "Alice loves hiking in the mountains!", source_turn_ids=[3])
    report = await storage.compress()
    kept, gone = await memory_row(storage, second.id), await memory_row(storage, first.id)
    assert report.memories_merged == 1
    assert (kept.valid_to, kept.meta["merged_from"], kept.source_turn_ids) == (None, [first.id], [1, 2, 3])
    assert (gone.valid_to is not None, gone.superseded_by) == (True, second.id)
    assert not await in_index(storage, ALICE, f"m{first.id}")


async def test_merge_keeps_the_more_important_text(storage: StorageService) -> None:
    important = await storage.add_memory(ALICE, "Alice loves hiking in the mountains", importance=0.9)
    await storage.add_memory(ALICE, "Alice loves hiking in the mountains!", importance=0.3)
    await storage.compress()
    assert [m.id for m in await storage.list_memories(ALICE)] == [important.id]


async def test_pinned_memory_is_never_merged_away(storage: StorageService) -> None:
    first = await storage.add_memory(ALICE, "Alice loves hiking in the mountains", pinned=True)
    second = await storage.add_memory(ALICE, "Alice loves hiking in the mountains!", pinned=True)
    report = await storage.compress()
    assert report.memories_merged == 0
    assert {m.id for m in await storage.list_memories(ALICE)} == {first.id, second.id}


async def test_pinned_memory_absorbs_its_unpinned_duplicate(storage: StorageService) -> None:
    pinned = await storage.add_memory(
        ALICE, "Alice loves hiking in the mountains", importance=0.1, pinned=True
    )
    await storage.add_memory(ALICE, "Alice loves hiking in the mountains!", importance=0.9)
    await storage.compress()
    assert [m.id for m in await storage.list_memories(ALICE)] == [pinned.id]


async def test_different_memories_are_not_merged(storage: StorageService) -> None:
    await storage.add_memory(ALICE, "Alice loves hiking in the mountains")
    await storage.add_memory(ALICE, "Alice's cat is called Miso")
    report = await storage.compress()
    assert report.memories_merged == 0


async def test_duplicates_in_different_realms_are_not_merged(storage: StorageService) -> None:
    await storage.add_memory(ALICE, "Alice loves hiking in the mountains")
    await storage.add_memory(ALICE_OTHER_GUILD, "Alice loves hiking in the mountains")
    report = await storage.compress()
    assert report.memories_merged == 0


# ---------------------------------------------------------------------------------------------- summaries


async def test_old_session_is_summarised_into_an_episodic_memory(storage: StorageService) -> None:
    turns = await old_session(storage, ALICE, ["the tomatoes are finally red", "we picked twelve today"])
    summariser = FakeSummariser()
    await storage.compress(summariser)
    episodic = [m for m in await storage.list_memories(ALICE) if m.kind == "episodic"]
    assert summariser.calls == [[t.id for t in turns]]
    assert [(m.text, m.source_turn_ids) for m in episodic] == [
        ("A talk of 2 turns about the garden.", [t.id for t in turns])
    ]


async def test_a_session_is_summarised_once(storage: StorageService) -> None:
    await old_session(storage, ALICE, ["the tomatoes are finally red"])
    summariser = FakeSummariser()
    await storage.compress(summariser)
    await storage.compress(summariser)
    assert len(summariser.calls) == 1


async def test_session_summarised_by_reflection_is_left_alone(storage: StorageService) -> None:
    turns = await old_session(storage, ALICE, ["the tomatoes are finally red"])
    await storage.add_memory(
        ALICE, "Alice talked about tomatoes.", kind="episodic", key=f"session:{turns[0].conversation_id}"
    )
    summariser = FakeSummariser()
    await storage.compress(summariser)
    assert summariser.calls == []


async def test_a_run_summarises_at_most_its_share_of_the_backlog(storage: StorageService) -> None:
    for text in ("tomatoes", "peppers", "beans"):
        await old_session(storage, ALICE, [f"the {text} are growing well"])
    summariser = FakeSummariser()
    await storage.compress(summariser, settings=CompressionSettings(summaries_per_run=2))
    first = len(summariser.calls)
    await storage.compress(summariser, settings=CompressionSettings(summaries_per_run=2))
    assert (first, len(summariser.calls)) == (2, 3)


class BrokenSummariser:
    async def __call__(self, turns: Sequence[TurnRecord]) -> str | None:
        raise RuntimeError("the model fell over")


async def test_failed_summary_is_tried_again_next_run(storage: StorageService) -> None:
    await old_session(storage, ALICE, ["the tomatoes are finally red"])
    failed = await storage.compress(BrokenSummariser())
    summariser = FakeSummariser()
    await storage.compress(summariser)
    assert (failed.summaries_failed, len(summariser.calls)) == (1, 1)


async def test_recent_session_is_not_summarised_yet(storage: StorageService) -> None:
    await storage.record_turn(ALICE, "user", "the tomatoes are finally red")
    await storage.end_session(ALICE)
    summariser = FakeSummariser()
    await storage.compress(summariser)
    assert summariser.calls == []


async def test_job_without_a_model_summarises_by_extract(storage: StorageService) -> None:
    await old_session(
        storage, ALICE, ["I planted twelve tomato seedlings in the back garden today.", "Hello there!"]
    )
    result = await compression(storage, None)
    episodic = [m for m in await storage.list_memories(ALICE) if m.kind == "episodic"]
    assert result["summaries"] == 1
    assert "twelve tomato seedlings" in episodic[0].text


async def test_disabled_compression_does_nothing(storage: StorageService) -> None:
    turns = await old_session(storage, ALICE, ["the tomatoes are finally red"])
    result = await compression(storage, None, CompressionSettings(enabled=False))
    assert (result, await turn_cold(storage, turns[0].id)) == ({"enabled": False}, None)


class FailingLLM:
    """Stands in for the router when every model is down."""

    async def complete(self, *args: Any, **kwargs: Any) -> Any:
        raise LLMUnavailable("every model is down")


class AnsweringLLM:
    """Stands in for the router with a model that answers."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def complete(self, messages: Any, **kwargs: Any) -> Any:
        self.messages.append(messages)

        class Answer:
            text = "  Alice   talked about   her tomatoes. "

        return Answer()


def turn(text: str, speaker: str = "Alice") -> TurnRecord:
    return TurnRecord(1, 1, "user", speaker, text, LONG_AGO)


async def test_summariser_uses_the_model_when_it_answers() -> None:
    llm = AnsweringLLM()
    summary = await make_summariser(llm)([turn("I planted twelve tomato seedlings today.")])  # type: ignore[arg-type]
    assert summary == "Alice talked about her tomatoes."


async def test_summariser_falls_back_to_an_extract_when_the_model_fails() -> None:
    summarise = make_summariser(FailingLLM())  # type: ignore[arg-type]
    summary = await summarise([turn("I planted twelve tomato seedlings in the back garden today.")])
    assert summary is not None and "twelve tomato seedlings" in summary


# ---------------------------------------------------------------------------------------------- the budget


class FakeCache:
    """Records what the budget asked of it."""

    def __init__(self) -> None:
        self.shrunk: list[float] = []
        self.cleared = 0

    def shrink(self, fraction: float) -> int:
        self.shrunk.append(fraction)
        return 3

    def clear(self) -> int:
        self.cleared += 1
        return 7


class PressureLog:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1


def budget_at(share: float, cache: FakeCache, pressure: PressureLog) -> MemoryBudget:
    return MemoryBudget(100, [cache], pressure, rss_reader=lambda: int(share * 100 * 1024 * 1024))


async def test_budget_below_the_shrink_threshold_leaves_caches_alone() -> None:
    cache, pressure = FakeCache(), PressureLog()
    budget = budget_at(0.5, cache, pressure)
    assert await budget.check() == "ok"
    await budget.idle()
    assert (cache.shrunk, cache.cleared, pressure.calls) == ([], 0, 0)


async def test_budget_past_the_shrink_threshold_shrinks_caches_and_compresses_early() -> None:
    cache, pressure = FakeCache(), PressureLog()
    budget = budget_at(0.8, cache, pressure)
    assert await budget.check() == "shrink"
    await budget.idle()
    assert (cache.shrunk, cache.cleared, pressure.calls) == ([0.5], 0, 1)


async def test_budget_past_the_drop_threshold_drops_caches_and_counts_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache, pressure = FakeCache(), PressureLog()
    budget = budget_at(0.95, cache, pressure)
    with caplog.at_level(logging.WARNING, logger="bot.scheduler.compression"):
        assert await budget.check() == "drop"
    await budget.idle()
    assert (cache.cleared, budget.counters.drops) == (1, 1)
    assert any("memory budget" in r.getMessage() for r in caplog.records)


async def test_budget_of_zero_is_off() -> None:
    cache, pressure = FakeCache(), PressureLog()
    budget = MemoryBudget(0, [cache], pressure, rss_reader=lambda: 10**12)
    assert await budget.check() == "off"


async def test_storage_cold_cache_can_be_shrunk_by_the_budget(storage: StorageService) -> None:
    await storage.add_memory(ALICE, "My bike is a green Peugeot", importance=0.1)
    await storage.compress(now=utcnow() + LATER)
    await storage.search(ALICE, "bike", k=1)
    await storage.tiers.settle()
    budget = MemoryBudget(100, [storage.tiers.cache], rss_reader=lambda: 99 * 1024 * 1024)
    await budget.check()
    assert len(storage.tiers.cache) == 0


async def test_early_run_is_skipped_where_this_process_may_not_run_it(storage: StorageService) -> None:
    runner = CompressionRunner(storage, None, may_run_early=lambda: False)
    assert await runner.early() is None


async def test_early_run_waits_out_the_cooldown_after_a_run(storage: StorageService) -> None:
    runner = CompressionRunner(storage, None, early_cooldown_s=3600)
    await runner()
    assert await runner.early() is None


async def test_conversation_is_marked_summarised(storage: StorageService) -> None:
    turns = await old_session(storage, ALICE, ["the tomatoes are finally red"])
    await storage.compress(FakeSummariser())
    async with storage.engine.connect() as conn:
        marked = await conn.scalar(
            select(Conversation.summarised_at).where(Conversation.id == turns[0].conversation_id)
        )
    assert marked is not None


async def test_cold_tier_round_trip_on_a_chroma_server(
    tmp_path: Path, sqlite_url: str, chroma_server: ChromaProcess, unique_prefix: str
) -> None:
    settings = settings_for(tmp_path, sqlite_url)
    settings.vectors = VectorSettings(
        backend="http", port=chroma_server.port, collection_prefix=unique_prefix
    )
    storage = await StorageService.open(settings)
    try:
        memory = await storage.add_memory(ALICE, "My bike is a green Peugeot", importance=0.1)
        report = await storage.compress(now=utcnow() + LATER)
        cold = not await in_index(storage, ALICE, f"m{memory.id}")
        found = await storage.search(ALICE, "what bike do I ride", k=1, kinds=("memory",))
        await storage.tiers.settle()
        promoted = await in_index(storage, ALICE, f"m{memory.id}")
    finally:
        await storage.vectors.drop_space(storage.space)
        await storage.close()
    assert (report.memories_archived, report.partitions_compacted, cold) == (1, 0, True)
    assert ([r.id for r in found], promoted) == ([memory.id], True)
