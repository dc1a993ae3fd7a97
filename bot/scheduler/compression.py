"""The compression job and the memory budget that can run it early.

``compression(storage, llm, settings)`` is the hourly job (registered in the fixed ``compression`` slot
through ``compression_job``): it summarises old sessions that reflection left unsummarised (with the
language model when one is configured, else extractively), merges near-duplicate memories and moves old
turns and decayed memories to the compact cold tier (see ``storage.compression``).

``MemoryBudget`` watches the process's resident memory. Past ``budget_shrink_at`` of the budget it shrinks
the in-process caches and asks for an early compression run; past ``budget_drop_at`` it drops the caches,
logs a warning and counts the event.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import resource
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Protocol

from bot.llm import LLMError, LLMRouter
from bot.reflection.episodic import newest_lines
from storage.compression import extractive_summary
from storage.config import CompressionSettings
from storage.records import TurnRecord
from storage.service import StorageService
from storage.vectors.process import child_process

log = logging.getLogger(__name__)

SUMMARY_MAX_TOKENS = 220
SUMMARY_MAX_CHARS = 900
# The transcript handed to the model is cut to this many characters (the newest kept).
TRANSCRIPT_MAX_CHARS = 6000
# An early run asked for by the memory budget waits at least this long after the previous run.
EARLY_RUN_COOLDOWN_S = 600.0
SHRINK_FRACTION = 0.5
MB = 1024 * 1024

SUMMARY_PROMPT = (
    "Summarise this past conversation for long-term memory in 2 to 4 plain sentences, in the third person, "
    "naming the people: what was talked about, what is happening in their lives, and any plans, dates or "
    "facts they mentioned. Use only what is in the conversation. No lists, no preamble."
)

Summariser = Callable[[Sequence[TurnRecord]], Awaitable[str | None]]


# ---------------------------------------------------------------------------------------------- the job


def transcript(turns: Sequence[TurnRecord], max_chars: int = TRANSCRIPT_MAX_CHARS) -> str:
    """Return the turns as dated "speaker: text" lines, cut from the start to ``max_chars``."""
    lines = []
    for turn in turns:
        who = turn.speaker or ("Kindred" if turn.role == "assistant" else "the person")
        lines.append(f"{who}: {' '.join(turn.text.split())}")
    day = turns[0].created_at.strftime("%d %B %Y").lstrip("0") if turns else ""
    return f"Conversation on {day}:\n" + "\n".join(newest_lines(lines, max_chars))


def make_summariser(llm: LLMRouter | None) -> Summariser:
    """Return a summariser that asks the language model and falls back to an extract when it cannot."""

    async def summarise(turns: Sequence[TurnRecord]) -> str | None:
        if llm is not None and turns:
            messages = [
                {"role": "system", "content": SUMMARY_PROMPT},
                {"role": "user", "content": transcript(turns)},
            ]
            try:
                completion = await llm.complete(messages, max_tokens=SUMMARY_MAX_TOKENS, temperature=0.2)
            except LLMError as exc:
                # Compression must not stall on an outage: the extract below is a fine summary too.
                log.info("session summary by extract: the language model failed (%s)", type(exc).__name__)
            else:
                text = " ".join(completion.text.split())[:SUMMARY_MAX_CHARS]
                if text:
                    return text
        return extractive_summary(turns) or None

    return summarise


async def compression(
    storage: StorageService,
    llm: LLMRouter | None,
    settings: CompressionSettings | None = None,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Run compression once (summaries, merged duplicates, the cold tier); return the counts."""
    settings = settings or storage.settings.compression
    if not settings.enabled:
        return {"enabled": False}
    report = await storage.compress(make_summariser(llm), now=now, settings=settings)
    result = report.as_dict()
    if report.errors:
        log.warning("compression finished with %s errors: %s", len(report.errors), "; ".join(report.errors))
    log.info(
        "compression: %s sessions summarised, %s memories merged, %s turns and %s memories archived in %.1fs",
        report.sessions_summarised,
        report.memories_merged,
        report.turns_archived,
        report.memories_archived,
        report.seconds,
    )
    return result


class CompressionRunner:
    """Runs compression at most once at a time in this process, for the schedule and the memory budget.

    ``may_run_early`` says whether this process may start an early run (the scheduler's leader, say).
    """

    def __init__(
        self,
        storage: StorageService,
        llm: LLMRouter | None,
        settings: CompressionSettings | None = None,
        *,
        may_run_early: Callable[[], bool] | None = None,
        early_cooldown_s: float = EARLY_RUN_COOLDOWN_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.storage = storage
        self.llm = llm
        self.settings = settings or storage.settings.compression
        self._may_run_early = may_run_early
        self._cooldown_s = early_cooldown_s
        self._clock = clock
        self._lock = asyncio.Lock()
        self._last_run: float | None = None

    @property
    def running(self) -> bool:
        """Return whether a run is under way in this process."""
        return self._lock.locked()

    async def __call__(self) -> dict[str, Any]:
        """Run compression now (the scheduled job), after any run already under way."""
        async with self._lock:
            try:
                return await compression(self.storage, self.llm, self.settings)
            finally:
                self._last_run = self._clock()

    async def early(self) -> dict[str, Any] | None:
        """Run compression ahead of schedule unless one runs, ran recently, or this process may not."""
        if self.running:
            return None
        if self._may_run_early is not None and not self._may_run_early():
            return None
        if self._last_run is not None and self._clock() - self._last_run < self._cooldown_s:
            return None
        return await self()


# ---------------------------------------------------------------------------------------------- the budget


class Shrinkable(Protocol):
    """An in-process cache the memory budget can shrink."""

    def shrink(self, fraction: float) -> int: ...


def read_rss_bytes() -> int:
    """Return the resident set size in bytes of this process and of its embedded vector store's process
    (which holds Chroma's indexes, docs/storage.md), or this process's peak RSS where /proc is missing."""
    try:
        total = _resident_bytes("self")
    except (OSError, ValueError, IndexError):
        # Not Linux: the peak is the best the standard library offers (KiB on Linux, bytes on macOS).
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak if os.uname().sysname == "Darwin" else peak * 1024)
    child = child_process().pid
    if child is not None:
        with contextlib.suppress(OSError, ValueError, IndexError):  # it may be restarting
            total += _resident_bytes(str(child))
    return total


def _resident_bytes(pid: str) -> int:
    with open(f"/proc/{pid}/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def storage_caches(storage: StorageService) -> list[Shrinkable]:
    """Return the in-process caches of the storage service: the cache tier's and the cold tier's."""
    caches: list[Shrinkable] = []
    if callable(getattr(storage.cache, "shrink", None)):
        caches.append(storage.cache)  # type: ignore[arg-type]
    caches.append(storage.tiers.cache)
    return caches


@dataclass(slots=True)
class BudgetCounters:
    """What the memory budget did since start (for status and metrics)."""

    checks: int = 0
    shrinks: int = 0
    drops: int = 0
    early_runs: int = 0
    last_rss_bytes: int = 0


class MemoryBudget:
    """Keeps the process under a resident memory budget by shrinking caches and compressing early."""

    def __init__(
        self,
        budget_mb: float,
        caches: Sequence[Shrinkable],
        on_pressure: Callable[[], Awaitable[object]] | None = None,
        *,
        shrink_at: float = 0.75,
        drop_at: float = 0.90,
        interval_s: float = 15.0,
        shrink_fraction: float = SHRINK_FRACTION,
        rss_reader: Callable[[], int] = read_rss_bytes,
    ) -> None:
        if not 0 < shrink_at < drop_at <= 1:
            raise ValueError("the budget thresholds need 0 < shrink_at < drop_at <= 1")
        self.budget_bytes = int(budget_mb * MB)
        self.caches = list(caches)
        self.on_pressure = on_pressure
        self.shrink_at = shrink_at
        self.drop_at = drop_at
        self.interval_s = interval_s
        self.shrink_fraction = shrink_fraction
        self.counters = BudgetCounters()
        self._read_rss = rss_reader
        self._task: asyncio.Task[None] | None = None
        self._pressure_task: asyncio.Task[object] | None = None
        self._dropping = False

    @classmethod
    def from_settings(
        cls,
        settings: CompressionSettings,
        caches: Sequence[Shrinkable],
        on_pressure: Callable[[], Awaitable[object]] | None = None,
        *,
        rss_reader: Callable[[], int] = read_rss_bytes,
    ) -> MemoryBudget:
        """Build the watcher the settings describe (``memory_budget_mb`` 0 makes it do nothing)."""
        return cls(
            settings.memory_budget_mb,
            caches,
            on_pressure,
            shrink_at=settings.budget_shrink_at,
            drop_at=settings.budget_drop_at,
            interval_s=settings.budget_check_interval_s,
            rss_reader=rss_reader,
        )

    @property
    def enabled(self) -> bool:
        """Return whether a budget is set."""
        return self.budget_bytes > 0

    async def check(self) -> str:
        """Read the RSS once and act on it; return "off", "ok", "shrink" or "drop"."""
        if not self.enabled:
            return "off"
        rss = self._read_rss()
        self.counters.checks += 1
        self.counters.last_rss_bytes = rss
        share = rss / self.budget_bytes
        if share >= self.drop_at:
            dropped = sum(_drop(cache) for cache in self.caches)
            gc.collect()
            self.counters.drops += 1
            if not self._dropping:
                log.warning(
                    "memory budget: resident %.0f MB is %.0f%% of the %.0f MB budget; dropped %s cached",
                    rss / MB,
                    share * 100,
                    self.budget_bytes / MB,
                    dropped,
                )
            self._dropping = True
            self._ask_for_compression()
            return "drop"
        self._dropping = False
        if share >= self.shrink_at:
            shrunk = sum(cache.shrink(self.shrink_fraction) for cache in self.caches)
            self.counters.shrinks += 1
            log.info(
                "memory budget: resident %.0f MB (%.0f%%); shrank caches by %s", rss / MB, share * 100, shrunk
            )
            self._ask_for_compression()
            return "shrink"
        return "ok"

    def _ask_for_compression(self) -> None:
        # In the background: a compression run can take minutes and the watcher must keep watching.
        if self.on_pressure is None or (self._pressure_task is not None and not self._pressure_task.done()):
            return
        self.counters.early_runs += 1
        self._pressure_task = asyncio.get_running_loop().create_task(self._run_pressure())

    async def _run_pressure(self) -> object:
        assert self.on_pressure is not None
        try:
            return await self.on_pressure()
        except Exception:
            log.exception("compression asked for by the memory budget failed")
            return None

    async def idle(self) -> None:
        """Wait for the early compression run this watcher started, if one is under way."""
        if self._pressure_task is not None:
            await asyncio.gather(self._pressure_task, return_exceptions=True)

    def start(self) -> None:
        """Start watching (a no-op without a budget)."""
        if not self.enabled or self._task is not None:
            return
        self._task = asyncio.get_running_loop().create_task(self._watch(), name="kindred-memory-budget")
        log.info(
            "memory budget %.0f MB: caches shrink at %.0f%%, drop at %.0f%%",
            self.budget_bytes / MB,
            self.shrink_at * 100,
            self.drop_at * 100,
        )

    async def stop(self) -> None:
        """Stop watching and cancel an early compression run still under way."""
        for task in (self._task, self._pressure_task):
            if task is not None and not task.done():
                task.cancel()
        await asyncio.gather(
            *(t for t in (self._task, self._pressure_task) if t is not None), return_exceptions=True
        )
        self._task = self._pressure_task = None

    async def _watch(self) -> None:
        while True:
            try:
                await self.check()
            except Exception:
                log.exception("memory budget check failed")
            await asyncio.sleep(self.interval_s)

    def status(self) -> dict[str, Any]:
        """Return the budget, the last reading and the counters."""
        return {"budget_mb": self.budget_bytes / MB, **asdict(self.counters)}


def _drop(cache: Shrinkable) -> int:
    clear = getattr(cache, "clear", None)
    return int(clear()) if callable(clear) else cache.shrink(1.0)
