"""The memory controls end to end: the real discord.py client on the fake Discord API, slash commands,
buttons (which answer only the person who opened them), and the real storage underneath."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app import Kindred
from bot.platforms.discord import KindredBot
from storage.records import MemoryRecord
from storage.scope import Scope
from tests.e2e.harness import make_settings
from tests.fakes.discord_api import FakeDiscord, InteractionRecord
from tests.fakes.openai_api import FakeOpenAI


@pytest.fixture
async def kindred(
    tmp_path: Path, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> AsyncIterator[Callable[[], Any]]:
    """Return a context factory running Kindred on the fakes."""

    @asynccontextmanager
    async def run() -> AsyncIterator[Kindred]:
        app = await Kindred.start(make_settings(tmp_path / "data", openai_server))
        bot = KindredBot(app, guild_ready_timeout=0.05)
        try:
            async with fake_discord.running(bot):
                yield app
        finally:
            await app.close()

    yield run


def guild_scope(fake: FakeDiscord, user: Any) -> Scope:
    scene = fake.scene
    return Scope(user_id=str(user.id), guild_id=str(scene.guild.id), channel_id=str(scene.general.id))


async def command(fake: FakeDiscord, user: Any, sub: str, **options: Any) -> InteractionRecord:
    record = await fake.send_slash_command(fake.scene.general, user, "memory", options, subcommand=sub)
    await fake.wait_for_response(record)
    assert record.ephemeral
    return record


def said(record: InteractionRecord) -> str:
    return str(record.response_data.get("content"))


async def seed(app: Kindred, scope: Scope, count: int) -> list[MemoryRecord]:
    return [await app.storage.add_memory(scope, f"Memory number {i} about hiking") for i in range(count)]


async def test_list_pages_with_buttons_that_only_the_owner_can_press(
    kindred: Any, fake_discord: FakeDiscord
) -> None:
    scene = fake_discord.scene
    async with kindred() as app:
        await seed(app, guild_scope(fake_discord, scene.alice), 10)  # page size 8: two pages
        listing = await command(fake_discord, scene.alice, "list")
        assert "Memory number 9" in said(listing) and "Memory number 1 " not in said(listing)
        assert listing.original_message_id is not None
        page_message = listing.original_message_id

        intruder = await fake_discord.press_button(page_message, "memory:list:next", scene.bob)
        await fake_discord.wait_for_response(intruder)
        assert intruder.ephemeral and "belong to the person who opened them" in said(intruder)
        assert "Memory number 9" in fake_discord.world.messages[page_message].content  # unchanged

        press = await fake_discord.press_button(page_message, "memory:list:next", scene.alice)
        await fake_discord.wait_for_response(press)
        shown = fake_discord.world.messages[page_message].content
        assert "page 2" in shown and "Memory number 1 " in shown and "Memory number 9" not in shown


async def test_forget_asks_first_and_only_the_owner_can_confirm(
    kindred: Any, fake_discord: FakeDiscord
) -> None:
    scene = fake_discord.scene
    alice = guild_scope(fake_discord, scene.alice)
    async with kindred() as app:
        (memory,) = await seed(app, alice, 1)
        question = await command(fake_discord, scene.alice, "forget", memory_id=memory.id)
        assert "Delete this memory" in said(question)
        assert question.original_message_id is not None

        refused = await fake_discord.press_button(
            question.original_message_id, "memory:confirm:yes", scene.bob
        )
        await fake_discord.wait_for_response(refused)
        assert await app.storage.get_memory(alice, memory.id) is not None

        confirm = await fake_discord.press_button(
            question.original_message_id, "memory:confirm:yes", scene.alice
        )
        await fake_discord.wait_for_response(confirm)
        assert (
            f"Forgot memory #{memory.id}" in fake_discord.world.messages[question.original_message_id].content
        )
        assert await app.storage.get_memory(alice, memory.id) is None
        assert (await app.storage.memory.stats(alice))["forgets"] == 1


async def test_someone_elses_memory_id_gets_a_clear_message_and_nothing_changes(
    kindred: Any, fake_discord: FakeDiscord
) -> None:
    scene = fake_discord.scene
    async with kindred() as app:
        (bobs,) = await seed(app, guild_scope(fake_discord, scene.bob), 1)
        for sub, options in (("pin", {}), ("forget", {}), ("correct", {"text": "mine now"})):
            record = await command(fake_discord, scene.alice, sub, memory_id=bobs.id, **options)
            assert f"no memory #{bobs.id}" in said(record)
        assert await app.storage.get_memory(guild_scope(fake_discord, scene.bob), bobs.id) == bobs


async def test_pin_correct_and_search_show_what_changed_and_why(
    kindred: Any, fake_discord: FakeDiscord
) -> None:
    scene = fake_discord.scene
    alice = guild_scope(fake_discord, scene.alice)
    async with kindred() as app:
        memory = await app.storage.add_memory(alice, "My cat Miso likes tuna")
        pinned = await command(fake_discord, scene.alice, "pin", memory_id=memory.id)
        assert "Pinned" in said(pinned) and "importance 1.00" in said(pinned)

        corrected = await command(
            fake_discord, scene.alice, "correct", memory_id=memory.id, text="My cat Miso likes salmon"
        )
        assert "salmon" in said(corrected)
        versions = await app.storage.list_memories(alice, current_only=False)
        assert {m.text: m.current for m in versions} == {
            "My cat Miso likes tuna": False,
            "My cat Miso likes salmon": True,
        }

        found = await command(fake_discord, scene.alice, "search", query="salmon")
        assert "salmon" in said(found) and "score" in said(found)
        assert any(part in said(found) for part in ("semantic", "lexical"))  # the reasons it came back


async def test_export_sends_a_private_json_file_of_everything(
    kindred: Any, fake_discord: FakeDiscord
) -> None:
    scene = fake_discord.scene
    async with kindred() as app:
        await app.storage.add_memory(
            guild_scope(fake_discord, scene.alice), "Lives in Lisbon", key="home", value="Lisbon"
        )
        await app.storage.add_memory(
            guild_scope(fake_discord, scene.alice), "Lives in Porto", key="home", value="Porto"
        )
        record = await command(fake_discord, scene.alice, "export")
        followups = await fake_discord.wait_for(lambda: fake_discord.followups(record) or None)
        message = followups[0]
        assert message.ephemeral and message.attachments
        async with aiohttp.ClientSession() as http, http.get(message.attachments[0]["url"]) as response:
            document = json.loads(await response.read())
    assert document["person"]["id"] == str(scene.alice.id)
    assert [v["text"] for v in document["memory_history"][0]["versions"]] == [
        "Lives in Lisbon",
        "Lives in Porto",
    ]


async def test_pause_privacy_and_about(kindred: Any, fake_discord: FakeDiscord) -> None:
    scene = fake_discord.scene
    alice = guild_scope(fake_discord, scene.alice)
    async with kindred() as app:
        assert "Paused" in said(await command(fake_discord, scene.alice, "pause"))
        assert await app.storage.memory.paused(alice)
        assert "paused" in said(await command(fake_discord, scene.alice, "about"))
        assert "Remembering again" in said(await command(fake_discord, scene.alice, "resume"))
        assert "**off**" in said(await command(fake_discord, scene.alice, "privacy"))
        assert "**on**" in said(await command(fake_discord, scene.alice, "privacy", cross_server=True))
        assert (await app.storage.user_settings(alice))["cross_realm_recall"] is True


async def test_forgetme_confirmed_by_its_owner_deletes_everything(
    kindred: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", reply="noted")
    scene = fake_discord.scene
    dm = fake_discord.dm_channel(scene.alice)
    async with kindred() as app:
        await fake_discord.send_message(dm, scene.alice, "my dog is called Biscuit")
        await fake_discord.wait_for_message(dm, lambda m: m.content == "noted")
        await seed(app, guild_scope(fake_discord, scene.alice), 2)
        question = await fake_discord.send_slash_command(dm, scene.alice, "forgetme")
        await fake_discord.wait_for_response(question)
        assert question.ephemeral and question.original_message_id is not None
        confirm = await fake_discord.press_button(
            question.original_message_id, "memory:confirm:yes", scene.alice
        )
        await fake_discord.wait_for_response(confirm)
        assert "deleted everything" in fake_discord.world.messages[question.original_message_id].content
        document = await app.storage.personal.export("discord", str(scene.alice.id))
    assert document["sql"] == {} and document["cache"]["keys"] == [] and document["vectors"] == {}


async def test_a_second_confirmation_for_a_memory_already_forgotten_says_so(
    kindred: Any, fake_discord: FakeDiscord
) -> None:
    scene = fake_discord.scene
    async with kindred() as app:
        (memory,) = await seed(app, guild_scope(fake_discord, scene.alice), 1)
        first = await command(fake_discord, scene.alice, "forget", memory_id=memory.id)
        second = await command(fake_discord, scene.alice, "forget", memory_id=memory.id)
        for question in (first, second):
            assert question.original_message_id is not None
            press = await fake_discord.press_button(
                question.original_message_id, "memory:confirm:yes", scene.alice
            )
            await fake_discord.wait_for_response(press)
        assert press.ephemeral and f"no memory #{memory.id}" in said(press)
        assert (await app.storage.memory.stats(guild_scope(fake_discord, scene.alice)))["forgets"] == 1
