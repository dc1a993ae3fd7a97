"""Everything of the tally that also runs without Discord: called once at start with the FeatureHost."""

from __future__ import annotations

from typing import TextIO

from bot.features import FeatureHost
from bot.scheduler.runner import ScheduledJob
from storage.scope import Scope
from tests.example_cog.tally import JOB_TYPE, TallyProvider, TallyService


def register(host: FeatureHost) -> None:
    """Plug the tally into Kindred: processor, context provider, after-turn hook, scheduled job, console."""
    service = TallyService(host.storage)
    host.services["example.tally"] = service  # other features (and tests) find it by name
    # The worker runs everywhere: in the bot, in `kindred chat` and in a standalone `kindred worker`.
    host.registry.register(JOB_TYPE, service.process, batch=True)
    if host.pipeline is not None:  # None in a standalone worker
        host.pipeline.register_provider(TallyProvider(service))
        host.pipeline.after_turn.append(service.enqueue)
    if host.scheduler is not None:
        host.scheduler.register(ScheduledJob("example.tally_digest", service.digest, interval_s=3600))

    async def show(host: FeatureHost, scope: Scope, arg: str, out: TextIO) -> None:
        out.write(f"[you have sent me {(await service.tally(scope)).describe()}]\n")

    host.add_console_command("tally", "/tally", "how much you have told me so far", show)
