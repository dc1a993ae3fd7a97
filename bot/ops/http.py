"""The local HTTP endpoint: ``/healthz`` reports each tier (and the gateway) as ok, degraded or down;
``/metrics`` serves the Prometheus registry."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.metrics import REGISTRY
from storage.health import Status, TierHealth

log = logging.getLogger(__name__)

HealthSource = Callable[[], Awaitable[list[TierHealth]]]
# Brings the state gauges up to date before a scrape (given the health already gathered for it).
MetricsRefresh = Callable[[list[TierHealth]], Awaitable[object]]


def overall(parts: list[TierHealth]) -> Status:
    """Return down if SQL is down, degraded if anything is not ok, else ok."""
    if any(p.status is Status.DOWN and p.tier == "sql" for p in parts):
        return Status.DOWN
    if any(p.status is not Status.OK for p in parts):
        return Status.DEGRADED
    return Status.OK


class OpsServer:
    """A small aiohttp server bound to a local port."""

    def __init__(
        self, host: str, port: int, health: HealthSource, refresh: MetricsRefresh | None = None
    ) -> None:
        self.host, self.port = host, port
        self._health = health
        self._refresh = refresh
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Start listening."""
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        log.info("ops endpoint on http://%s:%s (/healthz, /metrics)", self.host, self.port)

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, _request: web.Request) -> web.Response:
        parts = await self._health()
        status = overall(parts)
        body = {
            "status": status.value,
            "parts": [
                {
                    "tier": p.tier,
                    "backend": p.backend,
                    "status": p.status.value,
                    "latency_ms": p.latency_ms,
                    "detail": p.detail,
                }
                for p in parts
            ],
        }
        # 503 only when the bot cannot work at all, so orchestrators don't restart a merely degraded bot.
        return web.Response(
            text=json.dumps(body),
            status=503 if status is Status.DOWN else 200,
            content_type="application/json",
        )

    async def _metrics(self, _request: web.Request) -> web.Response:
        if self._refresh is not None:
            try:
                await self._refresh(await self._health())
            except Exception as exc:  # stale gauges beat no metrics at all while a tier misbehaves
                log.warning("could not refresh the metrics gauges: %s", type(exc).__name__)
        return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})
