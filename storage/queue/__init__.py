"""The durable job queue: the SQL outbox always, with Redis Streams dispatch when Redis is configured."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncEngine

from storage.config import StorageSettings
from storage.queue.base import (
    DeadJob,
    Job,
    JobError,
    JobQueue,
    NewJob,
    QueueStats,
    QueueUnavailable,
    RetryLater,
    backoff_s,
    describe_error,
)
from storage.queue.outbox import OutboxQueue, job_key

if TYPE_CHECKING:
    from storage.queue.streams import StreamQueue

__all__ = [
    "DeadJob",
    "Job",
    "JobError",
    "JobQueue",
    "NewJob",
    "OutboxQueue",
    "QueueStats",
    "QueueUnavailable",
    "RetryLater",
    "StreamQueue",
    "backoff_s",
    "describe_error",
    "job_key",
    "make_queue",
    "queue_backend",
]


def __getattr__(name: str) -> Any:
    # Redis Streams (and the Redis client) only for a Redis queue; the SQL outbox needs neither.
    if name == "StreamQueue":
        from storage.queue.streams import StreamQueue

        return StreamQueue
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def queue_backend(settings: StorageSettings) -> str:
    """Return "redis" or "sql": what ``queue.backend`` means with this cache configuration."""
    if settings.queue.backend == "auto":
        return "redis" if settings.cache.backend == "redis" else "sql"
    return settings.queue.backend


def make_queue(settings: StorageSettings, engine: AsyncEngine) -> OutboxQueue | StreamQueue:
    """Build the configured queue over ``engine`` (and the cache's Redis, in Redis mode)."""
    outbox = OutboxQueue(engine, settings.queue)
    if queue_backend(settings) == "sql":
        return outbox
    from storage.queue.streams import StreamQueue

    return StreamQueue(
        outbox,
        settings.cache.redis_url,
        settings.queue,
        key_prefix=settings.cache.key_prefix,
        reconnect_interval_s=settings.cache.reconnect_interval_s,
    )
