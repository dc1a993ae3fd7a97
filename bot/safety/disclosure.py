"""AI disclosure: Kindred says it is an AI, not a person, when it first talks with someone and again after
every interval (3 hours by default) of continued conversation.

When it last said so is kept per person in SQL (their user settings, ``ai_disclosed_at``), so a restart
does not repeat it early, and mirrored in memory so a turn normally costs no extra query. The clock is
injectable for tests.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.config import DisclosureSettings
from storage.scope import Scope
from storage.service import StorageService

SETTING_KEY = "ai_disclosed_at"
_MAX_REMEMBERED = 50_000  # people whose last disclosure is mirrored in memory before the mirror is reset


def _utcnow() -> datetime:
    return datetime.now(UTC)


class AIDisclosure:
    """Decides when a turn should open with the disclosure."""

    def __init__(
        self,
        storage: StorageService,
        settings: DisclosureSettings,
        name: str,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.storage = storage
        self.settings = settings
        self.name = name
        self.clock = clock
        self._last: dict[str, datetime] = {}

    @property
    def text(self) -> str:
        """Return the configured disclosure with Kindred's name filled in."""
        return self.settings.text.replace("{name}", self.name)

    async def due(self, scope: Scope) -> bool:
        """Return whether this person should be told now; if so, remember that they were told."""
        if not self.settings.enabled:
            return False
        now = self.clock()
        last = self._last.get(scope.user_key)
        if last is None:
            stored = (await self.storage.user_settings(scope)).get(SETTING_KEY)
            last = _parse(stored)
        if last is not None and now - last < timedelta(hours=self.settings.interval_hours):
            self._last[scope.user_key] = last
            return False
        await self.storage.update_user_settings(scope, {SETTING_KEY: now.isoformat()})
        if len(self._last) >= _MAX_REMEMBERED:
            self._last.clear()
        self._last[scope.user_key] = now
        return True


def _parse(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None  # a hand-edited or corrupt value: disclose again rather than never
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
