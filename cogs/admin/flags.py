"""Connecting the runtime flags to the code paths they switch, and to whoever tells the admins."""

from __future__ import annotations

import logging
from typing import Any

from bot.features import FeatureHost
from bot.flags import Flags
from storage.scope import Scope

log = logging.getLogger(__name__)


def build_flags(host: FeatureHost) -> Flags:
    """Return the process's flags, with synthesis mode defaulting to ``llm.synthesis_enabled``."""
    return Flags(
        host.storage.admin,
        host.settings.flags,
        {"synthesis_mode": host.settings.llm.synthesis_enabled},
    )


def wire_flags(host: FeatureHost, flags: Flags) -> None:
    """Make reflection, synthesis mode and the fast path follow their flags; send rollbacks to the admins."""
    reflection: Any = host.services.get("reflection")
    if reflection is not None:
        reflection.flags = flags
    if host.llm is not None:
        host.llm.flags = flags
    if host.pipeline is not None:

        async def fast_path(scope: Scope) -> bool:
            return await flags.enabled("fast_path", scope.guild_id)

        host.pipeline.fast_path = fast_path
    alerts: Any = host.services.get("alerts")
    if alerts is not None and callable(getattr(alerts, "post", None)):
        flags.on_rollback.append(alerts.post)
