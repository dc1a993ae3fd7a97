"""Memory tiers and compression: the cold tier, recall from it, merging, session summaries, memory budget."""

from __future__ import annotations

import logging
import struct
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from bot.llm import LLMUnavailable
from bot.scheduler.compression import CompressionRunner, MemoryBudget, compression, make_summariser
from storage.compression import dequantise, dequantise_many, quantise
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


def unit_vectors(count: int, dimension: int = 256, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((count, dimension)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def legacy_8bit_blob(vector: np.ndarray) -> bytes:
    """Encode a vector as rows written before 4-bit existed were: format 1, float32 scale, int8 codes."""
    scale = float(np.abs(vector).max()) / 127
    return struct.pack("<Bf", 1, scale) + np.rint(vector / scale).astype(np.int8).tobytes()


def test_quantised_vector_comes_back_within_half_a_step_in_8_bits() -> None:
    for vector in unit_vectors(50):
        step = np.abs(vector).max() / 127
        assert np.abs(dequantise(quantise(vector, 8)) - vector).max() <= step / 2 + 1e-7


def test_quantised_vector_comes_back_within_half_a_step_in_4_bits() -> None:
    for vector in unit_vectors(50):
        step = (vector.max() - vector.min()) / 15
        assert np.abs(dequantise(quantise(vector, 4)) - vector).max() <= step / 2 + 1e-6


def test_4_bits_keep_unit_vectors_close_in_direction() -> None:
    vectors = unit_vectors(200)
    decoded, kept = dequantise_many([quantise(v, 4) for v in vectors], 256)
    assert kept == list(range(200))
    assert np.einsum("ij,ij->i", decoded, vectors).min() > 0.98


def test_4_bits_are_the_default() -> None:
    assert quantise(unit_vectors(1)[0])[0] == quantise(unit_vectors(1)[0], 4)[0] == 2
    assert CompressionSettings().cold_vector_bits == 4


def test_quantised_vector_takes_a_byte_or_half_a_byte_per_component_plus_a_header() -> None:
    assert len(quantise(np.ones(256, dtype=np.float32), 8)) == 256 + 5
    assert len(quantise(np.ones(256, dtype=np.float32), 4)) == 128 + 9


def test_odd_dimension_survives_4_bits() -> None:
    vector = unit_vectors(1, dimension=7)[0]
    blob = quantise(vector, 4)
    assert len(blob) == 4 + 9 and blob[0] == 3
    assert dequantise(blob).shape == (7,)
    rows, kept = dequantise_many([blob], 7)
    assert kept == [0] and rows.shape == (1, 7)
    assert dequantise_many([blob], 8)[1] == []


def test_zero_and_constant_vectors_quantise_exactly() -> None:
    for bits in (4, 8):
        assert not dequantise(quantise(np.zeros(8, dtype=np.float32), bits)).any()
    assert np.allclose(dequantise(quantise(np.full(8, 0.25, dtype=np.float32), 4)), 0.25)


def test_other_widths_are_refused() -> None:
    with pytest.raises(ValueError):
        quantise(np.ones(8, dtype=np.float32), 2)


def test_old_8_bit_blobs_still_decode() -> None:
    vector = unit_vectors(1)[0]
    blob = legacy_8bit_blob(vector)
    assert blob == quantise(vector, 8)
    assert np.abs(dequantise(blob) - vector).max() <= np.abs(vector).max() / 254 + 1e-7


def test_mixed_8_and_4_bit_blobs_decode_together_in_order() -> None:
    vectors = unit_vectors(6)
    blobs = [legacy_8bit_blob(v) if i % 2 else quantise(v, 4) for i, v in enumerate(vectors)]
    blobs.insert(3, b"\x09junk")  # an unknown format is left out, not misread
    blobs.insert(0, quantise(unit_vectors(1, dimension=128)[0], 4))  # another dimension too
    rows, kept = dequantise_many(blobs, 256)
    assert kept == [1, 2, 3, 5, 6, 7]
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)
    assert np.einsum("ij,ij->i", rows, vectors).min() > 0.98
    for row, index in zip(rows, kept, strict=True):
        assert np.allclose(
            row, dequantise(blobs[index]) / np.linalg.norm(dequantise(blobs[index])), atol=1e-6
        )


def test_unknown_format_is_refused() -> None:
    for blob in (b"", b"\x09junk", b"\x01ab"):
        with pytest.raises(ValueError):
            dequantise(blob)


async def test_cold_items_written_in_8_bits_are_still_recalled_after_switching_to_4(
    tmp_path: Path, sqlite_url: str
) -> None:
    storage = await StorageService.open(settings_for(tmp_path, sqlite_url, cold_vector_bits=8))
    try:
        old = await storage.add_memory(ALICE, "My bike is a green Peugeot", importance=0.1)
        await storage.compress(now=utcnow() + LATER)
    finally:
        await storage.close()
    storage = await StorageService.open(settings_for(tmp_path, sqlite_url))
    try:
        new = await storage.add_memory(ALICE, "My boat is a red dinghy", importance=0.1)
        await storage.compress(now=utcnow() + LATER + LATER)
        blobs = [bytes((await memory_row(storage, m.id)).cold_vector or b"") for m in (old, new)]
        bike = await storage.search(ALICE, "what bike do I ride", k=1, kinds=("memory",))
        boat = await storage.search(ALICE, "what boat do I sail", k=1, kinds=("memory",))
        await storage.tiers.settle()
    finally:
        await storage.close()
    assert [(b[0], len(b)) for b in blobs] == [(1, 256 + 5), (2, 128 + 9)]
    assert [(r.id, "cold" in r.reasons) for r in bike + boat] == [(old.id, True), (new.id, True)]


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
    settings = settings_for(tmp_path, sqlite_url)
    settings.vectors = VectorSettings(
        exact_max=0
    )  # Alice's partition in Chroma, whose index files this is about
    storage = await StorageService.open(settings)
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
