"""Daily budgets for reflection's LLM calls, and the status note that ``kindred jobs status`` reads.

Each guild has a budget of calls and tokens per UTC day; direct messages count per person. The counters
live in the cache with a TTL to the next midnight (a cache outage resets them, which errs towards
reflecting). When a budget is spent, reflection there is index-only until midnight: turns are still
indexed and searchable, only the LLM work stops. That, and extraction failures, go into a small durable
status note, so an operator sees them from any process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.config import ReflectionSettings
from storage.config import StorageSettings
from storage.scope import Scope
from storage.service import StorageService, read_status_note
from storage.sql.engine import make_engine

log = logging.getLogger(__name__)

STATUS_NOTE = "reflection"
Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


def budget_bucket(scope: Scope) -> str:
    """Return whose budget a turn spends: its guild's, or in DMs the person's own."""
    return f"dm:{scope.user_key}" if scope.is_dm else scope.realm


def day_of(now: datetime) -> str:
    """Return the UTC day a budget counts in, as YYYY-MM-DD."""
    return now.astimezone(UTC).date().isoformat()


def seconds_to_midnight(now: datetime) -> float:
    """Return the seconds until the next UTC midnight (when every daily budget starts afresh)."""
    utc = now.astimezone(UTC)
    midnight = datetime(utc.year, utc.month, utc.day, tzinfo=UTC) + timedelta(days=1)
    return max(1.0, (midnight - utc).total_seconds())


class ReflectionBudget:
    """Counts reflection's LLM calls and tokens per guild (or DM person) and UTC day."""

    def __init__(self, storage: StorageService, settings: ReflectionSettings, clock: Clock = _now) -> None:
        self.storage = storage
        self.settings = settings
        self.clock = clock

    def _keys(self, scope: Scope) -> tuple[str, str]:
        prefix = f"reflection:{budget_bucket(scope)}:{day_of(self.clock())}"
        return f"{prefix}:calls", f"{prefix}:tokens"

    async def spent(self, scope: Scope) -> str | None:
        """Return "calls" or "tokens" when that daily budget is used up here, else None."""
        calls_key, tokens_key = self._keys(scope)
        limits = (
            ("calls", calls_key, self.settings.budget_calls_per_day),
            ("tokens", tokens_key, self.settings.budget_tokens_per_day),
        )
        for what, key, limit in limits:
            if limit is not None and await self.storage.count_usage(key, 0, 1.0) >= limit:
                return what
        return None

    async def charge(self, scope: Scope, tokens: int) -> None:
        """Count one call and its tokens against this place's budget for today."""
        calls_key, tokens_key = self._keys(scope)
        ttl = seconds_to_midnight(self.clock())
        await self.storage.count_usage(calls_key, 1, ttl)
        await self.storage.count_usage(tokens_key, tokens, ttl)

    async def usage(self, scope: Scope) -> tuple[int, int]:
        """Return today's (calls, tokens) spent here."""
        calls_key, tokens_key = self._keys(scope)
        calls = await self.storage.count_usage(calls_key, 0, 1.0)
        tokens = await self.storage.count_usage(tokens_key, 0, 1.0)
        return int(calls), int(tokens)


class ReflectionStatus:
    """Keeps the durable note of what reflection could not do today."""

    def __init__(self, storage: StorageService, clock: Clock = _now) -> None:
        self.storage = storage
        self.clock = clock

    async def _update(self, change: Callable[[dict[str, Any]], None]) -> None:
        today = day_of(self.clock())
        try:
            note = await self.storage.status_note(STATUS_NOTE) or {}
            if note.get("day") != today:
                note = {"day": today, "index_only": {}, "extraction_failures": 0}
            change(note)
            note["updated_at"] = self.clock().isoformat()
            # Read-modify-write: two workers writing in the same instant may lose one count. The note is
            # for operators' eyes, and the counters in the cache keep the exact figures.
            await self.storage.put_status_note(STATUS_NOTE, note)
        except Exception as exc:
            # A status note must never fail the job it reports on (which would repeat its LLM calls).
            log.warning("could not update the reflection status note: %s", type(exc).__name__)

    async def index_only(self, scope: Scope, reason: str) -> None:
        """Note that this place's budget is spent for today (written once per place and day)."""
        bucket = budget_bucket(scope)
        now = self.clock()
        if not await self.storage.first_time(
            "reflection-index-only", f"{bucket}:{day_of(now)}", ttl_s=seconds_to_midnight(now)
        ):
            return
        log.warning(
            "reflection budget (%s) spent for %s today; index-only until midnight UTC", reason, bucket
        )

        def change(note: dict[str, Any]) -> None:
            note.setdefault("index_only", {})[bucket] = reason

        await self._update(change)

    async def extraction_failed(self) -> None:
        """Count a turn whose facts could not be read even after repair (the turn itself stays indexed)."""
        now = self.clock()
        await self.storage.count_usage(f"reflection:failures:{day_of(now)}", 1, seconds_to_midnight(now))

        def change(note: dict[str, Any]) -> None:
            note["extraction_failures"] = int(note.get("extraction_failures", 0)) + 1

        await self._update(change)


def render_status(note: dict[str, Any] | None, now: datetime | None = None) -> list[str]:
    """Return the lines ``jobs status`` prints about reflection today."""
    today = day_of(now or _now())
    if not note or note.get("day") != today:
        return ["reflection: every budget has room today; no extraction failures"]
    spent: dict[str, str] = note.get("index_only") or {}
    lines = []
    if spent:
        places = ", ".join(f"{bucket} ({reason})" for bucket, reason in sorted(spent.items()))
        lines.append(
            f"reflection: index-only until 00:00 UTC, budget spent in {len(spent)} place(s): {places}"
        )
    else:
        lines.append("reflection: every budget has room today")
    lines.append(f"reflection extraction failures today: {int(note.get('extraction_failures', 0))}")
    return lines


def status_document(note: dict[str, Any] | None, now: datetime | None = None) -> dict[str, Any]:
    """Return today's reflection status as a JSON-ready mapping (for ``jobs status --json``)."""
    today = day_of(now or _now())
    if not note or note.get("day") != today:
        return {"day": today, "index_only": {}, "extraction_failures": 0}
    return {
        "day": today,
        "index_only": dict(note.get("index_only") or {}),
        "extraction_failures": int(note.get("extraction_failures", 0)),
    }


async def load_status(settings: StorageSettings) -> dict[str, Any] | None:
    """Read reflection's status note from the database alone (the CLI opens no other tier for it)."""
    engine = make_engine(settings.sql_url(), settings.sql)
    try:
        return await read_status_note(engine, STATUS_NOTE)
    finally:
        await engine.dispose()
