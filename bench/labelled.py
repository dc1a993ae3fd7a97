"""Labelled sets for the emotion and crisis benchmarks: reading them and scoring predictions.

The sets are tab-separated text files under bench/data/, one example per line, ``#`` lines are comments.
Each comes as a development file (``*_dev.tsv``, the one rules were tuned on) and a held-out test file
(``*_test.tsv``, only ever measured); the benchmarks report the test file unless told otherwise.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"


def read_rows(path: Path, columns: int) -> list[list[str]]:
    """Return the rows of a labelled TSV file, each split into exactly ``columns`` fields."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != columns or not all(f.strip() for f in fields):
            raise ValueError(f"{path}:{number}: expected {columns} tab-separated fields, got {len(fields)}")
        rows.append([f.strip() for f in fields])
    return rows


@dataclass(frozen=True)
class LabelScore:
    """Precision, recall and F1 of one label, with how many examples carry it."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int


def label_scores(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> list[LabelScore]:
    """Return per-label precision, recall and F1 (0 where a ratio has no denominator)."""
    scores = []
    for label in labels:
        tp = sum(g == label and p == label for g, p in zip(gold, predicted, strict=True))
        predicted_n = sum(p == label for p in predicted)
        support = sum(g == label for g in gold)
        precision = tp / predicted_n if predicted_n else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores.append(LabelScore(label, precision, recall, f1, support))
    return scores


def macro_f1(scores: Sequence[LabelScore]) -> float:
    """Return the unweighted mean F1 over the labels that have examples."""
    present = [s.f1 for s in scores if s.support]
    return sum(present) / len(present) if present else 0.0


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Render a plain left-aligned text table."""
    cells = [[str(h) for h in header]] + [
        [f"{c:.3f}" if isinstance(c, float) else str(c) for c in r] for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def parse_args(description: str, name: str, errors_help: str) -> tuple[argparse.Namespace, Path]:
    """Parse a benchmark's arguments; return them and the labelled file to read (``<name>_<set>.tsv``)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--set", choices=["dev", "test"], default="test", help="which labelled set (default: test)"
    )
    parser.add_argument("--data", type=Path, help="a labelled TSV file instead of a bundled set")
    parser.add_argument("--repeats", type=int, default=20, help="passes over the set for the speed figure")
    parser.add_argument("--out", type=Path, help="write the report as JSON here")
    parser.add_argument("--errors", action="store_true", help=errors_help)
    args = parser.parse_args()
    args.repeats = max(1, args.repeats)
    return args, args.data or DATA_DIR / f"{name}_{args.set}.tsv"


def finish(args: argparse.Namespace, report: dict[str, object], errors: Sequence[str]) -> int:
    """Print the wrong answers if asked, write the report as JSON if asked; return the exit code."""
    if args.errors:
        print("\n".join(errors))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0
