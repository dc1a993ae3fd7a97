"""Recall's SQL round trips: the neighbour lookups are one statement per search whatever the number of
results, with the same answers per anchor as one lookup each (places kept apart, paused turns left out,
visibility applied), and a search never holds one pooled connection while it waits for another."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

from storage.config import SQLSettings, StorageSettings
from storage.scope import Scope
from storage.service import StorageService
from tests.integration import test_storage_service as base

GUILD = "7"
ALICE = Scope(user_id="alice", guild_id=GUILD, channel_id="general")
ALICE_ELSEWHERE = Scope(user_id="alice", guild_id=GUILD, channel_id="random")
BOB = Scope(user_id="bob", guild_id=GUILD, channel_id="general")
NOW = datetime(2024, 3, 14, 12, 0, tzinfo=UTC)
storage = base.storage


@contextmanager
def statements(service: StorageService) -> Iterator[list[str]]:
    """Collect the SQL statements recall's engine runs inside the block."""
    seen: list[str] = []
    engine = service.recall.sql_engine  # on SQLite not the service's own engine (storage/sql/reads.py)
    if engine.dialect.name == "sqlite":
        # Recall's reads run on the sqlite3 cursor there (storage/sql/bare.py), out of SQLAlchemy's sight:
        # SQLite itself reports each statement to a trace callback, set on connections opened from here on.
        def trace(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.set_trace_callback(seen.append)

        engine.dispose()
        event.listen(engine, "connect", trace)
        try:
            yield seen
        finally:
            event.remove(engine, "connect", trace)
            engine.dispose()
        return

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


async def say(service: StorageService, scope: Scope, words: str, minutes: int, **kw: Any) -> int:
    turn = await service.record_turn(
        scope, "user", words, speaker=scope.user_id, created_at=NOW - timedelta(minutes=minutes), **kw
    )
    return turn.id


async def test_neighbours_of_many_results_cost_one_statement(storage: StorageService) -> None:
    ids = [await say(storage, ALICE, f"pancake recipe number {i}", 100 - i) for i in range(12)]
    await storage.search(ALICE, "waffles", now=NOW)  # the cold tier's first read is cached from here on
    with statements(storage) as seen:
        found = await storage.search(ALICE, "pancake", k=10, kinds=("turn",), now=NOW, neighbours=1)
    assert len(found) == 10
    turn_reads = [s for s in seen if "FROM turns" in s]
    # The lexical search, the re-read of hits, the spread and the neighbours: never one per result.
    assert 0 < len(turn_reads) <= 4, [t[:80] for t in turn_reads]
    for item in found:
        at = ids.index(item.id)
        assert [c.id for c in item.context] == ids[max(at - 1, 0) : at] + ids[at + 1 : at + 2]


async def test_each_result_gets_only_its_own_places_neighbours(storage: StorageService) -> None:
    here = [await say(storage, ALICE, f"talking about kites {i}", 50 - i) for i in range(3)]
    there = [await say(storage, ALICE_ELSEWHERE, f"talking about kites too {i}", 40 - i) for i in range(3)]
    found = await storage.search(ALICE, "kites", k=6, kinds=("turn",), now=NOW, neighbours=2)
    context = {item.id: [c.id for c in item.context] for item in found}
    assert context[here[1]] == [here[0], here[2]]
    assert context[there[0]] == there[1:]
    assert context[there[2]] == there[:2]


async def test_neighbours_leave_out_paused_and_others_turns(storage: StorageService) -> None:
    first = await say(storage, ALICE, "my favourite tea is oolong", 30)
    await say(storage, ALICE, "secret thing said while paused", 29, meta={"paused": True})
    anchor = await say(storage, ALICE, "I brew the oolong twice", 28)
    await say(storage, BOB, "Bob's own words in between", 27)  # not visible: channel turns are off
    after = await say(storage, ALICE, "with water at 90 degrees", 26)
    found = await storage.search(ALICE, "brew twice", k=1, kinds=("turn",), now=NOW, neighbours=1)
    assert found[0].id == anchor
    # One lookup each side, as before: the nearest visible turn before is the paused one, left out.
    assert [c.id for c in found[0].context] == [after]
    wider = await storage.search(ALICE, "brew twice", k=1, kinds=("turn",), now=NOW, neighbours=2)
    assert [c.id for c in wider[0].context] == [first, after]


async def test_postgres_keeps_each_documents_words_stored_and_current(storage: StorageService) -> None:
    if storage.engine.dialect.name != "postgresql":
        return  # SQLite's FTS5 tables hold their own copy (tests/integration/test_recall.py)
    memory = await storage.add_memory(ALICE, "Alice keeps bees on the roof")
    await storage.record_turn(ALICE, "assistant", "I can tell you about zeppelins")
    async with storage.engine.begin() as conn:
        stored = await conn.scalar(
            text(
                "SELECT search_document = to_tsvector('english', 'Alice keeps bees on the roof') "
                "FROM memories WHERE id = :id"
            ),
            {"id": memory.id},
        )
        assert stored is True  # the very document 0005's expression index held (no speaker here)
        assert await conn.scalar(text("SELECT search_document FROM turns WHERE role = 'assistant'")) is None
        await conn.execute(
            text("UPDATE memories SET text = 'Alice keeps wasps' WHERE id = :id"), {"id": memory.id}
        )
    wasps = await storage.search(ALICE, "wasps", kinds=("memory",), now=NOW)
    assert [(r.id, r.reasons["lexical"]) for r in wasps] == [(memory.id, 1.0)]
    # The vector index still holds the old text until reindexed; the words no longer match.
    assert all(r.reasons["lexical"] == 0 for r in await storage.search(ALICE, "bees", now=NOW))


async def test_in_a_shared_channel_neighbours_are_anyones_there_and_only_ones_own_elsewhere(
    storage: StorageService,
) -> None:
    storage.settings.recall_channel_turns = True
    asked = await say(storage, ALICE, "who brought the lemon cake", 30)
    anchor = await say(storage, BOB, "I brought the lemon cake", 29)
    thanked = await say(storage, ALICE, "it was lovely, thanks", 28)
    carol = Scope(user_id="carol", guild_id=GUILD, channel_id="random")
    mine = await say(storage, ALICE_ELSEWHERE, "lemon trees need sun", 27)
    await say(storage, carol, "Carol's words in the other channel", 26)
    later = await say(storage, ALICE_ELSEWHERE, "and little water", 25)
    found = await storage.search(ALICE, "lemon", k=4, kinds=("turn",), now=NOW, neighbours=1)
    context = {item.id: [c.id for c in item.context] for item in found}
    assert context[anchor] == [asked, thanked]  # Bob's turn, with what Alice said around it
    assert context[mine] == [later]  # Carol's turn in between is not Alice's to see


async def test_a_search_never_waits_for_a_second_pooled_connection(postgres_url: str, tmp_path: Path) -> None:
    # One pooled connection: a search that held it while asking the pool for another (the cold tier's read)
    # would stand still until the pool's 30 s timeout, as 200 simultaneous conversations once did.
    settings = StorageSettings(
        data_dir=tmp_path / "data", sql=SQLSettings(url=postgres_url, pool_size=1, max_overflow=0)
    )
    service = await StorageService.open(settings)
    try:
        turn = await service.record_turn(ALICE, "user", "my sister Ruth lives in Lisbon", speaker="alice")
        await service.index_turns(ALICE, [turn])

        found = await asyncio.wait_for(service.search(ALICE, "where does Ruth live", kinds=("turn",)), 20)

        assert [r.id for r in found] == [turn.id]
        assert found[0].reasons.get("semantic", 0.0) > 0
    finally:
        await service.close()


async def test_recall_counts_are_written_in_one_go_on_both_backends(storage: StorageService) -> None:
    # note_recalled runs as one blocking unit of work (storage/sql/reads.py, ``write``): the memories' counts,
    # their recall time and the person's statistics, created on the first count and added to after.
    kept = await storage.add_memory(ALICE, "keeps bees on the roof")
    other = await storage.add_memory(ALICE, "grows tomatoes")
    bobs = await storage.add_memory(BOB, "collects stamps")
    assert await storage.memory.note_recalled(ALICE, [kept.id, kept.id, other.id, bobs.id]) == 2
    assert await storage.memory.note_recalled(ALICE, [kept.id]) == 1
    assert await storage.memory.note_recalled(Scope(user_id="nobody", guild_id=GUILD), [kept.id]) == 0
    counts = {m.id: m.recalls for m in await storage.memory.current_memories(ALICE)}
    assert counts == {kept.id: 3, other.id: 1}
    assert (await storage.memory.stats(ALICE))["recalls"] == 4
    assert (await storage.memory.stats(BOB))["recalls"] == 0
    again = await storage.memory.memory(ALICE, kept.id)
    assert again is not None and again.recalled_at is not None
