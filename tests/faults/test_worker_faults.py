"""A standalone worker (`python -m bot worker`) is killed with SIGKILL in the middle of its batch; a second
worker takes the jobs over once their leases lapse and finishes every one. A killed job may run again
(delivery is at least once), so what is checked is that its effects land once: one done row per job key
and one memory per stated fact."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from tests.fakes.discord_api import FakeDiscord
from tests.fakes.openai_api import FakeOpenAI
from tests.faults.harness import (
    MODEL,
    Script,
    Stream,
    check_invariants,
    eventually,
    is_extraction,
    make_settings,
    running,
    settled,
)

REPO = Path(__file__).resolve().parents[2]


def worker_env(data_dir: Path, openai: FakeOpenAI) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("KINDRED")}
    return {
        **base,
        "OPENAI_BASE_URL": openai.base_url,
        "OPENAI_API_KEY": "test",
        "KINDRED__LLM__MODEL": MODEL,
        "KINDRED__STORAGE__DATA_DIR": str(data_dir),
        "KINDRED__STORAGE__QUEUE__LEASE_S": "3",
        "KINDRED__STORAGE__QUEUE__POLL_INTERVAL_S": "0.1",
        "KINDRED__STORAGE__QUEUE__SWEEP_INTERVAL_S": "0.5",
        "KINDRED__OPS__HTTP_ENABLED": "false",
        "HF_HUB_OFFLINE": "1",
    }


async def start_worker(data_dir: Path, openai: FakeOpenAI) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "worker",
        cwd=REPO,
        env=worker_env(data_dir, openai),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def test_a_worker_killed_mid_batch_leaves_its_jobs_to_another_which_finishes_each_once(
    tmp_path: Path, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    script = Script()
    # Every model call takes 0.3 s, so the worker is caught with extractions in flight.
    openai_server.configure(MODEL, reply=script, latency_s=0.3)
    data_dir = tmp_path / "data"
    settings = make_settings(data_dir, openai_server, queue={"in_process": False})
    stream = Stream.of(fake_discord)
    first = second = None
    try:
        async with running(settings, fake_discord):
            first = await start_worker(data_dir, openai_server)
            await stream.round()

            def extracting() -> bool:
                return (
                    any(is_extraction(r) for r in openai_server.requests)
                    and openai_server.active_requests > 0
                )

            await eventually(extracting, "the first worker starting on an extraction")
            first.send_signal(signal.SIGKILL)
            assert await first.wait() == -signal.SIGKILL
            await stream.round()  # the bot never depended on the worker to answer
            second = await start_worker(data_dir, openai_server)
            book = await settled(settings.storage.sql_url(), stream)
    finally:
        for proc in (first, second):
            if proc is not None and proc.returncode is None:
                proc.terminate()
                await proc.wait()
    check_invariants(book, stream)
    assert all(script.extractions[s.tag] >= 1 for s in stream.sent)
