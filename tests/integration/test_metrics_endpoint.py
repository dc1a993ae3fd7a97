"""/metrics on the ops endpoint: prometheus-client's own parser reads it, and a turn shows up in it."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from bot.app import Kindred
from bot.config import BotSettings, OpsSettings, Settings
from bot.metrics import REGISTRY
from bot.pipeline.message import IncomingMessage
from bot.platforms.console import ConsoleSink
from storage.config import CacheSettings
from storage.scope import Scope
from tests.conftest import RedisProcess, free_port
from tests.e2e.harness import make_settings
from tests.fakes.openai_api import FakeOpenAI

EXPECTED_FAMILIES = {
    "kindred_turns",
    "kindred_reply_latency_seconds",
    "kindred_reply_overhead_seconds",
    "kindred_llm_latency_seconds",
    "kindred_llm_tokens",
    "kindred_llm_errors",
    "kindred_cache_hit_ratio",
    "kindred_cache_lookups",
    "kindred_queue_depth",
    "kindred_queue_in_flight",
    "kindred_queue_dead_letters",
    "kindred_queue_lag_seconds",
    "kindred_job_duration_seconds",
    "kindred_job_failures",
    "kindred_sql_pool_usage_ratio",
    "kindred_crisis_events",
    "kindred_errors",
    "kindred_tier_up",
}


async def scrape(port: int) -> dict[str, list[Sample]]:
    """Fetch /metrics and parse it with prometheus-client's parser; return samples by family name."""
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def value(samples: list[Sample], name: str, **labels: str) -> float:
    """Return the sum of the samples called ``name`` whose labels include ``labels``."""
    return sum(s.value for s in samples if s.name == name and labels.items() <= s.labels.items())


def ops_settings(tmp_path: Path, openai: FakeOpenAI) -> Settings:
    """Settings for Kindred on the fake model server with the ops endpoint on a free port."""
    settings = make_settings(tmp_path / "data", openai)
    settings.ops = OpsSettings(http_enabled=True, http_port=free_port())
    settings.bot = BotSettings(cogs=["cogs.conversation"])  # only what these tests exercise
    return settings


@pytest.fixture
async def kindred(tmp_path: Path, openai_server: FakeOpenAI) -> AsyncIterator[Kindred]:
    openai_server.configure("chat-a", reply="Glad you asked, here is my answer.")
    app = await Kindred.start(ops_settings(tmp_path, openai_server))
    try:
        yield app
    finally:
        await app.close()


async def one_turn(app: Kindred, text: str, user: str = "sam") -> str:
    scope = Scope(user_id=user, guild_id=None, channel_id="console", platform="console")
    message = IncomingMessage(f"m-{time.monotonic_ns()}", scope, user, text, datetime.now(UTC))
    out = io.StringIO()
    outcome = await app.pipeline.handle(message, ConsoleSink(out, "Kindred"))
    assert outcome.status == "replied"
    return outcome.reply


async def test_metrics_parse_and_carry_every_family(kindred: Kindred) -> None:
    families = await scrape(kindred.settings.ops.http_port)
    assert set(families) >= EXPECTED_FAMILIES


async def test_a_turn_is_counted_timed_and_attributed_to_its_model(kindred: Kindred) -> None:
    port = kindred.settings.ops.http_port
    before = await scrape(port)
    await one_turn(kindred, "how are the tomatoes doing?")
    after = await scrape(port)

    def delta(family: str, name: str, **labels: str) -> float:
        return value(after[family], name, **labels) - value(before.get(family, []), name, **labels)

    assert delta("kindred_turns", "kindred_turns_total", outcome="replied") == 1
    assert delta("kindred_reply_latency_seconds", "kindred_reply_latency_seconds_count") == 1
    assert delta("kindred_reply_overhead_seconds", "kindred_reply_overhead_seconds_count") == 1
    assert delta("kindred_llm_latency_seconds", "kindred_llm_latency_seconds_count", model="chat-a") >= 1
    assert delta("kindred_llm_tokens", "kindred_llm_tokens_total", model="chat-a", direction="out") > 0
    # The turn was written to SQL, which the gauges and the tier series report as up.
    assert value(after["kindred_tier_up"], "kindred_tier_up", tier="sql") == 1.0
    assert 0.0 <= value(after["kindred_sql_pool_usage_ratio"], "kindred_sql_pool_usage_ratio") <= 1.0
    assert 0.0 <= value(after["kindred_cache_hit_ratio"], "kindred_cache_hit_ratio") <= 1.0


async def test_reflection_jobs_report_their_durations(kindred: Kindred) -> None:
    port = kindred.settings.ops.http_port
    before = value(
        (await scrape(port)).get("kindred_job_duration_seconds", []), "kindred_job_duration_seconds_count"
    )
    await one_turn(kindred, "my cat is called Biscuit")
    deadline = time.monotonic() + 30
    while True:
        families = await scrape(port)
        if value(families["kindred_job_duration_seconds"], "kindred_job_duration_seconds_count") > before:
            break
        assert time.monotonic() < deadline, "no background job finished after the turn"
        await asyncio.sleep(0.1)
    assert value(families["kindred_queue_dead_letters"], "kindred_queue_dead_letters") == 0


async def test_metrics_report_a_stopped_redis_as_a_degraded_cache(
    tmp_path: Path, openai_server: FakeOpenAI, redis_process: RedisProcess
) -> None:
    settings = ops_settings(tmp_path, openai_server)
    settings.storage.cache = CacheSettings(
        backend="redis", redis_url=redis_process.url, reconnect_interval_s=0.1
    )
    app = await Kindred.start(settings)
    try:
        port = settings.ops.http_port
        assert value((await scrape(port))["kindred_tier_up"], "kindred_tier_up", tier="cache") == 1.0
        redis_process.stop()
        await app.storage.cache.get("anything")  # the next use notices the outage
        assert value((await scrape(port))["kindred_tier_up"], "kindred_tier_up", tier="cache") == 0.5
    finally:
        await app.close()


def test_every_metric_name_is_unique_to_kindred() -> None:
    # Everything in the registry is ours: the process and platform collectors are not registered there.
    names = {metric.name for metric in REGISTRY.collect()}
    assert names and all(name.startswith("kindred_") for name in names)
