"""The crisis protocol and the AI disclosure through the real discord.py client on the fake Discord API:
the helplines go to the person privately at turn 1 and at turn 80, Kindred keeps talking, moderators who
opted in get an alert without the text, and the text reaches neither the logs nor memory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import Kindred
from bot.config import CrisisSettings, DisclosureSettings, SafetySettings
from bot.metrics import REGISTRY
from storage.scope import Scope
from tests.e2e.harness import last_prompt, make_settings, reply_in, serve
from tests.fakes.discord_api import FakeDiscord, StoredMessage
from tests.fakes.openai_api import FakeOpenAI

CRISIS_TEXT = "honestly i want to kill myself tonight"
SECRET_WORDS = ("kill myself", "want to kill")
REPLY = "I'm here with you. Are you safe right now?"
DISCLOSURE = "an AI, not a person"


@pytest.fixture
async def start(
    tmp_path: Path, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> AsyncIterator[Callable[..., Any]]:
    """Return an async context factory running Kindred on the fakes with the given safety settings."""

    @asynccontextmanager
    async def run(
        alert_channel: int | None = None, disclose: bool = False, **pipeline: Any
    ) -> AsyncIterator[Kindred]:
        settings = make_settings(tmp_path / "data", openai_server, **pipeline)
        alerts = {str(fake_discord.scene.guild.id): alert_channel} if alert_channel else {}
        settings.safety = SafetySettings(
            crisis=CrisisSettings(moderator_alert_channels=alerts),
            disclosure=DisclosureSettings(enabled=disclose),
        )
        async with serve(settings, fake_discord) as app:
            yield app

    yield run


def crisis_count(locale: str) -> float:
    return REGISTRY.get_sample_value("kindred_crisis_events_total", {"locale": locale}) or 0.0


def has_helplines(message: StoredMessage) -> bool:
    return "988" in message.content and "116 123" in message.content


def guild_scope(fake: FakeDiscord) -> Scope:
    scene = fake.scene
    return Scope(user_id=str(scene.alice.id), guild_id=str(scene.guild.id), channel_id=str(scene.general.id))


async def test_crisis_at_turn_one_sends_helplines_by_dm_and_kindred_keeps_talking(
    start: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", reply=REPLY)
    scene = fake_discord.scene
    before = crisis_count("en")
    async with start():
        await fake_discord.send_message(scene.general, scene.alice, f"<@{fake_discord.bot.id}> {CRISIS_TEXT}")
        private = await fake_discord.wait_for_message(fake_discord.dm_channel(scene.alice), has_helplines)
        await reply_in(fake_discord, scene.general, REPLY)
    assert "keep talking" in private.content
    assert not any(has_helplines(m) for m in fake_discord.bot_messages_in(scene.general))  # private
    assert "Safety:" in last_prompt(openai_server) and "never give information about methods" in (
        last_prompt(openai_server).lower()
    )
    assert crisis_count("en") == before + 1


async def test_crisis_at_turn_eighty_gets_the_protocol_even_past_the_rate_limit(
    start: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", reply=REPLY)
    scene = fake_discord.scene
    scope = guild_scope(fake_discord)
    async with start(user_burst=1) as app:
        for n in range(79):  # an ongoing conversation: 79 turns already recorded
            role = "user" if n % 2 == 0 else "assistant"
            await app.storage.record_turn(scope, role, f"small talk number {n}", speaker="alice")
        await fake_discord.send_message(scene.general, scene.alice, f"<@{fake_discord.bot.id}> hi again")
        await reply_in(fake_discord, scene.general, REPLY)
        # The burst of one is spent: an ordinary message now would be refused, a crisis one never is.
        await fake_discord.send_message(scene.general, scene.alice, f"<@{fake_discord.bot.id}> {CRISIS_TEXT}")
        await fake_discord.wait_for_message(fake_discord.dm_channel(scene.alice), has_helplines)
        await fake_discord.wait_for(
            lambda: (
                True
                if len([m for m in fake_discord.bot_messages_in(scene.general) if m.content == REPLY]) == 2
                else None
            )
        )
        crisis_turn = next(t for t in await app.storage.recent_turns(scope) if t.text == CRISIS_TEXT)
        assert crisis_turn.id > 80  # a fresh database: every earlier turn is this conversation's


async def test_crisis_in_a_dm_is_answered_in_the_dm(
    start: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", reply=REPLY)
    dm = fake_discord.dm_channel(fake_discord.scene.alice)
    async with start():
        await fake_discord.send_message(dm, fake_discord.scene.alice, "quiero morir")
        private = await fake_discord.wait_for_message(dm, lambda m: "024" in m.content)
        await reply_in(fake_discord, dm, REPLY)
    assert "seguir hablando" in private.content  # the Spanish message with the Spanish helplines


@pytest.mark.parametrize("opted_in_by", ["config", "guild setting"])
async def test_opted_in_moderators_get_an_alert_without_the_text(
    start: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI, opted_in_by: str
) -> None:
    openai_server.configure("chat-a", reply=REPLY)
    scene = fake_discord.scene
    mods = fake_discord.add_text_channel(scene.guild, "mods")
    async with start(alert_channel=mods.id if opted_in_by == "config" else None) as app:
        if opted_in_by == "guild setting":
            await app.storage.update_place_settings(
                "discord", str(scene.guild.id), None, {"crisis_alert_channel": mods.id}
            )
        await fake_discord.send_message(scene.general, scene.alice, f"<@{fake_discord.bot.id}> {CRISIS_TEXT}")
        alert = await fake_discord.wait_for_message(mods, lambda m: "crisis protocol" in m.content)
        await reply_in(fake_discord, scene.general, REPLY)
    assert f"<@{scene.alice.id}>" in alert.content and f"<#{scene.general.id}>" in alert.content
    assert not any(word in alert.content for word in SECRET_WORDS)
    assert alert.blocks_all_mentions and not alert.pinged_anyone


async def test_without_an_opt_in_no_moderator_hears_of_it(
    start: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", reply=REPLY)
    scene = fake_discord.scene
    mods = fake_discord.add_text_channel(scene.guild, "mods")
    async with start():
        await fake_discord.send_message(scene.general, scene.alice, f"<@{fake_discord.bot.id}> {CRISIS_TEXT}")
        await fake_discord.wait_for_message(fake_discord.dm_channel(scene.alice), has_helplines)
        await reply_in(fake_discord, scene.general, REPLY)
    assert fake_discord.bot_messages_in(mods) == []


async def test_crisis_text_is_neither_logged_nor_remembered(
    start: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    openai_server.configure("chat-a", reply=REPLY)
    scene = fake_discord.scene
    scope = guild_scope(fake_discord)
    caplog.set_level(logging.DEBUG)
    async with start() as app:
        await fake_discord.send_message(scene.general, scene.alice, f"<@{fake_discord.bot.id}> {CRISIS_TEXT}")
        await reply_in(fake_discord, scene.general, REPLY)
        await app.pipeline.drain(10)
        turns = [t for t in await app.storage.recent_turns(scope) if t.role == "user"]
        crisis_turn = next(t for t in turns if "kill myself" in t.text)  # kept, so nothing is lost
        assert crisis_turn.meta.get("crisis") and crisis_turn.meta.get("paused")
        assert await app.storage.turns_for_indexing(scope, [crisis_turn.id]) == []
        found = await app.storage.search(scope, "kill myself tonight", k=10)
        assert not any("kill myself" in r.text for r in found)
        assert not any("kill myself" in m.text for m in await app.storage.list_memories(scope))
    ours = [r for r in caplog.records if r.name.split(".")[0] in ("bot", "cogs", "storage")]
    assert any("crisis protocol ran" in r.getMessage() for r in ours)
    assert not any(word in r.getMessage() for r in ours for word in SECRET_WORDS)


async def test_disclosure_on_first_contact_and_again_after_three_hours(
    start: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", reply="hello friend")
    scene = fake_discord.scene
    dm = fake_discord.dm_channel(scene.alice)
    now = [datetime(2026, 1, 5, 9, 0, tzinfo=UTC)]

    def disclosures() -> int:
        return sum(DISCLOSURE in m.content for m in fake_discord.bot_messages_in(dm))

    async def exchange(text: str, replies: int) -> None:
        await fake_discord.send_message(dm, scene.alice, text)
        await fake_discord.wait_for(
            lambda: (
                True
                if sum(m.content == "hello friend" for m in fake_discord.bot_messages_in(dm)) == replies
                else None
            )
        )

    async with start(disclose=True) as app:
        app.pipeline.disclosure.clock = lambda: now[0]
        await exchange("hi", 1)
        assert disclosures() == 1
        now[0] += timedelta(hours=1)
        await exchange("still me", 2)
        now[0] += timedelta(hours=1, minutes=59)
        await exchange("and again", 3)
        assert disclosures() == 1  # 2 h 59 min of conversation: not yet
        now[0] += timedelta(minutes=2)
        await exchange("three hours on", 4)
        assert disclosures() == 2
    first = next(m for m in fake_discord.bot_messages_in(dm) if DISCLOSURE in m.content)
    assert "Kindred" in first.content
