"""What the end-to-end tests share: settings for the fakes, running Kindred as a bot on the fake Discord API,
and reading what the fake OpenAI server was asked."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.app import Kindred
from bot.config import (
    DisclosureSettings,
    LLMModelSettings,
    LLMSettings,
    OpsSettings,
    PipelineSettings,
    SafetySettings,
    Settings,
)
from bot.platforms.discord import KindredBot
from storage.config import StorageSettings
from tests.fakes.discord_api import FakeDiscord, StoredMessage
from tests.fakes.openai_api import FakeOpenAI


def make_settings(
    data_dir: Path,
    openai: FakeOpenAI,
    models: list[str] | None = None,
    vision: tuple[str, ...] = (),
    disclose: bool = False,
    **pipeline: Any,
) -> Settings:
    # The AI disclosure (a notice on first contact) is off unless a test is about it, so replies are counted
    # and matched on their own.
    chain = [
        LLMModelSettings(
            name=name,
            base_url=openai.base_url,
            model=name,
            api_key="test",
            timeout_s=2.0,
            vision=name in vision,
        )
        for name in (models or ["chat-a"])
    ]
    return Settings(
        storage=StorageSettings(data_dir=data_dir),
        llm=LLMSettings(models=chain, breaker_cooldown_s=60),
        ops=OpsSettings(http_enabled=False),
        pipeline=PipelineSettings(**{"coalesce_window_s": 0.0, **pipeline}),
        safety=SafetySettings(disclosure=DisclosureSettings(enabled=disclose)),
    )


@asynccontextmanager
async def serve(settings: Settings, fake: FakeDiscord) -> AsyncIterator[Kindred]:
    """Run Kindred with these settings as a bot on the fake Discord API until the block ends."""
    app = await Kindred.start(settings)
    bot = KindredBot(app, guild_ready_timeout=0.05)
    try:
        async with fake.running(bot):
            try:
                yield app
            finally:
                await app.pipeline.drain(10)  # let streamed replies finish before the client closes
    finally:
        await app.close()


@pytest.fixture
async def start_bot(
    tmp_path: Path, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> AsyncIterator[Callable[..., Any]]:
    """Return an async context factory that runs Kindred on the fakes with the given settings."""

    @asynccontextmanager
    async def run(**kwargs: Any) -> AsyncIterator[Kindred]:
        async with serve(make_settings(tmp_path / "data", openai_server, **kwargs), fake_discord) as app:
            yield app

    yield run


def replies(openai: FakeOpenAI) -> list[Any]:
    """Return the streamed reply requests (background reflection makes plain calls of its own)."""
    return [r for r in openai.requests if r.path.endswith("/chat/completions") and r.stream]


def last_prompt(openai: FakeOpenAI) -> str:
    request = replies(openai)[-1]
    return "\n".join(str(m.get("content")) for m in request.messages)


async def reply_in(
    fake: FakeDiscord, channel: Any, expected: str | Callable[[StoredMessage], bool]
) -> StoredMessage:
    """Wait for a bot message reading exactly ``expected`` (or matching it): replies stream in by edits."""
    if isinstance(expected, str):
        return await fake.wait_for_message(channel, lambda m: m.content == expected)
    return await fake.wait_for_message(channel, expected)
