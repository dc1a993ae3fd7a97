"""Conversation end to end: the real discord.py client on a fake Discord API, the real openai client on a
fake OpenAI server, and the real storage service underneath."""

from __future__ import annotations

import re
from typing import Any

from tests.e2e.harness import last_prompt, replies, reply_in
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.openai_api import FakeOpenAI

FENCE = re.compile(r"^```", re.MULTILINE)


async def test_mention_in_a_channel_gets_a_reply_that_pings_no_one(
    start_bot: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", reply="Hello @everyone and <@&1234>! Nice to meet you.")
    scene = fake_discord.scene
    async with start_bot():
        sent = await fake_discord.send_message(
            scene.general, scene.alice, f"<@{fake_discord.bot.id}> hi there"
        )
        reply = await reply_in(fake_discord, scene.general, lambda m: "meet you" in m.content)
    assert reply.message_reference is not None and reply.message_reference["message_id"] == str(sent.id)
    assert reply.blocks_all_mentions and not reply.pinged_anyone
    assert "hi there" in last_prompt(openai_server)


async def test_unaddressed_channel_message_is_ignored(
    start_bot: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", reply="answer")
    scene = fake_discord.scene
    async with start_bot():
        await fake_discord.send_message(scene.general, scene.alice, "just chatting with bob")
        await fake_discord.send_message(scene.general, scene.bob, f"<@{fake_discord.bot.id}> ping")
        await reply_in(fake_discord, scene.general, "answer")
    assert len(fake_discord.bot_messages_in(scene.general)) == 1
    assert "just chatting" not in last_prompt(openai_server)


async def test_dm_gets_a_reply(start_bot: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI) -> None:
    openai_server.configure("chat-a", reply="Hi in private")
    scene = fake_discord.scene
    dm = fake_discord.dm_channel(scene.alice)
    async with start_bot():
        await fake_discord.send_message(dm, scene.alice, "hello in a DM")
        reply = await reply_in(fake_discord, dm, "Hi in private")
    assert reply.message_reference is not None


async def test_reply_to_the_bot_carries_the_chain_as_context(
    start_bot: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", reply="Pancakes are a fine breakfast.")
    scene = fake_discord.scene
    async with start_bot():
        await fake_discord.send_message(
            scene.general, scene.alice, f"<@{fake_discord.bot.id}> breakfast ideas?"
        )
        first = await reply_in(fake_discord, scene.general, "Pancakes are a fine breakfast.")
        openai_server.configure("chat-a", reply="With blueberries, yes.")
        await fake_discord.send_message(
            scene.general, scene.alice, "what about berries", referenced_message=first
        )
        await reply_in(fake_discord, scene.general, lambda m: "blueberries" in m.content)
    assert "Pancakes are a fine breakfast." in last_prompt(openai_server)


async def test_thread_inherits_ambient_chat_from_its_parent(
    start_bot: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", reply="thread reply")
    scene = fake_discord.scene
    async with start_bot() as app:
        await app.storage.update_place_settings(
            "discord", str(scene.guild.id), str(scene.general.id), {"ambient": True}
        )
        await fake_discord.send_message(scene.thread, scene.alice, "no mention here")
        reply = await reply_in(fake_discord, scene.thread, "thread reply")
    assert reply.channel_id == scene.thread.id


async def test_long_reply_with_code_fences_is_split_cleanly(
    start_bot: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    block = "```python\n" + "\n".join(f"print('line {i}')" for i in range(120)) + "\n```\n"
    long_reply = ("Here is some code.\n\n" + block + "\nAnd some more prose. " * 20 + "\n\n") * 3
    assert len(long_reply) > 7000
    openai_server.configure("chat-a", reply=long_reply, chunk_chars=400)
    scene = fake_discord.scene
    dm = fake_discord.dm_channel(scene.alice)
    async with start_bot():
        await fake_discord.send_message(dm, scene.alice, "show me code")
        await fake_discord.wait_for(
            lambda: (
                True
                if "".join(m.content for m in fake_discord.bot_messages_in(dm)).count("line 119") == 3
                else None
            )
        )
    messages = fake_discord.bot_messages_in(dm)
    assert len(messages) >= 4
    assert all(0 < len(m.content) <= 2000 for m in messages)
    assert all(len(FENCE.findall(m.content)) % 2 == 0 for m in messages)


async def test_model_failure_falls_back_to_the_next_model(
    start_bot: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", fail_times=5, fail_status=500)
    openai_server.configure("chat-b", reply="from model B")
    scene = fake_discord.scene
    dm = fake_discord.dm_channel(scene.alice)
    async with start_bot(models=["chat-a", "chat-b"]):
        await fake_discord.send_message(dm, scene.alice, "anyone there?")
        await reply_in(fake_discord, dm, "from model B")
    assert len([r for r in replies(openai_server) if r.model == "chat-b"]) == 1


async def test_rate_limited_model_falls_back_and_is_avoided(
    start_bot: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", rate_limit_times=1, retry_after="30")
    openai_server.configure("chat-b", reply="B again")
    scene = fake_discord.scene
    dm = fake_discord.dm_channel(scene.alice)
    async with start_bot(models=["chat-a", "chat-b"]):
        await fake_discord.send_message(dm, scene.alice, "one")
        await reply_in(fake_discord, dm, "B again")
        await fake_discord.send_message(dm, scene.alice, "two")
        await fake_discord.wait_for(
            lambda: [m.content for m in fake_discord.bot_messages_in(dm)] == ["B again", "B again"] or None
        )
    assert len([r for r in replies(openai_server) if r.model == "chat-a"]) == 1  # skipped while waiting


async def test_timeout_falls_back_to_the_next_model(
    start_bot: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", hang=True)
    openai_server.configure("chat-b", reply="B after a timeout")
    scene = fake_discord.scene
    dm = fake_discord.dm_channel(scene.alice)
    async with start_bot(models=["chat-a", "chat-b"]):
        await fake_discord.send_message(dm, scene.alice, "hello?")
        await reply_in(fake_discord, dm, "B after a timeout")
    assert len([r for r in replies(openai_server) if r.model == "chat-a"]) == 1


async def test_every_model_down_tells_the_person(
    start_bot: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", fail_times=10, fail_status=503)
    scene = fake_discord.scene
    dm = fake_discord.dm_channel(scene.alice)
    async with start_bot():
        await fake_discord.send_message(dm, scene.alice, "hello?")
        reply = await reply_in(fake_discord, dm, lambda m: "can't reach my language model" in m.content)
    assert reply.blocks_all_mentions


async def test_duplicate_gateway_event_gets_one_reply(
    start_bot: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", reply="only once")
    scene = fake_discord.scene
    dm = fake_discord.dm_channel(scene.alice)
    async with start_bot():
        sent = await fake_discord.send_message(dm, scene.alice, "hello")
        await reply_in(fake_discord, dm, "only once")
        await fake_discord.redeliver(sent)
        openai_server.configure("chat-a", reply="second message answered")
        await fake_discord.send_message(dm, scene.alice, "another")
        await reply_in(fake_discord, dm, "second message answered")
    assert [m.content for m in fake_discord.bot_messages_in(dm)] == ["only once", "second message answered"]


async def test_missing_send_permission_sends_nothing(
    start_bot: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", reply="cannot be posted")
    scene = fake_discord.scene
    fake_discord.deny_send(scene.general)
    dm = fake_discord.dm_channel(scene.alice)
    async with start_bot():
        await fake_discord.send_message(scene.general, scene.alice, f"<@{fake_discord.bot.id}> hi")
        await fake_discord.send_message(dm, scene.alice, "and here?")
        await reply_in(fake_discord, dm, "cannot be posted")
    assert fake_discord.bot_messages_in(scene.general) == []
    assert all(r.status != 403 for r in fake_discord.calls("POST", rf"/channels/{scene.general.id}/messages"))


async def test_very_long_message_is_bounded_with_a_notice(
    start_bot: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", reply="read it")
    scene = fake_discord.scene
    dm = fake_discord.dm_channel(scene.alice)
    async with start_bot(max_message_chars=4000):
        long_text = ("word " * 4000).strip()
        await fake_discord.send_message(dm, scene.alice, long_text)
        notice = await reply_in(fake_discord, dm, lambda m: "characters" in m.content)
        await reply_in(fake_discord, dm, "read it")
    assert f"{len(long_text):,}" in notice.content
    request = replies(openai_server)[-1]
    assert len(request.messages[-1]["content"]) <= 4000


async def test_zero_width_characters_are_removed_before_the_model(
    start_bot: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", reply="@every\u200bone look")
    scene = fake_discord.scene
    dm = fake_discord.dm_channel(scene.alice)
    async with start_bot():
        await fake_discord.send_message(dm, scene.alice, "hel\u200blo wo\u202erld")
        reply = await reply_in(fake_discord, dm, lambda m: m.content.endswith(" look"))
    request = replies(openai_server)[-1]
    assert request.messages[-1]["content"] == "hello world"
    assert not reply.pinged_anyone and reply.blocks_all_mentions


async def test_chat_reset_starts_a_fresh_session(
    start_bot: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", reply="noted")
    scene = fake_discord.scene
    dm = fake_discord.dm_channel(scene.alice)
    async with start_bot() as app:
        await fake_discord.send_message(dm, scene.alice, "first session words")
        await reply_in(fake_discord, dm, "noted")
        record = await fake_discord.send_slash_command(dm, scene.alice, "chat", subcommand="reset")
        await fake_discord.wait_for_response(record)
        assert record.ephemeral
        from storage.scope import Scope

        assert await app.storage.recent_turns(Scope(user_id=str(scene.alice.id), channel_id=str(dm.id))) == []


async def test_persona_show_is_private_and_names_the_persona(
    start_bot: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    scene = fake_discord.scene
    async with start_bot() as app:
        await app.storage.update_place_settings(
            "discord",
            str(scene.guild.id),
            None,
            {"persona": {"name": "Juniper", "prompt": "You are {name}."}},
        )
        record = await fake_discord.send_slash_command(
            scene.general, scene.alice, "persona", subcommand="show"
        )
        await fake_discord.wait_for_response(record)
    assert record.ephemeral
    assert "Juniper" in str(record.response_data)


async def test_a_fact_from_session_one_reaches_the_model_after_a_restart(
    start_bot: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", reply="Happy birthday to Biscuit!")
    scene = fake_discord.scene
    dm = fake_discord.dm_channel(scene.alice)
    async with start_bot():
        await fake_discord.send_message(dm, scene.alice, "My dog Biscuit turned five today")
        await reply_in(fake_discord, dm, "Happy birthday to Biscuit!")
        record = await fake_discord.send_slash_command(dm, scene.alice, "chat", subcommand="reset")
        await fake_discord.wait_for_response(record)
    openai_server.configure("chat-a", reply="He is five now.")
    async with start_bot():  # a new process on the same data directory
        await fake_discord.send_message(dm, scene.alice, "how old is my dog again?")
        await reply_in(fake_discord, dm, "He is five now.")
    request = replies(openai_server)[-1]
    assert "Biscuit turned five" in str(request.messages[0]["content"])  # recalled, not in the window
    assert all("Biscuit" not in str(m["content"]) for m in request.messages[1:])


async def test_text_attachment_is_read_into_the_prompt_and_binary_is_explained(
    start_bot: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", reply="Nice recipe.")
    scene = fake_discord.scene
    dm = fake_discord.dm_channel(scene.alice)
    async with start_bot():
        await fake_discord.send_message(
            dm,
            scene.alice,
            "what do you think?",
            attachments=[
                ("recipe.txt", b"Two eggs, a cup of flour, a pinch of salt."),
                ("blob.bin", b"\x00\x01"),
            ],
        )
        notice = await reply_in(fake_discord, dm, lambda m: "blob.bin" in m.content)
        await reply_in(fake_discord, dm, "Nice recipe.")
    assert "not a text file" in notice.content
    assert "a pinch of salt" in last_prompt(openai_server)


async def test_image_goes_to_the_vision_model(
    start_bot: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", reply="text model")
    openai_server.configure("chat-v", reply="I see a cat.")
    scene = fake_discord.scene
    dm = fake_discord.dm_channel(scene.alice)
    async with start_bot(models=["chat-a", "chat-v"], vision=("chat-v",)):
        await fake_discord.send_message(dm, scene.alice, "look", attachments=[("cat.png", b"\x89PNG fake")])
        await reply_in(fake_discord, dm, "I see a cat.")
    request = replies(openai_server)[-1]
    assert request.model == "chat-v"
    parts = request.messages[-1]["content"]
    assert any(p.get("type") == "image_url" and p["image_url"]["url"].endswith("/cat.png") for p in parts)


async def test_typing_shows_and_long_replies_stream_by_edits(
    start_bot: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    text = "A streamed answer that arrives in pieces. " * 6
    openai_server.configure("chat-a", reply=text, chunk_chars=20, chunk_delay_s=0.25)
    scene = fake_discord.scene
    dm = fake_discord.dm_channel(scene.alice)
    async with start_bot():
        await fake_discord.send_message(dm, scene.alice, "tell me something")
        reply = await reply_in(fake_discord, dm, text.strip())
    assert fake_discord.calls("POST", rf"/channels/{dm.id}/typing")
    assert 1 <= len(reply.edits) <= 6  # streamed (edited as text arrived), at most about once a second
