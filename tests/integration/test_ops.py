"""The ops endpoint: /healthz follows the tiers, and `kindred healthcheck` reads it."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp

from bot.errors import EXIT_OK, EXIT_UNHEALTHY
from bot.ops.http import OpsServer
from storage.config import CacheSettings, StorageSettings
from storage.service import StorageService
from tests.conftest import RedisProcess, free_port
from tests.integration.test_cli import kindred


async def healthz(port: int) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as response:
        return response.status, json.loads(await response.text())


async def test_healthz_goes_degraded_when_redis_stops_and_back_when_it_returns(
    tmp_path: Path, redis_process: RedisProcess
) -> None:
    settings = StorageSettings(
        data_dir=tmp_path / "data",
        cache=CacheSettings(backend="redis", redis_url=redis_process.url, reconnect_interval_s=0.1),
    )
    storage = await StorageService.open(settings)
    port = free_port()
    ops = OpsServer("127.0.0.1", port, storage.health)
    await ops.start()
    try:
        assert (await healthz(port))[1]["status"] == "ok"
        redis_process.stop()
        await storage.cache.get("anything")  # the next use notices the outage
        status, body = await healthz(port)
        assert (status, body["status"]) == (200, "degraded")
        cache = next(p for p in body["parts"] if p["tier"] == "cache")  # type: ignore[union-attr]
        assert cache["status"] == "degraded"
        result = await asyncio.to_thread(kindred, "healthcheck", env={"KINDRED__OPS__HTTP_PORT": str(port)})
        assert (result.returncode, result.stdout.strip()) == (EXIT_OK, "degraded")
        redis_process.start()
        deadline = time.monotonic() + 20
        while (await healthz(port))[1]["status"] != "ok":
            assert time.monotonic() < deadline, "health did not return to ok after Redis came back"
            await asyncio.sleep(0.1)
    finally:
        await ops.stop()
        await storage.close()


def test_healthcheck_fails_when_nothing_answers() -> None:
    result = kindred("healthcheck", "--timeout", "2", env={"KINDRED__OPS__HTTP_PORT": str(free_port())})
    assert result.returncode == EXIT_UNHEALTHY
    assert "unhealthy" in result.stderr
