"""The example cog of docs/extending.md, loaded through `bot.cogs` like an operator's own cog, and driven
through the real discord.py client on the fake Discord API and through the console."""

from __future__ import annotations

import asyncio
import io
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from bot.app import Kindred
from bot.config import BotSettings
from bot.pipeline.message import IncomingMessage
from bot.platforms.console import ConsoleSink, _command, console_scope
from bot.platforms.discord import KindredBot
from storage.scope import Scope
from tests.e2e.harness import last_prompt, make_settings, reply_in
from tests.example_cog.tally import STATUS_NOTE, TallyService
from tests.fakes.discord_api import FakeDiscord, StoredMessage
from tests.fakes.openai_api import FakeOpenAI

COGS = ["cogs.conversation", "tests.example_cog"]


def tally_service(app: Kindred) -> TallyService:
    """Return the cog's service. Not by isinstance: discord.py drops an unloaded extension's modules from
    sys.modules, so after an earlier test's bot closed, the feature imports a fresh TallyService class."""
    service = app.features.services["example.tally"]
    assert type(service).__qualname__ == "TallyService"
    return cast(TallyService, service)


def answers(message: StoredMessage, message_id: int) -> bool:
    """Whether ``message`` is the bot's finished reply to the message ``message_id``."""
    ref = message.message_reference
    return ref is not None and ref["message_id"] == str(message_id) and message.content == "Noted!"


async def tallied(service: TallyService, scope: Scope, messages: int) -> None:
    """Wait until the background processor has counted ``messages`` messages for the person."""
    deadline = time.monotonic() + 30
    while (await service.tally(scope)).messages < messages:
        assert time.monotonic() < deadline, "the tally processor never ran"
        await asyncio.sleep(0.05)


async def test_the_example_cog_counts_tells_the_model_and_answers_its_slash_command(
    tmp_path: Path, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", reply="Noted!")
    settings = make_settings(tmp_path / "data", openai_server)
    settings.bot = BotSettings(cogs=COGS)
    app = await Kindred.start(settings)
    scene = fake_discord.scene
    scope = Scope(user_id=str(scene.alice.id), guild_id=str(scene.guild.id), channel_id=str(scene.general.id))
    service = tally_service(app)
    try:
        async with fake_discord.running(KindredBot(app, guild_ready_timeout=0.05)):
            mention = f"<@{fake_discord.bot.id}>"
            await fake_discord.send_message(scene.general, scene.alice, f"{mention} one two three four")
            await reply_in(fake_discord, scene.general, "Noted!")
            await tallied(service, scope, 1)
            # The context provider: the next prompt carries the tally of what came before.
            second = await fake_discord.send_message(scene.general, scene.alice, f"{mention} five six")
            await reply_in(fake_discord, scene.general, lambda m: answers(m, second.id))
            assert "has sent you 1 messages, 4 words before this one" in last_prompt(openai_server)
            await tallied(service, scope, 2)
            # The slash command, answered privately.
            interaction = await fake_discord.send_slash_command(scene.general, scene.alice, "tally")
            record = await fake_discord.wait_for_response(interaction)
            assert record.ephemeral
            assert record.response_data["content"] == "You have sent me 2 messages, 6 words."
            await app.pipeline.drain(10)
        # The scheduled job is registered with the scheduler and is a plain coroutine a test can call.
        assert "example.tally_digest" in {status.id for status in app.scheduler.status()}
        note = await service.digest()
        assert note["processed"] == 2
        assert await app.storage.status_note(STATUS_NOTE) == note
    finally:
        await app.close()


async def test_the_example_cog_in_the_console(tmp_path: Path, openai_server: FakeOpenAI) -> None:
    openai_server.configure("chat-a", reply="Hi!")
    settings = make_settings(tmp_path / "data", openai_server)
    settings.bot = BotSettings(cogs=COGS)
    app = await Kindred.start(settings, ops=False)
    try:
        scope = console_scope("sam")
        message = IncomingMessage("c-1", scope, "sam", "hello there friend", datetime.now(UTC))
        await app.pipeline.handle(message, ConsoleSink(io.StringIO(), "Kindred"))
        service = tally_service(app)
        await tallied(service, scope, 1)
        out = io.StringIO()
        assert await _command(app, scope, "/tally", out)
        assert out.getvalue() == "[you have sent me 1 messages, 3 words]\n"
    finally:
        await app.close()


def test_docs_extending_shows_exactly_the_example_cogs_code() -> None:
    repo = Path(__file__).resolve().parents[2]
    doc = (repo / "docs" / "extending.md").read_text(encoding="utf-8")
    shown = dict(re.findall(r"File `word_tally/([\w.]+)`:\n\n```python\n(.*?)```\n", doc, flags=re.S))
    package = repo / "tests" / "example_cog"
    files = {p.name: p.read_text(encoding="utf-8") for p in package.glob("*.py")}
    assert set(shown) == set(files)
    for name, code in files.items():
        # The doc names the package as an operator would install it; the copy here lives under tests.
        assert shown[name] == code.replace("tests.example_cog", "word_tally"), name
