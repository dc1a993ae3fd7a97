"""Learn recall's context weights on LoCoMo: a logistic regression over the parts recall already computes.

Recall's last step (``storage.recall.fusion.settle``) adds to each candidate's score the share of its day's
relevance, a bonus when the query names its speaker, a penalty when it is a question, a share of the
score of the question it answers, and a bonus when the query asks when and it names a time. This script
learns how much each counts:

1. ingest conversations through the real write path (``bench.locomo.ingest``);
2. ask every question through the real recall path (``k=10``, as ``bench/locomo.py`` asks) with those five
   weights at 0, and keep every candidate ``settle`` scored, not only the ten returned, with its parts in
   ``reasons`` and its score before them (a larger ``k`` would fetch more candidates than a real search);
3. fit a logistic regression (gold evidence turn or not, classes balanced) over
   ``score, session, named, question, reply, when`` of each question's ``TOP`` best candidates by score
   (the ones that compete for the first ten places) on the training conversations;
4. divide by the score's coefficient: the weights to add to a score, as ``Weights`` takes them.

Then it ranks the other conversations' candidates with the learned weights and prints hit@10 and frac@10 for
both sides, so a weight is only shipped when it holds on conversations it was not fitted on. The shipped
defaults in ``storage.recall.fusion.Weights`` are this script's output on conversations 0-3, rounded::

    python bench/locomo_blend.py --data /path/to/locomo_dev.json --train 4

(``--train 4``: fit on the first four conversations, check on the rest; ``--reverse`` fits on the rest and
checks on the first four.) Confirm with ``bench/locomo.py --weights '{...}'`` on both halves and the whole.
"""

from __future__ import annotations

import sys
from pathlib import Path

if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)
if str(Path(__file__).resolve().parents[1]) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import json
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from bench.locomo import ingest
from bench.locomo_data import load
from storage.config import SQLSettings, StorageSettings
from storage.recall import fusion
from storage.service import StorageService

PARTS = ("score", "session", "named", "question", "reply", "when")
# What the learned weights are called in ``Weights`` (the score's own weight is 1).
WEIGHTS = {"session": "session", "named": "named", "question": "question", "reply": "reply", "when": "when"}
K = 10
# A question is taken off the score: its weight is a penalty, reported positive.
SIGNS = {"question": -1.0}
# The fit sees each question's best candidates by score: far below the first ten, the order does not matter.
TOP = 30


@dataclass(slots=True)
class Question:
    """One question's candidates: their dialogue ids, their parts (one row each) and the gold ids."""

    conversation: int
    dias: list[str]
    parts: np.ndarray
    gold: set[str]


def parts_of(reasons: dict[str, float]) -> list[float]:
    """Return a candidate's parts in ``PARTS`` order (the score before the context, the context's parts)."""
    return [
        reasons["score"],
        reasons.get("session", 0.0),
        reasons.get("speaker", 0.0),
        reasons.get("question", 0.0),
        reasons.get("reply", 0.0),
        reasons.get("when", 0.0),
    ]


async def collect(data: Path) -> list[Question]:
    """Ingest every conversation and return each question's candidates with the context weights at 0."""
    conversations, _ = load(data)
    tmp = Path(tempfile.mkdtemp(prefix="kindred-bench-blend-"))
    out: list[Question] = []
    settled: list[fusion.Scored] = []
    settle = fusion.settle

    def keep(*args: Any, **kwargs: Any) -> list[fusion.Scored]:
        # Every candidate recall scored, before it keeps the best k.
        settled[:] = settle(*args, **kwargs)
        return settled

    try:
        settings = StorageSettings(
            data_dir=tmp / "data", sql=SQLSettings(connect_retries=0), recall_channel_turns=True
        )
        storage = await StorageService.open(settings)
        fusion.settle = keep
        try:
            w = storage.recall.weights
            storage.recall.weights = replace(w, session=0.0, named=0.0, question=0.0, reply=0.0, when=0.0)
            for index, conversation in enumerate(conversations):
                channel = await ingest(storage, conversation, captions=False)
                for question in conversation.questions:
                    if not question.evidence:
                        continue
                    settled.clear()
                    await storage.search(
                        channel.asker, question.question, k=K, kinds=("turn",), now=channel.asked_at
                    )
                    await storage.tiers.settle()
                    found = [s for s in settled if s.row.id in channel.turn_to_dia]
                    parts = np.array([parts_of(s.reasons) for s in found], dtype=np.float64)
                    out.append(
                        Question(
                            index,
                            [channel.turn_to_dia[s.row.id] for s in found],
                            parts.reshape(-1, len(PARTS)),
                            set(question.evidence),
                        )
                    )
        finally:
            fusion.settle = settle
            await storage.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def fit(questions: Sequence[Question]) -> dict[str, float]:
    """Return the learned weights, each over the score's coefficient."""
    best = [np.argsort(-q.parts[:, 0], kind="stable")[:TOP] for q in questions]
    x = np.vstack([q.parts[b] for q, b in zip(questions, best, strict=True)])
    y = np.concatenate([[q.dias[i] in q.gold for i in b] for q, b in zip(questions, best, strict=True)])
    model = LogisticRegression(C=1.0, max_iter=5000, class_weight="balanced").fit(x, y)
    coef = model.coef_[0]
    learned = zip(PARTS[1:], coef[1:], strict=True)
    return {WEIGHTS[p]: round(SIGNS.get(p, 1.0) * c / coef[0], 3) for p, c in learned}


def evaluate(questions: Sequence[Question], weights: dict[str, float], k: int = 10) -> dict[str, float]:
    """Return hit@k and frac@k of the candidates ranked by score plus the weighted context."""
    vector = np.array([1.0, *(SIGNS.get(p, 1.0) * weights[WEIGHTS[p]] for p in PARTS[1:])])
    hit = frac = 0.0
    for q in questions:
        order = np.argsort(-(q.parts @ vector), kind="stable")[:k] if len(q.dias) else []
        top = {q.dias[i] for i in order}
        hit += bool(top & q.gold)
        frac += len(top & q.gold) / len(q.gold)
    n = max(len(questions), 1)
    return {f"hit@{k}": round(hit / n, 3), f"frac@{k}": round(frac / n, 3), "n": len(questions)}


def main(argv: Sequence[str] | None = None) -> int:
    """Collect, fit on one side, check on the other, print the weights as ``--weights`` JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True, type=Path, help="path to LoCoMo's JSON (not in the repo)")
    parser.add_argument("--train", type=int, default=4, help="fit on the first N conversations")
    parser.add_argument("--reverse", action="store_true", help="fit on the others, check on the first N")
    args = parser.parse_args(argv)
    questions = asyncio.run(collect(args.data))
    first = [q for q in questions if q.conversation < args.train]
    rest = [q for q in questions if q.conversation >= args.train]
    train, check = (rest, first) if args.reverse else (first, rest)
    weights = fit(train)
    zero = dict.fromkeys(WEIGHTS.values(), 0.0)
    print(f"fitted on {len(train)} questions: {json.dumps(weights)}")
    for name, side in (("fitted on", train), ("held out", check)):
        print(f"  {name:<10} without {evaluate(side, zero)}  with {evaluate(side, weights)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
