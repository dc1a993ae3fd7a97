"""Benchmark the offline emotion detector: accuracy, macro-F1, per-label scores and messages per second.

Run::

    python bench/emotion.py --out /tmp/emotion.json              # the held-out test set
    python bench/emotion.py --set dev --errors                   # the development set, with its misses

The sets are bench/data/emotion_{dev,test}.tsv (label, message), written for Kindred: chat-like messages
with slang, typos and emoji over seven labels. Rules are tuned on dev only; test is the honest number.
"""

# ruff: noqa: E402
# (the imports below must come after the sys.path fix)

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

import time
from collections import Counter

from bench.labelled import finish, label_scores, macro_f1, parse_args, read_rows, table
from bot.emotion import LABELS, detect
from bot.safety.normalize import normalize_text


def run(path: Path, repeats: int) -> tuple[dict[str, object], list[tuple[str, str, str]]]:
    """Score the detector on one labelled file; return the report and the misclassified examples."""
    rows = read_rows(path, 2)
    unknown = sorted({label for label, _ in rows} - set(LABELS))
    if unknown:
        raise ValueError(f"{path}: labels not in {LABELS}: {unknown}")
    texts = [normalize_text(text) for _, text in rows]
    gold = [label for label, _ in rows]
    predicted = [detect(text).emotion for text in texts]
    start = time.perf_counter()
    for _ in range(repeats):
        for text in texts:
            detect(text)
    elapsed = time.perf_counter() - start
    scores = label_scores(gold, predicted, LABELS)
    confusion = Counter(f"{g}->{p}" for g, p in zip(gold, predicted, strict=True) if g != p)
    report: dict[str, object] = {
        "set": path.name,
        "messages": len(rows),
        "accuracy": sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(rows),
        "macro_f1": macro_f1(scores),
        "per_label": {
            s.label: {"precision": s.precision, "recall": s.recall, "f1": s.f1, "support": s.support}
            for s in scores
        },
        "top_confusions": dict(confusion.most_common(8)),
        "messages_per_second": repeats * len(rows) / elapsed if elapsed else 0.0,
    }
    misses = [(g, p, t) for g, p, t in zip(gold, predicted, texts, strict=True) if g != p]
    return report, misses


def main() -> int:
    """Run the benchmark and print (and optionally write) its numbers."""
    args, path = parse_args(__doc__.splitlines()[0], "emotion", "print every misclassified message")
    report, misses = run(path, args.repeats)
    per_label = report["per_label"]
    assert isinstance(per_label, dict)
    rows = [[label, v["precision"], v["recall"], v["f1"], v["support"]] for label, v in per_label.items()]
    print(table(["label", "precision", "recall", "f1", "n"], rows))
    print(
        f"\n{report['set']}: {report['messages']} messages, accuracy {report['accuracy']:.3f}, "
        f"macro-F1 {report['macro_f1']:.3f}, {report['messages_per_second']:,.0f} messages/s"
    )
    return finish(args, report, [f"{gold:>10} -> {predicted:<10} {text}" for gold, predicted, text in misses])


if __name__ == "__main__":
    raise SystemExit(main())
