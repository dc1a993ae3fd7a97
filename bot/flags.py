"""Runtime feature flags: switches in SQL that admins flip without a restart, with automatic rollback.

``await flags.enabled("reflection", guild_id)`` is on the hot path, so it reads an in-process snapshot of
the (small) flags table that is reloaded at most every ``cache_ttl_s`` seconds, and at once in the process
that changes a flag. A guild's own value wins over the global one, which wins over the configured default.

Features report how their flagged code path went with ``await flags.record(name, ok)``. When the share of
failures over the window passes the threshold (after a minimum number of calls), the flag is switched off
everywhere, the change is audited, and every ``on_rollback`` callback gets a short text for the admins.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from bot import metrics
from bot.config import FlagSettings
from storage.admin import AdminStore

log = logging.getLogger(__name__)

Clock = Callable[[], float]
# Receives the text to show admins, e.g. an alert poster's ``post``.
RollbackCallback = Callable[[str], Awaitable[None]]

# Who the audit log names for changes Kindred makes by itself.
SYSTEM_ACTOR = "kindred"
SYSTEM_PLATFORM = "system"

# The flags Kindred knows about from the start, with their baseline-on default and what "off" means.
BUILTIN: dict[str, str] = {
    "reflection": "background reflection (facts, summaries, reply style); off: turns are only indexed",
    "fast_path": "after-turn work runs detached from the reply; off: it finishes before the turn ends",
    "synthesis_mode": "replies blended from an analytical and an intuitive draft; off: one streamed reply",
    "emotional_support": "emotion detection and support strategies in the prompt",
    "reality_in_chat": "generated scenes posted in chat where enabled",
}


class FlagReader(Protocol):
    """What code that only asks about flags needs (the router, reflection, other features)."""

    async def enabled(self, name: str, guild_id: str | None = None) -> bool: ...


@dataclass(frozen=True, slots=True)
class FlagState:
    """A flag's values for one place, for listings."""

    name: str
    description: str
    default: bool
    global_value: bool | None  # None: not set, the default applies
    guild_value: bool | None
    effective: bool


class Flags:
    """Cached flag values backed by SQL, with error accounting and automatic rollback."""

    def __init__(
        self,
        store: AdminStore,
        settings: FlagSettings,
        defaults: dict[str, bool] | None = None,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        self._store = store
        self.settings = settings
        self._clock = clock
        self._descriptions: dict[str, str] = {}
        self._defaults: dict[str, bool] = {}
        for name, description in BUILTIN.items():
            self.declare(name, (defaults or {}).get(name, True), description)
        self._values: dict[tuple[str, str | None], bool] = {}
        self._loaded_at = -float("inf")
        self._lock = asyncio.Lock()
        self._outcomes: dict[str, deque[tuple[float, bool]]] = {}
        self.on_rollback: list[RollbackCallback] = []

    # ------------------------------------------------------------------ declaring

    def declare(self, name: str, default: bool, description: str) -> None:
        """Make a flag known (a feature declares its own); the config's ``flags.defaults`` may override."""
        if not name.isidentifier() or len(name) > 64:
            raise ValueError(f"a flag name is a short identifier, not {name!r}")
        self._descriptions[name] = description
        self._defaults[name] = self.settings.defaults.get(name, default)

    def names(self) -> list[str]:
        """Return every known flag, sorted."""
        return sorted(self._descriptions)

    def reload_defaults(self, settings: FlagSettings) -> None:
        """Adopt new settings (``/admin reload``): defaults and rollback thresholds."""
        self.settings = settings
        for name in self._defaults:
            self._defaults[name] = settings.defaults.get(name, self._defaults[name])
        self.invalidate()

    def _require(self, name: str) -> None:
        if name not in self._descriptions:
            raise KeyError(f"unknown feature flag {name!r}; known flags: {', '.join(self.names())}")

    # ------------------------------------------------------------------ reading

    async def enabled(self, name: str, guild_id: str | None = None) -> bool:
        """Return whether a feature is on in a guild (or globally): guild value, global value, default."""
        self._require(name)
        if self._clock() - self._loaded_at >= self.settings.cache_ttl_s:
            await self._refresh()
        if guild_id is not None and (name, guild_id) in self._values:
            return self._values[(name, guild_id)]
        return self._values.get((name, None), self._defaults[name])

    def invalidate(self) -> None:
        """Forget the snapshot, so the next read sees SQL."""
        self._loaded_at = -float("inf")

    async def _refresh(self) -> None:
        async with self._lock:
            if self._clock() - self._loaded_at < self.settings.cache_ttl_s:
                return  # another caller refreshed while we waited
            try:
                rows = await self._store.flags()
            except Exception as exc:
                # Keep the last snapshot (or the defaults) rather than fail a turn; try again next TTL.
                log.warning(
                    "feature flags could not be read (%s); using the last known values", type(exc).__name__
                )
                self._loaded_at = self._clock()
                return
            self._values = {(r.name, r.guild_id): r.enabled for r in rows if r.name in self._descriptions}
            self._loaded_at = self._clock()
        for name in self._descriptions:
            metrics.FEATURE_ENABLED.labels(name).set(
                1.0 if self._values.get((name, None), self._defaults[name]) else 0.0
            )

    async def states(self, guild_id: str | None = None) -> list[FlagState]:
        """Return every flag's default, global value, guild value and effective value."""
        await self._refresh()
        out = []
        for name in self.names():
            global_value = self._values.get((name, None))
            guild_value = self._values.get((name, guild_id)) if guild_id is not None else None
            out.append(
                FlagState(
                    name,
                    self._descriptions[name],
                    self._defaults[name],
                    global_value,
                    guild_value,
                    await self.enabled(name, guild_id),
                )
            )
        return out

    # ------------------------------------------------------------------ changing

    async def set(
        self,
        name: str,
        enabled: bool | None,
        *,
        guild_id: str | None = None,
        by: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Set a flag everywhere or in one guild; ``enabled=None`` removes the value (back to the default)."""
        self._require(name)
        if enabled is None:
            await self._store.clear_flag(name, guild_id)
        else:
            await self._store.set_flag(name, guild_id, enabled, by=by, reason=reason)
        if enabled:
            self._outcomes.pop(name, None)  # a fresh start: old failures must not trip it again at once
        self.invalidate()

    # ------------------------------------------------------------------ error accounting

    async def record(self, name: str, ok: bool) -> bool:
        """Count one outcome of a flagged code path; return True when this one switched the flag off."""
        self._require(name)
        now = self._clock()
        window = self._outcomes.setdefault(name, deque(maxlen=max(1000, self.settings.rollback_min_samples)))
        window.append((now, ok))
        horizon = now - self.settings.rollback_window_s
        while window and window[0][0] < horizon:
            window.popleft()
        if ok or len(window) < self.settings.rollback_min_samples:
            return False
        failures = sum(1 for _, good in window if not good)
        rate = failures / len(window)
        if rate <= self.settings.rollback_error_rate or not await self.enabled(name):
            return False
        samples = len(window)
        self._outcomes.pop(name, None)
        await self._roll_back(name, rate, samples)
        return True

    async def _roll_back(self, name: str, rate: float, samples: int) -> None:
        window_s = self.settings.rollback_window_s
        reason = f"auto-rollback: {rate:.1%} of {samples} calls failed in {window_s:.0f} s"
        await self.set(name, False, by=SYSTEM_ACTOR, reason=reason)
        await self._store.audit(
            SYSTEM_PLATFORM,
            None,
            SYSTEM_ACTOR,
            "flags.rollback",
            target=name,
            detail={"error_rate": round(rate, 4), "samples": samples, "window_s": window_s},
        )
        log.warning("feature flag %s switched off automatically (%s)", name, reason)
        text = (
            f"Feature `{name}` was switched off automatically: {rate:.1%} of its last {samples} calls failed "
            f"within {window_s:.0f} s. Kindred uses the baseline behaviour now; turn it back on with "
            f"`/admin flags set {name} on` once the cause is fixed."
        )
        for callback in list(self.on_rollback):
            try:
                await callback(text)
            except Exception:
                log.exception("a rollback notification failed")
