"""Benchmark compression: bytes stored per 1,000 turns and LoCoMo retrieval, before and after.

Ingests LoCoMo conversations through the real write path (``StorageService.record_turn`` with each turn's
speaker and its session's real date and time, ``index_turns`` per session, then ``end_session``) into the
embedded default (SQLite, in-process cache, local Chroma) in a temporary directory, and measures:

- bytes stored per 1,000 turns: the SQLite database (with its WAL) plus the Chroma directory, with the
  service closed so every tier has flushed. "live" counts SQLite pages in use (free pages are reused by
  later writes, but the file does not shrink without VACUUM); "disk" is the files' sizes;
- turn-level LoCoMo retrieval through ``StorageService.search(scope, question, k, kinds=("turn",))``:
  hit@5, hit@10, frac@10, NDCG@10 and MRR overall and per category, and query latency.

Then it runs compression (``StorageService.compress`` with the extractive summariser; the data is from
2022-2024, so with the default settings every session counts as closed and old), and measures again, and
once more after the retrieval pass, since recall promotes what it finds back into the index.

Run::

    python bench/compression.py --data /path/to/locomo_dev.json --out /tmp/bench-compression.json
    python bench/compression.py --data ... --out ... --conversations 2        # a quicker smoke run

Targets (Kindred issue 4): after compression at most 30% of the bytes per 1,000 turns, losing at most one
point (0.01) of turn-level hit@10. Numbers come from one run on a possibly shared machine.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as ``python bench/compression.py``, this file's directory comes first on sys.path, where
# bench/storage.py would shadow the ``storage`` package; the repository root is what we want instead.
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)
if str(Path(__file__).resolve().parents[1]) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import json
import logging
import platform
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Sequence
from contextlib import closing
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from bench.locomo_data import (
    EvidenceReport,
    Ingested,
    LocomoConversation,
    MetricTable,
    ingest,
    load,
)
from storage.compression import CompressionReport, extractive_summary
from storage.config import CompressionSettings, SQLSettings, StorageSettings
from storage.records import TurnRecord
from storage.service import StorageService
from storage.vectors.exact import FILE_NAME as EXACT_FILE

log = logging.getLogger("bench.compression")

TARGET_BYTES_RATIO = 0.30
TARGET_HIT10_LOSS = 0.01
K = 10


# ---------------------------------------------------------------------------------------------- bytes


@dataclass(slots=True)
class Bytes:
    """Bytes stored, split by tier, on disk and live (SQLite pages in use)."""

    sql_disk: int = 0
    sql_live: int = 0
    vectors_disk: int = 0
    vectors_live: int = 0
    vector_files: dict[str, int] = field(default_factory=dict)

    @property
    def disk(self) -> int:
        return self.sql_disk + self.vectors_disk

    @property
    def live(self) -> int:
        return self.sql_live + self.vectors_live

    def per_1000(self, turns: int) -> dict[str, float]:
        """Return each figure per 1,000 turns."""
        scale = 1000.0 / max(turns, 1)
        return {
            "sql_live": self.sql_live * scale,
            "vectors_live": self.vectors_live * scale,
            "live": self.live * scale,
            "sql_disk": self.sql_disk * scale,
            "vectors_disk": self.vectors_disk * scale,
            "disk": self.disk * scale,
        }


def sqlite_live_bytes(path: Path) -> int:
    """Return the bytes of the pages a SQLite database uses (after folding in its WAL)."""
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    return int((pages - free) * size)


def offline_vacuum(data_dir: Path, chroma_dir: Path) -> tuple[Bytes | None, str]:
    """Give free pages back to the file system as an operator can with Kindred stopped; measure again.

    SQLite's VACUUM on the Kindred database, and Chroma's own ``chroma vacuum`` on its directory.
    """
    for db in (data_dir / "kindred.db", chroma_dir / EXACT_FILE):
        if db.exists():
            with closing(sqlite3.connect(db)) as conn:
                conn.execute("VACUUM")
    chroma = Path(sys.executable).with_name("chroma")
    if not chroma.exists():
        return None, "the chroma command is not installed beside this Python"
    done = subprocess.run(
        [str(chroma), "vacuum", "--path", str(chroma_dir), "--force"],
        capture_output=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        return None, f"chroma vacuum exited with {done.returncode}"
    return measure_bytes(data_dir, chroma_dir), "sqlite VACUUM and `chroma vacuum --force`"


def cold_vector_bytes(db: Path) -> int:
    """Return the bytes of the cold tier's vectors (turns and memories) in a SQLite database."""
    with closing(sqlite3.connect(db)) as conn:
        turns = conn.execute("SELECT coalesce(sum(length(cold_vector)), 0) FROM turns").fetchone()[0]
        memories = conn.execute("SELECT coalesce(sum(length(cold_vector)), 0) FROM memories").fetchone()[0]
    return int(turns) + int(memories)


def files_size(paths: Sequence[Path]) -> int:
    """Return the summed size of the files that exist."""
    return sum(p.stat().st_size for p in paths if p.is_file())


def measure_bytes(data_dir: Path, chroma_dir: Path) -> Bytes:
    """Measure the closed store: SQLite (with WAL and shared memory) and the Chroma directory."""
    db = data_dir / "kindred.db"
    out = Bytes()
    out.sql_disk = files_size([db, db.with_name("kindred.db-wal"), db.with_name("kindred.db-shm")])
    out.sql_live = sqlite_live_bytes(db)
    out.sql_disk = max(out.sql_disk, files_size([db]))  # the checkpoint above folded the WAL in
    for path in sorted(chroma_dir.rglob("*")):
        if not path.is_file():
            continue
        size = path.stat().st_size
        out.vectors_disk += size
        if path.name in ("chroma.sqlite3", EXACT_FILE):
            # Chroma's catalogue, and the exact store's small partitions (storage/vectors/exact.py).
            live = sqlite_live_bytes(path)
            out.vectors_live += live
            out.vector_files[f"{path.name} (live)"] = live
        else:
            out.vectors_live += size
            kind = path.name
            out.vector_files[kind] = out.vector_files.get(kind, 0) + size
    return out


# ---------------------------------------------------------------------------------------------- retrieval


@dataclass(slots=True)
class Retrieval:
    """Turn-level retrieval metrics and query latency for one pass over the questions."""

    table: MetricTable
    latencies_ms: list[float]
    questions: int
    skipped: int

    def headline(self) -> dict[str, float]:
        """Return the overall turn-level figures this benchmark judges."""
        mean = self.table.mean("turn", "overall")
        return {
            "hit@5": mean.get("hit@5", 0.0),
            "hit@10": mean.get("hit@10", 0.0),
            "frac@10": mean.get("frac@10", 0.0),
            "ndcg@10": mean.get("ndcg@10", 0.0),
            "mrr": mean.get("mrr", 0.0),
            "p50_ms": percentile(self.latencies_ms, 50),
            "p95_ms": percentile(self.latencies_ms, 95),
        }


def percentile(values: Sequence[float], p: float) -> float:
    """Return the p-th percentile (nearest rank), 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


async def retrieval(storage: StorageService, ingested: Sequence[Ingested], k: int) -> Retrieval:
    """Ask every question with evidence in its conversation's scope and score the turn ranking."""
    table = MetricTable()
    latencies: list[float] = []
    skipped = asked = 0
    for item in ingested:
        for question in item.conversation.questions:
            if not question.evidence:
                skipped += 1
                continue
            started = time.perf_counter()
            hits = await storage.search(item.scope, question.question, k=k, kinds=("turn",))
            latencies.append((time.perf_counter() - started) * 1000)
            # Recall promotes cold hits in the background; in the bot that overlaps the model's reply, here
            # it would overlap the next query, so it is let finish outside the timing.
            await storage.tiers.settle()
            ranked = [item.turn_to_dia[h.id] for h in hits if h.kind == "turn" and h.id in item.turn_to_dia]
            table.add(question.category, ranked, question.evidence)
            asked += 1
    return Retrieval(table, latencies, asked, skipped)


# ---------------------------------------------------------------------------------------------- the run


async def extractive(turns: Sequence[TurnRecord]) -> str | None:
    """Summarise with the extractive fallback (no language model in a benchmark)."""
    return extractive_summary(turns) or None


def settings_for(data_dir: Path, cold_bits: int | None = None) -> StorageSettings:
    """Return the embedded default in ``data_dir``, with compression at its defaults but for the backlog
    (and the cold vectors' width, when given)."""
    # Every session of the data set is summarised in the one run this benchmark makes.
    compression: dict[str, Any] = {"summaries_per_run": 100_000}
    if cold_bits is not None:
        compression["cold_vector_bits"] = cold_bits
    return StorageSettings(
        data_dir=data_dir,
        sql=SQLSettings(connect_retries=0),
        compression=CompressionSettings(**compression),
    )


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Ingest, measure, compress, measure again; return the results."""
    conversations, evidence = load(args.data)
    if args.conversations:
        conversations = conversations[: args.conversations]
    tmp = Path(tempfile.mkdtemp(prefix="kindred-bench-compression-"))
    try:
        return await measure(args, conversations, evidence, tmp)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


async def measure(
    args: argparse.Namespace, conversations: list[LocomoConversation], evidence: EvidenceReport, tmp: Path
) -> dict[str, Any]:
    """Run every phase in ``tmp`` and return the results."""
    settings = settings_for(tmp / "data", args.cold_bits)
    chroma_dir = settings.chroma_path()

    storage = await StorageService.open(settings)
    started = time.perf_counter()
    ingested = [await ingest(storage, c) for c in conversations]
    ingest_s = time.perf_counter() - started
    turns = sum(i.turns for i in ingested)
    await storage.close()
    before = measure_bytes(settings.data_dir, chroma_dir)
    print(f"ingested {turns} turns of {len(ingested)} conversations in {ingest_s:.1f}s")

    storage = await StorageService.open(settings)
    base = await retrieval(storage, ingested, args.k)
    print(f"retrieval before: {base.headline()}")
    started = time.perf_counter()
    report: CompressionReport = await storage.compress(extractive)
    compress_s = time.perf_counter() - started
    await storage.close()
    after = measure_bytes(settings.data_dir, chroma_dir)
    cold_bytes = cold_vector_bytes(settings.data_dir / "kindred.db")
    vacuumed, vacuum_note = offline_vacuum(settings.data_dir, chroma_dir)
    print(f"compression: {report.as_dict()}")

    storage = await StorageService.open(settings)
    later = await retrieval(storage, ingested, args.k)
    await storage.close()
    after_recall = measure_bytes(settings.data_dir, chroma_dir)

    ratio_live = after.live / max(before.live, 1)
    # What keeping every turn in SQL plus one cold vector per turn costs, whatever else is done.
    floor = (before.sql_live + cold_bytes) / max(before.live, 1)
    ratio_disk = after.disk / max(before.disk, 1)
    loss = base.headline()["hit@10"] - later.headline()["hit@10"]
    return {
        "benchmark": "compression",
        "created_at": datetime.now(UTC).isoformat(),
        "environment": environment(),
        "data": {
            "conversations": [c.sample_id for c in conversations],
            "turns": turns,
            "questions_scored": base.questions,
            "questions_without_evidence": base.skipped,
            "evidence": asdict(evidence),
        },
        "settings": settings.compression.model_dump(),
        "ingest_s": ingest_s,
        "compress_s": compress_s,
        "compression_report": report.as_dict(),
        "bytes": {
            "before": {**asdict(before), "per_1000_turns": before.per_1000(turns)},
            "after": {**asdict(after), "per_1000_turns": after.per_1000(turns)},
            "after_recall": {**asdict(after_recall), "per_1000_turns": after_recall.per_1000(turns)},
            "after_offline_vacuum": (
                {**asdict(vacuumed), "per_1000_turns": vacuumed.per_1000(turns)} if vacuumed else None
            ),
            "offline_vacuum": vacuum_note,
        },
        "retrieval": {
            "before": {"headline": base.headline(), "metrics": base.table.summary()},
            "after": {"headline": later.headline(), "metrics": later.table.summary()},
        },
        "targets": {
            "bytes_ratio_live": ratio_live,
            "bytes_ratio_disk": ratio_disk,
            "bytes_target": TARGET_BYTES_RATIO,
            "bytes_pass": ratio_live <= TARGET_BYTES_RATIO,
            "hit10_loss": loss,
            "hit10_target": TARGET_HIT10_LOSS,
            "hit10_pass": loss <= TARGET_HIT10_LOSS + 1e-12,
            "floor_ratio_turns_plus_cold_vectors": floor,
            "cold_vector_bytes": cold_bytes,
        },
    }


def environment() -> dict[str, str]:
    """Return the versions and machine the numbers came from."""
    versions = {}
    for name in ("chromadb", "SQLAlchemy", "numpy", "model2vec"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "?"
    return {"python": platform.python_version(), "machine": platform.machine(), **versions}


# ---------------------------------------------------------------------------------------------- output


def print_table(result: dict[str, Any]) -> None:
    """Print the bytes, the retrieval figures and the targets."""
    turns = result["data"]["turns"]
    print()
    print(f"bytes per 1,000 turns ({turns} turns)")
    header = f"{'phase':<22}{'sql live':>12}{'vectors live':>14}{'total live':>12}{'total disk':>12}"
    print(header)
    print("-" * len(header))
    for phase in ("before", "after", "after_offline_vacuum", "after_recall"):
        if result["bytes"][phase] is None:
            continue
        per = result["bytes"][phase]["per_1000_turns"]
        print(
            f"{phase:<22}{per['sql_live']:>12,.0f}{per['vectors_live']:>14,.0f}"
            f"{per['live']:>12,.0f}{per['disk']:>12,.0f}"
        )
    print()
    print("LoCoMo turn-level retrieval (k=10, all categories)")
    columns = [
        ("hit@5", 8),
        ("hit@10", 8),
        ("frac@10", 9),
        ("ndcg@10", 9),
        ("mrr", 7),
        ("p50 ms", 8),
        ("p95 ms", 8),
    ]
    header = f"{'phase':<10}" + "".join(f"{name:>{width}}" for name, width in columns)
    print(header)
    print("-" * len(header))
    for phase in ("before", "after"):
        h = result["retrieval"][phase]["headline"]
        print(
            f"{phase:<10}{h['hit@5']:>8.3f}{h['hit@10']:>8.3f}{h['frac@10']:>9.3f}{h['ndcg@10']:>9.3f}"
            f"{h['mrr']:>7.3f}{h['p50_ms']:>8.1f}{h['p95_ms']:>8.1f}"
        )
    print()
    print("hit@10 by category (before -> after)")
    for category in ("1", "2", "3", "4", "5"):
        b = result["retrieval"]["before"]["metrics"]["turn"].get(category)
        a = result["retrieval"]["after"]["metrics"]["turn"].get(category)
        if b and a:
            print(f"  {category}: n={b['n']:<4} {b['hit@10']:.3f} -> {a['hit@10']:.3f}")
    t = result["targets"]
    print()
    verdict = "PASS" if t["bytes_pass"] else "MISS"
    print(
        f"target bytes <= {t['bytes_target']:.0%} of before: live {t['bytes_ratio_live']:.1%} "
        f"(disk {t['bytes_ratio_disk']:.1%}) {verdict}"
    )
    floor = t["floor_ratio_turns_plus_cold_vectors"]
    print(f"  (every turn kept in SQL plus one cold vector per turn is {floor:.1%} of before by itself)")
    verdict = "PASS" if t["hit10_pass"] else "MISS"
    print(f"target hit@10 loss <= {t['hit10_target']:.2f}: {t['hit10_loss']:+.4f} {verdict}")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run, print and write the JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True, type=Path, help="path to LoCoMo's JSON (not in the repo)")
    parser.add_argument("--out", required=True, type=Path, help="where to write the results as JSON")
    parser.add_argument("--conversations", type=int, default=0, help="use only the first N conversations")
    parser.add_argument("--k", type=int, default=K, help="results per query (default 10)")
    parser.add_argument(
        "--cold-bits",
        type=int,
        choices=(4, 8),
        help="bits per cold vector component (default: the setting's)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory for inspection")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    result = asyncio.run(run(args))
    print_table(result)
    args.out.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
