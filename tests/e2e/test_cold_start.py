"""What a faster cold start relies on: discord.py's wait for the guild stream (before on_ready) holds back
no message, and building the router beside storage's opening leaves nothing half-open when either fails."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from bot.app import Kindred, open_router_and_storage
from bot.config import LLMModelSettings, LLMSettings, Settings
from bot.errors import ConfigError
from bot.platforms.discord import KindredBot
from storage.config import StorageSettings
from tests.e2e.harness import make_settings, reply_in
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.openai_api import FakeOpenAI


def guild_streamed(fake: FakeDiscord) -> bool:
    """Return whether a gateway session has been sent its GUILD_CREATE (the client then caches the guild)."""
    return any(event == "GUILD_CREATE" for s in fake.gateway.sessions.values() for _, event, _ in s.history)


async def test_a_message_during_the_guild_stream_wait_is_answered_before_on_ready(
    tmp_path: Path, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", reply="Answered before ready.")
    fake_discord.wait_timeout = 60.0  # a first turn loads a good deal; on a busy machine it takes seconds
    scene = fake_discord.scene
    app = await Kindred.start(make_settings(tmp_path / "data", openai_server))
    # Far longer than the test: on_ready cannot fire, so any reply comes while discord.py still waits.
    bot = KindredBot(app, guild_ready_timeout=600)
    try:
        async with bot:
            running = asyncio.create_task(bot.start(fake_discord.token))
            try:
                await fake_discord.wait_for(lambda: guild_streamed(fake_discord))
                await fake_discord.send_message(scene.general, scene.alice, f"<@{fake_discord.bot.id}> hello")
                await reply_in(fake_discord, scene.general, "Answered before ready.")
                assert not bot.is_ready()
                assert not app.gateway_connected
                await app.pipeline.drain(10)
            finally:
                await bot.close()
                with contextlib.suppress(asyncio.CancelledError):
                    await running
    finally:
        await app.close()


async def test_a_router_that_fails_to_build_leaves_storage_closed(tmp_path: Path) -> None:
    twins = [LLMModelSettings(name="same", base_url="http://127.0.0.1:9/v1", model=m) for m in ("a", "b")]
    settings = Settings(storage=StorageSettings(data_dir=tmp_path / "data"), llm=LLMSettings(models=twins))
    with pytest.raises(ConfigError, match="distinct name"):
        await open_router_and_storage(settings)
    # SQLite removes the write-ahead log when the last connection to the database closes.
    assert list((tmp_path / "data").glob("*.db")), "storage was opened beside the router"
    assert not list((tmp_path / "data").glob("*-wal"))


async def test_no_model_configured_fails_before_storage_is_touched(tmp_path: Path) -> None:
    settings = Settings(storage=StorageSettings(data_dir=tmp_path / "data"))
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        await Kindred.start(settings)
    assert not (tmp_path / "data").exists()
