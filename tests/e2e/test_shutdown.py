"""SIGTERM and SIGINT in the middle of a reply: `python -m bot run` as a real process against the fake
Discord API and the fake model server. The reply in flight is finished, both turns are in SQL, the
reflection job is queued or done, and the process exits 0."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from bot.errors import EXIT_OK
from storage.config import StorageSettings
from storage.scope import Scope
from storage.service import StorageService
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.openai_api import FakeOpenAI

REPO = Path(__file__).resolve().parents[2]
REPLY = "Here is a long and careful answer that takes a while to stream out to you."

# `python -m bot run`, with discord.py pointed at the fake the way FakeDiscord.patch_discord does in-process.
LAUNCHER = """
import sys, yarl, discord.asset, discord.gateway, discord.http
discord.http.Route.BASE = sys.argv[1] + "/api/v10"
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(sys.argv[2])
discord.asset.Asset.BASE = sys.argv[1] + "/cdn"
from bot.cli import main
sys.exit(main(["run"]))
"""


def bot_env(tmp_path: Path, fake: FakeDiscord, openai: FakeOpenAI) -> dict[str, str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("KINDRED") and k not in ("DISCORD_TOKEN", "OPENAI_API_KEY", "OPENAI_BASE_URL")
    }
    return {
        **base,
        "DISCORD_TOKEN": fake.token,
        "OPENAI_BASE_URL": openai.base_url,
        "OPENAI_API_KEY": "test",
        "KINDRED__LLM__MODEL": "chat-a",
        "KINDRED__STORAGE__DATA_DIR": str(tmp_path / "data"),
        "KINDRED__PIPELINE__COALESCE_WINDOW_S": "0",
        "KINDRED__OPS__HTTP_ENABLED": "false",
        "KINDRED__BOT__COGS": '["cogs.conversation"]',
        "HF_HUB_OFFLINE": "1",
    }


async def start_bot_process(fake: FakeDiscord, env: dict[str, str]) -> asyncio.subprocess.Process:
    """Start `python -m bot run` against the fake Discord API, its output piped for the exit report."""
    fake.wait_timeout = 90.0  # the process imports, migrates and loads its embedder first
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        LAUNCHER,
        fake.url,
        fake.gateway_url,
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_signal_mid_reply_finishes_the_reply_and_exits_zero(
    tmp_path: Path, fake_discord: FakeDiscord, openai_server: FakeOpenAI, sig: signal.Signals
) -> None:
    # Four characters every 0.1 s: the reply takes about two seconds to stream.
    openai_server.configure("chat-a", reply=REPLY, chunk_delay_s=0.1)
    proc = await start_bot_process(fake_discord, bot_env(tmp_path, fake_discord, openai_server))
    scene = fake_discord.scene
    try:
        await fake_discord.wait_for(lambda: fake_discord.gateway_ops("IDENTIFY"))
        await fake_discord.wait_for(lambda: fake_discord.calls("PUT", r".*/commands"))
        sent = await fake_discord.send_message(
            scene.general, scene.alice, f"<@{fake_discord.bot.id}> tell me something long"
        )
        # The reply has started to stream (its first edit is out) but is nowhere near finished.
        partial = await fake_discord.wait_for_message(scene.general, lambda m: REPLY.startswith(m.content))
        assert partial.content and partial.content != REPLY
        proc.send_signal(sig)
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == EXIT_OK, stderr.decode(errors="replace")[-3000:]
    # The streamed message was edited to the whole reply (other notices, such as the AI disclosure to a
    # newcomer, may sit beside it).
    finished = {m.id: m.content for m in fake_discord.bot_messages_in(scene.general)}
    assert finished[partial.id] == REPLY

    storage = await StorageService.open(StorageSettings(data_dir=tmp_path / "data"))
    try:
        scope = Scope(
            user_id=str(scene.alice.id), guild_id=str(scene.guild.id), channel_id=str(scene.general.id)
        )
        turns = await storage.recent_turns(scope)
        assert [(t.role, t.message_id) for t in turns] == [
            ("user", str(sent.id)),
            ("assistant", f"{sent.id}:reply"),
        ]
        assert turns[-1].text == REPLY
        jobs = await storage.jobs.stats()
        assert jobs.depth + jobs.done_last_minute >= 1, "the turn's reflection job was lost"
        assert jobs.dead == 0
    finally:
        await storage.close()
