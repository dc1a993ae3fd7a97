"""Crystals and reality end to end: slash commands, buttons and selects through the real discord.py client
on the fake Discord API, the fake OpenAI server for the model and images, and real storage underneath."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pydantic import SecretStr

from bot.app import Kindred
from bot.config import (
    BotSettings,
    CrystalsSettings,
    LLMModelSettings,
    LLMSettings,
    OpsSettings,
    PipelineSettings,
    Settings,
)
from bot.platforms.discord import KindredBot
from bot.scheduler.jobs import CRYSTAL_FORMATION, CRYSTAL_FORMATION_CRON
from cogs.crystals.reality import IMAGE_PROMPT
from storage.config import StorageSettings
from storage.scope import Scope
from tests.fakes.discord_api import FakeDiscord, InteractionRecord, StoredMessage
from tests.fakes.openai_api import FakeOpenAI

MEMORIES = [
    "I went bouldering at the climbing gym on Saturday",
    "My climbing shoes are too tight for long routes",
    "I finally sent a hard climbing route at the crag",
    "Lead climbing outdoors scares me a little",
    "I want to climb in Fontainebleau next spring",
    "I baked sourdough bread this weekend",
    "My lasagna recipe needs more garlic",
    "Cooking curry for my family makes me happy",
    "I burned the pancakes again this morning",
]


@pytest.fixture
async def start_bot(
    tmp_path: Path, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> AsyncIterator[Callable[..., Any]]:
    """Return an async context factory running Kindred (conversation and crystals) on the fakes."""

    @asynccontextmanager
    async def run(*extra_cogs: str, **crystals: Any) -> AsyncIterator[Kindred]:
        settings = Settings(
            bot=BotSettings(cogs=["cogs.conversation", *extra_cogs, "cogs.crystals"]),
            storage=StorageSettings(data_dir=tmp_path / "data"),
            llm=LLMSettings(
                models=[
                    LLMModelSettings(
                        name="chat-a",
                        base_url=openai_server.base_url,
                        model="chat-a",
                        api_key=SecretStr("test"),
                    )
                ]
            ),
            ops=OpsSettings(http_enabled=False),
            pipeline=PipelineSettings(coalesce_window_s=0.0),
            crystals=CrystalsSettings(name_with_llm=False, **crystals),
        )
        app = await Kindred.start(settings)
        bot = KindredBot(app, guild_ready_timeout=0.05)
        try:
            async with fake_discord.running(bot):
                try:
                    yield app
                finally:
                    await app.pipeline.drain(10)
        finally:
            await app.close()

    yield run


def alice_scope(fake: FakeDiscord) -> Scope:
    scene = fake.scene
    return Scope(user_id=str(scene.alice.id), guild_id=str(scene.guild.id), channel_id=str(scene.general.id))


async def seed(app: Kindred, fake: FakeDiscord) -> None:
    for text in MEMORIES:
        await app.storage.add_memory(alice_scope(fake), text, importance=0.7)


async def answer(fake: FakeDiscord, record: InteractionRecord) -> StoredMessage:
    """Return the message that answered a slash command: its follow-up when deferred, else the original."""
    await fake.wait_for_response(record)
    if record.response_type == 5:
        return await fake.wait_for(lambda: next(iter(fake.followups(record)), None))
    message = fake.original_response(record)
    assert message is not None
    return message


async def command(
    fake: FakeDiscord,
    user: Any,
    name: str,
    options: dict[str, Any] | None = None,
    subcommand: str | None = None,
) -> StoredMessage:
    """Run a slash command in #general as ``user`` and return the message that answered it."""
    record = await fake.send_slash_command(fake.scene.general, user, name, options, subcommand=subcommand)
    return await answer(fake, record)


def uploaded(fake: FakeDiscord, filename: str) -> bytes:
    """Return the bytes of the last file the bot uploaded under this name."""
    for request in reversed(fake.requests):
        for f in request.files:
            if f.filename == filename:
                return f.data
    raise AssertionError(f"no upload named {filename}")


def colours(image: Image.Image) -> int:
    return len(np.unique(np.asarray(image.convert("RGB")).reshape(-1, 3), axis=0))


def last_reply_prompt(openai: FakeOpenAI) -> str:
    """Return the system prompt of the last streamed reply (reflection makes plain calls of its own)."""
    return str([r for r in openai.requests if r.stream][-1].messages[0]["content"])


def component_ids(message: StoredMessage) -> list[str]:
    return [c["custom_id"] for row in message.components for c in row["components"] if "custom_id" in c]


async def test_crystal_list_forms_crystals_on_demand_and_is_private(
    start_bot: Any, fake_discord: FakeDiscord
) -> None:
    scene = fake_discord.scene
    async with start_bot() as app:
        await seed(app, fake_discord)
        message = await command(fake_discord, scene.alice, "crystal", subcommand="list")
        assert message.ephemeral
        assert "Climbing & Bouldering" in message.content and message.content.count("•") == 2
        reply = await command(fake_discord, scene.bob, "crystal", subcommand="list")
        assert "No crystals yet" in reply.content


async def test_crystal_view_steps_through_facets_and_links_for_its_owner_only(
    start_bot: Any, fake_discord: FakeDiscord
) -> None:
    scene = fake_discord.scene
    async with start_bot() as app:
        await seed(app, fake_discord)
        message = await command(
            fake_discord, scene.alice, "crystal", {"name": "climbing & bouldering"}, subcommand="view"
        )
        assert message.ephemeral
        embed = message.embeds[0]
        assert embed["title"] == "💎 Climbing & Bouldering"
        assert embed["fields"][-2]["name"].startswith("Memory 1 of 5")
        assert {"crystal:facet", "crystal:next", "crystal:back", "crystal:link:0"} <= set(
            component_ids(message)
        )

        pressed = await fake_discord.press_button(message, "crystal:next", scene.alice)
        await fake_discord.wait_for_response(pressed)
        assert message.embeds[0]["fields"][-2]["name"].startswith("Memory 2 of 5")

        chosen = await fake_discord.choose(message, "crystal:facet", ["4"], scene.alice)
        await fake_discord.wait_for_response(chosen)
        assert message.embeds[0]["fields"][-2]["name"].startswith("Memory 5 of 5")

        stranger = await fake_discord.press_button(message, "crystal:link:0", scene.bob)
        await fake_discord.wait_for_response(stranger)
        assert stranger.ephemeral and "belong to the person who opened them" in str(stranger.response_data)
        assert message.embeds[0]["title"] == "💎 Climbing & Bouldering"

        linked = await fake_discord.press_button(message, "crystal:link:0", scene.alice)
        await fake_discord.wait_for_response(linked)
        assert message.embeds[0]["title"] != "💎 Climbing & Bouldering"
        back = await fake_discord.press_button(message, "crystal:back", scene.alice)
        await fake_discord.wait_for_response(back)
        assert message.embeds[0]["title"] == "💎 Climbing & Bouldering"


async def test_crystal_map_and_explore_send_pictures_and_the_3d_view(
    start_bot: Any, fake_discord: FakeDiscord
) -> None:
    scene = fake_discord.scene
    async with start_bot() as app:
        await seed(app, fake_discord)
        message = await command(fake_discord, scene.alice, "crystal", subcommand="map")
        assert message.ephemeral and message.attachments[0]["filename"] == "constellation.png"
        assert Image.open(io.BytesIO(uploaded(fake_discord, "constellation.png"))).size == (900, 640)

        message = await command(fake_discord, scene.alice, "crystal", subcommand="explore")
        assert message.ephemeral
        assert {a["filename"] for a in message.attachments} == {"constellation.gif", "constellation.html"}
        gif = Image.open(io.BytesIO(uploaded(fake_discord, "constellation.gif")))
        assert gif.format == "GIF" and getattr(gif, "n_frames", 1) > 1
        assert b"<canvas" in uploaded(fake_discord, "constellation.html")
        assert message.embeds and "crystal:next" in component_ids(message)


async def test_entering_a_crystal_focuses_the_conversation_until_leaving(
    start_bot: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", reply="Sounds good.")
    scene = fake_discord.scene
    dm = fake_discord.dm_channel(scene.alice)
    async with start_bot() as app:
        await seed(app, fake_discord)
        await app.features.services["crystals"].form(alice_scope(fake_discord))
        reply = await command(fake_discord, scene.alice, "crystal", {"name": "Climbing"}, subcommand="enter")
        assert "inside **Climbing & Bouldering**" in reply.content
        await fake_discord.send_message(scene.general, scene.alice, f"<@{fake_discord.bot.id}> any plans?")
        await fake_discord.wait_for_message(scene.general, lambda m: m.content == "Sounds good.")
        focused = last_reply_prompt(openai_server)
        assert "Climbing & Bouldering" in focused and "Fontainebleau" in focused
        await fake_discord.send_message(dm, scene.alice, "and in private?")  # DMs are another realm
        await fake_discord.wait_for_message(dm, lambda m: m.content == "Sounds good.")
        assert "Climbing & Bouldering" not in last_reply_prompt(openai_server)
        reply = await command(fake_discord, scene.alice, "crystal", subcommand="leave")
        assert "You left **Climbing & Bouldering**" in reply.content


async def test_reality_sends_a_narrative_and_a_painted_picture(
    start_bot: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", reply="You stand on a cliff as the storm rolls in.")
    scene = fake_discord.scene
    async with start_bot(render_width=320, render_height=200):
        message = await command(
            fake_discord, scene.alice, "reality", {"prompt": "a lighthouse in a storm", "seed": 42}
        )
    assert message.ephemeral
    assert message.embeds[0]["description"] == "You stand on a cliff as the storm rolls in."
    assert "seed 42" in message.embeds[0]["footer"]["text"]
    picture = Image.open(io.BytesIO(uploaded(fake_discord, "reality-42.png")))
    assert picture.size == (320, 200)
    assert colours(picture) > 100


async def test_reality_uses_the_images_endpoint_when_a_model_is_configured(
    start_bot: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    scene = fake_discord.scene
    async with start_bot(images_model="paint-1", images_size="64x48"):
        await command(fake_discord, scene.alice, "reality", {"prompt": "a quiet forest", "seed": 7})
    [request] = openai_server.requests_for("paint-1")
    assert request.path == "/v1/images/generations" and request.body["prompt"] == "a quiet forest"
    picture = Image.open(io.BytesIO(uploaded(fake_discord, "reality-7.png")))
    assert picture.size == (64, 48) and colours(picture) == 1  # the fake's solid picture


async def test_pictures_in_chat_follow_the_channel_switch_and_the_persons_choice(
    start_bot: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", reply="Picture a lighthouse, its beam cutting through rain.")
    scene = fake_discord.scene
    quiet = fake_discord.add_text_channel(scene.guild, "quiet")  # pictures stay off here
    mention = f"<@{fake_discord.bot.id}>"

    def pictures(channel: Any) -> list[StoredMessage]:
        return [m for m in fake_discord.bot_messages_in(channel) if m.attachments]

    async with start_bot(render_width=160, render_height=96):
        reply = await command(fake_discord, scene.bob, "scenes", {"enabled": True}, subcommand="channel")
        assert "Only server admins" in reply.content
        reply = await command(
            fake_discord, fake_discord.owner, "scenes", {"enabled": True}, subcommand="channel"
        )
        assert "Pictures are on" in reply.content
        await fake_discord.send_message(quiet, scene.alice, f"{mention} imagine a lighthouse at night")
        await fake_discord.wait_for_message(quiet, lambda m: "lighthouse" in m.content)
        asked = await fake_discord.send_message(scene.general, scene.alice, f"{mention} show me a stormy sea")
        picture = await fake_discord.wait_for(lambda: next(iter(pictures(scene.general)), None))
        assert picture.message_reference is not None
        assert picture.message_reference["message_id"] == str(asked.id)
        assert picture.blocks_all_mentions
        [image_prompt] = [r for r in openai_server.requests if r.messages[0]["content"] == IMAGE_PROMPT]
        assert "stormy sea" in str(image_prompt.messages[-1]["content"])

        await command(fake_discord, scene.alice, "scenes", {"enabled": False}, subcommand="me")
        openai_server.configure("chat-a", reply="A calm lake, still as glass.")
        await fake_discord.send_message(scene.general, scene.alice, f"{mention} picture a calm lake")
        await fake_discord.wait_for_message(
            scene.general, lambda m: m.content == "A calm lake, still as glass."
        )
    # Leaving the block waited for every after-reply task: no picture where pictures are off, none after
    # Alice opted out.
    assert pictures(quiet) == []
    assert len(pictures(scene.general)) == 1


async def test_the_daily_formation_job_is_scheduled_and_forms_crystals(
    start_bot: Any, fake_discord: FakeDiscord
) -> None:
    async with start_bot() as app:
        await seed(app, fake_discord)
        [job] = [s for s in app.scheduler.status() if s.id == CRYSTAL_FORMATION]
        assert job.schedule == f"cron {CRYSTAL_FORMATION_CRON} (UTC)"
        status = await app.scheduler.run_now(CRYSTAL_FORMATION)
        assert status.runs == 1 and status.failures == 0
        crystals = await app.storage.crystals.list_crystals(alice_scope(fake_discord))
    assert len(crystals) == 2


async def test_pictures_in_chat_obey_the_runtime_flag_and_the_hourly_allowance(
    start_bot: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", reply="Here is how I see it.")
    scene = fake_discord.scene
    mention = f"<@{fake_discord.bot.id}>"

    async def ask(text: str, replies: int) -> None:
        await fake_discord.send_message(scene.general, scene.alice, f"{mention} {text}")
        await fake_discord.wait_for(
            lambda: (
                len([m for m in fake_discord.bot_messages_in(scene.general) if m.content]) >= replies or None
            )
        )

    async with start_bot("cogs.admin", chat_images_per_hour_user=1, render_width=64, render_height=64) as app:
        guild = str(scene.guild.id)
        await app.storage.update_place_settings("discord", guild, str(scene.general.id), {"reality": True})
        flags = app.features.services["flags"]
        await flags.set("reality_in_chat", False, guild_id=guild)
        await ask("imagine a glacier", 1)
        await app.pipeline.drain(10)
        assert not [m for m in fake_discord.bot_messages_in(scene.general) if m.attachments]
    async with start_bot("cogs.admin", chat_images_per_hour_user=1, render_width=64, render_height=64) as app:
        await app.features.services["flags"].set("reality_in_chat", True, guild_id=guild)
        await ask("imagine a desert", 2)
        await fake_discord.wait_for(
            lambda: [m for m in fake_discord.bot_messages_in(scene.general) if m.attachments] or None
        )
        await ask("now picture a jungle", 3)  # the hourly allowance of one is spent
        await app.pipeline.drain(10)
    assert len([m for m in fake_discord.bot_messages_in(scene.general) if m.attachments]) == 1
