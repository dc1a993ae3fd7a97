"""The admin feature's non-Discord parts: flags, the access gate and the admin service.

Other features ask flags through ``host.services["flags"]``::

    flags = host.services.get("flags")          # a bot.flags.Flags (absent if cogs.admin is not loaded)
    if flags is None or await flags.enabled("emotional_support", scope.guild_id): ...
    await flags.record("emotional_support", ok)  # counts towards the automatic rollback
"""

from __future__ import annotations

from bot.features import FeatureHost
from cogs.admin.flags import build_flags, wire_flags
from cogs.admin.limits import AccessGate
from cogs.admin.service import AdminService


def register(host: FeatureHost) -> None:
    """Build the flags, gate the pipeline, and offer the admin service to the cog."""
    flags = build_flags(host)
    host.services["flags"] = flags
    wire_flags(host, flags)
    gate = AccessGate(host.storage, host.settings.admin)
    if host.pipeline is not None:
        host.pipeline.gates.append(gate.admit)
        host.pipeline.rate_overrides = gate.rate_overrides
        host.pipeline.after_turn.append(gate.charge)
    host.services["admin"] = AdminService(host.storage, host.settings, flags, gate, host.llm, host.scheduler)
