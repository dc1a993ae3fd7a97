"""The leader lease: of all Kindred processes sharing a deployment, only its holder runs the periodic jobs.

A holder takes the lease for a TTL and renews it well before the TTL runs out. If it stops renewing (crash,
partition, stalled loop) the lease expires and another process takes it. The holder counts its own lease as
lost from the moment it *started* its last successful renewal plus the TTL, measured on the monotonic clock,
so it stops believing it leads no later than the store lets anyone else in.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from abc import ABC, abstractmethod
from collections.abc import Callable

from storage.cache.base import Cache
from storage.service import StorageService

log = logging.getLogger(__name__)

SCHEDULER_LEASE = "scheduler"
LEASE_KEY_PREFIX = "lease:"


def make_holder_id() -> str:
    """Return an id naming this process, unique even for two leases in one process."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class Lease(ABC):
    """A named lease held for ``ttl_s`` seconds at a time; ``acquire`` both takes and renews it."""

    def __init__(
        self,
        name: str,
        ttl_s: float,
        holder: str | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        self.name = name
        self.ttl_s = ttl_s
        self.holder = holder or make_holder_id()
        self._clock = clock
        self._valid_until = 0.0
        self._failing = False

    @property
    def held(self) -> bool:
        """Return whether this process may act as the leader right now."""
        return self._clock() < self._valid_until

    async def acquire(self) -> bool:
        """Take the lease, or renew it if held; return whether it is held. Store errors count as lost."""
        was_held = self.held
        started = self._clock()
        try:
            won = await self._take()
        except Exception as exc:
            if not self._failing:
                log.warning(
                    "cannot reach the store of lease %r (%s); not leading until it answers", self.name, exc
                )
            self._failing = True
            won = False
        else:
            self._failing = False
        # Counted from before the request: the store's expiry is at least this late, so this process stops
        # leading no later than another may start.
        self._valid_until = started + self.ttl_s if won else 0.0
        if won:
            if not was_held:
                log.info("holding lease %r as %s", self.name, self.holder)
        elif was_held:
            log.warning("lost lease %r; this process stops leading", self.name)
        return won

    async def release(self) -> None:
        """Give the lease up so that another process can take it without waiting for it to expire."""
        was_held = self.held
        self._valid_until = 0.0
        if not was_held:
            return
        try:
            await self._give_up()
        except Exception as exc:
            # It still expires by itself; releasing only shortens the hand-over.
            log.warning("could not release lease %r (%s); it expires in %ss", self.name, exc, self.ttl_s)

    @abstractmethod
    async def _take(self) -> bool: ...

    @abstractmethod
    async def _give_up(self) -> None: ...


class CacheLease(Lease):
    """A lease on the cache's lock (Redis ``SET NX PX`` under the hood)."""

    def __init__(
        self,
        cache: Cache,
        name: str,
        ttl_s: float,
        holder: str | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(name, ttl_s, holder, clock=clock)
        self._cache = cache
        self._key = f"{LEASE_KEY_PREFIX}{name}"
        self._token: str | None = None

    async def _take(self) -> bool:
        if self._token is not None:
            # From here until the new lock is set this process does not hold the lease.
            self._valid_until = 0.0
            # The cache contract has no compare-and-expire, so a renewal is a compare-and-delete of our own
            # lock followed by a fresh NX set. Between the two another process may win: it then leads and we
            # do not, which is a hand-over, never two leaders.
            await self._cache.release_lock(self._key, self._token)
            self._token = None
        token = await self._cache.acquire_lock(self._key, self.ttl_s)
        if token is not None and getattr(self._cache, "degraded", False):
            # Taken in the in-process stand-in while Redis is away: other processes cannot see that lock, so
            # it proves nothing. Better no leader for the outage than one per process.
            await self._cache.release_lock(self._key, token)
            return False
        self._token = token
        return token is not None

    async def _give_up(self) -> None:
        if self._token is not None:
            token, self._token = self._token, None
            await self._cache.release_lock(self._key, token)


class SqlLease(Lease):
    """A lease in the SQL ``app_meta`` table, decided by the database's clock."""

    def __init__(
        self,
        storage: StorageService,
        name: str,
        ttl_s: float,
        holder: str | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(name, ttl_s, holder, clock=clock)
        self._storage = storage

    async def _take(self) -> bool:
        return await self._storage.try_lease(self.name, self.holder, self.ttl_s)

    async def _give_up(self) -> None:
        await self._storage.release_lease(self.name, self.holder)


def make_lease(storage: StorageService, name: str, ttl_s: float, holder: str | None = None) -> Lease:
    """Return a lease in Redis when the cache is Redis (shared by every process), otherwise in SQL."""
    if storage.settings.cache.backend == "redis":
        return CacheLease(storage.cache, name, ttl_s, holder)
    # The in-process cache is private to one process; SQL is the store every process shares.
    return SqlLease(storage, name, ttl_s, holder)
