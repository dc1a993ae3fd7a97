"""The composition root: the one place that builds settings, storage, the LLM router and the pipeline."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from typing import Any

from bot.config import DiscordSettings, Settings, require_secret
from bot.errors import EXIT_CONFIG, EXIT_OK, ConfigError
from bot.features import FeatureHost, load_features
from bot.llm import LLMRouter
from bot.llm.health import llm_health
from bot.ops.alerts import AlertMonitor
from bot.ops.gauges import GaugeRefresher
from bot.ops.http import OpsServer
from bot.pipeline.pipeline import Pipeline
from bot.reflection import Reflection, register_reflection
from bot.scheduler import KindredScheduler, compression_job
from bot.scheduler.compression import CompressionRunner, MemoryBudget, storage_caches
from bot.scheduler.jobs import default_jobs
from bot.worker import ProcessorRegistry, Worker
from storage.health import Status, TierHealth
from storage.service import StorageService

log = logging.getLogger(__name__)

NO_LLM = (
    "no language model is configured: set OPENAI_API_KEY (for OpenAI), or llm.base_url / OPENAI_BASE_URL for "
    "any OpenAI-compatible server, e.g. http://localhost:11434/v1 for Ollama (with llm.model)"
)
# How long in-flight replies get to finish on SIGTERM before the process exits anyway.
SHUTDOWN_GRACE_S = 20.0
# discord.py holds on_ready back until no GUILD_CREATE has arrived for this long; its default, 2 s, was half
# of a cold start. Messages are answered as they arrive whether on_ready has fired or not (it only marks the
# gateway connected for health), a guild streaming in later is still cached, and nothing in Kindred waits
# for guild_available, so the short wait loses nothing. Discord sends a small bot's guilds in one burst
# right after READY.
GUILD_STREAM_IDLE_S = 0.25


def build_router(settings: Settings) -> LLMRouter:
    """Return the LLM router, or raise ConfigError saying exactly what to set."""
    if not settings.llm.chain():
        raise ConfigError(NO_LLM)
    return LLMRouter.from_settings(settings.llm)


async def open_router_and_storage(settings: Settings) -> tuple[LLMRouter, StorageService]:
    """Build the router on a thread while storage opens; if either fails, close the other and raise."""
    # The router's HTTPS clients read the CA bundle, which OpenSSL does without holding the GIL, while
    # storage mostly waits on SQLite's thread and the embedder's files: side by side, the two overlap.
    router = asyncio.ensure_future(asyncio.to_thread(build_router, settings))
    try:
        storage = await StorageService.open(settings.storage)
    except BaseException:
        with contextlib.suppress(Exception):  # storage's error is the one to report
            await (await router).close()
        raise
    try:
        llm = await router
    except BaseException:
        await storage.close()
        raise
    return llm, storage


def build_reflection(
    settings: Settings, storage: StorageService, llm: LLMRouter | None
) -> tuple[ProcessorRegistry, Reflection]:
    """Register every background processor; the bot and a standalone worker use the same set."""
    registry = ProcessorRegistry()
    reflection = register_reflection(
        registry, storage, llm, settings.reflection, bot_name=settings.persona.name
    )
    return registry, reflection


def worker_registry(settings: Settings, storage: StorageService, llm: LLMRouter | None) -> ProcessorRegistry:
    """Return the processors of a standalone worker: reflection's and every configured feature's."""
    registry, _ = build_reflection(settings, storage, llm)
    load_features(FeatureHost(settings, storage, llm, registry))
    return registry


class Kindred:
    """Everything a running Kindred holds: settings, storage, LLM router, pipeline and ops endpoint."""

    def __init__(self, settings: Settings, storage: StorageService, llm: LLMRouter) -> None:
        self.settings = settings
        self.storage = storage
        self.llm = llm
        self.pipeline = Pipeline(storage, llm, settings)
        self.registry, self.reflection = build_reflection(settings, storage, llm)
        self.pipeline.after_turn.append(self.reflection.enqueue_reflection)
        # The worker runs here by default; `kindred worker` processes can share the queue as well.
        queue = settings.storage.queue
        self.worker = Worker(storage.jobs, self.registry, queue) if queue.in_process else None
        self.scheduler = KindredScheduler(
            storage, settings.scheduler, default_jobs(storage, settings.scheduler)
        )
        # Compression runs hourly under the scheduler lease, and early when the memory budget is tight.
        self.compression = CompressionRunner(storage, llm, may_run_early=lambda: self.scheduler.is_leader)
        self.scheduler.register(compression_job(self.compression))
        self.memory_budget = MemoryBudget.from_settings(
            settings.storage.compression, storage_caches(storage), self.compression.early
        )
        # State gauges are read on demand (a scrape, an alert check), never on a turn's path.
        self.gauges = GaugeRefresher(storage)
        self.alerts = AlertMonitor(
            settings.ops.alerts,
            self.gauges,
            self.health,
            claim=lambda key, ttl_s: storage.first_time("alert", key, ttl_s),
        )
        # Last, so a feature sees the whole runtime: its providers, processors, jobs and console commands.
        self.features = FeatureHost(
            settings, storage, llm, self.registry, pipeline=self.pipeline, scheduler=self.scheduler
        )
        self.features.services["alerts"] = self.alerts  # AlertMonitor.post(text) tells the admins
        self.features.services["reflection"] = self.reflection  # the admin feature's "reflection" flag
        load_features(self.features)
        self.gateway_connected = False
        self._ops: OpsServer | None = None

    @classmethod
    async def start(cls, settings: Settings, *, ops: bool | None = None) -> Kindred:
        """Open storage, build the router and pipeline, and start the ops endpoint."""
        if not settings.llm.chain():  # the common configuration error, reported before storage is touched
            raise ConfigError(NO_LLM)
        llm, storage = await open_router_and_storage(settings)
        app = cls(settings, storage, llm)
        if app.worker is not None:
            app.worker.start()
        await app.scheduler.start()
        app.memory_budget.start()
        if settings.ops.http_enabled if ops is None else ops:
            app._ops = OpsServer(
                settings.ops.http_host, settings.ops.http_port, app.health, app.gauges.refresh
            )
            await app._ops.start()
        if ops is not False:  # the console (ops=False) is one person at a terminal: nobody to alert
            app.alerts.start()
        storage.warm()
        return app

    async def _settle_queue(self, timeout_s: float) -> None:
        # Work the last turns just queued (indexing what was said) is finished before the process goes,
        # within a bounded wait; anything left stays queued for the next worker, never lost.
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            stats = await self.storage.jobs.stats()
            if stats.ready == 0 and stats.in_flight == 0:
                return
            await asyncio.sleep(0.1)

    async def health(self) -> list[TierHealth]:
        """Report the storage tiers and the Discord gateway."""
        parts = await self.storage.health()
        parts.append(
            TierHealth(
                "gateway",
                "discord",
                Status.OK if self.gateway_connected else Status.DEGRADED,
                detail="connected" if self.gateway_connected else "not connected",
            )
        )
        parts.append(llm_health(self.llm.snapshot()))
        held = len(self.pipeline.held)
        if held:
            parts.append(
                TierHealth("turns", "held", Status.DEGRADED, detail=f"{held} messages wait for SQL to return")
            )
        return parts

    async def close(self, grace_s: float = SHUTDOWN_GRACE_S) -> None:
        """Finish in-flight turns (up to ``grace_s``), then close every client."""
        await self.pipeline.drain(grace_s)
        await self.alerts.stop()
        await self.memory_budget.stop()
        await self.scheduler.shutdown()
        if self.worker is not None:
            await self._settle_queue(self.settings.storage.queue.stop_grace_s)
            await self.worker.stop()  # finishes the job in hand within the queue's grace, or hands it back
        if self._ops is not None:
            await self._ops.stop()
        await self.llm.close()
        await self.storage.close()


def shard_options(discord_settings: DiscordSettings) -> dict[str, int]:
    """Return discord.py's shard_id/shard_count options, or raise ConfigError for half a shard setting."""
    count, shard = discord_settings.shard_count, discord_settings.shard_id
    if count is None and shard is None:
        return {}
    if count is None or shard is None:
        raise ConfigError("discord.shard_count and discord.shard_id must be set together")
    if shard >= count:
        raise ConfigError(f"discord.shard_id must be below discord.shard_count ({count})")
    return {"shard_id": shard, "shard_count": count}


async def run_discord(settings: Settings, **client_options: Any) -> int:
    """Run the Discord bot until SIGTERM/SIGINT; return the process exit code."""
    import discord

    from bot.platforms.discord import KindredBot

    token = require_secret(settings.discord.token, "discord.token")
    client_options = {
        "guild_ready_timeout": GUILD_STREAM_IDLE_S,
        **shard_options(settings.discord),
        **client_options,
    }
    app = await Kindred.start(settings)
    bot = KindredBot(app, **client_options)
    loop = asyncio.get_running_loop()

    stopping: list[asyncio.Task[None]] = []  # held here: the loop keeps only a weak reference to tasks

    async def stop() -> None:
        await app.pipeline.drain(SHUTDOWN_GRACE_S)
        await bot.close()

    def on_signal() -> None:
        if not stopping:  # a second signal while draining changes nothing
            log.info("stopping: finishing in-flight replies, then closing")
            stopping.append(loop.create_task(stop()))

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    try:
        await bot.start(token)
        return EXIT_OK
    except discord.LoginFailure:
        print(
            "kindred: Discord rejected the token (discord.token / DISCORD_TOKEN). Copy a fresh one from the "
            "Developer Portal: your application -> Bot -> Reset Token.",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    except discord.PrivilegedIntentsRequired:
        print(
            "kindred: Discord refused the Message Content intent. Enable it in the Developer Portal: your "
            "application -> Bot -> Privileged Gateway Intents -> MESSAGE CONTENT INTENT.",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    finally:
        if not bot.is_closed():
            await bot.close()
        await app.close()
