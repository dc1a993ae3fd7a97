"""The local HTTP endpoint: ``/healthz`` reports each tier (and the gateway) as ok, degraded or down."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from storage.health import Status, TierHealth

log = logging.getLogger(__name__)

HealthSource = Callable[[], Awaitable[list[TierHealth]]]


def overall(parts: list[TierHealth]) -> Status:
    """Return down if SQL is down, degraded if anything is not ok, else ok."""
    if any(p.status is Status.DOWN and p.tier == "sql" for p in parts):
        return Status.DOWN
    if any(p.status is not Status.OK for p in parts):
        return Status.DEGRADED
    return Status.OK


class OpsServer:
    """A small aiohttp server bound to a local port."""

    def __init__(self, host: str, port: int, health: HealthSource) -> None:
        self.host, self.port = host, port
        self._health = health
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Start listening."""
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        log.info("ops endpoint on http://%s:%s/healthz", self.host, self.port)

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
