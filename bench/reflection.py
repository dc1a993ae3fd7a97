"""Benchmark reflection: what background work costs the person waiting, and how fast turns get indexed.

Part one drives the real ``Pipeline`` (built by ``Kindred.start``, on the embedded default) against a
fake OpenAI-compatible model with a small fixed latency, and times each turn from ``handle()`` until the
streamed reply has been fully delivered to an in-memory sink: what the person waits for. Turns arrive
open-loop (Poisson, a fixed rate) from many people, in blocks that alternate between

- reflection ON: the after-turn hook enqueues the index and semantic jobs, and an in-process ``Worker``
  runs them concurrently, semantic extraction included (the fake model answers non-streamed extraction
  requests with valid JSON facts, so the worker stores and indexes real memories); and
- reflection OFF: no after-turn hook and no worker at all.

ON and OFF blocks of one round replay the same arrival times, people and texts, and the order alternates
from round to round, so drift on the shared machine falls on both alike. It reports the median and p95
of each mode, their ratio (target <= 1.05), where the turn's time went, event-loop lag, and in ON blocks
the queue lag: the age of the oldest pending job over time and each job's time from enqueue to done.

Part two measures sustained indexing throughput: turns recorded for many people with
``StorageService.record_turn``, an index job enqueued per message exactly as the reflection hook does it,
then an in-process ``Worker`` started on the backlog; turns indexed per second from its first claim until
the queue is empty (target >= 500/s), with the queue lag over time and where the worker's time went
(claim, SQL reads, embedding, Chroma upserts per collection, acknowledgement). A second, smaller backlog
from a handful of people and a raw Chroma upsert probe show what the throughput depends on.

Run::

    python bench/reflection.py --out /tmp/reflection.json            # full run, ~7 min
    python bench/reflection.py --out /tmp/smoke.json --quick         # ~2 min

The fake model runs in a child process (as a real model server would, it takes no time from the bot's
interpreter). Everything lives in a temporary directory that is removed at the end, also after an error
or Ctrl-C. Numbers are medians and percentiles from one run on a shared machine: compare runs, never
assert on them.
"""

# ruff: noqa: E402
# (the imports below must come after the sys.path fix)

from __future__ import annotations

import sys
from pathlib import Path

# Run as ``python bench/reflection.py``, this file's directory comes first on sys.path and bench/storage.py
# would shadow the ``storage`` package; the repository root is needed for the fake OpenAI server in tests/.
_BENCH_DIR = Path(__file__).resolve().parent
if sys.path and Path(sys.path[0] or ".").resolve() == _BENCH_DIR:
    sys.path.pop(0)
if str(_BENCH_DIR.parent) not in sys.path:
    sys.path.insert(0, str(_BENCH_DIR.parent))

import argparse
import asyncio
import contextlib
import cProfile
import gc
import hashlib
import json
import logging
import math
import os
import pstats
import random
import re
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bench.reply_path import TurnFailed, lag_sampler, machine_info, percentile, progress, sample_idle_lag
from bot.app import Kindred, build_reflection
from bot.config import (
    LLMSettings,
    OpsSettings,
    PipelineSettings,
    ReflectionSettings,
    SchedulerSettings,
    Settings,
)
from bot.pipeline.message import IncomingMessage
from bot.pipeline.pipeline import Pipeline
from bot.reflection.index import enqueue_index
from bot.worker import ProcessorRegistry, Worker
from storage.config import QueueSettings, StorageSettings
from storage.queue import Job
from storage.scope import Scope
from storage.service import StorageService
from storage.sql.models import Job as JobRow
from storage.vectors.base import Partition, VectorItem
from tests.fakes.openai_api import FakeOpenAI, RecordedRequest

log = logging.getLogger("bench.reflection")

MODEL = "bench-llm"
REPLY = "That sounds lovely. How did it make you feel?"
AUTHOR = "Sam"
GUILD = "8000"
CHANNEL = "8001"
CHANNELS = 10
SEED = 20_250_402

TARGET_RATIO = 1.05
TARGET_TURNS_PER_S = 500.0

LLM_LATENCY_MS = 20.0
SAMPLER_INTERVAL_S = 0.010
QUEUE_POLL_S = 0.5
SETTLE_TIMEOUT_S = 180.0
# The fake model's streamed reply arrives in chunks of this many characters.
CHUNK_CHARS = 4
# Messages are recorded by this many producers at once (SQLite queues their writes).
PRODUCERS = 4
PROBE_PARTITIONS = 40
PROBE_BATCH = 64

FACT_KEYS = (
    "likes",
    "lives_in",
    "job",
    "pet:name",
    "hobby",
    "sister:name",
    "favourite_food",
    "plans",
    "learning",
    "mood",
    "team",
    "reading",
)
_MESSAGE = re.compile(r"<<<\n(.*)\n>>>", re.DOTALL)
_WORD = re.compile(r"[a-z]{3,}")

OPENERS = ("", "Guess what: ", "So, ", "Honestly ", "Quick update - ", "Hey! ")
SUBJECTS = (
    "I finally finished the {thing} today",
    "my sister keeps asking about the {thing}",
    "I started learning {skill} this week",
    "we adopted a {pet} named {name}",
    "work was rough, the {thing} deadline moved again",
    "I've been reading a book about {skill}",
    "I moved to {city} last month",
    "my friend {name} invited me to a {event}",
    "I'm nervous about the {event} on Saturday",
    "I cooked {food} for the first time",
)
FILLERS = {
    "thing": ("garden fence", "quarterly report", "bathroom tiles", "bike repair", "photo album", "quilt"),
    "skill": ("Japanese", "the cello", "woodworking", "bouldering", "chess openings", "watercolour"),
    "pet": ("cat", "puppy", "rabbit", "parrot", "tortoise"),
    "name": ("Miso", "Alex", "Priya", "Tomasz", "Juno", "Okafor", "Lena"),
    "city": ("Lisbon", "Porto", "Leeds", "Osaka", "Tartu", "Valencia"),
    "event": ("wedding", "concert", "job interview", "marathon", "family dinner"),
    "food": ("ramen", "paella", "jollof rice", "pierogi", "a lemon tart"),
}
ENDINGS = ("", " and I'm pretty happy about it", ", not sure how I feel", "!", " - any thoughts?", ".")


# ---------------------------------------------------------------------------------------------- helpers


def summary(values: Sequence[float], unit: str = "ms") -> dict[str, float]:
    """Return n, p50, p95, p99 and max of ``values``, rounded for the JSON."""
    return {
        "n": len(values),
        f"p50_{unit}": round(percentile(values, 50), 3),
        f"p95_{unit}": round(percentile(values, 95), 3),
        f"p99_{unit}": round(percentile(values, 99), 3),
        f"max_{unit}": round(max(values), 3) if values else math.nan,
    }


def verdict(passed: bool) -> str:
    """Return the word printed beside a number judged against a target."""
    return "PASS" if passed else "MISS"


def user_message(rng: random.Random) -> str:
    """Return a varied, ordinary chat message (no style requests, so no procedural job)."""
    body = rng.choice(SUBJECTS)
    for slot, options in FILLERS.items():
        body = body.replace("{" + slot + "}", rng.choice(options))
    return f"{rng.choice(OPENERS)}{body}{rng.choice(ENDINGS)}"


# ---------------------------------------------------------------------------------------------- fake model


def fake_reply(request: RecordedRequest) -> str:
    """Answer a streamed chat with the short reply, and an extraction request with 1-2 valid JSON facts."""
    if request.stream:
        return REPLY
    content = next(
        (str(m.get("content", "")) for m in reversed(request.messages) if m.get("role") == "user"), ""
    )
    found = _MESSAGE.search(content)
    text = found.group(1) if found else content
    words = _WORD.findall(text.lower()) or ["yes"]
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    first = digest[1] % len(FACT_KEYS)
    keys = [first, (first + 1 + digest[2] % (len(FACT_KEYS) - 1)) % len(FACT_KEYS)][: 1 + digest[0] % 2]
    facts = []
    for n, index in enumerate(keys):
        key, value = FACT_KEYS[index], words[digest[3 + n] % len(words)]
        facts.append(
            {
                "subject": "self",
                "about": None,
                "key": key,
                "value": value,
                "text": f"{AUTHOR}'s {key.replace(':', ' ').replace('_', ' ')} is {value}.",
                "kind": "fact",
                "importance": round(0.3 + (digest[5 + n] % 60) / 100, 2),
            }
        )
    style: dict[str, Any] = {"length": None, "tone": None, "avoid_topics": [], "allow_topics": []}
    return json.dumps({"facts": facts, "style": style})


def serve_fake(latency_ms: float) -> int:
    """Run the fake model until stdin closes (the child-process half of ``FakeModel``)."""
    server = FakeOpenAI()
    server.configure(MODEL, reply=fake_reply, latency_s=latency_ms / 1000, chunk_chars=CHUNK_CHARS)
    server.start_sync()
    closed = threading.Event()

    def watch_stdin() -> None:
        sys.stdin.read()
        closed.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    print(f"PORT {server.port}", flush=True)
    try:
        while not closed.wait(2.0):
            server.requests.clear()  # thousands of recorded prompts are of no use here
    finally:
        server.stop_sync()
    return 0


@contextlib.asynccontextmanager
async def fake_model(latency_ms: float) -> AsyncIterator[str]:
    """Start the fake model in a child process; yield its base URL; stop it afterwards."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(_BENCH_DIR / "reflection.py"),
        "--serve-fake",
        str(latency_ms),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 120)
        if not line.startswith(b"PORT "):
            raise RuntimeError(f"the fake model did not start (said {line[:200]!r})")
        port = int(line.split()[1])
        progress(f"fake model (pid {proc.pid}) on port {port}, {latency_ms:g} ms before each response")
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 15)
        except TimeoutError:
            proc.kill()
            await proc.wait()


# ---------------------------------------------------------------------------------------------- meters


@dataclass(slots=True)
class Stat:
    """Calls of one wrapped method: when each ran and how many items it carried."""

    calls: list[tuple[float, float, int]] = field(default_factory=list)  # (start, end, items)

    @property
    def first(self) -> float | None:
        """Return when the first call that carried items began."""
        return next((start for start, _, n in self.calls if n), None)

    @property
    def last(self) -> float | None:
        """Return when the last call ended."""
        return self.calls[-1][1] if self.calls else None

    def within(self, t0: float, t1: float) -> tuple[int, float, int]:
        """Return (calls, seconds, items) of the calls overlapping [t0, t1], clipped to it."""
        calls, seconds, items = 0, 0.0, 0
        for start, end, n in self.calls:
            if end <= t0 or start >= t1:
                continue
            calls += 1
            seconds += min(end, t1) - max(start, t0)
            items += n
        return calls, seconds, items


class Meter:
    """Times calls to methods of live objects by shadowing them with instance attributes."""

    def __init__(self) -> None:
        self.stats: dict[str, Stat] = {}
        self._restore: list[tuple[Any, str]] = []

    def wrap(
        self, obj: Any, name: str, label: str, items: Callable[[tuple[Any, ...], Any], int] | None = None
    ) -> None:
        """Time ``obj.name`` under ``label``; ``items(args, result)`` counts what each call carried."""
        original = getattr(obj, name)
        stat = self.stats.setdefault(label, Stat())

        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            result: Any = None
            try:
                result = await original(*args, **kwargs)
                return result
            finally:
                count = items(args, result) if items is not None else 0
                stat.calls.append((started, time.perf_counter(), count))

        setattr(obj, name, timed)
        self._restore.append((obj, name))

    def unwrap(self) -> None:
        """Remove every shadowing attribute, so the objects call their own methods again."""
        for obj, name in reversed(self._restore):
            with contextlib.suppress(AttributeError):
                delattr(obj, name)
        self._restore.clear()


def timed_registry(source: ProcessorRegistry, busy: dict[str, float]) -> ProcessorRegistry:
    """Return a registry with the same processors, each adding its run time to ``busy[job_type]``."""
    registry = ProcessorRegistry()
    for job_type in source.job_types:
        processor = source.get(job_type)
        assert processor is not None

        def timed(handler: Callable[[list[Job]], Awaitable[None]], kind: str) -> Any:
            async def run(jobs: list[Job]) -> None:
                started = time.perf_counter()
                try:
                    await handler(jobs)
                finally:
                    busy[kind] = busy.get(kind, 0.0) + time.perf_counter() - started

            return run

        registry.register(job_type, timed(processor.handler, job_type), batch=processor.batch)
    return registry


@dataclass(slots=True)
class QueueSample:
    """One look at the queue."""

    t_s: float
    depth: int
    ready: int
    in_flight: int
    oldest_pending_age_s: float | None


async def queue_poller(storage: StorageService, stop: asyncio.Event, out: list[QueueSample]) -> None:
    """Record the queue's depth and the age of its oldest pending job every half second."""
    started = time.perf_counter()
    while not stop.is_set():
        stats = await storage.jobs.stats()
        out.append(
            QueueSample(
                round(time.perf_counter() - started, 2),
                stats.depth,
                stats.ready,
                stats.in_flight,
                None if stats.oldest_pending_age_s is None else round(stats.oldest_pending_age_s, 3),
            )
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), QUEUE_POLL_S)


def queue_lag(samples: Sequence[QueueSample]) -> dict[str, Any]:
    """Summarise queue samples: oldest pending age (0 when nothing waits) and depth."""
    ages = [s.oldest_pending_age_s or 0.0 for s in samples]
    depths = [s.depth for s in samples]
    return {
        "samples": len(samples),
        "oldest_pending_age_p50_s": round(percentile(ages, 50), 3),
        "oldest_pending_age_p95_s": round(percentile(ages, 95), 3),
        "oldest_pending_age_max_s": round(max(ages), 3) if ages else math.nan,
        "depth_p95": percentile(depths, 95) if depths else math.nan,
        "depth_max": max(depths) if depths else math.nan,
    }


async def settle(storage: StorageService, timeout_s: float) -> float | None:
    """Wait until no job is ready or running (seen twice); return the seconds it took, None on timeout."""
    started = time.perf_counter()
    quiet = 0
    while time.perf_counter() - started < timeout_s:
        stats = await storage.jobs.stats()
        quiet = quiet + 1 if stats.ready == 0 and stats.in_flight == 0 else 0
        if quiet >= 2:
            return time.perf_counter() - started
        await asyncio.sleep(0.1)
    return None


async def job_latencies(storage: StorageService, since: datetime) -> dict[str, Any]:
    """Return, per job type, enqueue-to-done times (seconds) of jobs created since ``since``."""
    async with AsyncSession(storage.engine) as session:
        rows = (
            await session.execute(
                select(JobRow.job_type, JobRow.status, JobRow.created_at, JobRow.done_at).where(
                    JobRow.created_at >= since
                )
            )
        ).all()
    by_type: dict[str, list[float]] = {}
    unfinished: Counter[str] = Counter()
    for job_type, status, created, done in rows:
        if status != "done" or done is None:
            unfinished[f"{job_type}:{status}"] += 1
            continue
        by_type.setdefault(job_type, []).append((done - created).total_seconds())
    out: dict[str, Any] = {t: summary(v, "s") for t, v in sorted(by_type.items())}
    if unfinished:
        out["unfinished"] = dict(unfinished)
    return out


# ---------------------------------------------------------------------------------------------- part one


class MemorySink:
    """A ReplySink that consumes the stream in memory, noting when the last chunk was delivered."""

    def __init__(self) -> None:
        self.notices: list[str] = []
        self.delivered_at: float | None = None

    async def typing(self) -> None:
        """Show nothing: there is no channel."""

    async def stream(self, chunks: AsyncIterator[str]) -> str:
        """Read the whole stream and return it."""
        parts = [chunk async for chunk in chunks]
        self.delivered_at = time.perf_counter()
        return "".join(parts)

    async def notice(self, text: str) -> None:
        """Keep notices; a benchmark turn should not get any."""
        self.notices.append(text)


@dataclass(slots=True)
class TurnSample:
    """One answered turn, in milliseconds."""

    delivered: float  # handle() start until the reply was fully delivered: what the person waits for
    handle: float  # handle() start until it returned (the reply recorded as well)
    admit: float  # duplicate claim and rate limits, before the turn starts
    record: float
    context: float
    first_token: float
    llm: float
    reply_record: float
    started_at: float = 0.0  # perf_counter seconds, to line the turn up with background work
    delivered_at: float = 0.0
    chroma_ms: float = 0.0  # Chroma writes (which hold the GIL) that ran while this person waited


PARTS = (
    ("admit", "claim the message id + rate limits"),
    ("record", "record the person's turn (SQL + cache)"),
    ("context", "context assembly (recall, recent turns, ...)"),
    ("first_token", "model: request until first token"),
    ("llm", "model: whole streamed reply"),
    ("reply_record", "record the reply"),
)


async def timed_turn(pipeline: Pipeline, message: IncomingMessage) -> TurnSample:
    """Send one message through the pipeline; return where its time went."""
    sink = MemorySink()
    started = time.perf_counter()
    outcome = await pipeline.handle(message, sink)
    ended = time.perf_counter()
    notices = [n for n in sink.notices if n != pipeline.disclosure.text]  # the AI disclosure is expected
    if outcome.status != "replied" or notices or sink.delivered_at is None:
        raise TurnFailed(f"turn ended {outcome.status!r} with {len(notices)} notices")
    t = outcome.timings_ms
    total = t["total_ms"]
    handle = (ended - started) * 1000
    return TurnSample(
        delivered=(sink.delivered_at - started) * 1000,
        handle=handle,
        admit=handle - total,
        record=t["record_ms"],
        context=t["context_ms"],
        first_token=t.get("first_token_ms", math.nan),
        llm=t["llm_ms"],
        reply_record=total - t["record_ms"] - t["context_ms"] - t["llm_ms"],
        started_at=started,
        delivered_at=sink.delivered_at,
    )


@dataclass(frozen=True, slots=True)
class FastPlan:
    """How big part one is."""

    users: int
    rounds: int
    block_turns: int
    rate: float
    latency_ms: float


@dataclass(slots=True)
class Block:
    """One ON or OFF block."""

    mode: str
    round: int
    samples: list[TurnSample] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)
    lags: list[float] = field(default_factory=list)
    queue: list[QueueSample] = field(default_factory=list)
    wall_s: float = 0.0
    settle_s: float | None = None
    jobs: dict[str, Any] = field(default_factory=dict)
    worker: dict[str, Any] = field(default_factory=dict)
    vector_writes: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        delivered = [s.delivered for s in self.samples]
        out: dict[str, Any] = {
            "mode": self.mode,
            "round": self.round,
            **summary(delivered),
            "offered_rate_per_s": None,
            "achieved_rate_per_s": round(len(self.samples) / self.wall_s, 2) if self.wall_s else None,
            "wall_s": round(self.wall_s, 2),
            "failures": self.failures,
            "loop_lag": summary(self.lags),
            "parts_p50_ms": {
                name: round(percentile([getattr(s, name) for s in self.samples], 50), 3) for name, _ in PARTS
            },
        }
        if self.mode == "on":
            out["queue_lag"] = queue_lag(self.queue)
            out["settle_after_block_s"] = None if self.settle_s is None else round(self.settle_s, 2)
            out["enqueue_to_done"] = self.jobs
            out["worker"] = self.worker
        out["vector_writes"] = self.vector_writes
        return out


def fast_settings(base_url: str, storage: StorageSettings) -> Settings:
    """Return bot settings: the fake model, no coalescing, limits nobody reaches, no ops or scheduler."""
    return Settings(
        llm=LLMSettings(base_url=base_url, api_key=SecretStr("bench"), model=MODEL, timeout_s=60),
        pipeline=PipelineSettings(
            coalesce_window_s=0,
            user_messages_per_minute=1e9,
            user_burst=10**9,
            guild_messages_per_minute=1e9,
            guild_burst=10**9,
        ),
        # No daily budget: every turn's extraction really runs.
        reflection=ReflectionSettings(budget_calls_per_day=None, budget_tokens_per_day=None),
        ops=OpsSettings(http_enabled=False),
        scheduler=SchedulerSettings(enabled=False),
        storage=storage,
    )


def message(scope: Scope, message_id: str, text: str) -> IncomingMessage:
    """Return a platform-neutral message from a benchmark person."""
    return IncomingMessage(
        message_id=message_id, scope=scope, author=AUTHOR, text=text, created_at=datetime.now(UTC)
    )


class Reflecting:
    """Switches background work on (the after-turn hook and a running worker) and off (neither)."""

    def __init__(self, app: Kindred, queue: QueueSettings) -> None:
        self.app = app
        self.queue = queue
        self.hooks = list(app.pipeline.after_turn)
        self.busy: dict[str, float] = {}
        self.registry = timed_registry(app.registry, self.busy)
        self.worker: Worker | None = None

    def on(self) -> None:
        """Enqueue reflection after each turn and run a fresh in-process worker."""
        self.app.pipeline.after_turn[:] = self.hooks
        self.busy.clear()
        self.worker = Worker(self.app.storage.jobs, self.registry, self.queue)
        self.worker.start()

    async def off(self) -> dict[str, Any]:
        """Stop enqueueing, let the worker finish what was queued, stop it; return what it did."""
        self.app.pipeline.after_turn.clear()
        if self.worker is None:
            return {}
        await self.worker.stop()
        counters = asdict(self.worker.counters)
        self.worker = None
        return {**counters, "busy_s": {k: round(v, 2) for k, v in sorted(self.busy.items())}}


async def run_block(
    app: Kindred,
    switch: Reflecting,
    meter: Meter,
    mode: str,
    round_no: int,
    plan: FastPlan,
    scopes: Sequence[Scope],
) -> Block:
    """Offer ``plan.block_turns`` turns at ``plan.rate`` per second; time each one."""
    block = Block(mode, round_no)
    # The same seed for ON and OFF of one round: the same arrival times, people and texts.
    rng = random.Random(f"{SEED}-fast-{round_no}")
    if mode == "on":
        switch.on()
    else:
        await switch.off()
    gc.collect()
    since = datetime.now(UTC)
    stop = asyncio.Event()
    sampler = asyncio.create_task(lag_sampler(stop, block.lags))
    poller = asyncio.create_task(queue_poller(app.storage, stop, block.queue))
    busy: set[int] = set()

    async def one(u: int, i: int, text: str) -> None:
        try:
            msg = message(scopes[u], f"r{round_no}-{mode}-{i}", text)
            block.samples.append(await timed_turn(app.pipeline, msg))
        except Exception as exc:
            name = type(exc).__name__
            block.failures[name] = block.failures.get(name, 0) + 1
        finally:
            busy.discard(u)

    tasks: list[asyncio.Task[None]] = []
    started = time.perf_counter()
    due = started
    for i in range(plan.block_turns):
        due += rng.expovariate(plan.rate)
        user = rng.randrange(len(scopes))
        text = user_message(rng)
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        while len(busy) >= len(scopes):  # everyone is waiting for a reply: the bot is far behind
            pending = [t for t in tasks if not t.done()]
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        while user in busy:  # one message in flight per person; the next free one takes the turn
            user = (user + 1) % len(scopes)
        busy.add(user)
        tasks.append(asyncio.create_task(one(user, i, text)))
    await asyncio.gather(*tasks)
    finished = time.perf_counter()
    block.wall_s = finished - started
    writes: dict[str, Any] = {}
    held = 0.0
    for label in ("vector_upsert", "vector_delete"):
        calls, seconds, items = meter.stats[label].within(started, finished)
        writes[label] = {"calls": calls, "seconds": round(seconds, 3), "items": items}
        held += seconds
    writes["share_of_block"] = round(held / block.wall_s, 4) if block.wall_s else math.nan
    block.vector_writes = writes
    for sample in block.samples:
        sample.chroma_ms = 1000 * sum(
            meter.stats[label].within(sample.started_at, sample.delivered_at)[1]
            for label in ("vector_upsert", "vector_delete")
        )
    if mode == "on":
        # Queue lag is still sampled while the worker catches up with the block's last turns.
        block.settle_s = await settle(app.storage, SETTLE_TIMEOUT_S)
    stop.set()
    await asyncio.gather(sampler, poller)
    if mode == "on":
        block.worker = await switch.off()
        block.jobs = await job_latencies(app.storage, since)
    delivered = [s.delivered for s in block.samples]
    progress(
        f"round {round_no + 1} {mode.upper():<3}: p50 {percentile(delivered, 50):6.2f} ms, "
        f"p95 {percentile(delivered, 95):6.2f} ms, n={len(delivered)}, {block.wall_s:.1f} s"
        + (f", worker caught up {block.settle_s:.1f} s later" if block.settle_s is not None else "")
        + (f", failures {block.failures}" if block.failures else "")
    )
    return block


async def bench_fast_path(base: Path, plan: FastPlan, base_url: str, queue: QueueSettings) -> dict[str, Any]:
    """Part one: reply latency with reflection ON versus OFF, interleaved."""
    storage = StorageSettings(data_dir=base / "fast", queue=queue.model_copy(update={"in_process": False}))
    settings = fast_settings(base_url, storage)
    app = await Kindred.start(settings, ops=False)
    blocks: list[Block] = []
    meter = Meter()
    try:
        assert app.worker is None  # the worker is run (and stopped) by Reflecting
        switch = Reflecting(app, queue)
        # Chroma writes: the worker's index and memory upserts, superseded facts' deletes.
        meter.wrap(app.storage.vectors, "upsert", "vector_upsert", lambda a, r: len(a[2]))
        meter.wrap(app.storage.vectors, "delete", "vector_delete", lambda a, r: len(a[2]))
        scopes = [
            Scope(user_id=f"fast-{u:04d}", guild_id=GUILD, channel_id=f"{CHANNEL}{u % CHANNELS}")
            for u in range(plan.users)
        ]
        # Warm-up, reflection on: every person exists, has a session, a vector collection and some facts.
        started = time.perf_counter()
        switch.on()
        rng = random.Random(f"{SEED}-warm")
        for start in range(0, len(scopes), 8):
            await asyncio.gather(
                *(
                    timed_turn(app.pipeline, message(s, f"warm-{start + i}", user_message(rng)))
                    for i, s in enumerate(scopes[start : start + 8])
                )
            )
        await settle(app.storage, SETTLE_TIMEOUT_S)
        warm = await switch.off()
        took = time.perf_counter() - started
        progress(
            f"warm-up: {len(scopes)} people, one turn each, reflected in {took:.1f} s "
            f"({warm.get('completed', 0)} jobs)"
        )
        for r in range(plan.rounds):
            order = ("on", "off") if r % 2 == 0 else ("off", "on")
            for mode in order:
                blocks.append(await run_block(app, switch, meter, mode, r, plan, scopes))
        memories = await app.storage.list_memories(scopes[0], limit=200)
    finally:
        meter.unwrap()
        await app.close(grace_s=5)

    def pooled(mode: str) -> list[TurnSample]:
        return [s for b in blocks if b.mode == mode for s in b.samples]

    on, off = pooled("on"), pooled("off")
    on_p50 = percentile([s.delivered for s in on], 50)
    off_p50 = percentile([s.delivered for s in off], 50)
    ratio = on_p50 / off_p50 if off_p50 else math.nan
    rounds = []
    for r in range(plan.rounds):
        pair = {b.mode: b for b in blocks if b.round == r}
        a = percentile([s.delivered for s in pair["on"].samples], 50)
        b = percentile([s.delivered for s in pair["off"].samples], 50)
        rounds.append(round(a / b, 4) if b else math.nan)
    rows = [b.row() for b in blocks]
    for row in rows:
        row["offered_rate_per_s"] = plan.rate
    on_blocks = [b for b in blocks if b.mode == "on"]
    return {
        "plan": asdict(plan),
        "blocks": rows,
        "on": {
            **summary([s.delivered for s in on]),
            "handle": summary([s.handle for s in on]),
            "parts_p50_ms": {n: round(percentile([getattr(s, n) for s in on], 50), 3) for n, _ in PARTS},
            "parts_p95_ms": {n: round(percentile([getattr(s, n) for s in on], 95), 3) for n, _ in PARTS},
            "loop_lag": summary([x for b in on_blocks for x in b.lags]),
            "queue_lag": queue_lag([q for b in on_blocks for q in b.queue]),
            "by_chroma_overlap": overlap_split(on),
        },
        "off": {
            **summary([s.delivered for s in off]),
            "handle": summary([s.handle for s in off]),
            "parts_p50_ms": {n: round(percentile([getattr(s, n) for s in off], 50), 3) for n, _ in PARTS},
            "parts_p95_ms": {n: round(percentile([getattr(s, n) for s in off], 95), 3) for n, _ in PARTS},
            "loop_lag": summary([x for b in blocks if b.mode == "off" for x in b.lags]),
        },
        "ratio_p50": round(ratio, 4),
        "ratio_p95": round(
            percentile([s.delivered for s in on], 95) / percentile([s.delivered for s in off], 95), 4
        ),
        "ratio_p50_per_round": rounds,
        "facts_of_first_person": len(memories),
        "jobs_done_by_type": _jobs_done(on_blocks),
    }


def overlap_split(samples: Sequence[TurnSample]) -> dict[str, Any]:
    """Split ON turns by whether a Chroma write ran while the person waited; latency of each group."""
    clear = [s.delivered for s in samples if s.chroma_ms == 0]
    hit = [s for s in samples if s.chroma_ms > 0]
    return {
        "without_chroma_write": summary(clear),
        "with_chroma_write": summary([s.delivered for s in hit]),
        "chroma_ms_inside_turn": summary([s.chroma_ms for s in hit]),
        "share_of_turns_hit": round(len(hit) / len(samples), 4) if samples else math.nan,
    }


def _jobs_done(blocks: Sequence[Block]) -> dict[str, int]:
    done: Counter[str] = Counter()
    for b in blocks:
        for job_type, stats in b.jobs.items():
            if job_type != "unfinished":
                done[job_type] += int(stats["n"])
    return dict(done)


# ---------------------------------------------------------------------------------------------- part two


@dataclass(frozen=True, slots=True)
class IndexPlan:
    """One indexing backlog."""

    label: str
    turns: int
    users: int


async def record_backlog(storage: StorageService, plan: IndexPlan) -> tuple[float, float]:
    """Record ``plan.turns`` messages (turn + reply) and enqueue each one's index job as the hook does."""
    rng = random.Random(f"{SEED}-{plan.label}")
    scopes = [
        Scope(user_id=f"ix-{plan.label}-{u:05d}", guild_id=GUILD, channel_id=f"{CHANNEL}{u % CHANNELS}")
        for u in range(plan.users)
    ]
    work = [(rng.randrange(plan.users), user_message(rng)) for _ in range(plan.turns)]
    queue: asyncio.Queue[tuple[int, int, str]] = asyncio.Queue()
    for i, (u, text) in enumerate(work):
        queue.put_nowait((i, u, text))
    record_s = 0.0
    enqueue_s = 0.0
    # One producer per person at a time keeps each person's turns in order, as the pipeline's lock does.
    locks = [asyncio.Lock() for _ in scopes]

    async def producer() -> None:
        nonlocal record_s, enqueue_s
        while not queue.empty():
            i, u, text = queue.get_nowait()
            scope = scopes[u]
            async with locks[u]:
                started = time.perf_counter()
                turn = await storage.record_turn(
                    scope, "user", text, speaker=AUTHOR, message_id=f"{plan.label}-{i}"
                )
                reply = await storage.record_turn(
                    scope, "assistant", REPLY, speaker="Kindred", message_id=f"{plan.label}-{i}:reply"
                )
                recorded = time.perf_counter()
                # What Reflection.enqueue_reflection does for the index job.
                turns = await storage.turns_for_indexing(scope, [turn.id, reply.id])
                await enqueue_index(storage, scope, turns)
                record_s += recorded - started
                enqueue_s += time.perf_counter() - recorded
            if i and i % 1000 == 0:
                progress(f"{plan.label}: {i} of {plan.turns} messages recorded and enqueued")

    await asyncio.gather(*(producer() for _ in range(PRODUCERS)))
    return record_s, enqueue_s


def _loaded(args: Any, found: Any) -> int:
    return sum(len(turns) for turns in (found or {}).values())


PHASES = (
    ("claim", "claim a batch (SQL UPDATE ... RETURNING)"),
    ("load", "load the batch's turns (one SQL SELECT)"),
    ("embed", "embed the batch (builtin model2vec, one call)"),
    ("write", "Chroma upserts, one per person, sent together"),
    ("complete", "acknowledge the batch (SQL UPDATE)"),
)


async def bench_indexing(
    base: Path, plan: IndexPlan, queue: QueueSettings, profile: Path | None = None, probe: bool = False
) -> dict[str, Any]:
    """Part two: drain a backlog of index jobs with the in-process worker; turns indexed per second."""
    settings = StorageSettings(data_dir=base / f"index-{plan.label}", queue=queue)
    storage = await StorageService.open(settings)
    meter = Meter()
    result: dict[str, Any] = {"label": plan.label, "turns": plan.turns, "users": plan.users}
    try:
        started = time.perf_counter()
        record_s, enqueue_s = await record_backlog(storage, plan)
        load_s = time.perf_counter() - started
        stats = await storage.jobs.stats()
        progress(
            f"{plan.label}: {plan.turns} messages of {plan.users} people recorded and enqueued in "
            f"{load_s:.1f} s; queue depth {stats.depth}"
        )
        since = datetime(1970, 1, 1, tzinfo=UTC)
        registry, _ = build_reflection(Settings(storage=settings), storage, None)
        meter.wrap(storage.jobs, "claim", "claim", lambda a, r: len(r or ()))
        meter.wrap(storage.jobs, "complete", "complete", lambda a, r: len(a[1]))
        meter.wrap(storage, "turns_for_indexing_many", "load", _loaded)
        meter.wrap(storage, "index_turn_groups", "index_turn_groups", lambda a, r: len(a[0]))
        meter.wrap(storage.embedder, "embed", "embed", lambda a, r: len(a[0]))
        meter.wrap(storage.vectors, "upsert", "upsert", lambda a, r: len(a[2]))
        worker = Worker(storage.jobs, registry, settings.queue)
        samples: list[QueueSample] = []
        stop = asyncio.Event()
        gc.collect()
        profiler = cProfile.Profile() if profile is not None else None
        if profiler is not None:
            profiler.enable()
        begun = time.perf_counter()
        worker.start()
        poller = asyncio.create_task(queue_poller(storage, stop, samples))
        while worker.counters.completed + worker.counters.failed < stats.depth:
            if time.perf_counter() - begun > 900:
                raise RuntimeError(f"{plan.label}: the backlog was not drained within 15 minutes")
            await asyncio.sleep(0.05)
        ended = meter.stats["complete"].last or time.perf_counter()
        stop.set()
        await poller
        await worker.stop()
        if profiler is not None:
            profiler.disable()
        meter.unwrap()
        first = meter.stats["claim"].first or begun
        drain_s = ended - first

        def window(label: str) -> tuple[int, float, int]:
            return meter.stats[label].within(first, ended)

        user_turns = window("load")[2] // 2  # each job loads its turn and its reply
        indexed = window("embed")[2]
        vectors = await storage.vectors.count(storage.space)
        jobs = await job_latencies(storage, since)
        batch_calls, _, batch_people = window("index_turn_groups")
        upsert_calls, _, upsert_items = window("upsert")
        phases: dict[str, dict[str, Any]] = {}
        accounted = 0.0
        for name, what in PHASES:
            if name == "write":
                # The upserts overlap one another: their share is the batch's indexing time less embedding.
                calls, grouped_s, items = upsert_calls, window("index_turn_groups")[1], upsert_items
                seconds = max(0.0, grouped_s - window("embed")[1])
            else:
                calls, seconds, items = window(name)
            accounted += seconds
            phases[name] = {
                "what": what,
                "calls": calls,
                "total_s": round(seconds, 3),
                "share": round(seconds / drain_s, 4) if drain_s else math.nan,
                "ms_per_call": round(seconds / calls * 1000, 3) if calls else math.nan,
                "items": items,
                "ms_per_job": round(seconds / stats.depth * 1000, 3) if stats.depth else math.nan,
            }
        phases["other"] = {
            "what": "worker loop, batch wait, event loop (queue poller included)",
            "total_s": round(drain_s - accounted, 3),
            "share": round((drain_s - accounted) / drain_s, 4) if drain_s else math.nan,
        }
        rate = indexed / drain_s if drain_s else math.nan
        result.update(
            {
                "load_s": round(load_s, 1),
                "record_turn_ms_per_message": round(record_s / plan.turns * 1000, 3),
                "enqueue_ms_per_message": round(enqueue_s / plan.turns * 1000, 3),
                "jobs": stats.depth,
                "completed": worker.counters.completed,
                "failed": worker.counters.failed,
                "held_back": worker.counters.held_back,
                "user_turns_loaded": user_turns,
                "turns_indexed": indexed,
                "vectors_in_index": vectors,
                "drain_s": round(drain_s, 3),
                "turns_per_s": round(rate, 1),
                "jobs_per_s": round(worker.counters.completed / drain_s, 1) if drain_s else math.nan,
                "batches": batch_calls,
                "jobs_per_batch_mean": _ratio(stats.depth, batch_calls, 1),
                "people_per_batch_mean": _ratio(batch_people, batch_calls, 1),
                "upserts_per_batch_mean": _ratio(upsert_calls, batch_calls, 1),
                "turns_per_upsert_mean": _ratio(upsert_items, upsert_calls, 2),
                "phases": phases,
                "queue_lag": queue_lag(samples),
                "queue_samples": [asdict(s) for s in samples],
                "enqueue_to_done": jobs,
            }
        )
        progress(
            f"{plan.label}: {indexed} turns indexed in {drain_s:.1f} s = {rate:.0f} turns/s "
            f"({batch_calls} batches, {result['upserts_per_batch_mean']} upserts per batch)"
        )
        if profiler is not None and profile is not None:
            profiler.dump_stats(str(profile))
            text = _top_functions(profiler)
            result["profile"] = {"file": str(profile), "top_cumulative": text}
            progress(f"{plan.label}: cProfile of the drain written to {profile}")
        if probe:
            result["upsert_probe"] = await probe_upserts(storage)
    finally:
        meter.unwrap()
        await storage.close()
    return result


def _ratio(a: float, b: float, digits: int) -> float:
    return round(a / b, digits) if b else math.nan


def _top_functions(profiler: cProfile.Profile, limit: int = 25) -> list[str]:
    stream = _Lines()
    stats = pstats.Stats(profiler, stream=stream)  # type: ignore[arg-type]
    stats.sort_stats("cumulative").print_stats(limit)
    return [line for line in stream.lines if line.strip()][-limit - 1 :]


class _Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self._tail = ""

    def write(self, text: str) -> int:
        parts = (self._tail + text).split("\n")
        self._tail = parts.pop()
        self.lines.extend(parts)
        return len(text)

    def flush(self) -> None:
        pass


async def probe_upserts(storage: StorageService) -> dict[str, Any]:
    """Time raw ``VectorIndex.upsert`` calls: creating a collection, one item, and a batch per call."""
    rng = np.random.default_rng(SEED)
    dim = storage.embedder.dimension
    parts = [Partition(f"probe:{i:03d}", "gprobe") for i in range(PROBE_PARTITIONS)]

    def items(prefix: str, n: int) -> list[VectorItem]:
        matrix = rng.standard_normal((n, dim)).astype(np.float32)
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        return [
            VectorItem(f"{prefix}-{j}", row.tolist(), {"kind": "turn", "at": 0.0})
            for j, row in enumerate(matrix)
        ]

    async def timed(batch: Sequence[tuple[Partition, list[VectorItem]]]) -> list[float]:
        out = []
        for partition, vectors in batch:
            started = time.perf_counter()
            await storage.vectors.upsert(storage.space, partition, vectors)
            out.append((time.perf_counter() - started) * 1000)
        return out

    create = await timed([(p, items(f"c{i}", 1)) for i, p in enumerate(parts)])
    one = await timed([(p, items(f"o{i}", 1)) for i, p in enumerate(parts)])
    many = await timed(
        [(p, items(f"m{i}", PROBE_BATCH)) for i, p in enumerate(parts[: PROBE_PARTITIONS // 2])]
    )
    # Chroma's embedded client keeps the GIL through a write, so the thread it runs in does not free the loop.
    idle = await sample_idle_lag(1.0)
    lags: list[float] = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(lag_sampler(stop, lags))
    during = await timed([(p, items(f"l{i}", 1)) for i, p in enumerate(parts)])
    stop.set()
    await sampler
    texts = [f"probe sentence number {i} about the garden and the cat" for i in range(PROBE_BATCH)]
    embeds = []
    for _ in range(10):
        started = time.perf_counter()
        await storage.embedder.embed(texts)
        embeds.append((time.perf_counter() - started) * 1000)
    out: dict[str, Any] = {
        "create_collection_1_item": summary(create),
        "existing_1_item": summary(one),
        f"existing_{PROBE_BATCH}_items": summary(many),
        f"embed_{PROBE_BATCH}_texts": summary(embeds),
        "loop_lag_idle": summary(idle),
        "loop_lag_during_upserts": summary(lags),
        "upserts_while_sampling": summary(during),
    }
    p50_one = percentile(one, 50)
    out["ceiling_turns_per_s_one_upsert_per_turn"] = round(1000 / p50_one, 1) if p50_one else math.nan
    progress(
        f"upsert probe: new collection {percentile(create, 50):.1f} ms, 1 item {p50_one:.1f} ms, "
        f"{PROBE_BATCH} items {percentile(many, 50):.1f} ms per call (p50)"
    )
    return out


# ---------------------------------------------------------------------------------------------- report


@dataclass(frozen=True, slots=True)
class Plan:
    """How big a run is."""

    fast: FastPlan
    main: IndexPlan
    few: IndexPlan


def make_plan(args: argparse.Namespace) -> Plan:
    """Return the run's sizes from the options."""
    quick = args.quick
    users = args.users or (200 if quick else 500)
    turns = args.turns or (1_000 if quick else 5_000)
    fast = FastPlan(
        users=min(users, 40 if quick else 100),
        rounds=args.rounds or (1 if quick else 3),
        block_turns=args.block_turns or (60 if quick else 120),
        rate=args.rate,
        latency_ms=args.latency_ms,
    )
    few_people = 10
    few = IndexPlan("few-people", max(few_people, turns // 5), few_people)
    return Plan(fast, IndexPlan("main", turns, users), few)


def judge(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Put each target beside the number it judges."""
    fast = report.get("fast_path")
    main = report.get("indexing", {}).get("main")
    checks = []
    if fast:
        checks.append(
            {
                "name": "reply latency with reflection on / off (ratio of medians)",
                "value": fast["ratio_p50"],
                "target": f"<= {TARGET_RATIO}",
                "pass": bool(fast["ratio_p50"] <= TARGET_RATIO),
            }
        )
    if main:
        checks.append(
            {
                "name": "sustained indexing throughput, turns/s (embedded default)",
                "value": main["turns_per_s"],
                "target": f">= {TARGET_TURNS_PER_S:g}",
                "pass": bool(main["turns_per_s"] >= TARGET_TURNS_PER_S),
            }
        )
    return checks


def render(report: dict[str, Any]) -> str:
    """Return the printed report."""
    m = report["machine"]
    lines = [
        f"Kindred reflection benchmark - {m['cores']} CPUs, Python {m['python']}, "
        f"{'quick' if report['run']['quick'] else 'full'} run, load avg {m['loadavg_start'][0]} at start, "
        f"{m.get('loadavg_end', ['?'])[0]} at end",
    ]
    if report.get("fast_path"):
        lines += render_fast(report["fast_path"])
    if report.get("indexing"):
        lines += render_indexing(report["indexing"], report["run"]["queue"]["batch_max_size"])
    lines += ["", "Targets:"]
    for c in report["targets"]:
        lines.append(f"  {c['name']}: {c['value']} vs {c['target']}: {verdict(c['pass'])}")
    return "\n".join(lines)


def _num(value: float | None, spec: str, width: int) -> str:
    return f"{'-' if value is None else format(value, spec):>{width}}"


def render_fast(fast: dict[str, Any]) -> list[str]:
    """Return the lines of part one."""
    plan = fast["plan"]
    lines = [
        "",
        "Part 1 - reply latency: handle() start -> reply fully delivered to the sink (embedded default)",
        f"  fake model {plan['latency_ms']:g} ms + {len(REPLY)}-char streamed reply; "
        f"{plan['rate']:g} turns/s open loop from {plan['users']} people; {plan['rounds']} rounds of "
        f"ON/OFF blocks of {plan['block_turns']} turns (same arrivals in both; order alternates)",
        "",
    ]
    header = (
        f"{'round':>5} {'mode':<4} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'lag p99':>8} "
        f"{'chroma writes':>13} {'queue age max':>13} {'caught up':>9}"
    )
    lines += [header, "-" * len(header)]
    for b in fast["blocks"]:
        writes = b.get("vector_writes", {}).get("share_of_block")
        lines.append(
            f"{b['round'] + 1:>5} {b['mode'].upper():<4} {b['n']:>5} {b['p50_ms']:>8.2f} {b['p95_ms']:>8.2f} "
            f"{b['p99_ms']:>8.2f} {b['loop_lag']['p99_ms']:>8.2f} "
            f"{_num(None if writes is None else writes * 100, '.1f', 12)}% "
            f"{_num(b.get('queue_lag', {}).get('oldest_pending_age_max_s'), '.2f', 11)} s "
            f"{_num(b.get('settle_after_block_s'), '.1f', 7)} s"
        )
    on, off = fast["on"], fast["off"]
    lines.append("-" * len(header))
    for name, s in (("ON", on), ("OFF", off)):
        lines.append(
            f"{'all':>5} {name:<4} {s['n']:>5} {s['p50_ms']:>8.2f} {s['p95_ms']:>8.2f} {s['p99_ms']:>8.2f} "
            f"{s['loop_lag']['p99_ms']:>8.2f}"
        )
    lines += [
        "  (lag = event-loop lag of a 10 ms sampler; chroma writes = share of the block's wall time spent in",
        "   Chroma upserts/deletes, which hold the GIL; queue age = oldest pending job; caught up = time the",
        "   worker needed after the block's last reply to empty the queue)",
        "",
        f"  ratio ON/OFF: p50 {fast['ratio_p50']:.3f} (target <= {TARGET_RATIO}: "
        f"{verdict(fast['ratio_p50'] <= TARGET_RATIO)}), p95 {fast['ratio_p95']:.3f}; p50 per round "
        + ", ".join(f"{r:.3f}" for r in fast["ratio_p50_per_round"]),
        "",
        f"  {'where the turn goes (ms)':<46} {'ON p50':>8} {'OFF p50':>8} {'ON p95':>8} {'OFF p95':>8}",
    ]
    for name, what in PARTS:
        lines.append(
            f"  {what:<46} {on['parts_p50_ms'][name]:>8.2f} {off['parts_p50_ms'][name]:>8.2f} "
            f"{on['parts_p95_ms'][name]:>8.2f} {off['parts_p95_ms'][name]:>8.2f}"
        )
    split = on["by_chroma_overlap"]
    clear, hit, inside = (
        split["without_chroma_write"],
        split["with_chroma_write"],
        split["chroma_ms_inside_turn"],
    )
    lines += [
        "",
        f"  ON turns during which no Chroma write ran ({clear['n']}): p50 {clear['p50_ms']:.2f} ms, "
        f"p95 {clear['p95_ms']:.2f} ms",
        f"  ON turns during which one did ({hit['n']}, {split['share_of_turns_hit']:.0%}): p50 "
        f"{hit['p50_ms']:.2f} ms, p95 {hit['p95_ms']:.2f} ms; Chroma write time inside the wait p50 "
        f"{inside['p50_ms']:.1f} ms, p95 {inside['p95_ms']:.1f} ms",
    ]
    q = on["queue_lag"]
    lines += [
        "",
        f"  queue during ON blocks: oldest pending job p50 {q['oldest_pending_age_p50_s']:.2f} s, "
        f"p95 {q['oldest_pending_age_p95_s']:.2f} s, max {q['oldest_pending_age_max_s']:.2f} s; "
        f"depth p95 {q['depth_p95']}, max {q['depth_max']}",
    ]
    pooled: dict[str, list[dict[str, Any]]] = {}
    for b in fast["blocks"]:
        for job_type, s in b.get("enqueue_to_done", {}).items():
            if job_type != "unfinished":
                pooled.setdefault(job_type, []).append(s)
    for job_type, parts in sorted(pooled.items()):
        lines.append(
            f"  enqueue -> done, {job_type:<9} n={sum(p['n'] for p in parts):>5}: p50 "
            + "/".join(f"{p['p50_s']:.2f}" for p in parts)
            + " s, p95 "
            + "/".join(f"{p['p95_s']:.2f}" for p in parts)
            + f" s (per ON block), max {max(p['max_s'] for p in parts):.2f} s"
        )
    for b in fast["blocks"]:
        w = b.get("worker")
        if b["mode"] != "on" or not w:
            continue
        busy = ", ".join(f"{k} {v:.1f}" for k, v in w.get("busy_s", {}).items())
        vw = b["vector_writes"]
        lines.append(
            f"  round {b['round'] + 1} ON: worker did {w['completed']} jobs ({w['failed']} failed) in "
            f"{w['batches']} batches, busy s: {busy}; Chroma writes "
            f"{vw['vector_upsert']['calls']} upserts {vw['vector_upsert']['seconds']:.1f} s + "
            f"{vw['vector_delete']['calls']} deletes {vw['vector_delete']['seconds']:.1f} s "
            f"in a {b['wall_s']:.1f} s block"
        )
    return lines


def render_indexing(idx: dict[str, Any], batch_max_size: int) -> list[str]:
    """Return the lines of part two."""
    lines = [
        "",
        "Part 2 - sustained indexing throughput (embedded: SQLite outbox, embedded Chroma in its process,",
        f"  builtin model2vec; batches of up to {batch_max_size} jobs)",
        "",
    ]
    header = (
        f"{'backlog':<11} {'turns':>6} {'people':>6} {'load s':>7} {'drain s':>8} {'turns/s':>8} "
        f"{'batches':>7} {'upserts/batch':>13} {'turns/upsert':>12}  target"
    )
    lines += [header, "-" * len(header)]
    for key in ("main", "few"):
        r = idx.get(key)
        if not r:
            continue
        target = (
            f">= {TARGET_TURNS_PER_S:g} {verdict(r['turns_per_s'] >= TARGET_TURNS_PER_S)}"
            if key == "main"
            else "(diagnostic)"
        )
        lines.append(
            f"{r['label']:<11} {r['turns_indexed']:>6} {r['users']:>6} {r['load_s']:>7.1f} "
            f"{r['drain_s']:>8.1f} {r['turns_per_s']:>8.1f} {r['batches']:>7} "
            f"{r['upserts_per_batch_mean']:>13} {r['turns_per_upsert_mean']:>12}  {target}"
        )
    main = idx.get("main")
    if not main:
        return lines
    q = main["queue_lag"]
    e = main["enqueue_to_done"].get("index", {})
    lines += [
        "",
        f"  main backlog: {main['jobs']} jobs, {main['completed']} done, {main['failed']} failed, "
        f"{main['vectors_in_index']} vectors in the index",
        f"  loading it cost {main['record_turn_ms_per_message']:.1f} ms per message to record (turn + reply) "
        f"and {main['enqueue_ms_per_message']:.1f} ms to enqueue ({PRODUCERS} producers)",
        f"  queue lag while draining (all enqueued before the worker started): oldest pending p95 "
        f"{q['oldest_pending_age_p95_s']:.1f} s, max {q['oldest_pending_age_max_s']:.1f} s",
        f"  enqueue -> done: p50 {e.get('p50_s', math.nan):.1f} s, p95 {e.get('p95_s', math.nan):.1f} s, "
        f"max {e.get('max_s', math.nan):.1f} s",
        "",
        f"  {'where the drain time goes (main)':<58} {'calls':>6} {'total s':>8} {'share':>6} "
        f"{'ms/call':>8} {'ms/job':>7}",
    ]
    for name, what in PHASES:
        p = main["phases"][name]
        lines.append(
            f"  {what:<58} {p['calls']:>6} {p['total_s']:>8.2f} {p['share']:>6.1%} "
            f"{p['ms_per_call']:>8.2f} {p['ms_per_job']:>7.2f}"
        )
    other = main["phases"]["other"]
    lines.append(f"  {other['what']:<58} {'':>6} {other['total_s']:>8.2f} {other['share']:>6.1%}")
    probe = main.get("upsert_probe")
    if probe:
        create = probe["create_collection_1_item"]["p50_ms"]
        many = probe[f"existing_{PROBE_BATCH}_items"]["p50_ms"]
        embed = probe[f"embed_{PROBE_BATCH}_texts"]["p50_ms"]
        lines += [
            "",
            f"  raw Chroma upsert, p50 per call: new collection {create:.1f} ms, existing 1 item "
            f"{probe['existing_1_item']['p50_ms']:.1f} ms, existing {PROBE_BATCH} items {many:.1f} ms; "
            f"embedding {PROBE_BATCH} texts {embed:.1f} ms",
            f"  event-loop lag while upserts run (in the vector process): p50 "
            f"{probe['loop_lag_during_upserts']['p50_ms']:.1f} ms, p99 "
            f"{probe['loop_lag_during_upserts']['p99_ms']:.1f} ms (idle: p50 "
            f"{probe['loop_lag_idle']['p50_ms']:.1f}, p99 {probe['loop_lag_idle']['p99_ms']:.1f})",
            f"  => at one upsert per person per batch, indexing cannot pass about "
            f"{probe['ceiling_turns_per_s_one_upsert_per_turn']:.0f} turns/s when each person has one turn "
            "in a batch",
        ]
    return lines


# ---------------------------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", required=True, type=Path, help="where to write the JSON results")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, one round (smoke run)")
    parser.add_argument("--turns", type=int, default=None, help="index jobs in the main backlog (part 2)")
    parser.add_argument(
        "--users", type=int, default=None, help="people in the main backlog; part 1 uses at most 100 of them"
    )
    parser.add_argument("--rate", type=float, default=5.0, help="part 1: turns offered per second")
    parser.add_argument("--latency-ms", type=float, default=LLM_LATENCY_MS, help="fake model latency")
    parser.add_argument("--rounds", type=int, default=None, help="part 1: ON/OFF rounds")
    parser.add_argument("--block-turns", type=int, default=None, help="part 1: turns per block")
    parser.add_argument("--skip", choices=("fast", "index"), default=None, help="leave one part out")
    parser.add_argument("--profile", type=Path, default=None, help="cProfile the main drain into this file")
    parser.add_argument("--tmp", type=Path, default=None, help="parent of the temporary directory")
    parser.add_argument(
        "--batch-max-size", type=int, default=None, help="queue.batch_max_size (default: Kindred's default)"
    )
    args = parser.parse_args(argv)
    for name in ("turns", "users", "rounds", "block_turns"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.rate <= 0:
        parser.error("--rate must be positive")
    return args


def remove_tree(path: Path) -> bool:
    """Remove a directory tree; return whether it is gone."""
    shutil.rmtree(path, ignore_errors=True)
    return not path.exists()


async def main_async(args: argparse.Namespace) -> int:
    """Run both parts, print the table and write the JSON."""
    started = time.perf_counter()
    machine = machine_info()
    plan = make_plan(args)
    tmp = Path(tempfile.mkdtemp(prefix="kindred-reflection-bench-", dir=args.tmp))
    progress(f"temporary directory {tmp}")
    report: dict[str, Any] = {"machine": machine}
    sized = {} if args.batch_max_size is None else {"batch_max_size": args.batch_max_size}
    queue = QueueSettings(**sized)
    try:
        if args.skip != "fast":
            async with fake_model(plan.fast.latency_ms) as base_url:
                report["fast_path"] = await bench_fast_path(tmp, plan.fast, base_url, queue)
        if args.skip != "index":
            report["indexing"] = {
                "main": await bench_indexing(tmp, plan.main, queue, args.profile, probe=True),
                "few": await bench_indexing(tmp, plan.few, queue),
            }
    finally:
        progress(f"removed {tmp}" if remove_tree(tmp) else f"could not remove {tmp}")
    machine["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    report["run"] = {
        "quick": args.quick,
        "plan": {"fast": asdict(plan.fast), "main": asdict(plan.main), "few": asdict(plan.few)},
        "queue": queue.model_dump(),
        "duration_s": round(time.perf_counter() - started, 1),
    }
    report["targets"] = judge(report)
    print(render(report))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"\nJSON written to {args.out} ({time.perf_counter() - started:.0f} s in all)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--serve-fake"]:
        return serve_fake(float(argv[1]))
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("chromadb", "httpx"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    args = parse_args(argv)
    try:
        return asyncio.run(main_async(args))
    except KeyboardInterrupt:
        print("interrupted; the temporary directory was removed", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
