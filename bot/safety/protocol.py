"""The crisis protocol: what happens when the crisis check fires on a person's message.

The pipeline calls ``CrisisProtocol.screen`` on every message before anything else (after normalisation,
before allow lists, rate limits and coalescing), and ``respond`` on a hit: the fixed message with the
locale's helplines goes to the person privately, the event is counted, and an opted-in guild's moderators
get a short alert. The turn then continues as usual, so Kindred stays in the conversation, with
``MODEL_INSTRUCTION`` in the prompt. Nothing here logs or stores the message's text.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol, runtime_checkable

from bot import metrics
from bot.config import CrisisSettings
from bot.pipeline.message import IncomingMessage, ReplySink
from bot.safety.crisis import CrisisResult, check, warm
from bot.safety.crisis_response import DEFAULT_LOCALE, MODEL_INSTRUCTION, MODERATOR_ALERT, RESPONSES
from bot.safety.normalize import normalize_text
from storage.service import StorageService

log = logging.getLogger(__name__)

NO_CRISIS = CrisisResult(hit=False, locale=None)
# A guild-wide place setting (set by the guild's admins at run time) naming the moderators' alert channel.
ALERT_CHANNEL_SETTING = "crisis_alert_channel"


@runtime_checkable
class SafetySink(Protocol):
    """What a platform adapter's sink adds for the crisis protocol (the Discord sink implements it)."""

    async def private_notice(self, text: str) -> None:
        """Deliver text to the person only (a DM); fall back to the conversation if that is impossible."""
        ...

    async def moderator_alert(self, channel_id: int, text: str) -> None:
        """Post text in a moderators' channel of the conversation's guild."""
        ...


class CrisisProtocol:
    """Screens messages and runs the protocol on a hit.

    A guild opts in to moderator alerts in config (``moderator_alert_channels``) or at run time with the
    guild-wide place setting ``crisis_alert_channel`` (a channel id); the config wins when both are set.
    """

    def __init__(self, settings: CrisisSettings, storage: StorageService | None = None) -> None:
        self.settings = settings
        self.storage = storage
        self._warm: asyncio.Future[None] | None = None

    def warm_soon(self) -> None:
        """Start compiling the check in a thread (at startup), unless it is switched off."""
        if self._warm is None and self.settings.enabled:
            self._warm = asyncio.ensure_future(asyncio.to_thread(warm))

    async def ready(self) -> None:
        """Wait until the check is compiled (at once after the first time): ``screen`` never compiles on
        the event loop, where it would stall every conversation for a second or two."""
        self.warm_soon()
        if self._warm is not None:
            await asyncio.shield(self._warm)

    def screen(self, message: IncomingMessage) -> CrisisResult:
        """Run the crisis check on the message as later steps will read it (or not at all if disabled)."""
        if not self.settings.enabled:
            return NO_CRISIS
        return check(normalize_text(message.text))

    def message_for(self, locale: str | None) -> str:
        """Return the fixed crisis message for a locale, with that locale's configured helplines."""
        chosen = locale if locale in RESPONSES else DEFAULT_LOCALE
        helplines = self.settings.helplines.get(locale or "") or self.settings.helplines.get("default") or []
        lines = "\n".join(f"• {line}" for line in helplines)
        return RESPONSES[chosen].format(helplines=lines)

    @property
    def instruction(self) -> str:
        """Return what the model is told for a turn after the protocol ran."""
        return MODEL_INSTRUCTION

    async def respond(self, message: IncomingMessage, sink: ReplySink, result: CrisisResult) -> None:
        """Send the crisis message privately, count the event and alert opted-in moderators."""
        locale = result.locale or "unknown"
        metrics.CRISIS_EVENTS.labels(locale).inc()
        # Rule names and the locale only: never the text, never who.
        log.info("crisis protocol ran: locale=%s signals=%s", locale, ",".join(result.signals))
        text = self.message_for(result.locale)
        try:
            if isinstance(sink, SafetySink):
                await sink.private_notice(text)
            else:
                await sink.notice(text)  # the console and other private-by-nature sinks
        except Exception:
            # Loud for operators, but the turn goes on: the reply is still told to offer help.
            metrics.ERRORS.labels("crisis_delivery").inc()
            log.exception("the crisis message could not be delivered")
        await self._alert(message, sink)

    async def _alert(self, message: IncomingMessage, sink: ReplySink) -> None:
        scope = message.scope
        if scope.guild_id is None:
            return
        channel_id = self.settings.moderator_alert_channels.get(str(scope.guild_id))
        if channel_id is None:
            channel_id = await self._guild_alert_channel(scope.platform, scope.guild_id)
        if channel_id is None:
            return
        if not isinstance(sink, SafetySink):
            log.warning("a moderator alert is configured but this platform cannot post it")
            return
        alert = MODERATOR_ALERT.format(user_id=scope.user_id, channel_id=scope.channel_id)
        log.info("crisis protocol: alerting the moderators' channel %s", channel_id)
        try:
            await sink.moderator_alert(channel_id, alert)
        except Exception:  # the person's protocol has been delivered; a failed alert must not undo the turn
            log.exception("moderator alert for the crisis protocol failed")

    async def _guild_alert_channel(self, platform: str, guild_id: str) -> int | None:
        if self.storage is None:
            return None
        try:
            value = (await self.storage.place_settings(platform, guild_id, None)).get(ALERT_CHANNEL_SETTING)
        except Exception:  # SQL down: the person's protocol went out; the alert is what is lost, loudly
            log.exception("could not read the guild's crisis alert channel")
            return None
        return int(value) if isinstance(value, int | str) and str(value).isdigit() else None
