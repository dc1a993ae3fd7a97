"""Emotional support through the real discord.py client on the fake Discord API and the fake OpenAI server."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PIL import Image

from bot.app import Kindred
from bot.platforms.discord import KindredBot
from cogs.emotional_support.learning import GUIDANCE
from storage.scope import Scope
from storage.support import SupportState
from tests.e2e.harness import last_prompt, make_settings
from tests.fakes.discord_api import FakeDiscord, InteractionRecord, StoredMessage
from tests.fakes.openai_api import FakeOpenAI

LOW = "I feel really low and sad today"
REPLY = "I'm here with you."

Runner = Callable[[], Any]


@pytest.fixture
def start_bot(tmp_path: Path, fake_discord: FakeDiscord, openai_server: FakeOpenAI) -> Runner:
    """Return a context factory running Kindred on the fakes; each use is a fresh start on the same data."""
    openai_server.configure("chat-a", reply=REPLY)

    @asynccontextmanager
    async def run() -> AsyncIterator[Kindred]:
        app = await Kindred.start(make_settings(tmp_path / "data", openai_server))
        bot = KindredBot(app, guild_ready_timeout=0.05)
        try:
            async with fake_discord.running(bot):
                try:
                    yield app
                finally:
                    await app.pipeline.drain(10)
        finally:
            await app.close()

    return run


async def command(fake: FakeDiscord, channel: Any, user: Any, sub: str, **options: Any) -> InteractionRecord:
    """Run ``/support <sub>`` and return the answered interaction."""
    record = await fake.send_slash_command(channel, user, "support", options or None, subcommand=sub)
    return await fake.wait_for_response(record)


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    """Wait until ``check()`` holds (background hooks finish after the reply is delivered)."""
    for _ in range(200):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition never held")


async def state_of(app: Kindred, user: Any) -> SupportState:
    return await app.storage.support.load(Scope(user_id=str(user.id)))


async def say_low(fake: FakeDiscord, channel: Any, user: Any, prefix: str = "") -> StoredMessage:
    """Send the low message and return Kindred's reply once delivered."""
    await fake.send_message(channel, user, f"{prefix}{LOW}")
    return await fake.wait_for_message(channel, lambda m: m.content == REPLY)


def content(record: InteractionRecord) -> str:
    return str(record.response_data.get("content"))


async def test_an_opted_in_low_person_gets_their_strategy_and_it_survives_a_restart(
    start_bot: Runner, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    scene = fake_discord.scene
    dm = fake_discord.dm_channel(scene.alice)
    async with start_bot() as app:
        optin = await command(fake_discord, dm, scene.alice, "optin")
        assert optin.ephemeral and "Emotional support is on" in content(optin)
        style = await command(fake_discord, dm, scene.alice, "style", style="grounding")
        assert "grounding" in content(style)
        await say_low(fake_discord, dm, scene.alice)
        prompt = last_prompt(openai_server)
        assert "Support approach for them now: grounding" in prompt and GUIDANCE["grounding"] in prompt
        await eventually(lambda: _has_reading(app, scene.alice))
        feedback = await command(fake_discord, dm, scene.alice, "feedback", outcome="helped")
        assert feedback.ephemeral and "grounding helped" in content(feedback)

    async with start_bot() as app:  # a restart: only what SQL kept remains
        shown = await command(fake_discord, dm, scene.alice, "show")
        assert shown.ephemeral
        assert "Preferred style: grounding" in content(shown) and "grounding: 0.75, used 1x" in content(shown)
        await fake_discord.send_message(dm, scene.alice, "still so sad and low, honestly")
        await fake_discord.wait_for(lambda: len(_replies(fake_discord, dm)) == 2)
        assert "Support approach for them now: grounding" in last_prompt(openai_server)


async def test_without_opting_in_nothing_about_feelings_reaches_the_model_or_storage(
    start_bot: Runner, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    scene = fake_discord.scene
    dm = fake_discord.dm_channel(scene.alice)
    async with start_bot() as app:
        await say_low(fake_discord, dm, scene.alice)
        assert "Emotional support" not in last_prompt(openai_server)
        shown = await command(fake_discord, dm, scene.alice, "show")
        assert "Emotional support: off" in content(shown)
        await app.pipeline.drain(10)
        state = await state_of(app, scene.alice)
        assert state.last_emotion is None and not state.days


async def test_the_persons_thumbs_up_teaches_kindred_and_others_reactions_do_not(
    start_bot: Runner, fake_discord: FakeDiscord
) -> None:
    scene = fake_discord.scene
    async with start_bot() as app:
        await command(fake_discord, scene.general, scene.alice, "optin")
        reply = await say_low(fake_discord, scene.general, scene.alice, f"<@{fake_discord.bot.id}> ")
        assert reply.message_reference is not None
        sent = str(reply.message_reference["message_id"])
        scope = Scope(user_id=str(scene.alice.id))
        await eventually(lambda: _intervention(app, scope, sent))
        await fake_discord.add_reaction(reply, scene.bob, "👎")
        await fake_discord.add_reaction(reply, scene.alice, "👍")
        await eventually(lambda: _history(app, scope))
        state = await state_of(app, scene.alice)
        learned = [(name, stats.score) for name, stats in state.strategies.items() if stats.score != 0.5]
        assert learned == [("listening", pytest.approx(2 / 3))]
        assert not (await state_of(app, scene.bob)).strategies


@pytest.mark.parametrize("days", [7, 30])
async def test_mood_is_a_private_png_chart(start_bot: Runner, fake_discord: FakeDiscord, days: int) -> None:
    scene = fake_discord.scene
    dm = fake_discord.dm_channel(scene.alice)
    async with start_bot() as app:
        await command(fake_discord, dm, scene.alice, "optin")
        await say_low(fake_discord, dm, scene.alice)
        await eventually(lambda: _has_reading(app, scene.alice))
        record = await fake_discord.send_slash_command(dm, scene.alice, "mood", {"days": days})
        await fake_discord.wait_for_response(record)
        assert record.ephemeral
        message = fake_discord.original_response(record)
        assert message is not None and len(message.attachments) == 1
        async with aiohttp.ClientSession() as http, http.get(message.attachments[0]["url"]) as response:
            image = Image.open(io.BytesIO(await response.read()))
        assert image.format == "PNG" and image.size == (900, 460)
        colours = image.convert("RGB").getcolors(maxcolors=900 * 460) or []
        assert len(colours) > 10


def _replies(fake: FakeDiscord, channel: Any) -> list[Any]:
    return [m for m in fake.bot_messages_in(channel) if m.content == REPLY]


async def _has_reading(app: Kindred, user: Any) -> bool:
    return (await state_of(app, user)).last_emotion is not None


async def _intervention(app: Kindred, scope: Scope, message_id: str) -> bool:
    return await app.storage.support.intervention(scope, message_id) is not None


async def _history(app: Kindred, scope: Scope) -> bool:
    return bool(await app.storage.support.history(scope))


async def test_reset_asks_first_and_only_the_person_can_confirm(
    start_bot: Runner, fake_discord: FakeDiscord
) -> None:
    scene = fake_discord.scene
    async with start_bot() as app:
        await command(fake_discord, scene.general, scene.alice, "optin")
        await command(fake_discord, scene.general, scene.alice, "style", style="humour")
        question = await command(fake_discord, scene.general, scene.alice, "reset")
        assert question.ephemeral and "Delete it all?" in content(question)
        assert (await state_of(app, scene.alice)).preferred == "humour"  # nothing deleted by asking
        assert question.original_message_id is not None
        refused = await fake_discord.press_button(
            question.original_message_id, "memory:confirm:yes", scene.bob
        )
        await fake_discord.wait_for_response(refused)
        assert refused.ephemeral and (await state_of(app, scene.alice)).preferred == "humour"
        confirm = await fake_discord.press_button(
            question.original_message_id, "memory:confirm:yes", scene.alice
        )
        await fake_discord.wait_for_response(confirm)
        assert "Deleted everything" in fake_discord.world.messages[question.original_message_id].content
        state = await state_of(app, scene.alice)
        assert state.preferred is None and state.opted_in is False
