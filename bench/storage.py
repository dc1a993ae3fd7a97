"""Benchmark the storage service on every backend: turns, windows, memories and scoped vector recall.

Measures, end to end through ``StorageService`` (the only door to data):

- ``record_turn`` and the warm ``recent_turns`` window, on SQLite and PostgreSQL, with the in-process cache
  and with Redis;
- ``add_memory`` (SQL insert, embedding, index upsert, mark indexed) on each SQL backend;
- ``search(scope, query, k=10)`` at two index sizes over many people, and the raw ``ChromaIndex.query``
  of one partition (first touch after a restart, then warm);
- why the index has one collection per (person, realm): the same vectors in one shared collection with a
  ``user`` metadata field, queried with ``where={"user": ...}``, against the per-partition query.

Run::

    python bench/storage.py --out /tmp/bench-storage.json            # full: 10k and 100k vectors, ~8 min
    python bench/storage.py --out /tmp/smoke.json --quick            # 2k and 10k vectors, ~1-2 min

It creates a temporary directory, a fresh PostgreSQL database and a unique Redis key prefix, and removes
all three at the end, also after an error or Ctrl-C. Numbers are medians and 95th percentiles from one
run; the machine may be shared, so compare runs, do not assert on them.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as ``python bench/storage.py``, this file's directory comes first on sys.path and this very module
# would shadow the ``storage`` package it measures.
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import asyncio
import gc
import json
import logging
import math
import os
import platform
import secrets
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from storage.config import CacheSettings, EmbeddingSettings, SQLSettings, StorageSettings, VectorSettings
from storage.embedding import make_embedder
from storage.embedding.base import Embedder, EmbeddingError, space_id
from storage.scope import Scope
from storage.service import StorageService
from storage.sql.models import Memory, ScopeRow, User
from storage.vectors.base import Partition, VectorIndex, VectorItem
from storage.vectors.chroma import ChromaIndex

log = logging.getLogger("bench.storage")

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_USER = "postgres"
PG_ADMIN_DB = "test"
REDIS_URL = "redis://127.0.0.1:6379/0"

SQL_BACKENDS = ("sqlite", "postgres")
CACHE_BACKENDS = ("memory", "redis")

# The population searched by the vector benchmarks lives in its own guild and channel, and its memory ids
# start high so they never meet the rows that add_memory creates through the service.
POP_GUILD = "9000"
POP_CHANNEL = "9001"
POP_REALM = f"g{POP_GUILD}"
POP_PLATFORM = "discord"
MEMORY_ID_BASE = 1_000_000
SQL_BATCH = 5_000
SHARED_BATCH = 5_000
K = 10
SEED = 20_240_601

TARGET_RECORD_TURN_MS = 2.0
TARGET_SEARCH_MS = 5.0
# Measured on this machine when the layout was chosen (see storage/vectors/chroma.py).
EARLIER_LAYOUT = (
    "where filter on one shared collection: 59 ms p50 at 100k vectors over 100 users; 2.8 ms unfiltered"
)

MESSAGES = (
    "I finally finished the garden fence today, my hands are covered in splinters but it looks great",
    "Do you remember what I said about my sister's wedding? It's next Saturday and I'm nervous",
    "work was rough, my manager moved the deadline again and nobody told the design team",
    "I started reading that book you mentioned, the one about the lighthouse keeper",
    "can't sleep again. third night this week. thinking about calling the doctor",
    "we adopted a cat!! her name is Miso and she already owns the couch",
    "the train was forty minutes late so I missed the whole first half of the concert",
    "trying to learn Japanese before the trip in April, hiragana is going okay so far",
)
QUERIES = (
    "what do you know about my family",
    "how is my sleep lately",
    "tell me about my pets",
    "what happened at work this week",
    "which book was I reading",
    "plans for the trip",
    "the concert I went to",
    "my garden project",
)

Matrix = npt.NDArray[np.float32]


# ---------------------------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Plan:
    """How big a run is."""

    users: int
    small_per_user: int
    large_per_user: int
    iterations: int
    write_iterations: int
    layout_iterations: int
    scopes: int = 20

    @property
    def small(self) -> int:
        return self.users * self.small_per_user

    @property
    def large(self) -> int:
        return self.users * self.large_per_user


@dataclass(slots=True)
class Row:
    """One line of the results table."""

    op: str
    sql: str | None
    cache: str | None
    vectors: int | None
    n: int
    p50_ms: float
    p95_ms: float
    note: str = ""


@dataclass(slots=True)
class Check:
    """A target beside the number it judges."""

    name: str
    op: str
    sql: str | None
    cache: str | None
    vectors: int | None
    p50_ms: float
    target_ms: float

    @property
    def passed(self) -> bool:
        return self.p50_ms <= self.target_ms


@dataclass(slots=True)
class Run:
    """Everything the run produced, and what it must clean up."""

    args: argparse.Namespace
    plan: Plan
    tmp: Path
    embedder: Embedder
    space: str
    pg_db: str | None = None
    redis_prefix: str = ""
    rows: list[Row] = field(default_factory=list)
    setup_s: dict[str, float] = field(default_factory=dict)
    layout: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    sql_user_ids: dict[str, dict[int, int]] = field(default_factory=dict)

    def pg_url(self) -> str:
        assert self.pg_db is not None
        return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{self.pg_db}"

    def settings(self, sql: str, cache: str) -> StorageSettings:
        """Return settings for one (SQL, cache) pair; each SQL backend keeps one data directory."""
        data_dir = self.tmp / sql
        return StorageSettings(
            data_dir=data_dir,
            sql=SQLSettings(url=self.pg_url() if sql == "postgres" else None, connect_retries=0),
            cache=CacheSettings.model_validate(
                {"backend": cache, "redis_url": REDIS_URL, "key_prefix": self.redis_prefix}
            ),
            vectors=VectorSettings(path=str(data_dir / "chroma")),
        )

    def add(
        self,
        op: str,
        sql: str | None,
        cache: str | None,
        vectors: int | None,
        samples: Sequence[int],
        note: str = "",
    ) -> Row:
        """Summarise samples (nanoseconds) into a row and print it as it lands."""
        p50, p95 = percentile(samples, 50), percentile(samples, 95)
        row = Row(op, sql, cache, vectors, len(samples), round(p50, 3), round(p95, 3), note)
        self.rows.append(row)
        progress(
            f"{op:<18} {sql or '-':<8} {cache or '-':<6} {_count(vectors):>5}  p50 {p50:8.2f} ms  "
            f"p95 {p95:8.2f} ms  n={len(samples)}"
        )
        return row


def percentile(samples_ns: Sequence[int], pct: float) -> float:
    """Return the nearest-rank percentile of nanosecond samples, in milliseconds."""
    if not samples_ns:
        return math.nan
    ordered = sorted(samples_ns)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1] / 1e6


def _count(vectors: int | None) -> str:
    if vectors is None:
        return "-"
    return f"{vectors // 1000}k" if vectors >= 1000 and vectors % 1000 == 0 else str(vectors)


_STARTED = time.perf_counter()


def progress(message: str) -> None:
    """Log progress to stderr with the elapsed time, so a long run shows where it is."""
    print(f"[{time.perf_counter() - _STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


async def timed(op: Callable[[int], Awaitable[Any]], n: int, warmup: int) -> list[int]:
    """Run ``op(i)`` ``warmup`` times unmeasured, then ``n`` times measured; return nanoseconds per call."""
    for i in range(warmup):
        await op(i)
    gc.collect()
    samples: list[int] = []
    for i in range(warmup, warmup + n):
        started = time.perf_counter_ns()
        await op(i)
        samples.append(time.perf_counter_ns() - started)
    return samples


class BorrowedIndex:
    """Lend one vector index to several services in turn without letting a service close it."""

    def __init__(self, inner: ChromaIndex) -> None:
        self._inner = inner
        self.backend = inner.backend

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def close(self) -> None:
        """Leave the index open: its owner closes it."""


# ---------------------------------------------------------------------------------------------- set-up


async def create_pg_database() -> tuple[str, str]:
    """Create a fresh database; return its name and the server's version."""
    import asyncpg

    name = f"kindred_bench_{secrets.token_hex(5)}"
    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_ADMIN_DB, timeout=5)
    try:
        version = str(await conn.fetchval("SHOW server_version"))
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name, version


async def drop_pg_database(name: str) -> None:
    """Drop the benchmark's database, closing any connection left to it."""
    import asyncpg

    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_ADMIN_DB, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def redis_version() -> str:
    """Return the Redis server's version, or raise if it does not answer."""
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        info = await client.info("server")
        return str(info.get("redis_version", "?"))
    finally:
        await client.aclose()


async def clean_redis(prefix: str) -> int:
    """Delete every key under the run's prefix; return how many went."""
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL, socket_timeout=5)
    deleted = 0
    try:
        pattern = "".join(f"\\{c}" if c in "*?[]\\" else c for c in prefix) + "*"
        batch: list[bytes] = []
        async for key in client.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 500:
                deleted += int(await client.delete(*batch))
                batch.clear()
        if batch:
            deleted += int(await client.delete(*batch))
        left = [key async for key in client.scan_iter(match=pattern, count=1000)]
        if left:
            raise RuntimeError(f"{len(left)} benchmark keys are still in Redis under {prefix!r}")
    finally:
        await client.aclose()
    return deleted


def load_embedder(wait_s: float) -> Embedder:
    """Load the configured default embedder (the builtin model), waiting a while if it is being installed."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return make_embedder(EmbeddingSettings())
        except EmbeddingError as exc:
            if time.monotonic() >= deadline:
                raise
            progress(f"embedder not ready ({exc}); retrying in 30 s")
            time.sleep(30)


def user_key(u: int) -> str:
    return f"{POP_PLATFORM}.{external_id(u)}"


def external_id(u: int) -> str:
    return f"bench-u{u:05d}"


def memory_id(plan: Plan, u: int, j: int) -> int:
    return MEMORY_ID_BASE + u * plan.large_per_user + j


def user_vectors(u: int, count: int, dim: int) -> Matrix:
    """Return the same random unit vectors for a person every time (so every layout indexes the same set)."""
    rng = np.random.default_rng([SEED, u])
    matrix = rng.standard_normal((count, dim), dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix


def random_unit(rng: np.random.Generator, n: int, dim: int) -> Matrix:
    matrix = rng.standard_normal((n, dim), dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix


# ---------------------------------------------------------------------------------------------- SQL ops


async def bench_turns(run: Run, sql: str, cache: str) -> None:
    """Time record_turn and the warm recent_turns window on one (SQL, cache) pair."""
    plan = run.plan
    service = await StorageService.open(run.settings(sql, cache), embedder=run.embedder)
    try:
        scopes = [
            Scope(user_id=f"turn-{cache}-{i}", guild_id="1", channel_id="10") for i in range(plan.scopes)
        ]
        for scope in scopes:
            await service.recent_turns(scope)  # loads (empty) windows so that record_turn extends them

        async def record(i: int) -> None:
            scope = scopes[i % len(scopes)]
            await service.record_turn(
                scope, "user", MESSAGES[i % len(MESSAGES)], speaker=scope.user_id, message_id=f"{cache}-{i}"
            )

        samples = await timed(record, plan.iterations, warmup=max(5 * len(scopes), plan.iterations // 10))
        run.add(
            "record_turn", sql, cache, None, samples, "SQL write + commit, then extends the cached window"
        )

        before = service.cache.stats()

        async def recent(i: int) -> None:
            turns = await service.recent_turns(scopes[i % len(scopes)])
            assert turns, "a recorded window came back empty"

        samples = await timed(recent, plan.iterations, warmup=2 * len(scopes))
        after = service.cache.stats()
        misses = after.misses - before.misses
        run.add(
            "recent_turns",
            sql,
            cache,
            None,
            samples,
            f"warm window of {service.settings.cache.recent_window}; cache misses during run: {misses}",
        )
        await ensure_cache_served(service, cache)
    finally:
        await service.close()


async def ensure_cache_served(service: StorageService, cache: str) -> None:
    """Fail loudly if Redis was configured but the in-process stand-in served instead."""
    for tier in await service.health():
        if tier.tier == "cache" and (
            tier.status.value != "ok" or (cache == "redis" and tier.backend != "redis")
        ):
            raise RuntimeError(f"cache tier was not healthy during the run: {tier}")


async def bench_add_memory(run: Run, sql: str) -> None:
    """Time add_memory (SQL insert, embed, index upsert, mark indexed) on one SQL backend."""
    plan = run.plan
    service = await StorageService.open(run.settings(sql, "memory"), embedder=run.embedder)
    try:
        scopes = [Scope(user_id=f"mem-{i}", guild_id="1", channel_id="10") for i in range(plan.scopes)]

        async def add(i: int) -> None:
            await service.add_memory(scopes[i % len(scopes)], f"{MESSAGES[i % len(MESSAGES)]} (note {i})")

        samples = await timed(add, plan.write_iterations, warmup=len(scopes))
        run.add(
            "add_memory",
            sql,
            None,
            None,
            samples,
            "SQL insert + embed + Chroma upsert (embedded, on disk) + mark indexed; cache not used",
        )
    finally:
        await service.close()


async def load_population(run: Run, sql: str) -> None:
    """Insert the searched people and their memories in bulk, matching the vectors' ids."""
    from sqlalchemy import insert, select

    plan = run.plan
    started = time.perf_counter()
    service = await StorageService.open(run.settings(sql, "memory"), embedder=run.embedder)
    try:
        now = datetime.now(UTC)
        async with service.engine.begin() as conn:
            await conn.execute(
                insert(User),
                [
                    {
                        "platform": POP_PLATFORM,
                        "external_id": external_id(u),
                        "display_name": None,
                        "settings": {},
                        "created_at": now,
                    }
                    for u in range(plan.users)
                ],
            )
            rows = await conn.execute(
                select(User.id, User.external_id).where(
                    User.platform == POP_PLATFORM, User.external_id.like("bench-u%")
                )
            )
            by_external = {ext: int(uid) for uid, ext in rows}
            await conn.execute(
                insert(ScopeRow).values(
                    platform=POP_PLATFORM,
                    guild_id=POP_GUILD,
                    channel_id=POP_CHANNEL,
                    kind="guild",
                    created_at=now,
                )
            )
            scope_id = int(
                await conn.scalar(
                    select(ScopeRow.id).where(
                        ScopeRow.platform == POP_PLATFORM,
                        ScopeRow.guild_id == POP_GUILD,
                        ScopeRow.channel_id == POP_CHANNEL,
                    )
                )
                or 0
            )
        user_ids = {u: by_external[external_id(u)] for u in range(plan.users)}
        run.sql_user_ids[sql] = user_ids
        batch: list[dict[str, Any]] = []
        for u in range(plan.users):
            for j in range(plan.large_per_user):
                batch.append(
                    {
                        "id": memory_id(plan, u, j),
                        "user_id": user_ids[u],
                        "scope_id": scope_id,
                        "realm": POP_REALM,
                        "kind": "fact",
                        "speaker": None,
                        "text": f"{MESSAGES[j % len(MESSAGES)]} (memory {j} of person {u})",
                        "importance": 0.5,
                        "pinned": False,
                        "created_at": now,
                        "valid_from": now,
                        "valid_to": None,
                        "superseded_by": None,
                        "source_turn_ids": [],
                        "embedding_model": run.embedder.model_id,
                        "cold_vector": None,
                        "meta": {},
                    }
                )
                if len(batch) >= SQL_BATCH:
                    async with service.engine.begin() as conn:
                        await conn.execute(insert(Memory), batch)
                    batch = []
        if batch:
            async with service.engine.begin() as conn:
                await conn.execute(insert(Memory), batch)
    finally:
        await service.close()
    run.setup_s[f"sql_rows_{sql}"] = round(time.perf_counter() - started, 1)
    progress(
        f"{sql}: {plan.users} people and {plan.large} memories inserted in {run.setup_s[f'sql_rows_{sql}']} s"
    )


# ---------------------------------------------------------------------------------------------- vectors


async def build_partitions(run: Run, path: Path, per_user: int) -> None:
    """Upsert every person's random vectors into their own partition through the index's API."""
    plan, dim = run.plan, run.embedder.dimension
    started = time.perf_counter()
    index = ChromaIndex.embedded(path)
    try:
        for u in range(plan.users):
            vectors = user_vectors(u, plan.large_per_user, dim)[:per_user]
            items = [
                VectorItem(
                    f"m{memory_id(plan, u, j)}",
                    cast(Sequence[float], vectors[j]),
                    {"kind": "memory", "at": float(j)},
                )
                for j in range(per_user)
            ]
            await index.upsert(run.space, Partition(user_key(u), POP_REALM), items)
            if (u + 1) % max(1, plan.users // 4) == 0:
                progress(f"  {u + 1}/{plan.users} partitions loaded")
    finally:
        await index.close()
    total = plan.users * per_user
    run.setup_s[f"chroma_partitions_{total}"] = round(time.perf_counter() - started, 1)
    progress(
        f"{total} vectors in {plan.users} partitions loaded in {run.setup_s[f'chroma_partitions_{total}']} s"
    )


async def bench_vectors(run: Run, per_user: int) -> None:
    """Time raw partition queries and end-to-end search at one index size; at the large size, the layout."""
    plan, dim = run.plan, run.embedder.dimension
    total = plan.users * per_user
    path = run.tmp / f"chroma-{total}"
    await build_partitions(run, path, per_user)
    rng = np.random.default_rng([SEED, total])
    # A fresh index, as after a restart: the first query of each partition opens its collection.
    index = ChromaIndex.embedded(path)
    try:
        queries = random_unit(rng, max(plan.users, plan.iterations), dim)
        cold: list[int] = []
        for n, u in enumerate(rng.permutation(plan.users)):
            started = time.perf_counter_ns()
            hits = await index.query(run.space, [Partition(user_key(int(u)), POP_REALM)], queries[n], K)
            cold.append(time.perf_counter_ns() - started)
            if len(hits) != min(K, per_user):
                raise RuntimeError(f"partition of person {u} returned {len(hits)} hits, expected {K}")
        run.add(
            "chroma_query_cold",
            None,
            None,
            total,
            cold,
            "raw ChromaIndex.query, first query of each partition after opening the index",
        )

        picks = rng.integers(0, plan.users, size=plan.iterations + plan.iterations // 5 + 1)

        async def raw(i: int) -> None:
            await index.query(run.space, [Partition(user_key(int(picks[i])), POP_REALM)], queries[i], K)

        samples = await timed(raw, plan.iterations, warmup=plan.iterations // 5)
        run.add("chroma_query", None, None, total, samples, "raw ChromaIndex.query of one partition, k=10")

        for sql in run.args.backends:
            await bench_search(run, sql, index, total, rng)

        if per_user == plan.large_per_user:
            run.layout = await asyncio.to_thread(bench_layout, run, path, index, rng)
    finally:
        await index.close()


async def bench_search(run: Run, sql: str, index: ChromaIndex, total: int, rng: np.random.Generator) -> None:
    """Time StorageService.search end to end over the population, after one query per person."""
    plan = run.plan
    service = await StorageService.open(
        run.settings(sql, "memory"), embedder=run.embedder, vectors=cast(VectorIndex, BorrowedIndex(index))
    )
    try:
        scopes = [
            Scope(user_id=external_id(u), guild_id=POP_GUILD, channel_id=POP_CHANNEL)
            for u in range(plan.users)
        ]
        # One search per person first: resolves every scope once, as a running bot already has.
        for u, scope in enumerate(scopes):
            found = await service.search(scope, QUERIES[u % len(QUERIES)], k=K)
            if len(found) != K or "semantic" not in found[0].reasons:
                raise RuntimeError(
                    f"search for person {u} on {sql} returned {len(found)} results "
                    f"({found[0].reasons if found else 'none'}); expected {K} semantic hits"
                )
            owner = run.sql_user_ids[sql][u]
            if any(not MEMORY_ID_BASE <= r.id < MEMORY_ID_BASE + plan.large for r in found) or any(
                (r.id - MEMORY_ID_BASE) // plan.large_per_user != u for r in found
            ):
                raise RuntimeError(f"search for person {u} (user id {owner}) returned someone else's memory")
        picks = rng.integers(0, plan.users, size=plan.iterations + plan.iterations // 5 + 1)

        async def search(i: int) -> None:
            await service.search(scopes[int(picks[i])], QUERIES[i % len(QUERIES)], k=K)

        samples = await timed(search, plan.iterations, warmup=plan.iterations // 5)
        run.add(
            "search",
            sql,
            None,
            total,
            samples,
            "StorageService.search k=10: realm check + embed + partition query + SQL re-read",
        )
    finally:
        await service.close()


def bench_layout(run: Run, part_path: Path, index: ChromaIndex, rng: np.random.Generator) -> dict[str, Any]:
    """Compare one shared collection filtered by ``where`` with per-partition collections (same vectors)."""
    import chromadb
    from chromadb.config import Settings

    plan, dim = run.plan, run.embedder.dimension
    chroma_settings = Settings(anonymized_telemetry=False, allow_reset=False)
    shared_path = run.tmp / "chroma-shared"
    shared_client = chromadb.PersistentClient(path=str(shared_path), settings=chroma_settings)
    part_client = chromadb.PersistentClient(path=str(part_path), settings=chroma_settings)
    try:
        started = time.perf_counter()
        shared = shared_client.create_collection(
            "bench-shared", configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
        )
        ids: list[str] = []
        metas: list[dict[str, str | int | float | bool]] = []
        rows: list[Matrix] = []

        def flush() -> None:
            shared.add(ids=list(ids), embeddings=np.concatenate(rows), metadatas=list(metas))
            ids.clear()
            metas.clear()
            rows.clear()

        for u in range(plan.users):
            vectors = user_vectors(u, plan.large_per_user, dim)
            rows.append(vectors)
            for j in range(plan.large_per_user):
                ids.append(f"m{memory_id(plan, u, j)}")
                metas.append({"user": user_key(u), "kind": "memory", "at": float(j)})
            if len(ids) >= SHARED_BATCH:
                flush()
                if (u + 1) % max(1, plan.users // 4) == 0:
                    progress(f"  shared collection: {len(ids) + (u + 1) * plan.large_per_user} vectors")
        if ids:
            flush()
        load_s = round(time.perf_counter() - started, 1)
        run.setup_s["chroma_shared"] = load_s
        progress(f"shared collection of {shared.count()} vectors loaded in {load_s} s")

        partitions = {
            u: part_client.get_collection(
                index.collection_name(run.space, Partition(user_key(u), POP_REALM)), embedding_function=None
            )
            for u in range(plan.users)
        }
        n = plan.layout_iterations
        warm = max(5, n // 5)
        picks = rng.integers(0, plan.users, size=n + warm)
        queries = random_unit(rng, n + warm, dim)
        include: Any = ["distances", "metadatas"]
        where_ns: list[int] = []
        plain_ns: list[int] = []
        part_ns: list[int] = []
        agree = 0
        # Interleaved, so that noise from other work on the machine falls on all three alike.
        for i in range(n + warm):
            u, q = int(picks[i]), queries[i : i + 1]
            t0 = time.perf_counter_ns()
            filtered = shared.query(
                query_embeddings=q, n_results=K, where={"user": user_key(u)}, include=include
            )
            t1 = time.perf_counter_ns()
            shared.query(query_embeddings=q, n_results=K, include=include)
            t2 = time.perf_counter_ns()
            own = partitions[u].query(query_embeddings=q, n_results=K, include=include)
            t3 = time.perf_counter_ns()
            if i < warm:
                continue
            where_ns.append(t1 - t0)
            plain_ns.append(t2 - t1)
            part_ns.append(t3 - t2)
            agree += len(set(filtered["ids"][0]) & set(own["ids"][0]))
            if any(m is None or m.get("user") != user_key(u) for m in (filtered["metadatas"] or [[]])[0]):
                raise RuntimeError("the where filter returned another person's vector")

        def stat(samples: list[int]) -> dict[str, float | int]:
            return {
                "n": len(samples),
                "p50_ms": round(percentile(samples, 50), 3),
                "p95_ms": round(percentile(samples, 95), 3),
            }

        result: dict[str, Any] = {
            "vectors": plan.large,
            "users": plan.users,
            "per_user": plan.large_per_user,
            "k": K,
            "shared_where_user": stat(where_ns),
            "shared_unfiltered": stat(plain_ns),
            "per_partition": stat(part_ns),
            "topk_agreement_where_vs_partition": round(agree / (K * max(1, n)), 3),
            "shared_load_s": load_s,
            "earlier_measurement": EARLIER_LAYOUT,
            "note": "raw synchronous Collection.query calls, same vectors, interleaved; k=10",
        }
        result["where_over_partition_p50"] = round(
            result["shared_where_user"]["p50_ms"] / max(result["per_partition"]["p50_ms"], 1e-6), 1
        )
        return result
    finally:
        for client in (shared_client, part_client):
            cast(Any, client).close()


# ---------------------------------------------------------------------------------------------- report


def checks(run: Run) -> list[Check]:
    """Put each target beside the rows it judges."""
    out: list[Check] = []
    for row in run.rows:
        if row.op == "record_turn":
            out.append(
                Check(
                    "record a turn p50",
                    row.op,
                    row.sql,
                    row.cache,
                    row.vectors,
                    row.p50_ms,
                    TARGET_RECORD_TURN_MS,
                )
            )
        elif row.op in ("search", "chroma_query") and row.vectors == run.plan.large:
            out.append(
                Check(
                    "scoped vector query p50",
                    row.op,
                    row.sql,
                    row.cache,
                    row.vectors,
                    row.p50_ms,
                    TARGET_SEARCH_MS,
                )
            )
    return out


def render(run: Run, done: list[Check]) -> str:
    """Return the printed report."""
    target_of = {(c.op, c.sql, c.cache, c.vectors): c for c in done}
    header = f"{'op':<18} {'sql':<8} {'cache':<6} {'vectors':>7} {'n':>5} {'p50 ms':>9} {'p95 ms':>9}  target"
    lines = [
        f"Kindred storage benchmark - {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{'quick' if run.args.quick else 'full'} run, {run.plan.users} people",
        "",
        header,
        "-" * len(header),
    ]
    for row in run.rows:
        check = target_of.get((row.op, row.sql, row.cache, row.vectors))
        verdict = f"<= {check.target_ms:g} ms {'pass' if check.passed else 'MISS'}" if check else ""
        lines.append(
            f"{row.op:<18} {row.sql or '-':<8} {row.cache or '-':<6} {_count(row.vectors):>7} {row.n:>5} "
            f"{row.p50_ms:>9.2f} {row.p95_ms:>9.2f}  {verdict}"
        )
    if run.layout:
        lay = run.layout

        def line(label: str, key: str, tail: str = "") -> str:
            return f"  {label:<42} p50 {lay[key]['p50_ms']:8.2f} ms  p95 {lay[key]['p95_ms']:8.2f} ms{tail}"

        lines += [
            "",
            f"Layout: {lay['vectors']} vectors, {lay['users']} people x {lay['per_user']}, k={lay['k']} "
            "(raw Collection.query, interleaved)",
            line("one shared collection, where={'user': ...}", "shared_where_user"),
            line(
                "one shared collection, unfiltered", "shared_unfiltered", "  (wrong answer: anyone's vectors)"
            ),
            line("one collection per (person, realm)", "per_partition"),
            f"  where-filter / per-partition p50: {lay['where_over_partition_p50']}x; "
            f"top-{lay['k']} agreement {lay['topk_agreement_where_vs_partition']:.0%}",
            f"  earlier on this machine: {EARLIER_LAYOUT}",
        ]
    lines += ["", "Targets:"]
    for c in done:
        where = "/".join(x for x in (c.sql, c.cache) if x) or "chroma"
        lines.append(
            f"  {c.name} ({c.op}, {where}, {_count(c.vectors)}): {c.p50_ms:.2f} ms vs "
            f"<= {c.target_ms:g} ms: {'pass' if c.passed else 'MISS'}"
        )
    if run.setup_s:
        lines += ["", "Set-up (s): " + ", ".join(f"{k} {v}" for k, v in run.setup_s.items())]
    return "\n".join(lines)


def report_json(
    run: Run, done: list[Check], duration_s: float, load_start: tuple[float, ...]
) -> dict[str, Any]:
    return {
        "machine": {
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_avg_start": [round(x, 2) for x in load_start],
            "load_avg_end": [round(x, 2) for x in os.getloadavg()],
            "versions": run.versions,
        },
        "run": {
            "quick": run.args.quick,
            "backends": run.args.backends,
            "caches": run.args.caches,
            "plan": asdict(run.plan),
            "embedder": {"model_id": run.embedder.model_id, "dimension": run.embedder.dimension},
            "duration_s": round(duration_s, 1),
            "setup_s": run.setup_s,
        },
        "results": [asdict(row) for row in run.rows],
        "layout": run.layout,
        "targets": {
            "record_turn_p50_ms": TARGET_RECORD_TURN_MS,
            "scoped_vector_query_p50_ms": TARGET_SEARCH_MS,
            "scoped_vector_query_at": {"vectors": run.plan.large, "users": run.plan.users},
            "checks": [
                {
                    "name": c.name,
                    "op": c.op,
                    "sql": c.sql,
                    "cache": c.cache,
                    "vectors": c.vectors,
                    "p50_ms": c.p50_ms,
                    "target_ms": c.target_ms,
                    "pass": c.passed,
                }
                for c in done
            ],
        },
    }


# ---------------------------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", required=True, type=Path, help="where to write the JSON results")
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer iterations (smoke run)")
    parser.add_argument("--backends", default="sqlite,postgres", help="SQL backends: sqlite,postgres")
    parser.add_argument("--caches", default="memory,redis", help="cache backends: memory,redis")
    parser.add_argument("--iterations", type=int, default=None, help="measured calls per read row")
    parser.add_argument("--tmp", type=Path, default=None, help="parent of the temporary directory")
    parser.add_argument(
        "--embedder-wait",
        type=float,
        default=0.0,
        help="seconds to keep retrying while the builtin embedding model is missing",
    )
    args = parser.parse_args(argv)
    args.backends = _choices(parser, "--backends", args.backends, SQL_BACKENDS)
    args.caches = _choices(parser, "--caches", args.caches, CACHE_BACKENDS)
    if args.iterations is not None and args.iterations < 10:
        parser.error("--iterations must be at least 10")
    return args


def _choices(parser: argparse.ArgumentParser, flag: str, value: str, allowed: Sequence[str]) -> list[str]:
    picked = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [v for v in picked if v not in allowed]
    if not picked or unknown:
        parser.error(f"{flag} takes a comma-separated subset of {','.join(allowed)}, got {value!r}")
    return list(dict.fromkeys(picked))


def make_plan(args: argparse.Namespace) -> Plan:
    if args.quick:
        n = args.iterations or 60
        return Plan(
            users=100,
            small_per_user=20,
            large_per_user=100,
            iterations=n,
            write_iterations=max(10, n // 3),
            layout_iterations=max(10, n // 2),
        )
    n = args.iterations or 400
    return Plan(
        users=1000,
        small_per_user=10,
        large_per_user=100,
        iterations=n,
        write_iterations=max(10, n // 4),
        layout_iterations=max(10, n // 4),
    )


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


async def main_async(args: argparse.Namespace) -> int:
    load_start = os.getloadavg()
    started = time.perf_counter()
    plan = make_plan(args)
    embedder = await asyncio.to_thread(load_embedder, args.embedder_wait)
    tmp = Path(tempfile.mkdtemp(prefix="kindred-bench-", dir=args.tmp))
    run = Run(args, plan, tmp, embedder, space_id(embedder.model_id, embedder.dimension))
    run.redis_prefix = f"kindred-bench-{secrets.token_hex(5)}:"
    run.versions = {
        "kindred": _version("kindred"),
        "chromadb": _version("chromadb"),
        "sqlalchemy": _version("SQLAlchemy"),
        "asyncpg": _version("asyncpg"),
        "aiosqlite": _version("aiosqlite"),
        "redis-py": _version("redis"),
        "model2vec": _version("model2vec"),
        "sqlite": sqlite3.sqlite_version,
    }
    progress(f"temporary directory {tmp}; embedder {embedder.model_id} ({embedder.dimension}-d)")
    try:
        if "postgres" in args.backends:
            run.pg_db, run.versions["postgresql"] = await create_pg_database()
            progress(f"created PostgreSQL database {run.pg_db}")
        if "redis" in args.caches:
            run.versions["redis"] = await redis_version()
            progress(f"Redis key prefix {run.redis_prefix}")

        for sql in args.backends:
            for cache in args.caches:
                await bench_turns(run, sql, cache)
            await bench_add_memory(run, sql)
            await load_population(run, sql)
        for per_user in (plan.small_per_user, plan.large_per_user):
            await bench_vectors(run, per_user)
    finally:
        await cleanup(run)

    done = checks(run)
    text = render(run, done)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(report_json(run, done, time.perf_counter() - started, load_start), indent=2) + "\n",
        encoding="utf-8",
    )
    print(f"\nJSON written to {args.out} ({time.perf_counter() - started:.0f} s in all)")
    return 0


async def cleanup(run: Run) -> None:
    """Remove the database, the Redis keys and the temporary directory, each even if another fails."""
    if run.pg_db is not None:
        try:
            await drop_pg_database(run.pg_db)
            progress(f"dropped PostgreSQL database {run.pg_db}")
        except Exception:
            log.exception("could not drop PostgreSQL database %s; drop it by hand", run.pg_db)
    if "redis" in run.args.caches:
        try:
            deleted = await clean_redis(run.redis_prefix)
            progress(f"deleted {deleted} Redis keys under {run.redis_prefix}")
        except Exception:
            log.exception("could not clean Redis keys under %s", run.redis_prefix)
    shutil.rmtree(run.tmp, ignore_errors=True)
    if run.tmp.exists():
        log.error("could not remove %s", run.tmp)
    else:
        progress(f"removed {run.tmp}")


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Chroma's own chatter is not part of the benchmark.
    for noisy in ("chromadb", "httpx"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    args = parse_args(argv)
    try:
        return asyncio.run(main_async(args))
    except KeyboardInterrupt:
        print("interrupted; everything the run created was removed", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
