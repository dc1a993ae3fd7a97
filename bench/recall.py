"""Benchmark recall latency as one person's memory grows: 1k, 10k and 100k memories.

For each size, a fresh embedded store (SQLite, in-process cache, local Chroma, the builtin model) holds one
person's memories in one server channel: SQL rows inserted in bulk (the full-text triggers index them as
they land) and their real embeddings upserted into the person's partition. Then ``StorageService.search``
(hybrid: full-text, vectors, fusion, re-ranking) is timed over a fixed set of questions, a fifth of them
naming a time ("last week", "in May"). The memories are sentences built from small word lists, so common
words have long posting lists, as they do in a real person's history.

Run::

    python bench/recall.py --out /tmp/recall.json                 # 1k, 10k, 100k (a few minutes)
    python bench/recall.py --out /tmp/recall.json --sizes 1000 10000
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as ``python bench/recall.py``, this file's directory comes first on sys.path, where bench/storage.py
# would shadow the ``storage`` package; the repository root is what we want instead.
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)
if str(Path(__file__).resolve().parents[1]) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import json
import logging
import platform
import random
import shutil
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from storage.config import SQLSettings, StorageSettings
from storage.scope import Scope
from storage.service import StorageService
from storage.sql.models import Memory
from storage.vectors.base import Partition, VectorItem

SIZES = (1_000, 10_000, 100_000)
QUERIES = 200
WARMUP = 20
K = 10
BATCH = 5_000
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
ASKER = Scope(user_id="bench-recall", guild_id="bench", channel_id="general", platform="bench")

PEOPLE = [
    "my sister",
    "my brother",
    "my mum",
    "my dad",
    "my friend Sam",
    "my boss",
    "my neighbour",
    "my partner",
    "my cousin",
    "Kai",
]
DOINGS = [
    "went hiking in",
    "started a course about",
    "bought a present from",
    "complained about",
    "cooked dinner with",
    "painted a picture of",
    "talked for hours about",
    "signed up for",
    "lost a bet about",
    "took photos of",
    "wrote a poem about",
    "argued about",
    "fixed the sink at",
    "planned a trip to",
    "found an old letter about",
]
THINGS = [
    "the mountains",
    "pottery",
    "the bakery",
    "the new job",
    "tomatoes",
    "the lake",
    "astronomy",
    "the marathon",
    "chess",
    "the garden",
    "the old house",
    "jazz records",
    "the beach",
    "the museum",
    "knitting",
    "the dentist",
    "violin lessons",
    "the vet",
    "Lisbon",
    "the football club",
    "a vintage bike",
    "the library",
    "sushi",
    "the allergy",
    "the wedding",
    "the school play",
    "a puppy",
    "the camping trip",
    "climate change",
    "the flat upstairs",
]
FEELINGS = [
    "and loved it",
    "and was nervous",
    "and laughed a lot",
    "and felt proud",
    "and it was awful",
    "again",
    "for the first time",
    "",
]
QUESTIONS = (
    "what did {who} do about {what}",
    "tell me about {what}",
    "when did I mention {what}",
    "how do I feel about {what}",
    "what happened with {who} last week",
    "anything about {what} in May",
    "did {who} ever talk about {what}",
    "what did I say yesterday about {what}",
    "remind me about {what} and {other}",
    "{what}",
)


def sentence(rng: random.Random) -> str:
    """Return one memory's text."""
    return f"{rng.choice(PEOPLE)} {rng.choice(DOINGS)} {rng.choice(THINGS)} {rng.choice(FEELINGS)}".strip()


def question(rng: random.Random) -> str:
    """Return one question, about a fifth of them naming a time."""
    return rng.choice(QUESTIONS).format(
        who=rng.choice(PEOPLE), what=rng.choice(THINGS), other=rng.choice(THINGS)
    )


def percentile(values: Sequence[float], p: float) -> float:
    """Return the p-th percentile (nearest rank), 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


async def fill(storage: StorageService, size: int, rng: random.Random) -> float:
    """Store ``size`` memories of the asker (SQL in bulk, then their vectors); return the seconds taken."""
    started = time.perf_counter()
    first = await storage.add_memory(ASKER, "I keep a diary", importance=0.5)  # makes the person and place
    async with storage.engine.connect() as conn:
        found = await conn.execute(select(Memory.user_id, Memory.scope_id).where(Memory.id == first.id))
        user_id, scope_id = found.one()
    texts = [sentence(rng) for _ in range(size - 1)]
    times = [NOW - timedelta(days=rng.uniform(0, 730)) for _ in texts]
    for start in range(0, len(texts), BATCH):
        chunk = range(start, min(start + BATCH, len(texts)))
        rows = [
            {
                "user_id": user_id,
                "scope_id": scope_id,
                "realm": ASKER.realm,
                "kind": "fact",
                "speaker": None,
                "text": texts[i],
                "importance": rng.random(),
                "pinned": False,
                "created_at": times[i],
                "valid_from": times[i],
                "source_turn_ids": [],
                "embedding_model": storage.embedder.model_id,
                "meta": {},
            }
            for i in chunk
        ]
        async with storage.engine.begin() as conn:
            result = await conn.execute(insert(Memory).returning(Memory.id), rows)
            new_ids = [int(i) for i in result.scalars()]
        vectors = await storage.embedder.embed([texts[i] for i in chunk])
        items = [
            VectorItem(f"m{mid}", vec.tolist(), {"kind": "memory", "at": times[i].timestamp()})
            for mid, vec, i in zip(new_ids, vectors, chunk, strict=True)
        ]
        await storage.vectors.upsert(storage.space, Partition(ASKER.user_key, ASKER.realm), items)
    return time.perf_counter() - started


async def measure(size: int, seed: int) -> dict[str, Any]:
    """Fill a fresh store with ``size`` memories and time recall over it."""
    rng = random.Random(seed)
    tmp = Path(tempfile.mkdtemp(prefix="kindred-bench-recall-"))
    try:
        storage = await StorageService.open(StorageSettings(data_dir=tmp, sql=SQLSettings(connect_retries=0)))
        try:
            fill_s = await fill(storage, size, rng)
            questions = [question(rng) for _ in range(QUERIES + WARMUP)]
            for q in questions[:WARMUP]:
                await storage.search(ASKER, q, k=K, now=NOW)
            latencies: list[float] = []
            results = 0
            for q in questions[WARMUP:]:
                started = time.perf_counter()
                found = await storage.search(ASKER, q, k=K, now=NOW)
                latencies.append((time.perf_counter() - started) * 1000)
                results += len(found)
        finally:
            await storage.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "memories": size,
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "mean_results": results / QUERIES,
        "fill_s": fill_s,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, measure each size, print the table and write the JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", required=True, type=Path, help="where to write the results as JSON")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="memories per person")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    rows = []
    for size in args.sizes:
        row = asyncio.run(measure(size, args.seed))
        rows.append(row)
        p50, p95, fill_s = row["p50_ms"], row["p95_ms"], row["fill_s"]
        print(f"{size:>8} memories: p50 {p50:.2f} ms, p95 {p95:.2f} ms ({fill_s:.0f} s to fill)")
    print(f"\n{'memories/person':>16}{'p50 ms':>9}{'p95 ms':>9}")
    for row in rows:
        print(f"{row['memories']:>16,}{row['p50_ms']:>9.2f}{row['p95_ms']:>9.2f}")
    result = {
        "sizes": rows,
        "k": K,
        "queries": QUERIES,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
