"""The ``emotional_support`` runtime flag around the feature's hot-path parts.

Off (`/admin flags set emotional_support off`, or the automatic rollback), Kindred answers as if the feature
were not loaded: no support section in the prompt and nothing recorded after the turn. On, each provider
call reports whether it worked, so a feature that starts failing is switched off by the rollback and
the turn goes on without it instead of failing.
"""

from __future__ import annotations

import logging

from bot.features import FeatureHost
from bot.pipeline.budget import Section
from bot.pipeline.message import TurnInput
from bot.pipeline.pipeline import AfterTurn
from cogs.emotional_support.provider import SupportProvider
from cogs.emotional_support.service import SupportService
from storage.scope import Scope

log = logging.getLogger(__name__)

FLAG = "emotional_support"


class SupportGate:
    """Asks the flags (when the admin feature provides them) at call time, so load order does not matter."""

    def __init__(self, host: FeatureHost) -> None:
        self.host = host

    async def on(self, scope: Scope) -> bool:
        flags = self.host.services.get("flags")
        return flags is None or bool(await flags.enabled(FLAG, scope.guild_id))

    async def record(self, ok: bool) -> None:
        flags = self.host.services.get("flags")
        if flags is not None:
            await flags.record(FLAG, ok)


class GatedSupportProvider:
    """The support provider, switched by the flag; a failure costs the section, never the turn."""

    name = "support"

    def __init__(self, provider: SupportProvider, gate: SupportGate) -> None:
        self.provider = provider
        self.gate = gate

    async def provide(self, turn: TurnInput) -> list[Section]:
        if not await self.gate.on(turn.scope):
            return []
        try:
            sections = await self.provider.provide(turn)
        except Exception:
            log.exception("emotional support failed for a turn; it goes on without it")
            await self.gate.record(False)
            return []
        await self.gate.record(True)
        return sections


def gated_after_turn(service: SupportService, gate: SupportGate) -> AfterTurn:
    """Return the after-turn hook, skipped while the flag is off."""

    async def after_turn(turn: TurnInput, user_turn_id: int, reply_turn_id: int | None) -> None:
        if await gate.on(turn.scope):
            await service.after_turn(turn, user_turn_id, reply_turn_id)

    return after_turn
