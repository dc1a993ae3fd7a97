"""The fake Discord API works with the real discord.py client: gateway, REST, interactions, failures."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Callable, Iterator
from typing import Any

import discord
import pytest
from discord import app_commands

from tests.fakes.discord_api import FakeDiscord, Intent, MessageFlag

WAIT = 5.0


@pytest.fixture(autouse=True)
def no_discord_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail a test when discord.py logged an error (it logs, rather than raises, most payload problems)."""
    yield
    errors = [r for r in caplog.records if r.name.startswith("discord") and r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


def make_client(*, message_content: bool = True) -> discord.Client:
    """Return a client with default intents (plus message content) that becomes ready quickly."""
    intents = discord.Intents.default()
    intents.message_content = message_content
    # on_ready waits this long after the last GUILD_CREATE; the default 2 s only slows tests down.
    return discord.Client(intents=intents, guild_ready_timeout=0.05)


class Inbox:
    """Collects what an event handler receives so a test can await the next matching item."""

    def __init__(self) -> None:
        self.items: asyncio.Queue[Any] = asyncio.Queue()

    async def put(self, item: Any) -> None:
        """Add an item."""
        self.items.put_nowait(item)

    async def next(self, predicate: Callable[[Any], bool] = lambda _: True) -> Any:
        """Return the next item that satisfies the predicate, skipping others; fail after WAIT seconds."""
        async with asyncio.timeout(WAIT):
            while True:
                item = await self.items.get()
                if predicate(item):
                    return item


def listen(client: discord.Client, event: str) -> Inbox:
    """Route every ``event`` the client dispatches (its first argument) into a new inbox."""
    inbox = Inbox()

    async def handler(item: Any, *_: Any) -> None:
        await inbox.put(item)

    # Client.event registers a coroutine under its own name.
    handler.__name__ = f"on_{event}"
    client.event(handler)
    return inbox


def user_messages(client: discord.Client) -> tuple[Inbox, Callable[[discord.Message], bool]]:
    """Wire on_message into an inbox; return it and a predicate that skips the bot's own messages."""
    return listen(client, "message"), lambda m: client.user is not None and m.author.id != client.user.id


# ---------------------------------------------------------------- connecting


async def test_client_becomes_ready_with_the_guild_channels_and_thread(fake_discord: FakeDiscord) -> None:
    scene = fake_discord.scene
    client = make_client()
    async with fake_discord.running(client):
        guild = client.get_guild(scene.guild.id)
        assert guild is not None
        assert guild.name == "Kindred Test"
        assert [c.name for c in guild.text_channels] == ["general"]
        assert [(t.name, t.parent_id) for t in guild.threads] == [("general-thread", scene.general.id)]


async def test_client_negotiates_zlib_stream_and_identifies_with_its_intents(
    fake_discord: FakeDiscord,
) -> None:
    client = make_client()
    async with fake_discord.running(client):
        connect = fake_discord.gateway.connects[0]
        identify = fake_discord.gateway_ops("IDENTIFY")[0]
        assert connect.query.get("compress") == "zlib-stream"
        assert identify.data["intents"] & Intent.MESSAGE_CONTENT


# ---------------------------------------------------------------- messages


async def test_message_create_reaches_on_message(fake_discord: FakeDiscord) -> None:
    scene = fake_discord.scene
    client = make_client()
    inbox, from_users = user_messages(client)
    async with fake_discord.running(client):
        await fake_discord.send_message(scene.general, scene.alice, f"hello {fake_discord.bot.mention}")
        message = await inbox.next(from_users)
        assert message.content == f"hello <@{fake_discord.bot.id}>"
        assert message.author.id == scene.alice.id
        assert client.user in message.mentions


async def test_bot_reply_is_recorded_with_allowed_mentions_that_ping_nobody(
    fake_discord: FakeDiscord,
) -> None:
    scene = fake_discord.scene
    client = make_client()

    @client.event
    async def on_message(message: discord.Message) -> None:
        if message.author != client.user:
            await message.reply(
                f"hi {message.author.mention}", allowed_mentions=discord.AllowedMentions.none()
            )

    async with fake_discord.running(client):
        sent = await fake_discord.send_message(scene.general, scene.alice, "hello")
        reply = await fake_discord.wait_for_message(scene.general)
        assert reply.content == f"hi <@{scene.alice.id}>"
        assert reply.allowed_mentions == {"parse": []}
        assert reply.message_reference is not None
        assert reply.message_reference["message_id"] == str(sent.id)
        assert reply.blocks_all_mentions
        assert not reply.pinged_anyone


async def test_reply_without_allowed_mentions_pings_the_mentioned_user(fake_discord: FakeDiscord) -> None:
    scene = fake_discord.scene
    client = make_client()
    async with fake_discord.running(client):
        channel = client.get_channel(scene.general.id)
        assert isinstance(channel, discord.TextChannel)
        await channel.send(f"hey <@{scene.bob.id}>")
        sent = await fake_discord.wait_for_message(scene.general)
        assert sent.mention_ids == [scene.bob.id]


async def test_bot_receives_its_own_messages_like_on_discord(fake_discord: FakeDiscord) -> None:
    scene = fake_discord.scene
    client = make_client()
    inbox = listen(client, "message")
    async with fake_discord.running(client):
        channel = client.get_channel(scene.general.id)
        assert isinstance(channel, discord.TextChannel)
        await channel.send("note to self")
        echoed = await inbox.next()
        assert echoed.author == client.user


async def test_message_in_thread_reaches_the_bot_with_the_thread_as_channel(
    fake_discord: FakeDiscord,
) -> None:
    scene = fake_discord.scene
    client = make_client()
    inbox, from_users = user_messages(client)
    async with fake_discord.running(client):
        await fake_discord.send_message(scene.thread, scene.bob, "in a thread")
        message = await inbox.next(from_users)
        assert isinstance(message.channel, discord.Thread)
        assert message.channel.parent_id == scene.general.id


async def test_without_message_content_intent_guild_content_arrives_blank(fake_discord: FakeDiscord) -> None:
    scene = fake_discord.scene
    client = make_client(message_content=False)
    inbox, from_users = user_messages(client)
    async with fake_discord.running(client):
        await fake_discord.send_message(scene.general, scene.alice, "secret words")
        message = await inbox.next(from_users)
        assert message.content == ""


async def test_user_reply_carries_the_referenced_message(fake_discord: FakeDiscord) -> None:
    scene = fake_discord.scene
    client = make_client()
    inbox, from_users = user_messages(client)
    async with fake_discord.running(client):
        first = await fake_discord.send_message(scene.general, scene.alice, "first")
        await inbox.next(from_users)
        await fake_discord.send_message(scene.general, scene.bob, "second", referenced_message=first)
        reply = await inbox.next(from_users)
        assert reply.reference is not None
        assert isinstance(reply.reference.resolved, discord.Message)
        assert reply.reference.resolved.content == "first"


async def test_bot_can_download_a_text_attachment_from_the_fake(fake_discord: FakeDiscord) -> None:
    scene = fake_discord.scene
    client = make_client()
    inbox, from_users = user_messages(client)
    async with fake_discord.running(client):
        await fake_discord.send_message(
            scene.general, scene.alice, "see file", attachments=[("notes.txt", b"hi!")]
        )
        message = await inbox.next(from_users)
        assert message.attachments[0].filename == "notes.txt"
        assert await message.attachments[0].read() == b"hi!"


async def test_bot_file_upload_is_recorded_with_its_bytes(fake_discord: FakeDiscord) -> None:
    scene = fake_discord.scene
    client = make_client()
    async with fake_discord.running(client):
        channel = client.get_channel(scene.general.id)
        assert isinstance(channel, discord.TextChannel)
        sent = await channel.send("an image", file=discord.File(io.BytesIO(b"\x89PNG fake"), "crystal.png"))
        call = fake_discord.calls("POST", rf"/channels/{scene.general.id}/messages")[-1]
        assert call.json["content"] == "an image"
        assert [(f.filename, f.data) for f in call.files] == [("crystal.png", b"\x89PNG fake")]
        assert sent.attachments[0].filename == "crystal.png"


async def test_edit_and_delete_of_a_bot_message_are_recorded(fake_discord: FakeDiscord) -> None:
    scene = fake_discord.scene
    client = make_client()
    async with fake_discord.running(client):
        channel = client.get_channel(scene.general.id)
        assert isinstance(channel, discord.TextChannel)
        sent = await channel.send("draft")
        await sent.edit(content="final")
        stored = fake_discord.bot_messages_in(scene.general)[0]
        assert stored.content == "final"
        await sent.delete()
        assert fake_discord.bot_messages_in(scene.general) == []


async def test_fetching_an_unknown_message_raises_not_found(fake_discord: FakeDiscord) -> None:
    scene = fake_discord.scene
    client = make_client()
    async with fake_discord.running(client):
        channel = client.get_channel(scene.general.id)
        assert isinstance(channel, discord.TextChannel)
        with pytest.raises(discord.NotFound) as caught:
            await channel.fetch_message(1234)
        assert caught.value.code == 10008


async def test_sending_where_send_messages_is_denied_raises_forbidden(fake_discord: FakeDiscord) -> None:
    scene = fake_discord.scene
    fake_discord.deny_send(scene.general)
    client = make_client()
    async with fake_discord.running(client):
        channel = client.get_channel(scene.general.id)
        assert isinstance(channel, discord.TextChannel)
        with pytest.raises(discord.Forbidden) as caught:
            await channel.send("can I?")
        assert caught.value.code == 50013


async def test_denying_send_in_one_channel_leaves_the_thread_of_another_open(
    fake_discord: FakeDiscord,
) -> None:
    scene = fake_discord.scene
    other = fake_discord.add_text_channel(scene.guild, "quiet")
    fake_discord.deny_send(other)
    client = make_client()
    async with fake_discord.running(client):
        thread = client.get_channel(scene.thread.id)
        assert isinstance(thread, discord.Thread)
        await thread.send("still fine here")
        assert fake_discord.bot_messages_in(scene.thread)[0].content == "still fine here"


async def test_reaction_reaches_on_raw_reaction_add(fake_discord: FakeDiscord) -> None:
    scene = fake_discord.scene
    client = make_client()
    inbox = listen(client, "raw_reaction_add")
    async with fake_discord.running(client):
        message = await fake_discord.send_message(scene.general, scene.alice, "react to me")
        await fake_discord.add_reaction(message, scene.bob, "⭐")
        event = await inbox.next()
        assert (event.message_id, event.user_id, str(event.emoji)) == (message.id, scene.bob.id, "⭐")


# ---------------------------------------------------------------- DMs


async def test_dm_from_a_user_reaches_on_message_and_the_reply_lands_in_the_dm(
    fake_discord: FakeDiscord,
) -> None:
    scene = fake_discord.scene
    client = make_client()

    @client.event
    async def on_message(message: discord.Message) -> None:
        if message.author != client.user and message.guild is None:
            await message.channel.send("hello in private")

    async with fake_discord.running(client):
        dm = fake_discord.dm_channel(scene.alice)
        await fake_discord.send_message(dm, scene.alice, "psst")
        reply = await fake_discord.wait_for_message(dm)
        assert reply.content == "hello in private"
        assert reply.guild_id is None


async def test_bot_can_open_a_dm_with_a_user(fake_discord: FakeDiscord) -> None:
    scene = fake_discord.scene
    client = make_client()
    async with fake_discord.running(client):
        user = await client.fetch_user(scene.bob.id)
        await user.send("reminder")
        dm = fake_discord.dm_channel(scene.bob)
        assert [m.content for m in fake_discord.bot_messages_in(dm)] == ["reminder"]


async def test_dm_to_a_user_who_blocks_dms_raises_forbidden(fake_discord: FakeDiscord) -> None:
    closed = fake_discord.add_user("closed", accepts_dms=False)
    client = make_client()
    async with fake_discord.running(client):
        user = await client.fetch_user(closed.id)
        with pytest.raises(discord.Forbidden) as caught:
            await user.send("hello?")
        assert caught.value.code == 50007


# ---------------------------------------------------------------- application commands


def tree_with_commands(client: discord.Client, calls: Inbox) -> app_commands.CommandTree[discord.Client]:
    """Return a command tree with the commands the tests below invoke."""
    tree = app_commands.CommandTree(client)

    @tree.command(name="whisper", description="Answer privately")
    async def whisper(interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_message(f"you said {text}", ephemeral=True)

    @tree.command(name="slow", description="Defer, then answer")
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send("done thinking")

    memory = app_commands.Group(name="memory", description="Memory controls")

    @memory.command(name="forget", description="Forget about someone")
    async def forget(interaction: discord.Interaction, who: discord.Member, count: int) -> None:
        await calls.put((who.id, count))
        await interaction.response.send_message("forgotten")

    tree.add_command(memory)
    return tree


async def test_tree_sync_registers_commands_with_ids(fake_discord: FakeDiscord) -> None:
    client = make_client()
    tree = tree_with_commands(client, Inbox())
    async with fake_discord.running(client):
        synced = await tree.sync()
        assert sorted(c.name for c in synced) == ["memory", "slow", "whisper"]
        assert {str(c.id) for c in synced} == {str(i) for i in fake_discord.commands}


async def test_slash_command_response_is_recorded_as_ephemeral(fake_discord: FakeDiscord) -> None:
    scene = fake_discord.scene
    client = make_client()
    tree = tree_with_commands(client, Inbox())
    async with fake_discord.running(client):
        await tree.sync()
        interaction = await fake_discord.send_slash_command(
            scene.general, scene.alice, "whisper", {"text": "hi"}
        )
        record = await fake_discord.wait_for_response(interaction)
        assert record.response_type == 4
        assert record.response_data["content"] == "you said hi"
        assert record.ephemeral


async def test_subcommand_with_member_option_reaches_the_callback(fake_discord: FakeDiscord) -> None:
    scene = fake_discord.scene
    client = make_client()
    calls = Inbox()
    tree = tree_with_commands(client, calls)
    async with fake_discord.running(client):
        await tree.sync()
        interaction = await fake_discord.send_slash_command(
            scene.general, scene.alice, "memory", {"who": scene.bob, "count": 3}, subcommand="forget"
        )
        assert await calls.next() == (scene.bob.id, 3)
        await fake_discord.wait_for_response(interaction)


async def test_deferred_response_is_filled_by_the_first_followup(fake_discord: FakeDiscord) -> None:
    scene = fake_discord.scene
    client = make_client()
    tree = tree_with_commands(client, Inbox())
    async with fake_discord.running(client):
        await tree.sync()
        interaction = await fake_discord.send_slash_command(scene.general, scene.alice, "slow")
        reply = await fake_discord.wait_for_message(scene.general, lambda m: m.content == "done thinking")
        assert interaction.response_type == 5
        assert reply.id == interaction.original_message_id


async def test_slash_command_in_a_dm_is_answered(fake_discord: FakeDiscord) -> None:
    scene = fake_discord.scene
    client = make_client()
    tree = tree_with_commands(client, Inbox())
    async with fake_discord.running(client):
        await tree.sync()
        dm = fake_discord.dm_channel(scene.alice)
        interaction = await fake_discord.send_slash_command(dm, scene.alice, "whisper", {"text": "dm"})
        record = await fake_discord.wait_for_response(interaction)
        assert record.response_data["content"] == "you said dm"


# ---------------------------------------------------------------- components


class Confirm(discord.ui.View):
    """A view with a button and a select that report presses to an inbox."""

    def __init__(self, inbox: Inbox) -> None:
        super().__init__(timeout=None)
        self.inbox = inbox

    @discord.ui.button(label="Yes", custom_id="confirm:yes")
    async def yes(self, interaction: discord.Interaction, button: discord.ui.Button[Confirm]) -> None:
        await self.inbox.put(("yes", interaction.user.id))
        await interaction.response.edit_message(content="confirmed", view=None)

    @discord.ui.select(custom_id="confirm:pick", options=[discord.SelectOption(label=x) for x in ("a", "b")])
    async def pick(self, interaction: discord.Interaction, select: discord.ui.Select[Confirm]) -> None:
        await self.inbox.put(("pick", select.values))
        await interaction.response.defer()


async def test_button_press_reaches_the_view_callback_and_its_edit_is_recorded(
    fake_discord: FakeDiscord,
) -> None:
    scene = fake_discord.scene
    client = make_client()
    presses = Inbox()
    async with fake_discord.running(client):
        channel = client.get_channel(scene.general.id)
        assert isinstance(channel, discord.TextChannel)
        sent = await channel.send("sure?", view=Confirm(presses))
        interaction = await fake_discord.press_button(sent.id, "confirm:yes", scene.alice)
        assert await presses.next() == ("yes", scene.alice.id)
        await fake_discord.wait_for_response(interaction)
        stored = fake_discord.bot_messages_in(scene.general)[0]
        assert (stored.content, stored.components) == ("confirmed", [])


async def test_select_values_reach_the_view_callback(fake_discord: FakeDiscord) -> None:
    scene = fake_discord.scene
    client = make_client()
    presses = Inbox()
    async with fake_discord.running(client):
        channel = client.get_channel(scene.general.id)
        assert isinstance(channel, discord.TextChannel)
        sent = await channel.send("pick one", view=Confirm(presses))
        interaction = await fake_discord.choose(sent.id, "confirm:pick", ["b"], scene.bob)
        assert await presses.next() == ("pick", ["b"])
        await fake_discord.wait_for_response(interaction)


async def test_button_on_an_ephemeral_interaction_response_reaches_its_view(
    fake_discord: FakeDiscord,
) -> None:
    scene = fake_discord.scene
    client = make_client()
    presses = Inbox()
    tree = app_commands.CommandTree(client)

    @tree.command(name="ask", description="Ask for confirmation")
    async def ask(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("sure?", view=Confirm(presses), ephemeral=True)

    async with fake_discord.running(client):
        await tree.sync()
        interaction = await fake_discord.send_slash_command(scene.general, scene.alice, "ask")
        await fake_discord.wait_for_response(interaction)
        assert interaction.original_message_id is not None
        press = await fake_discord.press_button(interaction.original_message_id, "confirm:yes", scene.alice)
        assert await presses.next() == ("yes", scene.alice.id)
        await fake_discord.wait_for_response(press)


# ---------------------------------------------------------------- resume and failures


async def test_forced_disconnect_resumes_on_the_resume_url_and_events_keep_flowing(
    fake_discord: FakeDiscord,
) -> None:
    scene = fake_discord.scene
    client = make_client()
    inbox, from_users = user_messages(client)
    async with fake_discord.running(client):
        await fake_discord.disconnect(4000)
        resume = (await fake_discord.wait_for_op("RESUME"))[0]
        await fake_discord.send_message(scene.general, scene.alice, "after resume")
        message = await inbox.next(from_users)
        assert resume.path == "/ws/resume"
        assert message.content == "after resume"
        assert len(fake_discord.gateway_ops("IDENTIFY")) == 1


async def test_event_sent_while_disconnected_is_replayed_on_resume(fake_discord: FakeDiscord) -> None:
    scene = fake_discord.scene
    client = make_client()
    inbox, from_users = user_messages(client)
    async with fake_discord.running(client):
        await fake_discord.disconnect(4000)
        # The client has not reconnected yet, so the event waits in the session for the RESUME.
        await fake_discord.send_message(scene.general, scene.alice, "while away")
        message = await inbox.next(from_users)
        assert message.content == "while away"


async def test_redelivered_message_reaches_the_bot_twice_after_resume(fake_discord: FakeDiscord) -> None:
    scene = fake_discord.scene
    client = make_client()
    inbox, from_users = user_messages(client)
    async with fake_discord.running(client):
        original = await fake_discord.send_message(scene.general, scene.alice, "once")
        first = await inbox.next(from_users)
        await fake_discord.request_reconnect()
        await fake_discord.wait_for_op("RESUME")
        await fake_discord.redeliver(original)
        second = await inbox.next(from_users)
        assert first.id == second.id == original.id


async def test_bad_token_makes_start_raise_login_failure(fake_discord: FakeDiscord) -> None:
    client = make_client()
    async with client:
        with pytest.raises(discord.LoginFailure):
            await client.start("not-the-token")
        assert fake_discord.calls("GET", "/users/@me")[0].status == 401


async def test_missing_privileged_intent_raises_privileged_intents_required(
    fake_discord: FakeDiscord,
) -> None:
    fake_discord.gateway.enabled_privileged_intents = 0
    client = make_client(message_content=True)
    async with client:
        with pytest.raises(discord.PrivilegedIntentsRequired):
            await client.start(fake_discord.token)


async def test_client_without_privileged_intents_still_connects_when_they_are_disabled(
    fake_discord: FakeDiscord,
) -> None:
    fake_discord.gateway.enabled_privileged_intents = 0
    client = make_client(message_content=False)
    async with fake_discord.running(client):
        assert client.is_ready()


async def test_ephemeral_flag_constant_matches_discord() -> None:
    assert discord.MessageFlags(ephemeral=True).value == MessageFlag.EPHEMERAL


async def test_message_over_2000_characters_is_rejected_like_discord(fake_discord: FakeDiscord) -> None:
    scene = fake_discord.scene
    client = make_client()
    async with fake_discord.running(client):
        channel = client.get_channel(scene.general.id)
        assert isinstance(channel, discord.TextChannel)
        with pytest.raises(discord.HTTPException) as caught:
            await channel.send("x" * 2001)
        assert (caught.value.status, caught.value.code) == (400, 50035)


async def test_edit_original_response_replaces_the_thinking_message(fake_discord: FakeDiscord) -> None:
    scene = fake_discord.scene
    client = make_client()
    tree = app_commands.CommandTree(client)

    @tree.command(name="think", description="Defer, then edit")
    async def think(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True, ephemeral=True)
        await interaction.edit_original_response(content="thought it through")

    async with fake_discord.running(client):
        await tree.sync()
        interaction = await fake_discord.send_slash_command(scene.general, scene.alice, "think")
        reply = await fake_discord.wait_for_message(
            scene.general, lambda m: m.content == "thought it through"
        )
        assert reply.id == interaction.original_message_id
        assert reply.ephemeral


async def test_rate_limited_send_is_retried_by_the_client(fake_discord: FakeDiscord) -> None:
    scene = fake_discord.scene
    fake_discord.rate_limit_next("POST", r"/channels/\d+/messages")
    client = make_client()
    async with fake_discord.running(client):
        channel = client.get_channel(scene.general.id)
        assert isinstance(channel, discord.TextChannel)
        await channel.send("eventually")
        statuses = [c.status for c in fake_discord.calls("POST", r"/channels/\d+/messages")]
        assert statuses == [429, 200]


async def test_patch_discord_restores_the_real_endpoints() -> None:
    before = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    async with FakeDiscord() as fake:
        with fake.patch_discord():
            assert fake.api_base == discord.http.Route.BASE
        assert before == (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
