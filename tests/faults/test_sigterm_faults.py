"""SIGTERM while several replies stream (tests/e2e/test_shutdown.py covers one reply and the exit code; this
adds a stream of people and what happens after the restart): every reply in flight is finished, and the
next start works off the queued reflection, each job once, each fact remembered once."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from bot.errors import EXIT_OK
from tests.conftest import free_port
from tests.e2e.test_shutdown import bot_env, start_bot_process
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.openai_api import FakeOpenAI
from tests.faults.harness import (
    MODEL,
    Script,
    Sent,
    Stream,
    check_invariants,
    make_settings,
    running,
    settled,
    wait_health,
)


async def test_sigterm_mid_replies_finishes_them_and_the_restart_reflects_on_each_once(
    tmp_path: Path, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    script = Script()
    openai_server.configure(MODEL, reply=script)
    data_dir = tmp_path / "data"
    env = {
        **bot_env(tmp_path, fake_discord, openai_server),
        "KINDRED__BOT__COGS": '["cogs.conversation", "cogs.memory"]',
        "KINDRED__OPS__HTTP_ENABLED": "true",
        "KINDRED__OPS__HTTP_PORT": str(free_port()),
        "KINDRED__PIPELINE__USER_BURST": "100",
    }
    proc = await start_bot_process(fake_discord, env)
    stream = Stream.of(fake_discord)
    try:
        await fake_discord.wait_for(lambda: fake_discord.calls("PUT", r".*/commands"))
        await wait_health(int(env["KINDRED__OPS__HTTP_PORT"]), lambda b: b["status"] == "ok", "ok at start")
        await stream.round()
        # Now slow the replies down and catch every person mid-reply.
        openai_server.configure(MODEL, chunk_chars=2, chunk_delay_s=0.3)
        in_flight = [await stream.send(user) for user in stream.people]

        def streaming(sent: Sent) -> bool:
            return any(
                f"Reply {sent.tag}.".startswith(m.content) and m.content
                for m in fake_discord.bot_messages_in(sent.channel)
            )

        await fake_discord.wait_for(lambda: all(streaming(s) for s in in_flight) or None)
        proc.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == EXIT_OK, stderr.decode(errors="replace")[-3000:]
    for sent in in_flight:
        assert f"Reply {sent.tag}." in [m.content for m in fake_discord.bot_messages_in(sent.channel)]
        sent.answered = sent.replied = True

    openai_server.configure(MODEL, chunk_chars=4, chunk_delay_s=0.0)
    settings = make_settings(data_dir, openai_server)
    async with running(settings, fake_discord):
        await stream.round()
        book = await settled(settings.storage.sql_url(), stream)
    check_invariants(book, stream)
    assert all(script.extractions[s.tag] == 1 for s in stream.sent), script.extractions
