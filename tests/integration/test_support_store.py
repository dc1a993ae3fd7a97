"""Support strategies on real SQL: persistence, consent, learning, reset, export and forget-me."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.config import SupportSettings
from bot.pipeline.message import TurnInput
from cogs.emotional_support.provider import SupportProvider
from cogs.emotional_support.service import Selection, SupportError, SupportService
from storage.config import SQLSettings, StorageSettings
from storage.scope import Scope
from storage.service import StorageService

ALICE = Scope(user_id="100", guild_id="1", channel_id="10")
BOB = Scope(user_id="200", guild_id="1", channel_id="10")
SUPPORT_TABLES = ("emotional_profiles", "user_support_strategies", "strategy_history")
LOW = "I feel really low and sad today"
BETTER = "thanks, that helped, I'm feeling a bit better now"
WORSE = "honestly I feel even worse, so hopeless and miserable and alone"

Opener = Callable[[], Awaitable[StorageService]]


@pytest.fixture
async def open_storage(tmp_path: Path, sql_url: str) -> AsyncIterator[Opener]:
    """Return a function opening storage on the test database (again and again, like restarts)."""
    opened: list[StorageService] = []

    async def open_() -> StorageService:
        sql = SQLSettings(url=sql_url, connect_retries=0)
        service = await StorageService.open(StorageSettings(data_dir=tmp_path / "data", sql=sql))
        opened.append(service)
        return service

    yield open_
    for service in opened:
        await service.close()


async def say(service: SupportService, scope: Scope, words: str, message_id: str) -> Selection:
    """Run one turn through the provider's selection and the after-turn hook."""
    turn = TurnInput(scope, "Alice", words, [message_id], datetime.now(UTC))
    selection = await service.select(turn)
    await service.after_turn(turn, 1, 2)
    return selection


async def rows(storage: StorageService, table: str) -> int:
    async with storage.engine.connect() as conn:
        return int((await conn.execute(text(f"SELECT COUNT(*) FROM {table}"))).scalar_one())


async def test_strategies_profile_and_history_survive_a_restart(open_storage: Opener) -> None:
    first = await open_storage()
    support = SupportService(first, SupportSettings())
    await support.set_consent(ALICE, True)
    await support.set_style(ALICE, "grounding")
    await say(support, ALICE, LOW, "m1")
    name, score = await support.feedback(ALICE, helped=True)
    await first.close()

    second = await open_storage()
    state = await SupportService(second, SupportSettings()).state(ALICE)
    assert state.opted_in is True and state.preferred == "grounding"
    assert name == "grounding" and state.strategies["grounding"].score == pytest.approx(score)
    assert state.strategies["grounding"].uses == 1
    assert state.last_emotion == "sadness" and state.baseline_valence is not None
    history = await second.support.history(ALICE)
    assert [(h.strategy, h.cause) for h in history] == [("grounding", "feedback")]


async def test_nothing_is_kept_before_opting_in(open_storage: Opener) -> None:
    storage = await open_storage()
    support = SupportService(storage, SupportSettings())
    selection = await say(support, ALICE, LOW, "m1")
    assert not selection.consented and selection.choice is None
    assert [await rows(storage, t) for t in SUPPORT_TABLES] == [0, 0, 0]
    with pytest.raises(SupportError, match="optin"):
        await support.feedback(ALICE, helped=True, strategy="listening")


async def test_a_guild_default_opts_people_in_until_they_opt_out(open_storage: Opener) -> None:
    storage = await open_storage()
    support = SupportService(storage, SupportSettings(guild_opt_in={"1": True}))
    assert (await say(support, ALICE, LOW, "m1")).consented
    assert (await support.state(ALICE)).last_emotion == "sadness"
    assert not (await say(support, Scope("100", "2", "20"), LOW, "m2")).consented  # another guild
    await support.set_consent(ALICE, False)
    assert not (await say(support, ALICE, LOW, "m3")).consented


async def test_a_better_mood_after_an_approach_raises_its_score_and_a_worse_one_lowers_it(
    open_storage: Opener,
) -> None:
    storage = await open_storage()
    support = SupportService(storage, SupportSettings())
    await support.set_consent(ALICE, True)
    used = (await say(support, ALICE, LOW, "m1")).choice
    assert used is not None
    await say(support, ALICE, BETTER, "m2")
    improved = (await support.state(ALICE)).strategies[used.strategy].score
    assert improved > 0.5
    await say(support, ALICE, LOW, "m3")
    await say(support, ALICE, WORSE, "m4")
    assert (await support.state(ALICE)).strategies[used.strategy].score < improved
    causes = [h.cause for h in await storage.support.history(ALICE)]
    assert causes == ["mood", "mood"]


async def test_a_reaction_counts_once_and_only_from_the_person_supported(open_storage: Opener) -> None:
    storage = await open_storage()
    support = SupportService(storage, SupportSettings())
    await support.set_consent(ALICE, True)
    await support.set_consent(BOB, True)
    used = (await say(support, ALICE, LOW, "m1")).choice
    assert used is not None
    assert await support.react(BOB, "m1", "👍") is None  # Bob's reaction on Alice's reply
    assert await support.react(ALICE, "m1", "🍕") is None  # not a verdict
    assert await support.react(ALICE, "m1", "👍") == used.strategy
    assert await support.react(ALICE, "m1", "❤️") is None  # one reaction per reply
    assert (await support.state(ALICE)).strategies[used.strategy].score > 0.5
    assert not (await support.state(BOB)).strategies


async def test_feedback_without_a_recent_approach_says_what_to_do(open_storage: Opener) -> None:
    storage = await open_storage()
    support = SupportService(storage, SupportSettings())
    await support.set_consent(ALICE, True)
    with pytest.raises(SupportError, match="strategy:listening"):
        await support.feedback(ALICE, helped=True)
    with pytest.raises(SupportError, match="Unknown approach 'hugs'"):
        await support.feedback(ALICE, helped=True, strategy="hugs")
    with pytest.raises(SupportError, match="Unknown style"):
        await support.set_style(ALICE, "hugs")
    assert (await support.state(ALICE)).preferred is None


async def test_reset_deletes_every_row_and_leaves_the_person_opted_out(open_storage: Opener) -> None:
    storage = await open_storage()
    support = SupportService(storage, SupportSettings(guild_opt_in={"1": True}))
    await support.set_consent(ALICE, True)
    await say(support, ALICE, LOW, "m1")
    await support.feedback(ALICE, helped=False)
    assert [await rows(storage, t) for t in SUPPORT_TABLES] == [1, 1, 1]
    await support.reset(ALICE)
    assert [await rows(storage, t) for t in SUPPORT_TABLES[1:]] == [0, 0]
    state = await support.state(ALICE)
    assert state.opted_in is False and not state.strategies and not state.days
    assert await storage.support.intervention(ALICE, "m1") is None


async def test_history_is_bounded_per_person(open_storage: Opener) -> None:
    storage = await open_storage()
    storage.support.history_limit = 5
    support = SupportService(storage, SupportSettings())
    await support.set_consent(ALICE, True)
    for i in range(8):
        await support.feedback(ALICE, helped=i % 2 == 0, strategy="advice")
    assert await rows(storage, "strategy_history") == 5
    newest = await storage.support.history(ALICE, limit=1)
    assert newest[0].cause == "feedback"


async def test_export_holds_the_support_data_and_forget_me_removes_it(open_storage: Opener) -> None:
    storage = await open_storage()
    support = SupportService(storage, SupportSettings())
    await support.set_consent(ALICE, True)
    await say(support, ALICE, LOW, "m1")
    await support.feedback(ALICE, helped=True)
    exported = await storage.personal.export(ALICE.platform, ALICE.user_id)
    assert all(exported["sql"].get(table) for table in SUPPORT_TABLES)
    assert exported["sql"]["emotional_profiles"][0]["opted_in"] is True
    assert any(key.startswith("support:") for key in exported["cache"]["keys"])

    await storage.personal.forget(ALICE.platform, ALICE.user_id)
    assert [await rows(storage, t) for t in SUPPORT_TABLES] == [0, 0, 0]
    # What this process held about Alice is not written back, and she starts again from nothing.
    state = await support.state(ALICE)
    assert state.opted_in is None and not state.strategies
    assert await storage.support.intervention(ALICE, "last") is None


async def test_an_approach_that_never_reached_a_reply_is_not_counted(open_storage: Opener) -> None:
    storage = await open_storage()
    support = SupportService(storage, SupportSettings())
    await support.set_consent(ALICE, True)
    turn = TurnInput(ALICE, "Alice", LOW, ["m1"], datetime.now(UTC))
    assert (await support.select(turn)).choice is not None
    await support.after_turn(turn, 1, None)  # the model failed: no reply was delivered
    state = await support.state(ALICE)
    assert state.last_emotion == "sadness" and not state.strategies
    assert await storage.support.intervention(ALICE, "m1") is None


async def test_the_provider_gives_state_and_approach_only_to_people_who_opted_in(
    open_storage: Opener,
) -> None:
    storage = await open_storage()
    support = SupportService(storage, SupportSettings())
    provider = SupportProvider(support)
    low = TurnInput(ALICE, "Alice", LOW, ["m1"], datetime.now(UTC))
    assert await provider.provide(low) == []
    await support.set_consent(ALICE, True)
    for i in range(3):
        await say(support, ALICE, "just a normal day, nothing special", f"n{i}")
    sections = await provider.provide(TurnInput(ALICE, "Alice", LOW, ["m2"], datetime.now(UTC)))
    assert [s.name for s in sections] == ["support"]
    units = "\n".join(sections[0].units)
    assert "Alice seems to feel sadness" in units and "Their usual mood lately is" in units
    assert "Support approach for them now: listening (a starting point" in units
    calm = await provider.provide(
        TurnInput(ALICE, "Alice", "lovely weather, great day!", ["m3"], datetime.now(UTC))
    )
    assert "Support approach" not in "\n".join(calm[0].units)


async def test_a_crisis_turn_is_left_to_the_crisis_protocol(open_storage: Opener) -> None:
    storage = await open_storage()
    support = SupportService(storage, SupportSettings())
    await support.set_consent(ALICE, True)
    await support.set_style(ALICE, "humour")
    turn = TurnInput(ALICE, "Alice", LOW, ["m1"], datetime.now(UTC), crisis=True)
    assert await SupportProvider(support).provide(turn) == []
    await support.after_turn(turn, 1, 2)
    state = await support.state(ALICE)
    assert state.last_emotion is None and not state.strategies
