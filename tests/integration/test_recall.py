"""Hybrid recall through StorageService.search on every backend: fusion, reasons, time, scope, neighbours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, text

from bot.pipeline.context import RecallProvider
from bot.pipeline.message import TurnInput
from storage.recall.lexical import Visibility, search_turns
from storage.scope import Scope
from storage.service import StorageService
from storage.sql.models import Turn, User
from storage.vectors.base import VectorsUnavailable
from tests.integration import test_storage_service as base
from tests.integration.test_storage_service import storage_settings

GUILD = "7"
ALICE = Scope(user_id="alice", guild_id=GUILD, channel_id="general")
BOB = Scope(user_id="bob", guild_id=GUILD, channel_id="general")
ALICE_OTHER_CHANNEL = Scope(user_id="alice", guild_id=GUILD, channel_id="random")
CAROL_OTHER_CHANNEL = Scope(user_id="carol", guild_id=GUILD, channel_id="random")
BOB_OTHER_GUILD = Scope(user_id="bob", guild_id="8", channel_id="general")
BOB_DM = Scope(user_id="bob", channel_id="dm-bob")
NOW = datetime(2024, 3, 14, 12, 0, tzinfo=UTC)  # a Thursday
# The same parametrised fixture as the storage service tests: SQLite + in-process cache + local Chroma, and
# PostgreSQL + Redis + a Chroma server.
storage = base.storage
PARTS = {"lexical", "semantic", "fused", "importance", "recency", "validity", "score"}


async def say(storage: StorageService, scope: Scope, words: str, when: datetime, who: str) -> int:
    turn = await storage.record_turn(scope, "user", words, speaker=who, created_at=when)
    await storage.index_turns(scope, [turn])
    return turn.id


async def test_every_result_says_why_it_was_recalled(storage: StorageService) -> None:
    await say(
        storage, ALICE, "My sister Maya plays the oboe in an orchestra", NOW - timedelta(days=3), "Alice"
    )
    await storage.add_memory(ALICE, "Alice's sister is called Maya", importance=0.8)
    results = await storage.search(ALICE, "who is Maya?", now=NOW)
    assert {r.kind for r in results} == {"turn", "memory"}
    for r in results:
        assert r.reasons.keys() >= PARTS
        assert r.reasons["lexical"] > 0  # both name Maya
        assert r.score == r.reasons["score"]
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)


async def test_a_rare_exact_word_is_found_lexically(storage: StorageService) -> None:
    target = await say(storage, ALICE, "The vet said Biscuit needs amoxicillin twice a day", NOW, "Alice")
    for i in range(8):
        await say(storage, ALICE, f"Biscuit the puppy chased a ball again, round {i}", NOW, "Alice")
    results = await storage.search(ALICE, "amoxicillin dose", k=3, kinds=("turn",), now=NOW)
    assert results[0].id == target and results[0].reasons["lexical"] == 1.0


async def test_a_named_day_brings_that_days_turns_first(storage: StorageService) -> None:
    await say(storage, ALICE, "We went hiking up the hill", NOW - timedelta(days=20), "Alice")
    yesterday = await say(storage, ALICE, "We went hiking by the river", NOW - timedelta(days=1), "Alice")
    results = await storage.search(ALICE, "where did we go hiking yesterday?", kinds=("turn",), now=NOW)
    assert results[0].id == yesterday
    assert results[0].reasons["time"] == 1.0 and results[1].reasons["time"] < 1.0


async def test_a_time_window_finds_turns_with_no_matching_word(storage: StorageService) -> None:
    await say(storage, ALICE, "Lunch was lovely", NOW - timedelta(days=40), "Alice")
    monday = await say(storage, ALICE, "Lunch was lovely", NOW - timedelta(days=3), "Alice")
    results = await storage.search(ALICE, "what happened on Monday?", kinds=("turn",), now=NOW)
    assert results[0].id == monday


async def test_superseded_facts_come_only_with_history_and_after_current_ones(
    storage: StorageService,
) -> None:
    old = await storage.add_memory(ALICE, "Alice lives in Porto", key="lives_in", value="Porto")
    new = await storage.add_memory(ALICE, "Alice lives in Lisbon", key="lives_in", value="Lisbon")
    results = await storage.search(ALICE, "where does Alice live", kinds=("memory",), now=NOW, history=True)
    assert [r.id for r in results] == [new.id, old.id]
    assert results[0].reasons["validity"] == 1.0 and results[1].reasons["validity"] == 0.0
    # Without history only what is true now comes back, even when the old value matches better.
    assert [r.id for r in await storage.search(ALICE, "Alice lives in Porto", now=NOW)] == [new.id]


async def test_more_important_memories_rank_higher(storage: StorageService) -> None:
    low = await storage.add_memory(ALICE, "Alice likes green tea", importance=0.1)
    high = await storage.add_memory(ALICE, "Alice likes black tea", importance=0.9)
    results = await storage.search(ALICE, "tea", kinds=("memory",), now=NOW)
    assert [r.id for r in results] == [high.id, low.id]
    assert results[0].reasons["importance"] == 0.9


async def test_by_default_nobody_recalls_anothers_turns_even_in_one_channel(storage: StorageService) -> None:
    await say(storage, BOB, "I'm organising a bake sale on Saturday", NOW, "Bob")
    assert await storage.search(ALICE, "bake sale", kinds=("turn",), now=NOW) == []
    assert len(await storage.search(BOB, "bake sale", kinds=("turn",), now=NOW)) == 1


async def test_public_turns_in_a_channel_are_recalled_by_others_in_it(storage: StorageService) -> None:
    storage.settings.recall_channel_turns = True
    bobs = await say(storage, BOB, "I'm organising a bake sale on Saturday", NOW, "Bob")
    found = await storage.search(ALICE, "bake sale", kinds=("turn",), now=NOW)
    assert [(r.id, r.speaker) for r in found] == [(bobs, "Bob")]
    assert "semantic" in found[0].reasons and found[0].reasons["semantic"] > 0  # Bob's partition was read


async def test_public_turns_stay_in_their_channel(storage: StorageService) -> None:
    storage.settings.recall_channel_turns = True
    await say(storage, BOB, "I'm organising a bake sale on Saturday", NOW, "Bob")
    await storage.add_memory(BOB, "Bob runs a bakery called Crumbs")
    for elsewhere in (ALICE_OTHER_CHANNEL, CAROL_OTHER_CHANNEL):
        assert await storage.search(elsewhere, "bake sale bakery Crumbs", now=NOW) == []
    # Another guild and DMs are other realms: even Bob's own channel turns stay behind.
    assert await storage.search(BOB_OTHER_GUILD, "bake sale", now=NOW) == []
    assert await storage.search(BOB_DM, "bake sale", now=NOW) == []


async def test_private_memories_never_cross_to_others_in_the_channel(storage: StorageService) -> None:
    storage.settings.recall_channel_turns = True
    await storage.add_memory(BOB, "Bob is allergic to penicillin")
    assert await storage.search(ALICE, "penicillin allergy", now=NOW) == []
    assert [r.text for r in await storage.search(BOB, "penicillin allergy", now=NOW)] == [
        "Bob is allergic to penicillin"
    ]


async def test_dm_turns_are_never_shared(storage: StorageService) -> None:
    storage.settings.recall_channel_turns = True
    await say(storage, BOB_DM, "my secret diary password hint is walrus", NOW, "Bob")
    assert await storage.search(ALICE, "walrus password", now=NOW) == []
    assert await storage.search(BOB, "walrus password", now=NOW) == []  # DMs are their own realm
    assert len(await storage.search(BOB_DM, "walrus password", now=NOW)) == 1


async def test_neighbouring_turns_come_along_as_context(storage: StorageService) -> None:
    storage.settings.recall_channel_turns = True  # the neighbours include what Bob said there
    before = await say(storage, ALICE, "Guess what happened at the market", NOW, "Alice")
    anchor = await say(storage, BOB, "Someone sold me a glowing turnip", NOW, "Bob")
    after = await say(storage, ALICE, "A glowing what?!", NOW, "Alice")
    await say(storage, ALICE_OTHER_CHANNEL, "unrelated chatter elsewhere", NOW, "Alice")
    found = await storage.search(ALICE, "turnip", k=1, kinds=("turn",), now=NOW, neighbours=1)
    assert found[0].id == anchor
    assert [c.id for c in found[0].context] == [before, after]
    assert all(c.reasons == {"neighbour_of": float(anchor)} for c in found[0].context)
    assert (await storage.search(ALICE, "turnip", k=1, kinds=("turn",), now=NOW))[0].context == ()


async def test_turns_said_while_paused_are_never_recalled(storage: StorageService) -> None:
    await storage.record_turn(
        ALICE, "user", "the pin of my door is 4711", speaker="Alice", meta={"paused": True}
    )
    assert await storage.search(ALICE, "door pin 4711", now=NOW) == []


async def test_bad_arguments_are_refused(storage: StorageService) -> None:
    for kwargs in ({"kinds": ("facts",)}, {"kinds": ()}, {"neighbours": -1}):
        try:
            await storage.search(ALICE, "anything", **kwargs)
        except ValueError as exc:
            assert str(exc)
        else:
            raise AssertionError(f"{kwargs} was accepted")


async def test_hostile_query_text_is_only_words(storage: StorageService) -> None:
    target = await say(storage, ALICE, 'She typed "NEAR" AND (OR) * into the box', NOW, "Alice")
    for query in ['NEAR(" AND', "'; DROP TABLE turns; --", "text:box", "*", "\u0000\u200b", "漢字 ü ñ"]:
        await storage.search(ALICE, query, now=NOW)  # never a syntax error from either engine
    assert (await storage.search(ALICE, 'typed "box"', kinds=("turn",), now=NOW))[0].id == target


class _DownIndex:
    backend = "chroma-http"

    async def _fail(self, *args: object, **kwargs: object) -> Any:
        raise VectorsUnavailable("Chroma is unreachable")

    upsert = query = delete = drop_user = drop_space = count = ping = _fail

    async def close(self) -> None:
        return None


async def test_without_vectors_recall_is_lexical_time_and_recency(tmp_path: Path) -> None:
    settings = storage_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'k.db'}")
    storage = await StorageService.open(settings, vectors=_DownIndex())  # type: ignore[arg-type]
    try:
        older = await storage.record_turn(ALICE, "user", "the kite flew", created_at=NOW - timedelta(days=9))
        newer = await storage.record_turn(ALICE, "user", "the kite flew", created_at=NOW - timedelta(days=2))
        found = await storage.search(ALICE, "kite", kinds=("turn",), now=NOW)
        assert [r.id for r in found] == [newer.id, older.id]  # equal words: the newer first
        assert "semantic" not in found[0].reasons and found[0].reasons["lexical"] == 1.0
        assert {h.tier: h for h in await storage.health()}["vectors"].detail.endswith("falls back to SQL")
    finally:
        await storage.close()


async def test_full_text_index_follows_deletes_and_cascades(tmp_path: Path) -> None:
    settings = storage_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'k.db'}")
    storage = await StorageService.open(settings)
    try:
        memory = await storage.add_memory(ALICE, "Alice keeps bees")
        await storage.record_turn(ALICE, "user", "my bees swarmed", speaker="Alice")
        await storage.delete_memory(ALICE, memory.id)
        async with storage.engine.begin() as conn:
            assert (
                await conn.scalar(text("SELECT count(*) FROM memories_fts WHERE memories_fts MATCH 'bees'"))
                == 0
            )
            await conn.execute(delete(User).where(User.external_id == "alice"))  # cascades to the turns
            assert await conn.scalar(text("SELECT count(*) FROM turns")) == 0
            assert await conn.scalar(text("SELECT count(*) FROM turns_fts WHERE turns_fts MATCH 'bees'")) == 0
    finally:
        await storage.close()


async def test_the_full_text_index_knows_whose_rows_they_are_and_ids_never_match_words(
    tmp_path: Path,
) -> None:
    settings = storage_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'k.db'}")
    storage = await StorageService.open(settings, vectors=_DownIndex())  # type: ignore[arg-type]
    try:
        await storage.record_turn(BOB, "user", "the kite flew", speaker="Bob")
        mine = await storage.record_turn(ALICE, "user", "the kite flew", speaker="Alice")
        async with storage.engine.connect() as conn:
            alice_id = await conn.scalar(text("SELECT user_id FROM turns WHERE id = :i"), {"i": mine.id})
            owned = "SELECT rowid FROM turns_fts WHERE turns_fts MATCH :q"
            assert (await conn.execute(text(owned), {"q": f"user_id : {alice_id} AND kite"})).all() == [
                (mine.id,)
            ]
            # Her id as a word of the query finds none of her turns through the id column.
            realm = await conn.scalar(text("SELECT realm FROM turns WHERE id = :i"), {"i": mine.id})
            seen = Visibility(int(alice_id), (str(realm),))
            assert await conn.run_sync(lambda c: search_turns(c, "sqlite", seen, ["kite"], 10)) != []
            assert await conn.run_sync(lambda c: search_turns(c, "sqlite", seen, [str(alice_id)], 10)) == []
        assert [r.id for r in await storage.search(ALICE, "kite", kinds=("turn",), now=NOW)] == [mine.id]
    finally:
        await storage.close()


async def test_assistant_turns_are_not_in_the_full_text_index(tmp_path: Path) -> None:
    settings = storage_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'k.db'}")
    storage = await StorageService.open(settings)
    try:
        await storage.record_turn(ALICE, "assistant", "I can tell you about zeppelins")
        async with storage.engine.connect() as conn:
            assert (
                await conn.scalar(text("SELECT count(*) FROM turns_fts WHERE turns_fts MATCH 'zeppelins'"))
                == 0
            )
            assert await conn.scalar(text("SELECT count(*) FROM turns")) == 1
            assert await conn.scalar(text("SELECT count(*) FROM turns WHERE role = 'assistant'")) == 1
        assert Turn.__tablename__ == "turns"
    finally:
        await storage.close()


async def test_the_recall_provider_shows_a_turn_with_its_neighbours(storage: StorageService) -> None:
    storage.settings.recall_channel_turns = True  # the neighbours include what Bob said there
    await say(storage, BOB, "What did you find at the market?", NOW - timedelta(days=5), "Bob")
    await say(storage, ALICE, "A glowing turnip, believe it or not", NOW - timedelta(days=5), "Alice")
    await say(storage, BOB, "No way!", NOW - timedelta(days=5), "Bob")
    await storage.end_session(ALICE)
    turn = TurnInput(ALICE, "Alice", "remember the turnip?", ["m-new"], NOW)
    sections = await RecallProvider(storage, k=1).provide(turn)
    assert [s.name for s in sections] == ["recall"]
    (unit,) = sections[0].units
    assert unit.splitlines() == [
        f"- ({NOW - timedelta(days=5):%Y-%m-%d}) Alice: A glowing turnip, believe it or not",
        "    (before) Bob: What did you find at the market?",
        "    (after) Bob: No way!",
    ]


async def test_a_memory_the_recall_provider_puts_in_the_prompt_counts_as_recalled(
    storage: StorageService,
) -> None:
    used = await storage.add_memory(ALICE, "Alice's sister Maya plays the oboe", importance=0.9)
    unused = await storage.add_memory(ALICE, "Alice repairs old bicycles", importance=0.2)
    provider = RecallProvider(storage, k=1)
    turn = TurnInput(ALICE, "Alice", "how is Maya doing with the oboe?", ["m-oboe"], NOW)
    sections = await provider.provide(turn)
    assert "Maya plays the oboe" in sections[0].units[0]
    await provider.settle()
    first = await storage.memory.memory(ALICE, used.id)
    assert first is not None and first.recalls == 1 and first.recalled_at is not None
    await provider.provide(turn)
    await provider.settle()
    second = await storage.memory.memory(ALICE, used.id)
    left = await storage.memory.memory(ALICE, unused.id)
    assert second is not None and second.recalls == 2
    assert left is not None and left.recalls == 0 and left.recalled_at is None  # not in the prompt (k=1)
    assert (await storage.memory.stats(ALICE))["recalls"] == 2


async def test_a_common_word_is_bounded_but_rare_words_and_every_word_rows_still_count(
    storage: StorageService, monkeypatch: Any
) -> None:
    # Pools of 3: "garden" has more newer matches than that, yet the old row naming both words, and the
    # oldest row with a rare word, are still found with their full scores.
    monkeypatch.setattr("storage.recall.lexical.TERM_POOL", 3)
    both = await say(storage, ALICE, "The garden gnome wore a sombrero", NOW - timedelta(days=60), "Alice")
    rare = await say(storage, ALICE, "I bought a sombrero in Oaxaca", NOW - timedelta(days=50), "Alice")
    weeded = [
        await say(storage, ALICE, f"Weeded the garden again, bed {i}", NOW - timedelta(days=10 - i), "Alice")
        for i in range(6)
    ]
    results = await storage.search(ALICE, "garden sombrero", k=10, kinds=("turn",), now=NOW)
    ids = [r.id for r in results]
    assert ids[0] == both and rare in ids
    assert results[0].reasons["lexical"] == 1.0  # both words: the best lexical score
    if storage.engine.dialect.name == "sqlite":  # PostgreSQL ranks every match (docs/memory.md)
        scored = {r.id for r in results if r.reasons["lexical"] > 0 and "neighbour" not in r.reasons}
        assert scored == {both, rare, *weeded[-3:]}  # the three newest "garden" rows, not the older ones


async def test_an_answer_outranks_the_question_that_shares_the_words(storage: StorageService) -> None:
    storage.settings.recall_channel_turns = True
    day = NOW - timedelta(days=6)
    await say(storage, BOB, "Where did you find that glowing turnip?", day, "Bob")
    answer = await say(storage, ALICE, "At the night market behind the old station.", day, "Alice")
    await say(storage, BOB, "The turnip soup last winter was nice", NOW - timedelta(days=60), "Bob")
    found = await storage.search(ALICE, "where was the glowing turnip found?", kinds=("turn",), now=NOW)
    # The answer shares no word with what is asked; the question it replies to does.
    assert found[0].id == answer
    assert found[0].reasons["reply"] > 0 and "question" not in found[0].reasons
    asked = next(r for r in found if r.text.startswith("Where did you find"))
    assert asked.reasons["question"] == 1.0 and "reply" not in asked.reasons
    # Both were said on the day most of the matches come from.
    assert found[0].reasons["session"] == asked.reasons["session"] == 1.0
    assert all(r.score == r.reasons["score"] for r in found)


async def test_a_question_asked_mid_turn_still_gets_its_answer(storage: StorageService) -> None:
    storage.settings.recall_channel_turns = True
    day = NOW - timedelta(days=6)
    await say(storage, BOB, "Wow, a glowing turnip! Where did you find it? I want one.", day, "Bob")
    answer = await say(storage, ALICE, "At the night market behind the old station.", day, "Alice")
    found = await storage.search(ALICE, "where was the glowing turnip found?", kinds=("turn",), now=NOW)
    assert found[0].id == answer and found[0].reasons["reply"] > 0
    # It asks, but not only: it is no question to give way (only a text ending in "?" is).
    assert "question" not in found[1].reasons


async def test_names_said_in_a_channel_match_what_was_said_not_the_greetings(
    storage: StorageService,
) -> None:
    storage.settings.recall_channel_turns = True
    day = NOW - timedelta(days=4)
    greetings = [
        await say(storage, BOB, words, day - timedelta(days=i), "Bob")
        for i, words in enumerate(("Thanks Alice!", "Hey Alice, good to see you", "Night Alice"))
    ]
    kitten = await say(storage, ALICE, "We adopted a kitten from the shelter", day, "Alice")
    await storage.add_memory(BOB, "Alice is Bob's neighbour")
    found = await storage.search(BOB, "what did Alice adopt?", kinds=("turn",), now=NOW)
    by_id = {r.id: r for r in found}
    assert found[0].id == kitten and found[0].reasons["lexical"] == 1.0 and found[0].reasons["speaker"] == 1.0
    # Alice's name no longer matches every turn that greets her: they can only come by other parts.
    assert all(by_id[g].reasons["lexical"] == 0.0 for g in greetings if g in by_id)
    # Her name alone still finds her turns (the speaker part), and memories keep names in their query.
    assert kitten in {r.id for r in await storage.search(BOB, "Alice", kinds=("turn",), now=NOW)}
    memories = await storage.search(BOB, "Alice", kinds=("memory",), now=NOW)
    assert memories and memories[0].reasons["lexical"] == 1.0


async def test_a_day_with_many_matches_lifts_its_weaker_turns(storage: StorageService) -> None:
    trip = NOW - timedelta(days=10)
    owl = await say(storage, ALICE, "Saw an owl near the tent at night", trip, "Alice")
    for chatter in ("anyway", "so much to tell", "where was I"):  # far from the owl: no neighbour share
        await say(storage, ALICE, chatter, trip, "Alice")
    await say(storage, ALICE, "Packed the tent and the camping stove for the lake trip", trip, "Alice")
    await say(storage, ALICE, "The lake trip: we camped by the water", trip, "Alice")
    # The same words on a later day (in another channel of hers: no neighbour of the trip's turns), newer, so
    # first on every other part.
    later = await say(
        storage, ALICE_OTHER_CHANNEL, "Saw an owl near the tent at night", NOW - timedelta(days=2), "Alice"
    )
    found = await storage.search(ALICE, "camping lake trip tent", kinds=("turn",), now=NOW)
    by_id = {r.id: r for r in found}
    assert by_id[owl].reasons["session"] == 1.0 and by_id[later].reasons["session"] < 1.0
    assert by_id[later].reasons["recency"] > by_id[owl].reasons["recency"]
    assert [r.id for r in found].index(owl) < [r.id for r in found].index(later)
