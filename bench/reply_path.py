"""Benchmark the reply path: what Kindred itself costs per turn, everything except waiting for the model.

Part one drives the real ``Pipeline`` (built by ``Kindred.start``) with an instant local LLM: the fake
OpenAI-compatible server on 127.0.0.1 with zero latency and a short streamed reply. Per turn it reports
the turn time minus the LLM time (the pipeline's overhead) and its split: admission (duplicate claim and
rate limits), recording the person's turn, context assembly (persona, recent turns and recall; recall is
split again into embedding, the vector query and the SQL around it), and recording the reply. It does so
for a person with 1k, 10k and 100k stored memories, on the embedded default (SQLite file, in-process
cache, embedded Chroma) and in server mode (PostgreSQL, Redis, a Chroma server).

Part two puts 200 people in conversation at once against a model that takes 1 s to answer, and measures
how late a 10 ms sampler task wakes up (event-loop lag), and the per-turn overhead under that load.

Run::

    python bench/reply_path.py --out /tmp/reply-path.json           # full: 1k/10k/100k, both backends
    python bench/reply_path.py --out /tmp/smoke.json --quick        # 1k/10k, fewer turns, one round

Seeded memories are bulk-inserted SQL rows plus their vectors (``storage.vectors.upsert``, ids ``m<id>``)
with embeddings from ``storage.embedder.embed`` over distinct templated sentences (hobbies, people, places,
dates, pets, work, health...). Every stored memory has its own sentence; nothing is reused. After a bulk
load PostgreSQL gets ``ANALYZE`` (the state autovacuum reaches within a minute); SQLite is left without
planner statistics, as Kindred leaves it (``--analyze-sqlite`` shows what ANALYZE would change).

The after-turn hooks run as in production (the reflection enqueue, in a background task on the same loop);
the in-process reflection worker is off, as when separate ``kindred worker`` processes do reflection, so
its model calls to the fake server do not pollute the numbers.

It creates a temporary directory, a fresh PostgreSQL database, a unique Redis key prefix and a Chroma
server on a free port, and removes all of them at the end, also after an error or Ctrl-C. Numbers are
percentiles from one run on a shared machine: compare runs, never assert on them.
"""

# ruff: noqa: E402
# (the imports below must come after the sys.path fix)

from __future__ import annotations

import sys
from pathlib import Path

# Run as ``python bench/reply_path.py``, this file's directory comes first on sys.path and bench/storage.py
# would shadow the ``storage`` package; the repository root is needed for the fake OpenAI server in tests/.
_BENCH_DIR = Path(__file__).resolve().parent
if sys.path and Path(sys.path[0] or ".").resolve() == _BENCH_DIR:
    sys.path.pop(0)
if str(_BENCH_DIR.parent) not in sys.path:
    sys.path.insert(0, str(_BENCH_DIR.parent))

import argparse
import asyncio
import contextlib
import functools
import gc
import json
import logging
import math
import os
import platform
import random
import secrets
import shutil
import socket
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from pydantic import SecretStr

from bot.app import Kindred
from bot.config import LLMSettings, OpsSettings, PipelineSettings, SchedulerSettings, Settings
from bot.pipeline.message import IncomingMessage
from bot.pipeline.pipeline import Pipeline
from storage.config import CacheSettings, QueueSettings, SQLSettings, StorageSettings, VectorSettings
from storage.scope import Scope
from storage.service import StorageService
from storage.sql.models import Memory, ScopeRow, User
from storage.vectors.base import Partition, VectorItem
from tests.fakes.openai_api import FakeOpenAI

log = logging.getLogger("bench.reply_path")

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_USER = "postgres"
PG_ADMIN_DB = "test"
REDIS_URL = "redis://127.0.0.1:6379/0"

MODEL = "bench-llm"
REPLY = "That sounds lovely. How did it make you feel?"
GUILD = "7000"
CHANNEL = "7001"
AUTHOR = "Sam"
SEED = 20_250_301

FULL_SIZES = (1_000, 10_000, 100_000)
QUICK_SIZES = (1_000, 10_000)
FULL_TURNS = 400
QUICK_TURNS = 100
FULL_ROUNDS = 3
QUICK_ROUNDS = 1
SQL_BATCH = 5_000
VECTOR_BATCH = 5_000
EMBED_BATCH = 8_192

CONC_USERS = 200
CONC_CHANNELS = 10
CONC_MEMORIES_PER_USER = 100
CONC_LLM_LATENCY_S = 1.0
SAMPLER_INTERVAL_S = 0.010

TARGET_AT = 10_000
TARGET_P50_MS = 10.0
TARGET_P99_MS = 50.0
TARGET_LAG_P99_MS = 20.0
MEM0_NOTE = "mem0's paper: memory search alone 148 ms p50, 200 ms p95"

# Parts of a turn timed from outside the pipeline (see ``instrument``); None outside a measured turn.
_PROBES: ContextVar[dict[str, float] | None] = ContextVar("bench_probes", default=None)

Matrix = npt.NDArray[np.float32]


# ---------------------------------------------------------------------------------------------- helpers

_STARTED = time.perf_counter()


def progress(message: str) -> None:
    """Log progress to stderr with the elapsed time, so a long run shows where it is."""
    print(f"[{time.perf_counter() - _STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


def percentile(values: Sequence[float], pct: float) -> float:
    """Return the nearest-rank percentile of ``values`` (NaN when there are none)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(values: Sequence[float]) -> dict[str, float]:
    """Return p50/p95/p99/max of millisecond values, rounded for the JSON."""
    return {
        "p50_ms": round(percentile(values, 50), 3),
        "p95_ms": round(percentile(values, 95), 3),
        "p99_ms": round(percentile(values, 99), 3),
        "max_ms": round(max(values), 3) if values else math.nan,
    }


def label(size: int) -> str:
    """Return 1k, 10k, 100k... for a memory count."""
    return f"{size // 1000}k" if size >= 1000 and size % 1000 == 0 else str(size)


def verdict(passed: bool | None) -> str:
    """Return the word printed beside a number judged against a target."""
    return "n/a" if passed is None else ("PASS" if passed else "MISS")


async def cache_outages(storage: StorageService) -> int:
    """Return how often the Redis cache has failed over to the in-process one so far (0 when embedded)."""
    for tier in await storage.health():
        if tier.tier == "cache":
            return int((tier.extra or {}).get("outages", 0))
    return 0


def free_port() -> int:
    """Return a TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------------------------------- the turn


class MemorySink:
    """A ReplySink that consumes the stream in memory, as a fast adapter would."""

    def __init__(self) -> None:
        self.notices: list[str] = []

    async def typing(self) -> None:
        """Show nothing: there is no channel."""

    async def stream(self, chunks: AsyncIterator[str]) -> str:
        """Read the whole stream and return it."""
        parts = [chunk async for chunk in chunks]
        return "".join(parts)

    async def notice(self, text: str) -> None:
        """Keep notices; a benchmark turn should not get any."""
        self.notices.append(text)


def _probe(name: str, call: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(call)
    async def timed(*args: Any, **kwargs: Any) -> Any:
        probes = _PROBES.get()
        if probes is None:
            return await call(*args, **kwargs)
        started = time.perf_counter()
        try:
            return await call(*args, **kwargs)
        finally:
            probes[name] = probes.get(name, 0.0) + (time.perf_counter() - started) * 1000

    return timed


def instrument(storage: StorageService) -> None:
    """Time recall and its parts inside measured turns, by wrapping the instance's own methods."""
    # Instance attributes shadow the class's methods; the pipeline and the service call through them.
    storage.search = _probe("recall", storage.search)  # type: ignore[method-assign,assignment]
    storage.embedder.embed = _probe("embed", storage.embedder.embed)  # type: ignore[method-assign,assignment]
    storage.vectors.query = _probe("vector_query", storage.vectors.query)  # type: ignore[method-assign,assignment]


@dataclass(slots=True)
class TurnSample:
    """One answered turn, in milliseconds."""

    wall: float
    llm: float
    first_token: float
    admit: float
    record: float
    context: float
    reply_record: float
    recall: float
    embed: float
    vector_query: float

    @property
    def overhead(self) -> float:
        return self.wall - self.llm

    @property
    def recall_sql(self) -> float:
        # Realm check and the SQL re-read of every hit, plus the coroutine plumbing around them.
        return self.recall - self.embed - self.vector_query


class TurnFailed(Exception):
    """A benchmark turn did not end in a reply."""


async def timed_turn(pipeline: Pipeline, message: IncomingMessage) -> TurnSample:
    """Send one message through the pipeline; return where its time went."""
    probes: dict[str, float] = {}
    token = _PROBES.set(probes)
    sink = MemorySink()
    try:
        started = time.perf_counter()
        outcome = await pipeline.handle(message, sink)
        wall = (time.perf_counter() - started) * 1000
    finally:
        _PROBES.reset(token)
    # The AI disclosure opens a person's first turn (and one every few hours): expected, and its check is
    # part of the measured path. Any other notice means the turn did not go as a normal turn goes.
    notices = [n for n in sink.notices if n != pipeline.disclosure.text]
    if outcome.status != "replied" or notices:
        raise TurnFailed(f"turn ended {outcome.status!r} with {len(notices)} notices")
    t = outcome.timings_ms
    llm = t["llm_ms"]
    return TurnSample(
        wall=wall,
        llm=llm,
        first_token=t.get("first_token_ms", math.nan),
        admit=wall - t["total_ms"],
        record=t["record_ms"],
        context=t["context_ms"],
        reply_record=t["total_ms"] - t["record_ms"] - t["context_ms"] - llm,
        recall=probes.get("recall", 0.0),
        embed=probes.get("embed", 0.0),
        vector_query=probes.get("vector_query", 0.0),
    )


BREAKDOWN = (
    ("admit", "claim the message id + rate limits (before the turn starts)"),
    ("record", "record the person's turn (SQL + cache window)"),
    ("context", "context assembly: providers in parallel, then the token budget"),
    ("recall", "  of which StorageService.search"),
    ("embed", "    of which embedding the message"),
    ("vector_query", "    of which the vector query"),
    ("recall_sql", "    of which SQL (realm check, re-read of hits) and plumbing"),
    ("reply_record", "record the reply (SQL + cache window), typing"),
)


def breakdown(samples: Sequence[TurnSample]) -> dict[str, dict[str, float]]:
    """Return the percentiles of each part of the turn."""
    out = {name: summary([getattr(s, name) for s in samples]) for name, _ in BREAKDOWN}
    out["llm_excluded"] = summary([s.llm for s in samples])
    out["first_token_excluded"] = summary([s.first_token for s in samples])
    return out


# ---------------------------------------------------------------------------------------------- sentences


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


NAMES = _words(
    "Maya Priya Jonas Elena Tomas Aiko Leila Marcus Ines Oskar Fatima Noah Grace Mateo Hana Luca Zoe "
    "Ravi Clara Yusuf Nora Diego Freya Kenji Amara Felix Sofia Omar Lena Theo Ada Emil Rosa Idris Mei "
    "Hugo Lina Sami Vera Arjun"
)
RELATIONS = _words(
    "sister brother mum dad cousin aunt uncle grandma grandpa best-friend flatmate partner colleague "
    "manager neighbour therapist"
)
CITIES = _words(
    "Lisbon Porto Berlin Hamburg Kyoto Osaka Toronto Montreal Oslo Bergen Dublin Galway Edinburgh Glasgow "
    "Seville Valencia Krakow Prague Vienna Graz Lyon Marseille Milan Naples Athens Istanbul Tbilisi Seoul "
    "Busan Hanoi Lima Cusco Bogota Austin Denver Portland Chicago Boston Melbourne Wellington"
)
MONTHS = _words("January February March April May June July August September October November December")
WEEKDAYS = _words("Monday Tuesday Wednesday Thursday Friday Saturday Sunday")
HOBBIES = (
    "bouldering",
    "pottery",
    "sourdough baking",
    "trail running",
    "watercolour painting",
    "birdwatching",
    "chess",
    "knitting",
    "salsa dancing",
    "woodworking",
    "film photography",
    "open-water swimming",
    "gardening",
    "calligraphy",
    "board games",
    "cycling",
    "yoga",
    "journaling",
    "fishing",
    "rock climbing",
    "sewing",
    "skateboarding",
    "origami",
    "archery",
    "beekeeping",
    "kayaking",
    "stargazing",
    "crossword puzzles",
    "fencing",
    "choir singing",
)
FOODS = (
    "ramen",
    "pho",
    "lasagne",
    "bibimbap",
    "tacos al pastor",
    "shakshuka",
    "pad thai",
    "paella",
    "dumplings",
    "falafel",
    "butter chicken",
    "pierogi",
    "moussaka",
    "ceviche",
    "katsu curry",
    "goulash",
    "arepas",
    "sushi",
    "risotto",
    "banh mi",
    "lentil soup",
    "pancakes",
    "cheesecake",
    "tiramisu",
    "churros",
    "baklava",
    "gnocchi",
    "empanadas",
    "laksa",
    "kimchi stew",
)
JOBS = (
    "nurse",
    "software developer",
    "teacher",
    "barista",
    "electrician",
    "graphic designer",
    "accountant",
    "paramedic",
    "librarian",
    "chef",
    "architect",
    "lab technician",
    "bus driver",
    "social worker",
    "translator",
    "physiotherapist",
    "data analyst",
    "carpenter",
    "vet assistant",
    "pharmacist",
)
PETS = _words("dog cat rabbit parrot hamster tortoise ferret guinea-pig")
PET_NAMES = _words(
    "Miso Biscuit Pepper Luna Mochi Olive Tofu Ziggy Nugget Pickle Clover Juniper Waffles Pixel Basil "
    "Maple Sprout Noodle Pumpkin Comet Fig Marble Button Sesame Chai Poppy Rusty Bean Kiwi Socks"
)
PET_LIKES = (
    "chasing leaves",
    "sleeping on the radiator",
    "carrots",
    "long walks by the river",
    "stealing socks",
    "sunbathing",
    "the vacuum cleaner",
    "cheese",
    "car rides",
    "hiding in boxes",
)
SIGHTS = (
    "old harbour",
    "night market",
    "botanical garden",
    "cathedral",
    "street food",
    "art museum",
    "hot springs",
    "castle ruins",
    "jazz bars",
    "sunset over the bay",
    "bookshops",
    "mountain views",
    "flea market",
    "tram rides",
    "tiny cafés",
)
TOPICS = (
    "the history of tea",
    "deep-sea creatures",
    "stoic philosophy",
    "the space race",
    "urban gardening",
    "a lighthouse keeper",
    "memory and sleep",
    "the Silk Road",
    "octopus intelligence",
    "minimalism",
    "medieval medicine",
    "climate adaptation",
    "jazz in the fifties",
    "mushroom foraging",
    "the invention of printing",
    "polar expeditions",
    "habit building",
    "Roman engineering",
    "ocean currents",
    "women in early aviation",
    "bees",
    "grief",
    "typography",
    "volcanoes",
    "chess champions",
)
ALLERGENS = ("peanuts", "shellfish", "cats", "pollen", "penicillin", "gluten", "dust mites", "kiwi fruit")
INSTRUMENTS = ("the guitar", "the piano", "the cello", "the ukulele", "drums", "the violin", "the flute")
EVENTS = (
    "job interview",
    "driving test",
    "dentist appointment",
    "presentation at work",
    "first date",
    "exam",
    "wedding speech",
    "flight",
    "doctor's appointment",
    "performance review",
)
FEELINGS = ("anxious", "excited", "exhausted", "proud", "nervous", "relieved", "overwhelmed", "hopeful")
YEARS = tuple(range(2012, 2026))

_MEMORY_TEMPLATES: tuple[Callable[[random.Random], str], ...] = (
    lambda r: f"{r.choice(NAMES)} is my {r.choice(RELATIONS)} and lives in {r.choice(CITIES)}.",
    lambda r: (
        f"I started {r.choice(HOBBIES)} in {r.choice(MONTHS)} {r.choice(YEARS)} "
        f"after {r.choice(NAMES)} took me along."
    ),
    lambda r: (
        f"{r.choice(NAMES)}'s birthday is on {r.choice(MONTHS)} {r.randint(1, 28)}; "
        f"they love {r.choice(FOODS)}."
    ),
    lambda r: (
        f"I visited {r.choice(CITIES)} with {r.choice(NAMES)} in {r.choice(MONTHS)} {r.choice(YEARS)} "
        f"and loved the {r.choice(SIGHTS)}."
    ),
    lambda r: (
        f"I work as a {r.choice(JOBS)} and my shift ends at {r.randint(1, 12)} "
        f"{r.choice(('am', 'pm'))} on {r.choice(WEEKDAYS)}s."
    ),
    lambda r: (
        f"My {r.choice(PETS)} {r.choice(PET_NAMES)} is {r.randint(1, 15)} years old "
        f"and loves {r.choice(PET_LIKES)}."
    ),
    lambda r: (
        f"I'm allergic to {r.choice(ALLERGENS)}, which I found out in {r.choice(CITIES)} "
        f"back in {r.choice(YEARS)}."
    ),
    lambda r: f"On {r.choice(WEEKDAYS)}s I do {r.choice(HOBBIES)} with {r.choice(NAMES)}.",
    lambda r: f"I'm reading a book about {r.choice(TOPICS)} that my {r.choice(RELATIONS)} recommended.",
    lambda r: (
        f"I want to learn {r.choice(INSTRUMENTS)} before my trip to {r.choice(CITIES)} in {r.choice(MONTHS)}."
    ),
    lambda r: f"My favourite dish is {r.choice(FOODS)}, especially the one my {r.choice(RELATIONS)} makes.",
    lambda r: (
        f"I felt {r.choice(FEELINGS)} before my {r.choice(EVENTS)} on {r.choice(MONTHS)} "
        f"{r.randint(1, 28)}, {r.choice(YEARS)}."
    ),
    lambda r: f"I moved to {r.choice(CITIES)} in {r.choice(YEARS)} to work as a {r.choice(JOBS)}.",
    lambda r: (
        f"{r.choice(NAMES)} and I argued about {r.choice(TOPICS)} on {r.choice(WEEKDAYS)} "
        f"but made up over {r.choice(FOODS)}."
    ),
)

_MESSAGE_TEMPLATES: tuple[Callable[[random.Random], str], ...] = (
    lambda r: f"do you remember what I told you about {r.choice(NAMES)}?",
    lambda r: f"I'm thinking of going back to {r.choice(CITIES)} in {r.choice(MONTHS)}, what do you think?",
    lambda r: f"{r.choice(NAMES)} wants to try {r.choice(HOBBIES)} with me this weekend",
    lambda r: f"ugh, my {r.choice(RELATIONS)} forgot my birthday again",
    lambda r: f"what was my {r.choice(PETS)} called again? I'm so tired today",
    lambda r: f"I finally finished that book about {r.choice(TOPICS)}!",
    lambda r: f"work as a {r.choice(JOBS)} is exhausting this week, I barely slept",
    lambda r: f"should I cook {r.choice(FOODS)} tonight or just order something?",
    lambda r: f"I'm {r.choice(FEELINGS)} about my {r.choice(EVENTS)} tomorrow",
    lambda r: f"my {r.choice(RELATIONS)} is visiting from {r.choice(CITIES)} on {r.choice(WEEKDAYS)}",
)


def memory_sentences(count: int, rng: random.Random) -> list[str]:
    """Return ``count`` distinct, realistic short statements a person might have told a companion."""
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < count:
        text = rng.choice(_MEMORY_TEMPLATES)(rng)
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def user_message(rng: random.Random) -> str:
    """Return a message a person might send (it is also the recall query)."""
    return rng.choice(_MESSAGE_TEMPLATES)(rng)


@dataclass(slots=True)
class Pool:
    """The memory sentences of every benchmark person, and their vectors once embedded."""

    texts: list[str]
    vectors: Matrix | None = None
    embed_s: float = 0.0

    async def embedded(self, storage: StorageService) -> Matrix:
        """Return the vectors, embedding every sentence with the storage's embedder the first time."""
        if self.vectors is None:
            started = time.perf_counter()
            parts = []
            for start in range(0, len(self.texts), EMBED_BATCH):
                parts.append(await storage.embedder.embed(self.texts[start : start + EMBED_BATCH]))
            self.vectors = np.concatenate(parts).astype(np.float32, copy=False)
            self.embed_s = time.perf_counter() - started
            progress(f"embedded {len(self.texts)} distinct sentences in {self.embed_s:.1f} s")
        return self.vectors


# ---------------------------------------------------------------------------------------------- seeding


async def owner_ids(storage: StorageService, scope: Scope) -> tuple[int, int]:
    """Return the SQL ids of the scope's person and place (created by their first turn)."""
    from sqlalchemy import select

    async with storage.engine.connect() as conn:
        user_id = await conn.scalar(
            select(User.id).where(User.platform == scope.platform, User.external_id == scope.user_id)
        )
        scope_id = await conn.scalar(
            select(ScopeRow.id).where(
                ScopeRow.platform == scope.platform,
                ScopeRow.guild_id == (scope.guild_id or ""),
                ScopeRow.channel_id == (scope.channel_id or ""),
            )
        )
    if user_id is None or scope_id is None:
        raise RuntimeError(f"no SQL rows for {scope.user_key}: its first turn was not recorded")
    return int(user_id), int(scope_id)


async def seed_memories(
    storage: StorageService,
    scopes: Sequence[Scope],
    texts: Sequence[str],
    vectors: Matrix,
    rng: random.Random,
) -> None:
    """Bulk-insert memory rows for each scope (an equal share of ``texts``) and upsert matching vectors."""
    from sqlalchemy import insert

    per = len(texts) // len(scopes)
    now = datetime.now(UTC)
    for n, scope in enumerate(scopes):
        user_id, scope_id = await owner_ids(storage, scope)
        lo = n * per
        for start in range(lo, lo + per, SQL_BATCH):
            end = min(start + SQL_BATCH, lo + per)
            rows: list[dict[str, Any]] = []
            for i in range(start, end):
                at = now - timedelta(seconds=rng.randint(3600, 2 * 365 * 86_400))
                rows.append(
                    {
                        "user_id": user_id,
                        "scope_id": scope_id,
                        "realm": scope.realm,
                        "kind": "fact" if rng.random() < 0.7 else "episodic",
                        "speaker": AUTHOR,
                        "text": texts[i],
                        "importance": round(rng.uniform(0.2, 0.95), 2),
                        "pinned": False,
                        "created_at": at,
                        "valid_from": at,
                        "valid_to": None,
                        "superseded_by": None,
                        "source_turn_ids": [],
                        "embedding_model": storage.embedder.model_id,
                        "cold_vector": None,
                        "meta": {},
                    }
                )
            stmt = insert(Memory).returning(Memory.id, sort_by_parameter_order=True)
            async with storage.engine.begin() as conn:
                ids = [int(i) for i in (await conn.execute(stmt, rows)).scalars()]
            # The vectors go in through the service's own index, in the service's embedding space.
            for vstart in range(0, len(ids), VECTOR_BATCH):
                chunk = ids[vstart : vstart + VECTOR_BATCH]
                items = [
                    VectorItem(
                        f"m{mid}",
                        cast(Sequence[float], vectors[start + vstart + j]),
                        {"kind": "memory", "at": rows[vstart + j]["created_at"].timestamp()},
                    )
                    for j, mid in enumerate(chunk)
                ]
                await storage.vectors.upsert(storage.space, Partition(scope.user_key, scope.realm), items)


async def refresh_statistics(storage: StorageService, plan: Plan) -> None:
    """Give the query planner current statistics after a bulk load, as a live deployment would have.

    PostgreSQL's autovacuum analyses a table soon after it grows by a tenth; a bulk load measured at once
    would catch it with statistics from an empty table. SQLite never gathers statistics unless someone runs
    ANALYZE (Kindred does not), so by default it is left as Kindred leaves it; ``--analyze-sqlite`` shows
    what running ANALYZE would change.
    """
    from sqlalchemy import text

    if storage.engine.dialect.name == "postgresql" or plan.analyze_sqlite:
        async with storage.engine.begin() as conn:
            await conn.execute(text("ANALYZE"))


# ---------------------------------------------------------------------------------------------- backends


@dataclass(slots=True)
class Backend:
    """One storage configuration and what it reports about itself."""

    name: str
    storage: StorageSettings
    info: dict[str, Any] = field(default_factory=dict)


async def _pg_admin(sql: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_ADMIN_DB, timeout=5)
    try:
        version = str(await conn.fetchval("SHOW server_version"))
        await conn.execute(sql)
    finally:
        await conn.close()
    return version


async def _redis_clean(prefix: str) -> int:
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL, socket_timeout=5)
    deleted = 0
    try:
        pattern = "".join(f"\\{c}" if c in "*?[]\\" else c for c in prefix) + "*"
        keys = [key async for key in client.scan_iter(match=pattern, count=1000)]
        for start in range(0, len(keys), 500):
            deleted += int(await client.delete(*keys[start : start + 500]))
        left = [key async for key in client.scan_iter(match=pattern, count=1000)]
        if left:
            raise RuntimeError(f"{len(left)} benchmark keys are still in Redis under {prefix!r}")
    finally:
        await client.aclose()
    return deleted


async def _redis_version() -> str:
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        return str((await client.info("server")).get("redis_version", "?"))
    finally:
        await client.aclose()


async def _wait_for_chroma(port: int, proc: asyncio.subprocess.Process, log_path: Path) -> str:
    import httpx

    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(timeout=2) as client:
        while True:
            if proc.returncode is not None:
                tail = (await asyncio.to_thread(log_path.read_text, errors="replace"))[-2000:]
                raise RuntimeError(f"the Chroma server exited with {proc.returncode}:\n{tail}")
            try:
                answer = await client.get(f"http://127.0.0.1:{port}/api/v2/version")
                if answer.status_code == 200:
                    return str(answer.json())
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the Chroma server did not answer within 60 s")
            await asyncio.sleep(0.2)


async def stop_process(proc: asyncio.subprocess.Process, grace_s: float) -> None:
    """Ask a child process to end (SIGTERM) and wait; kill it if it has not ended within ``grace_s``."""
    if proc.returncode is not None:
        return
    proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), grace_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()


@contextlib.asynccontextmanager
async def embedded_backend(tmp: Path) -> AsyncIterator[Backend]:
    """Yield the embedded default: a SQLite file, the in-process cache and embedded Chroma."""
    data = tmp / "embedded"
    settings = StorageSettings(data_dir=data, queue=QueueSettings(in_process=False))
    yield Backend("embedded", settings, {"sql": "sqlite", "cache": "memory"})


@contextlib.asynccontextmanager
async def server_backend(tmp: Path) -> AsyncIterator[Backend]:
    """Yield server mode on a fresh database, key prefix and Chroma server; remove all three afterwards."""
    db = f"kindred_replybench_{secrets.token_hex(4)}"
    prefix = f"kindred-replybench-{secrets.token_hex(4)}:"
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
    if chroma is None:
        raise RuntimeError("the chroma command was not found beside this Python or on PATH")
    port = free_port()
    chroma_dir = tmp / "chroma-server"
    chroma_dir.mkdir(parents=True)
    log_path = tmp / "chroma-server.log"
    info: dict[str, Any] = {"sql": "postgresql", "cache": "redis", "database": db, "redis_prefix": prefix}
    proc: asyncio.subprocess.Process | None = None
    created = False
    try:
        info["postgres_version"] = await _pg_admin(f'CREATE DATABASE "{db}"')
        created = True
        info["redis_version"] = await _redis_version()
        with log_path.open("wb") as sink:
            proc = await asyncio.create_subprocess_exec(
                chroma,
                "run",
                "--path",
                str(chroma_dir),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                stdout=sink,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        info["chroma_server"] = await _wait_for_chroma(port, proc, log_path)
        info["chroma_port"] = port
        progress(f"server mode: PostgreSQL {info['postgres_version']} db {db}, Redis {info['redis_version']}")
        progress(f"server mode: Chroma server {info['chroma_server']} on port {port} (pid {proc.pid})")
        settings = StorageSettings(
            data_dir=tmp / "server",
            sql=SQLSettings(
                url=f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{db}", connect_retries=2
            ),
            cache=CacheSettings(backend="redis", redis_url=REDIS_URL, key_prefix=prefix),
            vectors=VectorSettings(backend="http", host="127.0.0.1", port=port),
            queue=QueueSettings(in_process=False),
        )
        yield Backend("server", settings, info)
    finally:
        if proc is not None and proc.returncode is None:
            await stop_process(proc, 15)
            progress(f"stopped the Chroma server (pid {proc.pid})")
        with contextlib.suppress(Exception):
            deleted = await _redis_clean(prefix)
            progress(f"removed {deleted} Redis keys under {prefix}")
        if created:
            await _pg_admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            progress(f"dropped database {db}")


def make_settings(base_url: str, storage: StorageSettings) -> Settings:
    """Return settings for one backend: the fake model, no coalescing, limits nobody reaches."""
    return Settings(
        llm=LLMSettings(base_url=base_url, api_key=SecretStr("bench"), model=MODEL, timeout_s=60),
        pipeline=PipelineSettings(
            coalesce_window_s=0,
            user_messages_per_minute=1e9,
            user_burst=10**9,
            guild_messages_per_minute=1e9,
            guild_burst=10**9,
        ),
        ops=OpsSettings(http_enabled=False),
        scheduler=SchedulerSettings(enabled=False),
        storage=storage,
    )


# ---------------------------------------------------------------------------------------------- part one


@dataclass(slots=True)
class Plan:
    """How big a run is."""

    sizes: list[int]
    turns: int
    warmup: int
    rounds: int
    analyze_sqlite: bool = False


def message(scope: Scope, message_id: str, text: str) -> IncomingMessage:
    """Return a platform-neutral message from the benchmark person."""
    return IncomingMessage(
        message_id=message_id, scope=scope, author=AUTHOR, text=text, created_at=datetime.now(UTC)
    )


async def bench_overhead(
    app: Kindred, backend: str, size: int, texts: Sequence[str], vectors: Matrix, plan: Plan
) -> dict[str, Any]:
    """Seed one person with ``size`` memories and time ``plan.turns`` turns of theirs."""
    rng = random.Random(f"{SEED}-{backend}-{size}")
    scope = Scope(user_id=f"bench-{label(size)}", guild_id=GUILD, channel_id=CHANNEL)
    storage, pipeline = app.storage, app.pipeline
    await timed_turn(pipeline, message(scope, f"{backend}-{size}-hello", "hi, it's me again"))
    started = time.perf_counter()
    await seed_memories(storage, [scope], texts, vectors, rng)
    await refresh_statistics(storage, plan)
    seed_s = time.perf_counter() - started
    progress(f"{backend} {label(size)}: {size} memories seeded in {seed_s:.1f} s")
    # Make sure recall really reaches the seeded memories through the index before timing anything.
    found = await storage.search(scope, "my sister's birthday and her favourite food", k=6, kinds=("memory",))
    if len(found) < 6 or "semantic" not in found[0].reasons:
        raise RuntimeError(f"recall over the seeded memories returned {len(found)} results: not semantic")
    for i in range(plan.warmup):
        await timed_turn(pipeline, message(scope, f"{backend}-{size}-w{i}", user_message(rng)))
    gc.collect()
    outages = await cache_outages(storage)
    samples = [
        await timed_turn(pipeline, message(scope, f"{backend}-{size}-{i}", user_message(rng)))
        for i in range(plan.turns)
    ]
    outages = await cache_outages(storage) - outages
    overhead = [s.overhead for s in samples]
    row: dict[str, Any] = {
        "backend": backend,
        "memories": size,
        "n": len(samples),
        "p50_ms": round(percentile(overhead, 50), 3),
        "p95_ms": round(percentile(overhead, 95), 3),
        "p99_ms": round(percentile(overhead, 99), 3),
        "max_ms": round(max(overhead), 3),
        "breakdown": breakdown(samples),
        "seed_s": round(seed_s, 1),
        "cache_failovers": outages,
    }
    progress(
        f"{backend} {label(size)}: overhead p50 {row['p50_ms']:.2f} ms, p95 {row['p95_ms']:.2f}, "
        f"p99 {row['p99_ms']:.2f} (n={len(samples)}, "
        f"llm p50 {row['breakdown']['llm_excluded']['p50_ms']:.1f})"
    )
    return row


# ---------------------------------------------------------------------------------------------- part two


async def lag_sampler(stop: asyncio.Event, out: list[float]) -> None:
    """Sleep 10 ms again and again; record how late each wake-up is, in milliseconds."""
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(SAMPLER_INTERVAL_S)
        out.append(max(0.0, (time.perf_counter() - started - SAMPLER_INTERVAL_S) * 1000))


async def sample_idle_lag(seconds: float) -> list[float]:
    """Return the sampler's lag on an otherwise idle loop (the floor of the measurement)."""
    stop = asyncio.Event()
    lags: list[float] = []
    task = asyncio.create_task(lag_sampler(stop, lags))
    await asyncio.sleep(seconds)
    stop.set()
    await task
    return lags


async def bench_concurrency(
    app: Kindred, backend: str, fake: FakeOpenAI, texts: Sequence[str], vectors: Matrix, plan: Plan
) -> dict[str, Any]:
    """Run rounds of 200 people each sending one message at the same moment to a 1 s model."""
    rng = random.Random(f"{SEED}-{backend}-conc")
    pipeline = app.pipeline
    scopes = [
        Scope(user_id=f"conc-{u:03d}", guild_id=GUILD, channel_id=f"{CHANNEL}{u % CONC_CHANNELS}")
        for u in range(CONC_USERS)
    ]
    started = time.perf_counter()
    fake.configure(MODEL, latency_s=0.0)
    for start in range(0, CONC_USERS, 20):  # first turns create the people, 20 at a time
        await asyncio.gather(
            *(
                timed_turn(pipeline, message(s, f"{backend}-conc-hello-{start + i}", "hello!"))
                for i, s in enumerate(scopes[start : start + 20])
            )
        )
    await seed_memories(app.storage, scopes, texts, vectors, rng)
    await refresh_statistics(app.storage, plan)
    for s in scopes:  # one quiet turn each, so every collection and window is warm as in a running bot
        await timed_turn(pipeline, message(s, f"{backend}-conc-warm-{s.user_id}", user_message(rng)))
    seed_s = time.perf_counter() - started
    progress(
        f"{backend} concurrency: {CONC_USERS} people with {CONC_MEMORIES_PER_USER} memories each ready "
        f"in {seed_s:.1f} s"
    )
    idle = await sample_idle_lag(1.0)
    fake.configure(MODEL, latency_s=CONC_LLM_LATENCY_S)
    lags: list[float] = []
    samples: list[TurnSample] = []
    failures: dict[str, int] = {}
    examples: dict[str, str] = {}
    walls: list[float] = []
    outages = await cache_outages(app.storage)
    try:
        for r in range(plan.rounds):
            gc.collect()
            stop = asyncio.Event()
            sampler = asyncio.create_task(lag_sampler(stop, lags))
            await asyncio.sleep(0.05)
            begun = time.perf_counter()
            results = await asyncio.gather(
                *(
                    timed_turn(pipeline, message(s, f"{backend}-conc-{r}-{s.user_id}", user_message(rng)))
                    for s in scopes
                ),
                return_exceptions=True,
            )
            walls.append(time.perf_counter() - begun)
            await asyncio.sleep(0.05)
            stop.set()
            await sampler
            for result in results:
                if isinstance(result, TurnSample):
                    samples.append(result)
                else:
                    name = type(result).__name__
                    failures[name] = failures.get(name, 0) + 1
                    examples.setdefault(name, str(result)[:300])
            progress(
                f"{backend} concurrency round {r + 1}/{plan.rounds}: {walls[-1]:.2f} s for {CONC_USERS} "
                f"turns, lag p99 so far {percentile(lags, 99):.1f} ms"
            )
    finally:
        fake.configure(MODEL, latency_s=0.0)
    outages = await cache_outages(app.storage) - outages
    if outages:
        progress(
            f"{backend} concurrency: the Redis cache failed over to the in-process one {outages} time(s)"
        )
    overhead = [s.overhead for s in samples]
    return {
        "backend": backend,
        "users": CONC_USERS,
        "rounds": plan.rounds,
        "memories_per_user": CONC_MEMORIES_PER_USER,
        "llm_latency_s": CONC_LLM_LATENCY_S,
        "turns": len(samples),
        "failures": failures,
        "failure_examples": examples,
        "cache_failovers": outages,
        "round_wall_s": [round(w, 3) for w in walls],
        "lag": {**summary(lags), "samples": len(lags)},
        "idle_lag": {**summary(idle), "samples": len(idle)},
        "overhead": summary(overhead),
        "breakdown": breakdown(samples),
        "setup_s": round(seed_s, 1),
    }


# ---------------------------------------------------------------------------------------------- driver


async def bench_backend(
    backend: Backend, fake: FakeOpenAI, pool: Pool, offsets: dict[str, tuple[int, int]], plan: Plan
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Run both parts on one backend."""
    app = await Kindred.start(make_settings(fake.base_url, backend.storage), ops=False)
    try:
        app.pipeline.limits.coalesce_window_s = 0
        vectors = await pool.embedded(app.storage)
        instrument(app.storage)
        rows = []
        for size in plan.sizes:
            lo, hi = offsets[f"size-{size}"]
            rows.append(
                await bench_overhead(app, backend.name, size, pool.texts[lo:hi], vectors[lo:hi], plan)
            )
            fake.requests.clear()
        conc = None
        if plan.rounds > 0:
            lo, hi = offsets["concurrency"]
            conc = await bench_concurrency(app, backend.name, fake, pool.texts[lo:hi], vectors[lo:hi], plan)
            fake.requests.clear()
        health = await app.storage.health()
        backend.info["health"] = [
            {"tier": h.tier, "backend": h.backend, "status": h.status.value, "extra": h.extra} for h in health
        ]
        backend.info["sql_pool"] = {
            "pool_size": backend.storage.sql.pool_size,
            "max_overflow": backend.storage.sql.max_overflow,
        }
        for h in health:
            if h.status.value != "ok":
                progress(
                    f"WARNING {backend.name}: {h.tier} tier is {h.status.value} after the run: {h.detail}"
                )
        return rows, conc
    finally:
        await app.close(grace_s=5)


def machine_info() -> dict[str, Any]:
    """Describe the machine and the software versions."""
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_mb = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_mb = int(line.split()[1]) // 1024
    versions = {"sqlite": sqlite3.sqlite_version}
    for package in (
        "kindred",
        "chromadb",
        "sqlalchemy",
        "aiosqlite",
        "asyncpg",
        "redis",
        "openai",
        "model2vec",
        "numpy",
    ):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_mb": mem_mb,
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "packages": versions,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the benchmark; return the JSON report."""
    plan = Plan(
        sizes=args.sizes,
        turns=args.turns,
        warmup=max(10, args.turns // 10),
        rounds=args.rounds,
        analyze_sqlite=args.analyze_sqlite,
    )
    report: dict[str, Any] = {"machine": machine_info(), "overhead": [], "concurrency": {}, "targets": {}}
    offsets: dict[str, tuple[int, int]] = {}
    total = 0
    for size in plan.sizes:
        offsets[f"size-{size}"] = (total, total + size)
        total += size
    if plan.rounds > 0:
        offsets["concurrency"] = (total, total + CONC_USERS * CONC_MEMORIES_PER_USER)
        total += CONC_USERS * CONC_MEMORIES_PER_USER
    started = time.perf_counter()
    pool = Pool(memory_sentences(total, random.Random(SEED)))
    progress(f"generated {total} distinct memory sentences in {time.perf_counter() - started:.1f} s")

    tmp = Path(tempfile.mkdtemp(prefix="kindred-replybench-"))
    fake = FakeOpenAI()
    await fake.start()
    fake.configure(MODEL, reply=REPLY, latency_s=0.0, chunk_delay_s=0.0)
    conc_rows: list[dict[str, Any]] = []
    backends_info: dict[str, Any] = {}
    try:
        for name in args.backends:
            factory = embedded_backend if name == "embedded" else server_backend
            async with factory(tmp) as backend:
                progress(f"--- backend {name}")
                rows, conc = await bench_backend(backend, fake, pool, offsets, plan)
                report["overhead"].extend(rows)
                if conc is not None:
                    conc_rows.append(conc)
                backends_info[name] = backend.info
    finally:
        await fake.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        progress(f"removed {tmp}")
    report["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    report["backends"] = backends_info
    report["setup"] = {
        "memory_sentences": total,
        "embed_s": round(pool.embed_s, 1),
        "embedding": "each memory has its own distinct templated sentence, embedded once, shared by backends",
        "turns_per_size": plan.turns,
        "warmup_turns": plan.warmup,
        "llm": f"fake OpenAI server on 127.0.0.1 (own thread), {len(REPLY)}-char reply in 4-char chunks",
        "overhead_definition": "wall time of Pipeline.handle minus timings_ms['llm_ms']",
        "reflection": (
            "after-turn hooks run (the reflection enqueue, in a background task on the same loop); the "
            "in-process worker is off (storage.queue.in_process=false), as with separate `kindred worker`s"
        ),
        "planner_statistics": (
            "ANALYZE after seeding on PostgreSQL (autovacuum's steady state)"
            + (
                "; also on SQLite (--analyze-sqlite)"
                if plan.analyze_sqlite
                else "; none on SQLite (as Kindred)"
            )
        ),
    }
    report["concurrency"] = {
        "users": CONC_USERS,
        "rounds": plan.rounds,
        "llm_latency_s": CONC_LLM_LATENCY_S,
        "memories_per_user": CONC_MEMORIES_PER_USER,
        "sampler_interval_ms": SAMPLER_INTERVAL_S * 1000,
        "results": conc_rows,
        "for_scale": MEM0_NOTE,
    }
    report["targets"] = judge(report["overhead"], conc_rows)
    return report


def judge(rows: list[dict[str, Any]], conc: list[dict[str, Any]]) -> dict[str, Any]:
    """Compare the numbers with the targets."""
    checks: list[dict[str, Any]] = []
    for row in rows:
        if row["memories"] != TARGET_AT:
            continue
        checks.append(
            {
                "name": f"overhead p50 at {label(TARGET_AT)} ({row['backend']})",
                "value_ms": row["p50_ms"],
                "target_ms": TARGET_P50_MS,
                "passed": row["p50_ms"] <= TARGET_P50_MS,
            }
        )
        checks.append(
            {
                "name": f"overhead p99 at {label(TARGET_AT)} ({row['backend']})",
                "value_ms": row["p99_ms"],
                "target_ms": TARGET_P99_MS,
                "passed": row["p99_ms"] <= TARGET_P99_MS,
            }
        )
    for c in conc:
        checks.append(
            {
                "name": f"event-loop lag p99 under {c['users']} conversations ({c['backend']})",
                "value_ms": c["lag"]["p99_ms"],
                "target_ms": TARGET_LAG_P99_MS,
                "passed": c["lag"]["p99_ms"] <= TARGET_LAG_P99_MS,
            }
        )
    return {
        "overhead_p50_ms_at_10k": TARGET_P50_MS,
        "overhead_p99_ms_at_10k": TARGET_P99_MS,
        "lag_p99_ms": TARGET_LAG_P99_MS,
        "checks": checks,
        "all_passed": all(c["passed"] for c in checks) if checks else None,
    }


def print_report(report: dict[str, Any]) -> None:
    """Print the tables."""
    m = report["machine"]
    print()
    print(
        f"Kindred reply path  ({m['cpu']}, {m['cores']} cores, Python {m['python']}, "
        f"load {m['loadavg_start']})"
    )
    print()
    print("Pipeline overhead per turn = Pipeline.handle wall time - LLM time (instant local model, streamed)")
    print(f"({report['setup']['planner_statistics']}; {report['setup']['reflection']})")
    head = (
        f"{'backend':<9}{'memories':>9}{'n':>5} {'p50':>7}{'p95':>7}{'p99':>7}  |"
        f"{'admit':>7}{'record':>7}{'context':>8}{'recall':>8}{'embed':>7}{'vquery':>7}{'rsql':>7}"
        f"{'reply':>7} | {'llm':>6}  target@10k"
    )
    print(head)
    print("-" * len(head))
    for row in report["overhead"]:
        b = row["breakdown"]
        target = ""
        if row["memories"] == TARGET_AT:
            target = (
                f"p50<={TARGET_P50_MS:g} {verdict(row['p50_ms'] <= TARGET_P50_MS)}, "
                f"p99<={TARGET_P99_MS:g} {verdict(row['p99_ms'] <= TARGET_P99_MS)}"
            )
        parts = "".join(
            f"{b[k]['p50_ms']:>{w}.2f}"
            for k, w in (
                ("admit", 7),
                ("record", 7),
                ("context", 8),
                ("recall", 8),
                ("embed", 7),
                ("vector_query", 7),
                ("recall_sql", 7),
                ("reply_record", 7),
            )
        )
        print(
            f"{row['backend']:<9}{label(row['memories']):>9}{row['n']:>5} {row['p50_ms']:>7.2f}"
            f"{row['p95_ms']:>7.2f}{row['p99_ms']:>7.2f}  |{parts} | "
            f"{b['llm_excluded']['p50_ms']:>6.2f}  {target}"
        )
    print("(ms; the split columns are p50s of each part; recall = StorageService.search, inside context;")
    print(" rsql = recall's SQL and plumbing; reply = recording the reply; llm = excluded model time)")
    recall_p50 = [r["breakdown"]["recall"]["p50_ms"] for r in report["overhead"]]
    recall_p95 = [r["breakdown"]["recall"]["p95_ms"] for r in report["overhead"]]
    if recall_p50:
        print(
            f"recall alone here: p50 {min(recall_p50):.1f}-{max(recall_p50):.1f} ms, "
            f"p95 {min(recall_p95):.1f}-{max(recall_p95):.1f} ms; for scale, {MEM0_NOTE}"
        )
    conc = report["concurrency"]
    if conc["results"]:
        print()
        print(
            f"{conc['users']} simultaneous conversations, LLM latency {conc['llm_latency_s']:g} s, "
            f"{conc['rounds']} round(s), {conc['memories_per_user']} memories each; "
            f"lag = lateness of a {conc['sampler_interval_ms']:g} ms sleep"
        )
        head = (
            f"{'backend':<9}{'lag p50':>8}{'p99':>7}{'max':>8}{'idle p99':>9}  | "
            f"{'overhead p50':>12}{'p95':>8}"
            f"{'p99':>8} {'ctx p50':>8}{'recall p50':>11} | {'round s':>8}{'fail':>5}  target lag p99<=20"
        )
        print(head)
        print("-" * len(head))
        for c in conc["results"]:
            lag, o, b = c["lag"], c["overhead"], c["breakdown"]
            fails = sum(c["failures"].values())
            print(
                f"{c['backend']:<9}{lag['p50_ms']:>8.2f}{lag['p99_ms']:>7.2f}{lag['max_ms']:>8.2f}"
                f"{c['idle_lag']['p99_ms']:>9.2f}  | "
                f"{o['p50_ms']:>12.1f}{o['p95_ms']:>8.1f}{o['p99_ms']:>8.1f} "
                f"{b['context']['p50_ms']:>8.1f}{b['recall']['p50_ms']:>11.1f} | "
                f"{max(c['round_wall_s']):>8.2f}{fails:>5}  {verdict(lag['p99_ms'] <= TARGET_LAG_P99_MS)}"
            )
        print(f"(ms; for scale, {MEM0_NOTE})")
        for c in conc["results"]:
            for name, example in c["failure_examples"].items():
                print(
                    f"{c['backend']}: {c['failures'][name]} turn(s) failed with {name}, e.g. {example[:160]}"
                )
            if c["cache_failovers"]:
                print(
                    f"WARNING {c['backend']}: the Redis cache failed over to the in-process cache "
                    f"{c['cache_failovers']} time(s) during the rounds (see the log line above)"
                )
    for row in report["overhead"]:
        if row["cache_failovers"]:
            print(f"WARNING {row['backend']} {label(row['memories'])}: Redis cache failed over during turns")
    t = report["targets"]
    print()
    for check in t["checks"]:
        print(
            f"  {verdict(check['passed']):<5} {check['name']}: {check['value_ms']:.2f} ms "
            f"(target <= {check['target_ms']:g})"
        )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--out", required=True, type=Path, help="where to write the JSON report")
    parser.add_argument("--quick", action="store_true", help="1k/10k only, fewer turns, one round")
    parser.add_argument("--sizes", help="memory counts, comma-separated (e.g. 1000,10000)")
    parser.add_argument("--backends", default="embedded,server", help="embedded,server (default both)")
    parser.add_argument("--turns", type=int, help="measured turns per backend and size")
    parser.add_argument("--rounds", type=int, help="concurrency rounds per backend (0 skips the part)")
    parser.add_argument(
        "--analyze-sqlite",
        action="store_true",
        help="run ANALYZE on SQLite after seeding (Kindred does not; shows what it would change)",
    )
    args = parser.parse_args(argv)
    args.sizes = (
        [int(s) for s in args.sizes.split(",") if s.strip()]
        if args.sizes
        else list(QUICK_SIZES if args.quick else FULL_SIZES)
    )
    if any(s < 10 for s in args.sizes):
        parser.error("--sizes: each size must be at least 10")
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(args.backends) - {"embedded", "server"}
    if unknown or not args.backends:
        parser.error(f"--backends: choose from embedded,server (got {args.backends})")
    if args.turns is None:
        args.turns = QUICK_TURNS if args.quick else FULL_TURNS
    if args.turns < 1:
        parser.error("--turns must be at least 1")
    if args.rounds is None:
        args.rounds = QUICK_ROUNDS if args.quick else FULL_ROUNDS
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the tables and write the JSON."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Settings read the environment first; a developer's KINDRED__/OPENAI_ variables must not redirect us.
    for var in [v for v in os.environ if v.startswith("KINDRED") or v.startswith("OPENAI_")]:
        os.environ.pop(var)
    report = asyncio.run(run(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    print_report(report)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
