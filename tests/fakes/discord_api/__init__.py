"""A local fake Discord API (REST + gateway websocket) for end-to-end tests with the real discord.py client.

The ``fake_discord`` fixture lives in ``tests.fakes.discord_api.plugin``; load it with
``pytest_plugins = ["tests.fakes.discord_api.plugin"]`` (root conftest or a test module). Example::

    async def test_reply(fake_discord: FakeDiscord) -> None:
        scene = fake_discord.scene  # guild "Kindred Test", #general, a thread, alice and bob
        client = discord.Client(intents=intents, guild_ready_timeout=0.05)
        async with fake_discord.running(client):  # started, ready; closed cleanly afterwards
            await fake_discord.send_message(scene.general, scene.alice, "hi")
            reply = await fake_discord.wait_for_message(scene.general)
            assert reply.blocks_all_mentions
"""

from __future__ import annotations

from tests.fakes.discord_api.gateway import ReceivedOp
from tests.fakes.discord_api.models import (
    ChannelType,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeRole,
    FakeUser,
    Intent,
    InteractionRecord,
    MessageFlag,
    Perm,
    RecordedFile,
    RecordedRequest,
    StoredMessage,
)
from tests.fakes.discord_api.server import FakeDiscord, Scene

__all__ = [
    "ChannelType",
    "FakeChannel",
    "FakeDiscord",
    "FakeGuild",
    "FakeMember",
    "FakeRole",
    "FakeUser",
    "Intent",
    "InteractionRecord",
    "MessageFlag",
    "Perm",
    "ReceivedOp",
    "RecordedFile",
    "RecordedRequest",
    "Scene",
    "StoredMessage",
]
