"""/admin end to end: the real discord.py client on the fake Discord API, the real storage underneath.

The fake lets anyone invoke any command (as a server admin could, by editing the permission hint), so
each refusal here comes from Kindred's own check.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import Kindred
from bot.config import BotSettings
from bot.pipeline.pipeline import Outcome
from bot.platforms.discord import KindredBot
from storage.sql.models import Job
from tests.e2e.harness import last_prompt, make_settings, replies, reply_in
from tests.fakes.discord_api import FakeDiscord, FakeUser, InteractionRecord
from tests.fakes.openai_api import FakeOpenAI

MANAGE_GUILD = 1 << 5


@pytest.fixture
def carol(fake_discord: FakeDiscord) -> FakeUser:
    """A member with no server permissions who is configured as one of the bot's owners."""
    user = fake_discord.add_user("carol")
    fake_discord.add_member(fake_discord.scene.guild, user)
    return user


@pytest.fixture
async def start_bot(
    tmp_path: Path, fake_discord: FakeDiscord, openai_server: FakeOpenAI, carol: FakeUser
) -> AsyncIterator[Callable[..., Any]]:
    @asynccontextmanager
    async def run(**pipeline: Any) -> AsyncIterator[Kindred]:
        # Recall is not what these tests are about; without it a turn needs no embedding or vector search.
        settings = make_settings(tmp_path / "data", openai_server, **{"recall_k": 0, **pipeline})
        settings.bot = BotSettings(owner_ids=[str(carol.id)], cogs=["cogs.conversation", "cogs.admin"])
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


async def admin(
    fake: FakeDiscord, where: Any, user: FakeUser, /, *path: str, **options: Any
) -> tuple[InteractionRecord, str]:
    """Run ``/admin <path...>`` and return the interaction and all the text answered to it."""
    group, subcommand = (path[0], path[1]) if len(path) == 2 else (None, path[0])
    record = await fake.send_slash_command(where, user, "admin", options, subcommand=subcommand, group=group)
    await fake.wait_for_response(record)
    if record.response_type == 5:  # deferred: the answer follows
        await fake.wait_for(lambda: fake.followups(record) or None)
    texts = [str(record.response_data.get("content") or "")] + [m.content for m in fake.followups(record)]
    return record, "\n".join(t for t in texts if t)


def count_outcomes(app: Kindred, fake: FakeDiscord) -> list[str]:
    """Record every message's outcome as the Discord cog hands it to the pipeline."""
    statuses: list[str] = []
    original = app.pipeline.handle

    async def handle(message: Any, sink: Any) -> Outcome:
        outcome = await original(message, sink)
        statuses.append(outcome.status)
        fake._changed()  # wake wait_for(): a refused message changes nothing on the Discord side
        return outcome

    app.pipeline.handle = handle  # type: ignore[method-assign]
    return statuses


async def test_a_member_is_refused_by_the_check_in_code_though_the_hint_was_bypassed(
    start_bot: Any, fake_discord: FakeDiscord
) -> None:
    scene = fake_discord.scene
    async with start_bot() as app:
        registered = next(c for c in fake_discord.commands.values() if c["name"] == "admin")
        assert int(registered["default_member_permissions"]) == MANAGE_GUILD
        record, text = await admin(fake_discord, scene.general, scene.alice, "channel", "enable")
        place = await app.storage.place_settings("discord", str(scene.guild.id), str(scene.general.id))
        entries, _ = await app.storage.admin.audit_page("discord", str(scene.guild.id))
    assert record.ephemeral and "needs a moderator" in text and "Nothing was changed" in text
    assert not place.get("ambient")
    assert [(e.actor_id, e.action, e.result) for e in entries] == [
        (str(scene.alice.id), "channel.enable", "refused")
    ]


async def test_channel_enable_lets_kindred_chat_unmentioned_there_and_in_its_threads(
    start_bot: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", reply="ambient hello")
    scene = fake_discord.scene
    async with start_bot():
        _, text = await admin(fake_discord, scene.general, fake_discord.owner, "channel", "enable")
        assert "without being mentioned" in text
        await fake_discord.send_message(scene.thread, scene.alice, "no mention in the thread")
        await reply_in(fake_discord, scene.thread, "ambient hello")
        _, listing = await admin(fake_discord, scene.general, fake_discord.owner, "channel", "list")
    assert f"<#{scene.general.id}>" in listing


async def test_a_channel_persona_is_inherited_by_its_threads(
    start_bot: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", reply="hi from the garden")
    scene = fake_discord.scene
    async with start_bot() as app:
        await admin(
            fake_discord,
            scene.general,
            fake_discord.owner,
            "persona",
            "set",
            name="Juniper",
            prompt="You are {name}, a patient gardener.",
            channel=scene.general,
        )
        await fake_discord.send_message(scene.thread, scene.alice, f"<@{fake_discord.bot.id}> hello")
        await reply_in(fake_discord, scene.thread, "hi from the garden")
        assert "You are Juniper, a patient gardener." in last_prompt(openai_server)
        _, shown = await admin(fake_discord, scene.thread, fake_discord.owner, "persona", "show")
        assert "Juniper" in shown
        await admin(
            fake_discord, scene.general, fake_discord.owner, "persona", "clear", channel=scene.general
        )
        await fake_discord.send_message(scene.thread, scene.alice, f"<@{fake_discord.bot.id}> again")
        await fake_discord.wait_for(lambda: len(replies(openai_server)) == 2 or None)
        await app.pipeline.drain(10)
    assert "Juniper" not in last_prompt(openai_server)


async def test_moderators_may_block_but_not_change_flags_and_blocked_members_get_no_reply(
    start_bot: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", reply="answer")
    scene = fake_discord.scene
    mods = fake_discord.add_role(scene.guild, "mods")
    scene.guild.members[scene.bob.id].role_ids.append(mods.id)
    async with start_bot() as app:
        statuses = count_outcomes(app, fake_discord)
        _, text = await admin(fake_discord, scene.general, fake_discord.owner, "moderator", "set", role=mods)
        assert "Moderator role set" in text
        _, text = await admin(fake_discord, scene.general, scene.bob, "block", user=scene.alice)
        assert "Blocked" in text
        _, refused = await admin(
            fake_discord, scene.general, scene.bob, "flags", "set", name="reflection", value="off"
        )
        assert "needs a server admin" in refused
        await fake_discord.send_message(scene.general, scene.alice, f"<@{fake_discord.bot.id}> hello?")
        await fake_discord.wait_for(lambda: statuses or None)
        await fake_discord.send_message(scene.general, scene.bob, f"<@{fake_discord.bot.id}> hello")
        await reply_in(fake_discord, scene.general, "answer")
        flags = app.features.services["flags"]
        assert await flags.enabled("reflection", str(scene.guild.id))
    assert statuses[0] == "refused"
    assert [m.content for m in fake_discord.bot_messages_in(scene.general)].count("answer") == 1
    assert len(replies(openai_server)) == 1


async def test_flags_switch_reflection_off_and_on_at_once(
    start_bot: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", reply="noted")
    scene = fake_discord.scene
    dm = scene.general

    async def semantic_jobs(app: Kindred) -> int:
        async with app.storage.engine.connect() as conn:
            return len((await conn.scalars(select(Job.id).where(Job.job_type == "semantic"))).all())

    async with start_bot() as app:
        _, text = await admin(
            fake_discord, dm, fake_discord.owner, "flags", "set", name="reflection", value="off"
        )
        assert "it is off now" in text
        await fake_discord.send_message(dm, scene.alice, f"<@{fake_discord.bot.id}> I love tea")
        await reply_in(fake_discord, dm, "noted")
        await app.pipeline.drain(10)  # the after-turn enqueue has run
        assert await semantic_jobs(app) == 0
        app.pipeline._accepting = True  # drain stops intake; this test goes on taking turns
        await admin(fake_discord, dm, fake_discord.owner, "flags", "set", name="reflection", value="on")
        await fake_discord.send_message(dm, scene.alice, f"<@{fake_discord.bot.id}> and coffee")
        await fake_discord.wait_for(lambda: len(replies(openai_server)) == 2 or None)
        await app.pipeline.drain(10)
        assert await semantic_jobs(app) == 1


async def test_a_member_rate_limit_holds_and_the_member_is_told_once(
    start_bot: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", reply="ok")
    scene = fake_discord.scene
    async with start_bot() as app:
        _, text = await admin(
            fake_discord,
            scene.general,
            fake_discord.owner,
            "ratelimit",
            member=scene.alice,
            messages_per_minute=2.0,
        )
        assert "2 messages a minute" in text
        statuses = count_outcomes(app, fake_discord)
        for i in range(5):
            await fake_discord.send_message(
                scene.general, scene.alice, f"<@{fake_discord.bot.id}> message {i}"
            )
        await fake_discord.wait_for(lambda: len(statuses) == 5 or None)
        await fake_discord.wait_for(
            lambda: [m.content for m in fake_discord.bot_messages_in(scene.general)].count("ok") == 2 or None
        )
    assert sorted(statuses) == ["rate_limited"] * 3 + ["replied"] * 2
    contents = [m.content for m in fake_discord.bot_messages_in(scene.general)]
    assert sum("Slow down" in c for c in contents) == 1 and contents.count("ok") == 2


async def test_invalid_values_are_refused_clearly_and_change_nothing(
    start_bot: Any, fake_discord: FakeDiscord
) -> None:
    scene = fake_discord.scene
    async with start_bot() as app:
        record, text = await admin(
            fake_discord,
            scene.general,
            fake_discord.owner,
            "ratelimit",
            member=scene.alice,
            messages_per_minute=1e6,
        )
        assert record.ephemeral and "out of range" in text
        _, text = await admin(
            fake_discord, scene.general, fake_discord.owner, "flags", "set", name="bogus", value="on"
        )
        assert "Unknown flag 'bogus'" in text
        _, text = await admin(fake_discord, scene.general, fake_discord.owner, "block")
        assert "exactly one" in text
        _, text = await admin(fake_discord, scene.general, fake_discord.owner, "audit", page=99)
        assert "only 1 page" in text
        assert await app.storage.admin.limits("discord", str(scene.guild.id)) == []
        assert await app.storage.admin.access_rules("discord", str(scene.guild.id)) == []


async def test_owner_only_commands_refuse_server_admins_and_serve_bot_owners(
    start_bot: Any, fake_discord: FakeDiscord, carol: FakeUser, tmp_path: Path
) -> None:
    scene = fake_discord.scene
    async with start_bot():
        _, text = await admin(fake_discord, scene.general, fake_discord.owner, "reload")
        assert "needs a bot owner" in text
        _, text = await admin(fake_discord, scene.general, carol, "backup")
        assert "Backed up the database to" in text
        _, text = await admin(fake_discord, scene.general, carol, "model", "primary", name="nope")
        assert "No model named 'nope'" in text
        _, text = await admin(fake_discord, scene.general, carol, "model", "show")
        assert "chat-a" in text and "breaker closed" in text
        _, text = await admin(fake_discord, scene.general, carol, "jobs", "run", job="nope")
        assert "No scheduled job 'nope'" in text
    assert list((tmp_path / "data" / "backups").glob("kindred-*.db"))


async def test_every_admin_action_lands_in_the_audit_log(
    start_bot: Any, fake_discord: FakeDiscord, carol: FakeUser
) -> None:
    scene = fake_discord.scene
    owner = fake_discord.owner
    async with start_bot() as app:
        await admin(fake_discord, scene.general, owner, "channel", "enable")
        await admin(fake_discord, scene.general, owner, "persona", "set", name="Wren")
        await admin(fake_discord, scene.general, owner, "block", channel=scene.general, remove=True)
        await admin(fake_discord, scene.general, owner, "ratelimit", tokens_per_day=5000)
        await admin(fake_discord, scene.general, owner, "flags", "set", name="fast_path", value="off")
        await admin(fake_discord, scene.general, owner, "stats")
        await admin(fake_discord, scene.general, owner, "jobs", "status")
        await admin(fake_discord, scene.general, scene.alice, "persona", "clear")
        await admin(fake_discord, scene.general, carol, "user", "export", member=scene.alice)
        await admin(fake_discord, scene.general, owner, "user", "forget", member=scene.alice)
        record, page = await admin(fake_discord, scene.general, owner, "audit")
        entries, total = await app.storage.admin.audit_page("discord", str(scene.guild.id), per_page=25)
    actions = [(e.action, e.result) for e in reversed(entries)]
    assert actions == [
        ("channel.enable", "ok"),
        ("persona.set", "ok"),
        ("block.remove", "ok"),
        ("ratelimit.set", "ok"),
        ("flags.set", "ok"),
        ("stats.view", "ok"),
        ("jobs.status", "ok"),
        ("persona.clear", "refused"),
        ("user.export", "ok"),
        ("user.forget", "failed"),  # not confirmed: nothing deleted, and that is on record too
        ("audit.view", "ok"),
    ]
    assert total == 11 and record.ephemeral
    assert "page 1 of 1" in page and "channel.enable" in page
    assert record.response_data.get("components")  # the page buttons


async def test_data_requests_export_then_forget_a_member_on_their_behalf(
    start_bot: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", reply="What a lovely name.")
    scene = fake_discord.scene
    owner = fake_discord.owner

    def exported() -> bytes:
        uploads = [f for r in fake_discord.calls("POST", r"/webhooks/.*") for f in r.files]
        return uploads[-1].data

    async with start_bot() as app:
        await fake_discord.send_message(
            scene.general, scene.alice, f"<@{fake_discord.bot.id}> my cat is Miso"
        )
        await reply_in(fake_discord, scene.general, "What a lovely name.")
        await app.pipeline.drain(10)
        app.pipeline._accepting = True
        _, text = await admin(fake_discord, scene.general, owner, "user", "export", member=scene.alice)
        assert "Everything I hold about" in text and b"my cat is Miso" in exported()
        _, text = await admin(
            fake_discord, scene.general, owner, "user", "forget", member=scene.alice, confirm=True
        )
        assert text.startswith("Forgot")
        await admin(fake_discord, scene.general, owner, "user", "export", member=scene.alice)
    assert b"Miso" not in exported()


async def test_fast_path_off_finishes_after_turn_work_before_the_turn_ends(
    start_bot: Any, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", reply="sure")
    scene = fake_discord.scene
    queued_when_done: list[int] = []
    detached_when_done: list[int] = []
    async with start_bot() as app:
        _, text = await admin(
            fake_discord, scene.general, fake_discord.owner, "flags", "set", name="fast_path", value="off"
        )
        assert "it is off now" in text
        original = app.pipeline.handle

        async def handle(message: Any, sink: Any) -> Outcome:
            outcome = await original(message, sink)
            detached_when_done.append(len(app.pipeline._background))  # hooks left running on their own
            async with app.storage.engine.connect() as conn:  # read at the moment the turn ends
                queued_when_done.append(len((await conn.scalars(select(Job.id))).all()))
            fake_discord._changed()
            return outcome

        app.pipeline.handle = handle  # type: ignore[method-assign]
        await fake_discord.send_message(scene.general, scene.alice, f"<@{fake_discord.bot.id}> hello")
        await fake_discord.wait_for(lambda: queued_when_done or None)
    assert detached_when_done == [0]
    assert queued_when_done[0] >= 2  # the turn's index and reflection jobs were already queued
