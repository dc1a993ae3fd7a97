"""The periodic jobs: plain async functions over the storage service, callable directly from a test.

Fixed job ids, so a restart or a second process replaces a job instead of adding another copy:

- ``cache_cleanup`` (every minute): expire cache entries, report the cache hit ratio;
- ``reflection_sweep`` (every 5 minutes): close idle sessions (enqueueing their summaries), re-drive
  stuck background jobs;
- ``compression`` (hourly): registered by the compression feature through ``compression_job``;
- ``crystal_formation`` (daily): registered by the crystals feature through ``crystal_formation_job``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from bot.config import SchedulerSettings
from bot.reflection.episodic import enqueue_episodic
from bot.scheduler.runner import ScheduledJob
from storage.service import StorageService

log = logging.getLogger(__name__)

CACHE_CLEANUP = "cache_cleanup"
REFLECTION_SWEEP = "reflection_sweep"
COMPRESSION = "compression"
CRYSTAL_FORMATION = "crystal_formation"

# Off the hour, so the hourly and daily work does not land on the same minute as everyone else's cron.
COMPRESSION_CRON = "17 * * * *"
CRYSTAL_FORMATION_CRON = "40 4 * * *"


async def cache_cleanup(storage: StorageService) -> dict[str, Any]:
    """Drop expired in-process cache entries and report the cache's hit ratio."""
    # Redis expires its own keys; only the in-process cache holds expired entries until someone looks.
    purge = getattr(storage.cache, "purge_expired", None)
    purged = int(purge()) if callable(purge) else None
    stats = storage.cache.stats()
    report = {
        "backend": storage.cache.backend,
        "purged": purged,
        "hits": stats.hits,
        "misses": stats.misses,
        "hit_ratio": round(stats.hit_ratio, 4),
    }
    log.debug("cache cleanup: %s", report)
    return report


async def reflection_sweep(storage: StorageService, session_idle_s: float) -> dict[str, Any]:
    """Close sessions idle for ``session_idle_s`` seconds, enqueue their summaries, re-drive stuck jobs."""
    sessions = await storage.close_idle_sessions_detailed(session_idle_s)
    closed = len(sessions)
    summaries = 0
    for session in sessions:
        try:
            summaries += await enqueue_episodic(storage, session)
        except Exception as exc:
            # The session stays closed either way; only its summary is missed, so the sweep goes on.
            log.warning("could not enqueue a session summary: %s", type(exc).__name__)
    redriven: int | None = None
    # Looked up rather than assumed, so the sweep also runs on a storage service without a job queue.
    redrive = getattr(getattr(storage, "jobs", None), "redrive_stuck", None)
    if callable(redrive):
        redriven = int(await redrive(datetime.now(UTC)))
    report = {"closed_sessions": closed, "summaries_enqueued": summaries, "redriven_jobs": redriven}
    if closed or redriven:
        log.info("reflection sweep: closed %s idle sessions, re-drove %s stuck jobs", closed, redriven or 0)
    return report


def default_jobs(storage: StorageService, settings: SchedulerSettings) -> list[ScheduledJob]:
    """Return the jobs every deployment runs; features add theirs with ``KindredScheduler.register``."""
    return [
        ScheduledJob(
            CACHE_CLEANUP, partial(cache_cleanup, storage), interval_s=settings.cache_cleanup_interval_s
        ),
        ScheduledJob(
            REFLECTION_SWEEP,
            partial(reflection_sweep, storage, settings.session_idle_s),
            interval_s=settings.reflection_sweep_interval_s,
        ),
    ]


def compression_job(func: Callable[[], Awaitable[object]], cron: str = COMPRESSION_CRON) -> ScheduledJob:
    """Return the hourly compression slot filled with ``func``, for the compression feature to register."""
    return ScheduledJob(COMPRESSION, func, cron=cron)


def crystal_formation_job(
    func: Callable[[], Awaitable[object]], cron: str = CRYSTAL_FORMATION_CRON
) -> ScheduledJob:
    """Return the daily crystal-formation slot filled with ``func``, for the crystals feature to register."""
    return ScheduledJob(CRYSTAL_FORMATION, func, cron=cron)
