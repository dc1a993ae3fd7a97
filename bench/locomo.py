"""Benchmark recall on LoCoMo: Kindred's hybrid recall, plain BM25 and plain dense, through one harness.

Each conversation is ingested the way the bot ingests a chat in a server channel: the two speakers are two
people in one channel of one guild, and every turn goes through ``StorageService.record_turn`` with its
speaker and its session's real date and time, then ``index_turns`` per session, then ``end_session``.
Each question is asked through ``StorageService.search(scope, question, k, kinds=("turn",), now=...)`` by
the first speaker in that channel, at a moment just after the conversation's last session. What they may
recall there is their own turns and, since this is a server channel, what the other speaker said in it in
public (docs/memory.md, "Who can recall what").

The baselines use the same questions, evidence and metrics, over the same turns indexed as
``Speaker said, "text"``:
- BM25: SQLite FTS5's built-in ``bm25()`` over an in-memory table with plain unicode61 tokens (no stemming,
  no stop words), every query word OR-ed; no extra dependency.
- dense: the same builtin model2vec embedder as Kindred, exact cosine over all of a conversation's turns.

Embedded default only: SQLite, the in-process cache, local Chroma, the builtin model; no LLM, no network.

Run::

    python bench/locomo.py --data /path/to/locomo_dev.json --out /tmp/locomo.json
    python bench/locomo.py --data ... --out ... --conversations 2      # a quicker smoke run
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as ``python bench/locomo.py``, this file's directory comes first on sys.path, where bench/storage.py
# would shadow the ``storage`` package; the repository root is what we want instead.
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)
if str(Path(__file__).resolve().parents[1]) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import json
import logging
import re
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from bench.locomo_data import EvidenceReport, LocomoConversation, MetricTable, load
from storage.config import SQLSettings, StorageSettings
from storage.embedding.base import Embedder
from storage.recall.fusion import Weights
from storage.records import TurnRecord
from storage.scope import Scope
from storage.service import StorageService

K = 10
PLATFORM = "locomo"
GUILD = "locomo"
# Questions are asked this long after the last session, as someone would ask later on.
ASKED_AFTER = timedelta(days=1)
TARGETS = {"hit@10": 0.85, "frac@10": 0.80, "p50_ms": 10.0}
_TOKEN = re.compile(r"\w+", re.UNICODE)

Ranker = Callable[[str], Awaitable[list[str]]]


@dataclass(slots=True)
class Channel:
    """One conversation as stored: the two speakers' scopes in its channel, and turn id -> dialogue id."""

    conversation: LocomoConversation
    scopes: dict[str, Scope]
    asker: Scope
    asked_at: datetime
    turn_to_dia: dict[int, str]


def speaker_scopes(conversation: LocomoConversation) -> dict[str, Scope]:
    """Return each speaker's scope: a person of their own, both in the conversation's channel."""
    safe = re.sub(r"[^A-Za-z0-9_.:-]", "_", conversation.sample_id)[:40]
    return {
        name: Scope(user_id=f"{safe}-{side}", guild_id=GUILD, channel_id=safe, platform=PLATFORM)
        for side, name in (("a", conversation.speaker_a), ("b", conversation.speaker_b))
    }


async def ingest(storage: StorageService, conversation: LocomoConversation, captions: bool) -> Channel:
    """Record and index every turn through the real write path, one session at a time."""
    scopes = speaker_scopes(conversation)
    turn_to_dia: dict[int, str] = {}
    for session in conversation.sessions:
        said: dict[str, list[TurnRecord]] = {name: [] for name in scopes}
        for turn in session.turns:
            scope = scopes.get(turn.speaker)
            if scope is None:
                raise ValueError(f"{conversation.sample_id} {turn.dia_id}: unknown speaker {turn.speaker!r}")
            text = turn.text
            if captions and turn.caption:
                text = f"{text} [shares an image: {turn.caption}]"
            record = await storage.record_turn(
                scope,
                "user",
                text,
                speaker=turn.speaker,
                message_id=f"{conversation.sample_id}/{turn.dia_id}"[:64],
                created_at=turn.at,
            )
            said[turn.speaker].append(record)
            turn_to_dia[record.id] = turn.dia_id
        for name, records in said.items():
            await storage.index_turns(scopes[name], records)
            await storage.end_session(scopes[name])
    last = max(session.at for session in conversation.sessions)
    return Channel(conversation, scopes, scopes[conversation.speaker_a], last + ASKED_AFTER, turn_to_dia)


# ---------------------------------------------------------------------------------------------- baselines


def document(speaker: str, text: str) -> str:
    """Return a turn as the reference baselines indexed it."""
    return f'{speaker} said, "{text}"'


class BM25:
    """Plain BM25 over one conversation: SQLite FTS5 with unicode61 tokens, every query word OR-ed."""

    def __init__(self, conversation: LocomoConversation) -> None:
        self.db = sqlite3.connect(":memory:")
        self.db.execute("CREATE VIRTUAL TABLE docs USING fts5(dia UNINDEXED, body, tokenize='unicode61')")
        self.db.executemany(
            "INSERT INTO docs(dia, body) VALUES (?, ?)",
            [(t.dia_id, document(t.speaker, t.text)) for t in conversation.turns],
        )

    async def rank(self, question: str) -> list[str]:
        """Return dialogue ids, best first."""
        words = dict.fromkeys(_TOKEN.findall(question.lower()))
        if not words:
            return []
        match = " OR ".join(f'"{w}"' for w in words)
        rows = self.db.execute(
            "SELECT dia FROM docs WHERE docs MATCH ? ORDER BY bm25(docs) LIMIT ?", (match, K)
        ).fetchall()
        return [str(r[0]) for r in rows]

    def close(self) -> None:
        """Close the in-memory database."""
        self.db.close()


class Dense:
    """Plain dense retrieval over one conversation: exact cosine with Kindred's embedder."""

    def __init__(self, embedder: Embedder, dias: list[str], matrix: np.ndarray) -> None:
        self.embedder = embedder
        self.dias = dias
        self.matrix = matrix

    @classmethod
    async def build(cls, embedder: Embedder, conversation: LocomoConversation) -> Dense:
        """Embed every turn of a conversation."""
        turns = conversation.turns
        vectors = await embedder.embed([document(t.speaker, t.text) for t in turns])
        return cls(embedder, [t.dia_id for t in turns], np.asarray(vectors, dtype=np.float32))

    async def rank(self, question: str) -> list[str]:
        """Return dialogue ids, best first."""
        q = np.asarray((await self.embedder.embed([question]))[0], dtype=np.float32)
        order = np.argsort(-(self.matrix @ q), kind="stable")[:K]
        return [self.dias[i] for i in order.tolist()]


# ---------------------------------------------------------------------------------------------- scoring


@dataclass(slots=True)
class Result:
    table: MetricTable
    latencies_ms: list[float]

    def as_dict(self) -> dict[str, Any]:
        """Return the issue's JSON shape: turn and session metrics by category ("all" overall), latency."""
        summary = self.table.summary()
        out: dict[str, Any] = {
            level: {("all" if group == "overall" else group): m for group, m in groups.items()}
            for level, groups in summary.items()
        }
        out["query_ms"] = {"p50": percentile(self.latencies_ms, 50), "p95": percentile(self.latencies_ms, 95)}
        out["n_questions"] = self.table.count()
        return out


def percentile(values: Sequence[float], p: float) -> float:
    """Return the p-th percentile (nearest rank), 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


async def score(conversations: Sequence[LocomoConversation], rankers: Sequence[Ranker]) -> Result:
    """Ask every question with evidence through its conversation's ranker and score the rankings."""
    table = MetricTable()
    latencies: list[float] = []
    for conversation, rank in zip(conversations, rankers, strict=True):
        for question in conversation.questions:
            if not question.evidence:
                continue
            started = time.perf_counter()
            ranked = await rank(question.question)
            latencies.append((time.perf_counter() - started) * 1000)
            table.add(question.category, ranked, question.evidence)
    return Result(table, latencies)


def kindred_ranker(storage: StorageService, channel: Channel, k: int) -> Ranker:
    """Return a ranker that asks through ``StorageService.search`` in the conversation's channel."""

    async def rank(question: str) -> list[str]:
        hits = await storage.search(channel.asker, question, k=k, kinds=("turn",), now=channel.asked_at)
        # Cold-tier promotions run in the background in the bot; here they would overlap the next query.
        await storage.tiers.settle()
        return [channel.turn_to_dia[h.id] for h in hits if h.id in channel.turn_to_dia]

    return rank


# ---------------------------------------------------------------------------------------------- the run


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Ingest, ask every question through Kindred and both baselines; return the results."""
    conversations, evidence = load(args.data)
    # --skip then --conversations: a held-out slice (tune on the first conversations, check on the rest).
    conversations = conversations[args.skip :]
    if args.conversations:
        conversations = conversations[: args.conversations]
    tmp = Path(tempfile.mkdtemp(prefix="kindred-bench-locomo-"))
    try:
        # The two speakers talk in one channel and the questions are about both: recall of the channel's
        # public turns is on, as an operator would turn it on for a shared channel (docs/memory.md).
        settings = StorageSettings(
            data_dir=tmp / "data", sql=SQLSettings(connect_retries=0), recall_channel_turns=True
        )
        storage = await StorageService.open(settings)
        try:
            if args.weights:
                storage.recall.weights = Weights(**json.loads(args.weights))
            started = time.perf_counter()
            channels = [await ingest(storage, c, args.captions) for c in conversations]
            ingest_s = time.perf_counter() - started
            turns = sum(len(c.turn_to_dia) for c in channels)
            print(f"ingested {turns} turns of {len(channels)} conversations in {ingest_s:.1f}s")
            kindred = await score(conversations, [kindred_ranker(storage, c, args.k) for c in channels])
            bm25 = [BM25(c) for c in conversations]
            plain = await score(conversations, [b.rank for b in bm25])
            for b in bm25:
                b.close()
            dense = [await Dense.build(storage.embedder, c) for c in conversations]
            dense_result = await score(conversations, [d.rank for d in dense])
        finally:
            await storage.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        **kindred.as_dict(),
        "ingest_turns_per_s": turns / ingest_s if ingest_s else 0.0,
        "baselines": {"bm25_fts5": plain.as_dict(), "dense_model2vec": dense_result.as_dict()},
        "weights": asdict(storage.recall.weights),
        "data": {"conversations": len(conversations), "turns": turns, "evidence": evidence_dict(evidence)},
        "targets": TARGETS,
    }


def evidence_dict(report: EvidenceReport) -> dict[str, Any]:
    """Return what loading did to the evidence ids."""
    return {
        "kept": report.kept,
        "normalised": report.normalised,
        "dropped": report.dropped,
        "questions_without_evidence": report.questions_without_evidence,
        "examples": report.examples,
    }


def print_table(result: dict[str, Any]) -> None:
    """Print turn-level figures for Kindred and the baselines, then Kindred by category."""
    columns = ("hit@5", "hit@10", "all@10", "frac@10", "ndcg@10", "mrr")
    header = f"{'retriever':<18}" + "".join(f"{c:>9}" for c in columns) + f"{'p50 ms':>9}{'p95 ms':>9}"
    print(f"\nLoCoMo turn level, all categories ({result['n_questions']} questions, k={K})")
    print(header)
    print("-" * len(header))
    rows = [("kindred", result), *result["baselines"].items()]
    for name, r in rows:
        m = r["turn"]["all"]
        print(
            f"{name:<18}"
            + "".join(f"{m[c]:>9.3f}" for c in columns)
            + f"{r['query_ms']['p50']:>9.2f}{r['query_ms']['p95']:>9.2f}"
        )
    print("\nkindred by category (turn level)")
    for category in ("1", "2", "3", "4", "5"):
        m = result["turn"].get(category)
        if m:
            print(f"  {category}: n={m['n']:<4} hit@10 {m['hit@10']:.3f}  frac@10 {m['frac@10']:.3f}")
    m = result["turn"]["all"]
    print(
        f"\ntargets: hit@10 {m['hit@10']:.3f} (>= {TARGETS['hit@10']}), frac@10 {m['frac@10']:.3f} "
        f"(>= {TARGETS['frac@10']}), p50 {result['query_ms']['p50']:.2f} ms (<= {TARGETS['p50_ms']})"
    )
    print(f"ingest: {result['ingest_turns_per_s']:.0f} turns/s")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run, print and write the JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True, type=Path, help="path to LoCoMo's JSON (not in the repo)")
    parser.add_argument("--out", required=True, type=Path, help="where to write the results as JSON")
    parser.add_argument("--conversations", type=int, default=0, help="use only the first N conversations")
    parser.add_argument("--skip", type=int, default=0, help="leave out the first N conversations")
    parser.add_argument("--k", type=int, default=K, help="results per query (default 10)")
    parser.add_argument("--captions", action="store_true", help="append shared images' captions to turns")
    parser.add_argument("--weights", help="recall weights as JSON, e.g. '{\"lexical\": 0.7}' (for tuning)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    result = asyncio.run(run(args))
    print_table(result)
    args.out.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
