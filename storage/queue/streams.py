"""Redis Streams dispatch over the SQL outbox.

The outbox row stays the durable record (this deployment's Redis may keep nothing on disk); the stream
only carries job ids to a consumer group so workers learn of new jobs at once. Every delivery is claimed
in SQL before it runs, so a duplicate or stale entry is acknowledged and skipped. Entries a dead consumer
held are taken over with XAUTOCLAIM; jobs a restarted Redis forgot are re-sent by ``redrive_stuck``.
While Redis is unreachable, workers claim from SQL directly and enqueue skips the stream.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, cast

from redis import exceptions as redis_errors
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from storage.cache.redis import POOL_SIZE, POOL_WAIT_S
from storage.config import QueueSettings
from storage.queue.base import DeadJob, EnqueuesOne, Job, NewJob, QueueStats
from storage.queue.outbox import RUNNING, SWEEP_LIMIT, OutboxQueue
from storage.sql.models import utcnow

log = logging.getLogger(__name__)

_REDIS_DOWN = (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError)

# Moves due retries from the delay set to the stream in one step, so two workers never both send one.
_PROMOTE_LUA = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(due) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('XADD', KEYS[2], '*', 'id', id)
end
return #due
"""

_PROMOTE_BATCH = 500


class StreamQueue(EnqueuesOne):
    """The job queue on Redis Streams with a consumer group, backed by the SQL outbox."""

    backend = "redis"

    def __init__(
        self,
        outbox: OutboxQueue,
        redis_url: str,
        settings: QueueSettings,
        *,
        key_prefix: str = "kindred:",
        reconnect_interval_s: float = 5.0,
    ) -> None:
        self.settings = settings
        self.outbox = outbox
        self.stream = f"{key_prefix}{settings.stream}"
        self.delayed = f"{self.stream}:delayed"
        self.group = settings.group
        # A blocking read must outlast its own block time; anything longer means Redis hangs.
        # Blocking pool: a burst waits for a connection rather than failing (see storage.cache.redis).
        pool = BlockingConnectionPool.from_url(
            redis_url,
            max_connections=POOL_SIZE,
            timeout=POOL_WAIT_S,
            decode_responses=True,
            socket_connect_timeout=1.0,
            socket_timeout=settings.poll_interval_s + 2.0,
            retry=Retry(NoBackoff(), 1, (redis_errors.ConnectionError,)),
        )
        self._client: Redis = Redis.from_pool(pool)
        self._promote = self._client.register_script(_PROMOTE_LUA)
        self._reconnect_s = reconnect_interval_s
        self._down_since: float | None = None
        self._next_probe = 0.0
        self._group_ready = False
        self._needs_redrive = False
        self._autoclaim_cursor = "0-0"
        self._next_autoclaim = 0.0
        self.skipped_dispatches = 0
        self.outages = 0

    # ------------------------------------------------------------ Redis state

    @property
    def redis_up(self) -> bool:
        """Return whether the stream is in use (False while Redis is unreachable)."""
        return self._down_since is None

    def _try_redis(self) -> bool:
        return self._down_since is None or time.monotonic() >= self._next_probe

    def _went_down(self, exc: BaseException) -> None:
        now = time.monotonic()
        self._next_probe = now + self._reconnect_s
        if self._down_since is None:
            self._down_since = now
            self.outages += 1
            log.warning("Redis stream unreachable (%s); jobs are dispatched from SQL until it returns", exc)

    def _came_up(self) -> None:
        if self._down_since is None:
            return
        log.warning("Redis stream reachable again after %.0fs", time.monotonic() - self._down_since)
        self._down_since = None
        # Redis may have restarted empty: recreate the group and re-send what it may have lost.
        self._group_ready = False
        self._needs_redrive = True

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            # From the start of the stream: entries added before the group existed are jobs too.
            await self._client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis_errors.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def _dispatch(self, ids: Iterable[int]) -> None:
        """Send job ids to the stream; while Redis is away, leave them to the SQL side."""
        ids = list(ids)
        if not ids:
            return
        if not self._try_redis():
            self.skipped_dispatches += len(ids)
            return
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for job_id in ids:
                    pipe.xadd(self.stream, {"id": str(job_id)})
                await pipe.execute()
        except _REDIS_DOWN as exc:
            self.skipped_dispatches += len(ids)
            self._went_down(exc)
            return
        self._came_up()

    async def _schedule(self, retries: Sequence[tuple[int, datetime]]) -> None:
        if not retries or not self._try_redis():
            return
        try:
            await self._client.zadd(self.delayed, {str(i): at.timestamp() for i, at in retries})
        except _REDIS_DOWN as exc:
            # The sweep re-sends them once they have waited past their retry time.
            self._went_down(exc)

    async def _ack(self, receipts: Iterable[str]) -> None:
        receipts = list(receipts)
        if not receipts or not self._try_redis():
            return
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.xack(self.stream, self.group, *receipts)
                # Acknowledged entries are never read again; deleting them keeps the stream at the backlog.
                pipe.xdel(self.stream, *receipts)
                await pipe.execute()
        except _REDIS_DOWN as exc:
            # Left pending: XAUTOCLAIM hands them out later, the outbox says done, and they are acked then.
            self._went_down(exc)
        except redis_errors.ResponseError as exc:
            # NOGROUP: Redis restarted and these entries went with it.
            log.debug("acknowledging stream entries failed: %s", exc)

    # ------------------------------------------------------------ the contract

    async def enqueue_many(self, jobs: Sequence[NewJob], *, user_id: int | None = None) -> list[bool]:
        """Record the jobs in the outbox in one write, then send the new ones' ids to the stream."""
        ids = await self.outbox.insert(jobs, user_id=user_id)
        made = [i for i in ids if i is not None]
        if made:
            await self._dispatch(made)
        return [i is not None for i in ids]

    async def claim(self, consumer: str, limit: int, wait_s: float = 0.0) -> list[Job]:
        """Claim the jobs the consumer group delivers; claim from SQL directly while Redis is away."""
        if self._try_redis():
            try:
                entries = await self._read(consumer, limit, wait_s)
            except _REDIS_DOWN as exc:
                self._went_down(exc)
            else:
                self._came_up()
                return await self._claim_entries(consumer, entries)
        return await self.outbox.claim(consumer, limit, wait_s)

    async def _read(
        self, consumer: str, limit: int, wait_s: float
    ) -> list[tuple[str, dict[str, str] | None, bool]]:
        """Return (entry id, fields, taken over from a dead consumer) for up to ``limit`` deliveries."""
        if self._needs_redrive:
            self._needs_redrive = False
            await self.redrive_stuck(older_than_s=0.0)
        await self._ensure_group()
        await self._promote(keys=[self.delayed, self.stream], args=[repr(time.time()), _PROMOTE_BATCH])
        out: list[tuple[str, dict[str, str] | None, bool]] = []
        now = time.monotonic()
        if now >= self._next_autoclaim:
            self._next_autoclaim = now + max(self.settings.lease_s / 4, 0.2)
            try:
                result = await self._client.xautoclaim(
                    self.stream,
                    self.group,
                    consumer,
                    min_idle_time=int(self.settings.lease_s * 1000),
                    start_id=self._autoclaim_cursor,
                    count=limit,
                )
            except redis_errors.ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                self._lost_group()
                return []
            self._autoclaim_cursor = result[0]
            out += [(entry_id, fields, True) for entry_id, fields in result[1]]
        if len(out) >= limit:
            return out
        try:
            reply = await self._client.xreadgroup(
                self.group,
                consumer,
                {self.stream: ">"},
                count=limit - len(out),
                # BLOCK 0 would wait forever; no BLOCK returns at once. The socket timeout allows a poll.
                block=max(int(min(wait_s, self.settings.poll_interval_s) * 1000), 1)
                if wait_s > 0 and not out
                else None,
            )
        except redis_errors.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self._lost_group()
            return out
        # decode_responses=True: [[stream, [(entry id, fields), ...]]]; the stubs cannot know that.
        streams = cast(list[tuple[str, list[tuple[str, dict[str, str] | None]]]], reply or [])
        for _stream, items in streams:
            out += [(entry_id, fields, False) for entry_id, fields in items]
        return out

    def _lost_group(self) -> None:
        # The stream or its group vanished: Redis restarted without its data.
        log.warning(
            "the job stream's consumer group is gone (Redis restarted?); recreating it and re-sending jobs"
        )
        self._group_ready = False
        self._needs_redrive = True
        self._autoclaim_cursor = "0-0"

    async def _claim_entries(
        self, consumer: str, entries: list[tuple[str, dict[str, str] | None, bool]]
    ) -> list[Job]:
        receipts: dict[int, list[str]] = {}
        taken_over: set[int] = set()
        stray: list[str] = []
        for entry_id, fields, reclaimed in entries:
            raw = (fields or {}).get("id", "")
            if not raw.isdigit():
                stray.append(entry_id)  # deleted under us, or not ours to read
                continue
            receipts.setdefault(int(raw), []).append(entry_id)
            if reclaimed:
                taken_over.add(int(raw))
        jobs = await self.outbox.claim_ids(consumer, list(receipts))
        claimed = {j.id for j in jobs}
        unclaimed = [i for i in receipts if i not in claimed]
        keep: set[int] = set()
        if taken_over.intersection(unclaimed):
            # A stalled consumer's entry whose SQL lease has not quite lapsed: keep it pending here, so it is
            # taken over again later rather than lost if that consumer really is dead.
            now = utcnow()
            for job_id, (status, until) in (await self.outbox.leases(list(taken_over))).items():
                if status == RUNNING and until is not None and until >= now and job_id in unclaimed:
                    keep.add(job_id)
        # Done, dead, purged, scheduled for a retry, or held by a live worker: this delivery is not needed.
        stray += [e for i in unclaimed if i not in keep for e in receipts[i]]
        await self._ack(stray)
        return [replace(j, receipts=tuple(receipts[j.id])) for j in jobs]

    async def complete(self, consumer: str, jobs: Sequence[Job]) -> None:
        """Mark jobs done in SQL, then acknowledge their deliveries."""
        await self.outbox.complete(consumer, jobs)
        await self._ack(r for j in jobs for r in j.receipts)

    async def fail(self, consumer: str, jobs: Sequence[Job], error: str) -> None:
        """Count a failed attempt; a retry waits in the delay set until its time comes."""
        retries = await self.outbox.record_failures(consumer, jobs, error)
        await self._schedule(retries)
        await self._ack(r for j in jobs for r in j.receipts)

    async def release(
        self, consumer: str, jobs: Sequence[Job], *, delay_s: float = 0.0, error: str | None = None
    ) -> None:
        """Hand jobs back unrun with a fresh delivery (now, or after ``delay_s``)."""
        released = await self.outbox.release_rows(consumer, jobs, delay_s=delay_s, error=error)
        if delay_s > 0:
            at = utcnow() + timedelta(seconds=delay_s)
            await self._schedule([(i, at) for i in released])
        else:
            await self._dispatch(released)
        await self._ack(r for j in jobs for r in j.receipts)

    async def extend(self, consumer: str, jobs: Sequence[Job]) -> None:
        """Renew the SQL lease and reset the deliveries' idle time, so XAUTOCLAIM leaves them alone."""
        await self.outbox.extend(consumer, jobs)
        receipts: list[Any] = [r for j in jobs for r in j.receipts]
        if not receipts or not self._try_redis():
            return
        try:
            await self._client.xclaim(self.stream, self.group, consumer, 0, receipts, justid=True)
        except _REDIS_DOWN as exc:
            self._went_down(exc)
        except redis_errors.ResponseError as exc:
            log.debug("renewing stream deliveries failed: %s", exc)

    async def retry_dead(self, job_type: str | None = None) -> int:
        """Send dead jobs back with fresh attempts and dispatch them; return how many."""
        ids = await self.outbox.retry_dead_ids(job_type)
        await self._dispatch(ids)
        return len(ids)

    async def dead_letters(self, limit: int = 50) -> list[DeadJob]:
        """Return the newest dead jobs with their errors."""
        return await self.outbox.dead_letters(limit)

    async def redrive_stuck(self, now: datetime | None = None, older_than_s: float | None = None) -> int:
        """Release expired leases and re-send every job left pending too long (Redis may have lost it)."""
        now = now or utcnow()
        wait = self.settings.redrive_after_s if older_than_s is None else older_than_s
        released = await self.outbox.release_expired(now)
        stale: list[int] = []
        while True:
            batch = await self.outbox.stale_pending(now, wait, SWEEP_LIMIT)
            stale += batch
            if len(batch) < SWEEP_LIMIT:
                break
        ids = sorted(set(released) | set(stale))
        if stale:
            log.info("re-sent %s jobs the stream may have lost", len(stale))
        await self._dispatch(ids)
        return len(ids)

    async def prune_done(self, now: datetime | None = None) -> int:
        """Delete finished jobs older than the retention; return how many."""
        return await self.outbox.prune_done(now)

    async def purge_user(self, user_id: int) -> int:
        """Delete every job of one person; their stream entries are skipped when delivered."""
        return await self.outbox.purge_user(user_id)

    async def stats(self) -> QueueStats:
        """Return the outbox figures plus the stream's length, deliveries in flight and delayed retries."""
        base = await self.outbox.stats()
        extra: dict[str, Any] = {
            "redis": "ok" if self.redis_up else "unreachable",
            "skipped_dispatches": self.skipped_dispatches,
            "outages": self.outages,
        }
        if self._try_redis():
            try:
                async with self._client.pipeline(transaction=False) as pipe:
                    pipe.xlen(self.stream)
                    pipe.zcard(self.delayed)
                    pipe.xinfo_groups(self.stream)
                    length, delayed, groups = await pipe.execute(raise_on_error=False)
            except _REDIS_DOWN as exc:
                self._went_down(exc)
                extra["redis"] = "unreachable"
            else:
                self._came_up()
                extra["stream_length"] = length if isinstance(length, int) else 0
                extra["delayed"] = delayed if isinstance(delayed, int) else 0
                group = (
                    next((g for g in groups if g.get("name") == self.group), None)
                    if isinstance(groups, list)
                    else None
                )
                extra["stream_pending"] = int(group["pending"]) if group else 0
                extra["consumers"] = int(group["consumers"]) if group else 0
        return replace(base, backend=self.backend, extra=extra)

    async def close(self) -> None:
        """Close the Redis connection pool."""
        try:
            await self._client.aclose()
        except (redis_errors.RedisError, OSError) as exc:
            log.debug("closing the Redis client failed: %s", exc)
