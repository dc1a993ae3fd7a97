"""The memory feature without Discord: the importance scorer, forget-me's sweep job, the pause hook, and the
console's /memory and /forgetme."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TextIO

from bot.features import FeatureHost
from bot.pipeline.message import TurnInput
from bot.scheduler import ScheduledJob
from cogs.memory.controls import (
    MemoryControlError,
    MemoryControls,
    render_forget_report,
    render_memory,
    render_page,
    render_recalled,
)
from cogs.memory.importance import ImportanceScorer
from storage.personal_data import FORGET_SWEEP
from storage.queue import Job, RetryLater
from storage.scope import Scope
from storage.service import StorageService

log = logging.getLogger(__name__)

CONTROLS = "memory.controls"
SCORER = "memory.scorer"
RESCORE_JOB = "memory_rescore"
MEMORY_USAGE = (
    "usage: /memory list [PAGE] | search QUERY | pin ID | forget ID [confirm] | correct ID TEXT | "
    "export [FILE] | pause | resume | privacy [on|off] | about"
)


def register(host: FeatureHost) -> None:
    """Plug the scorer into storage, and add the sweep processor, the pause hook and the console commands."""
    scorer = ImportanceScorer(
        host.storage, host.settings.memory, host.settings.storage.compression.half_life_days
    )
    host.storage.memory.scorer = scorer.score_new
    controls = MemoryControls(host.storage, host.settings, scorer)
    host.services[SCORER] = scorer
    host.services[CONTROLS] = controls
    host.registry.register(FORGET_SWEEP, ForgetSweep(host.storage))
    if host.pipeline is not None:
        host.pipeline.after_turn.append(PausedTurns(host.storage))
    if host.scheduler is not None:
        # Recalls change a memory's usage cue; the scores follow on this schedule rather than per turn.
        interval = host.settings.memory.rescore_interval_s
        host.scheduler.register(ScheduledJob(RESCORE_JOB, scorer.rescore_recalled, interval_s=interval))
    host.add_console_command("memory", "/memory SUBCOMMAND", "your memories: list, search, pin, ...", _memory)
    host.add_console_command(
        "forgetme", "/forgetme [confirm]", "delete everything Kindred holds about you", _forget_me
    )


class ForgetSweep:
    """Finish a forget-me in the cache and the vector index; retried until both tiers answer."""

    def __init__(self, storage: StorageService) -> None:
        self.storage = storage

    async def __call__(self, jobs: list[Job]) -> None:
        """Sweep each job's person; raise RetryLater while a tier is away (the job waits, never dies)."""
        for job in jobs:
            report = await self.storage.personal.sweep(str(job.payload["user_key"]))
            if report.queued:
                raise RetryLater(f"forget-me waits for the {' and '.join(report.queued)}")


class PausedTurns:
    """While a person has paused remembering, erase each exchange from SQL once it has been answered.

    The turns were marked when recorded (so indexing and reflection skip them); the cache window keeps
    them for the rest of this conversation and lets them expire with it.
    """

    def __init__(self, storage: StorageService) -> None:
        self.storage = storage

    async def __call__(self, turn: TurnInput, user_turn_id: int, reply_turn_id: int | None) -> None:
        """Delete the turn pair if remembering is paused for its person."""
        if not await self.storage.memory.paused(turn.scope):
            return
        ids = [i for i in (user_turn_id, reply_turn_id) if i is not None]
        await self.storage.memory.erase_turns(turn.scope, ids)


def controls_of(host: FeatureHost) -> MemoryControls:
    """Return the memory controls registered on the host."""
    controls = host.services[CONTROLS]
    assert isinstance(controls, MemoryControls)
    return controls


def parse_id(raw: str) -> int:
    """Return a memory id typed by the person (``12`` or ``#12``), or raise a helpful error."""
    text = raw.strip().lstrip("#")
    if not text.isdigit() or not 0 < int(text) < 2**63:
        raise MemoryControlError(f"{raw.strip() or 'nothing'!r} is not a memory id; ids look like 12 or #12.")
    return int(text)


async def _memory(host: FeatureHost, scope: Scope, arg: str, out: TextIO) -> None:
    controls = controls_of(host)
    sub, _, rest = arg.partition(" ")
    rest = rest.strip()
    try:
        text = await _run(controls, scope, sub.lower(), rest)
    except MemoryControlError as exc:
        text = str(exc)
    out.write(text + "\n")


async def _run(controls: MemoryControls, scope: Scope, sub: str, rest: str) -> str:
    if sub in ("", "list"):
        number = parse_id(rest) - 1 if rest else 0
        page = await controls.page(scope, number)
        more = f"\n(more: /memory list {number + 2})" if page.has_next else ""
        return render_page(controls, page) + more
    if sub == "search":
        found = await controls.search(scope, rest)
        return "\n".join(render_recalled(r) for r in found) if found else "Nothing found."
    if sub == "pin":
        memory = await controls.pin(scope, parse_id(rest))
        return f"{'Pinned' if memory.pinned else 'Unpinned'}: {render_memory(memory)}"
    if sub == "forget":
        raw_id, _, confirm = rest.partition(" ")
        memory_id = parse_id(raw_id)
        if confirm.strip().lower() != "confirm":
            memory = await controls.check_forget(scope, memory_id)
            confirm_with = f"/memory forget {memory_id} confirm"
            return f"This would delete {render_memory(memory)}\nType {confirm_with} to do it."
        await controls.forget(scope, memory_id)
        return f"Forgot memory #{memory_id}."
    if sub == "correct":
        raw_id, _, text = rest.partition(" ")
        old, new = await controls.correct(scope, parse_id(raw_id), text)
        return (
            f"Corrected #{old.id}; the new version is {render_memory(new)} (the old one is kept as history)."
        )
    if sub == "export":
        data = await controls.export(scope)
        target = Path(rest or f"kindred-export-{scope.platform}-{scope.user_id}.json")
        await asyncio.to_thread(target.write_bytes, data)
        return f"Wrote everything I hold about you to {target} ({len(data)} bytes)."
    if sub in ("pause", "resume"):
        changed = await controls.set_paused(scope, sub == "pause")
        if sub == "pause":
            return (
                "Paused: nothing new becomes a memory until /memory resume." if changed else "Already paused."
            )
        return "Remembering again." if changed else "Remembering was not paused."
    if sub == "privacy":
        choice = {"on": True, "off": False, "": None}.get(rest.lower())
        if rest.lower() not in ("on", "off", ""):
            raise MemoryControlError("Use /memory privacy on (recall across servers) or off (the default).")
        enabled = await controls.privacy(scope, choice)
        return f"Recall across servers and DMs is {'on' if enabled else 'off'}."
    if sub == "about":
        return await controls.about(scope)
    return MEMORY_USAGE


async def _forget_me(host: FeatureHost, scope: Scope, arg: str, out: TextIO) -> None:
    if arg.strip().lower() != "confirm":
        out.write(
            "This deletes everything I hold about you, everywhere, and cannot be undone. "
            "Type /forgetme confirm to do it.\n"
        )
        return
    report = await controls_of(host).forget_me(scope)
    out.write(render_forget_report(report) + "\n")
