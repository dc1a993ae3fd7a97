"""Redis (cache, rate limits, locks and the job stream) is killed while people talk, then started again.

The server is a private redis-server on its own port (never the shared one). The in-process cache stands
in while Redis is away and the SQL outbox, which is the durable record of every job, keeps the queue going.
"""

from __future__ import annotations

import signal
from pathlib import Path

from storage.config import CacheSettings
from tests.conftest import RedisProcess
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.openai_api import FakeOpenAI
from tests.faults.harness import (
    MODEL,
    Script,
    Stream,
    check_invariants,
    make_settings,
    part,
    running,
    settled,
    wait_health,
)


def kill(server: RedisProcess) -> None:
    """SIGKILL the private redis-server: no shutdown, connections just die."""
    assert server.proc is not None
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(timeout=10)
    server.proc = None


async def test_redis_killed_and_restarted_loses_no_turn_and_no_job(
    tmp_path: Path, fake_discord: FakeDiscord, openai_server: FakeOpenAI, redis_process: RedisProcess
) -> None:
    script = Script()
    openai_server.configure(MODEL, reply=script)
    cache = CacheSettings(
        backend="redis", redis_url=redis_process.url, key_prefix="faults:", reconnect_interval_s=0.2
    )
    settings = make_settings(tmp_path / "data", openai_server, storage={"cache": cache})
    assert settings.storage.queue.backend == "auto"  # Redis Streams dispatch over the SQL outbox
    stream = Stream.of(fake_discord)
    async with running(settings, fake_discord) as app:
        port = settings.ops.http_port
        body = await wait_health(port, lambda b: b["status"] == "ok", "ok at start")
        assert part(body, "cache")["backend"] == "redis"
        await stream.round()
        kill(redis_process)
        await stream.round()  # the bot keeps answering on the in-process cache
        body = await wait_health(
            port, lambda b: part(b, "cache")["status"] == "degraded", "the cache part degraded"
        )
        assert (body["status"], body["http"]) == ("degraded", 200)
        await stream.round()
        redis_process.start()
        await wait_health(port, lambda b: b["status"] == "ok", "ok again after Redis returned")
        await stream.round()
        book = await settled(settings.storage.sql_url(), stream)
        assert app.storage.jobs.backend == "redis"
    check_invariants(book, stream)
    assert all(script.extractions[s.tag] == 1 for s in stream.sent), script.extractions
