"""Emotional support without Discord: context provider, after-turn hook, write-back, console commands."""

from __future__ import annotations

from typing import TextIO

from bot.features import FeatureHost
from bot.scheduler import ScheduledJob
from cogs.emotional_support.gate import GatedSupportProvider, SupportGate, gated_after_turn
from cogs.emotional_support.learning import STRATEGIES
from cogs.emotional_support.provider import SupportProvider
from cogs.emotional_support.service import (
    OPTED_IN,
    OPTED_OUT,
    RESET,
    RESET_QUESTION,
    SupportError,
    SupportService,
    feedback_text,
    style_text,
)
from storage.scope import Scope

SERVICE = "emotional_support"
WRITEBACK_JOB = "support-writeback"
WRITEBACK_EVERY_S = 30.0
SUPPORT_USAGE = "/support optin|optout|show|style NAME|reset [confirm]|feedback helped|unhelpful [NAME]"
HELPED = {"helped": True, "yes": True, "unhelpful": False, "no": False, "didnt": False, "didn't": False}


def register(host: FeatureHost) -> None:
    """Plug emotional support into the pipeline, the scheduler and the console."""
    service = SupportService(host.storage, host.settings.support)
    host.services[SERVICE] = service
    if host.pipeline is not None:
        gate = SupportGate(host)
        host.pipeline.register_provider(GatedSupportProvider(SupportProvider(service), gate))
        host.pipeline.after_turn.append(gated_after_turn(service, gate))
    if host.scheduler is not None:
        # Changes held in memory during an SQL outage are also written back by every later call.
        host.scheduler.register(
            ScheduledJob(WRITEBACK_JOB, host.storage.support.flush, interval_s=WRITEBACK_EVERY_S)
        )
    host.add_console_command(
        "support", SUPPORT_USAGE, "emotional support: consent, what is kept, style, feedback", support_command
    )
    host.add_console_command(
        "mood", "/mood [7|30]", "save a chart of your mood (PNG) and print its path", mood_command
    )


def service_of(host: FeatureHost) -> SupportService:
    """Return the support service registered on the host."""
    service = host.services[SERVICE]
    assert isinstance(service, SupportService)
    return service


async def support_command(host: FeatureHost, scope: Scope, arg: str, out: TextIO) -> None:
    """Run ``/support ...`` in the console."""
    service = service_of(host)
    words = arg.split()
    sub, rest = (words[0].lower(), words[1:]) if words else ("", [])
    try:
        if sub == "optin" and not rest:
            await service.set_consent(scope, True)
            text = OPTED_IN
        elif sub == "optout" and not rest:
            await service.set_consent(scope, False)
            text = OPTED_OUT
        elif sub == "show" and not rest:
            text = await service.show(scope)
        elif sub == "style" and len(rest) == 1:
            style = None if rest[0].lower() == "none" else rest[0].lower()
            await service.set_style(scope, style)
            text = style_text(style)
        elif sub == "reset" and not rest:
            text = f"{RESET_QUESTION} Type `/support reset confirm` to delete it."
        elif sub == "reset" and rest == ["confirm"]:
            await service.reset(scope)
            text = RESET
        elif sub == "feedback" and 1 <= len(rest) <= 2 and rest[0].lower() in HELPED:
            helped = HELPED[rest[0].lower()]
            name, score = await service.feedback(scope, helped, rest[1].lower() if len(rest) == 2 else None)
            text = feedback_text(name, score, helped)
        else:
            text = f"usage: {SUPPORT_USAGE} (styles: {', '.join(STRATEGIES)}, or none)"
    except SupportError as exc:
        text = str(exc)
    out.write(f"[{text}]\n")


async def mood_command(host: FeatureHost, scope: Scope, arg: str, out: TextIO) -> None:
    """Run ``/mood [7|30]`` in the console: write the chart next to the data and print where."""
    service = service_of(host)
    span = arg.strip() or "7"
    if span not in ("7", "30"):
        out.write("[usage: /mood [7|30]]\n")
        return
    try:
        png = await service.mood_chart(scope, int(span))
    except SupportError as exc:
        out.write(f"[{exc}]\n")
        return
    folder = host.settings.storage.data_dir / "mood"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{scope.user_key}-{span}d.png"
    path.write_bytes(png)
    out.write(f"[your mood over the last {span} days: {path}]\n")
