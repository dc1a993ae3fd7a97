"""Benchmark the crisis check: recall on crisis messages and false positives on everything else.

Run::

    python bench/crisis.py --out /tmp/crisis.json              # the held-out test set
    python bench/crisis.py --set dev --errors                  # the development set, with its misses

The sets are bench/data/crisis_{dev,test}.tsv (language, category, message) in English, Spanish, French,
German and Portuguese. Categories: crisis (explicit and indirect signals of suicide or self-harm, slang,
misspellings), figurative (the same words in figures of speech), sadness (ordinary sadness, no crisis) and
neutral (including talk about someone else's suicide or the news). Recall is over crisis rows; the
false-positive rate over all the others. Targets: recall >= 0.98 with a false-positive rate <= 2%. Speed
is messages per second of single-threaded CPU time.
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

from bench.labelled import finish, parse_args, read_rows, table
from bot.safety.crisis import LOCALES, check

CATEGORIES = ("crisis", "figurative", "sadness", "neutral")


def _rate(hits: int, total: int) -> float:
    return hits / total if total else 0.0


def run(path: Path, repeats: int) -> tuple[dict[str, object], list[tuple[str, str, str]]]:
    """Score the crisis check on one labelled file; return the report and the wrong answers."""
    rows = read_rows(path, 3)
    bad = sorted({f"{lang}/{cat}" for lang, cat, _ in rows if lang not in LOCALES or cat not in CATEGORIES})
    if bad:
        raise ValueError(f"{path}: unknown language or category: {bad}")
    results = [check(text) for _, _, text in rows]
    # CPU time of this process, not wall time: on a shared machine the wall clock mostly measures the
    # neighbours, and the check is single-threaded and CPU-bound.
    start = time.process_time()
    for _ in range(repeats):
        for _, _, text in rows:
            check(text)
    elapsed = time.process_time() - start
    per_language: dict[str, dict[str, float | int]] = {}
    for lang in LOCALES:
        idx = [i for i, (row_lang, _, _) in enumerate(rows) if row_lang == lang]
        crisis = [i for i in idx if rows[i][1] == "crisis"]
        other = [i for i in idx if rows[i][1] != "crisis"]
        per_language[lang] = {
            "crisis": len(crisis),
            "recall": _rate(sum(results[i].hit for i in crisis), len(crisis)),
            "others": len(other),
            "false_positive_rate": _rate(sum(results[i].hit for i in other), len(other)),
            "locale_correct": _rate(sum(results[i].locale == lang for i in crisis), len(crisis)),
        }
    per_category = {
        cat: _rate(
            sum(r.hit for r, (_, c, _) in zip(results, rows, strict=True) if c == cat),
            sum(c == cat for _, c, _ in rows),
        )
        for cat in CATEGORIES
    }
    crisis_n = sum(cat == "crisis" for _, cat, _ in rows)
    other_n = len(rows) - crisis_n
    report: dict[str, object] = {
        "set": path.name,
        "messages": len(rows),
        "crisis_messages": crisis_n,
        "other_messages": other_n,
        "recall": per_category["crisis"],
        "false_positive_rate": _rate(
            sum(r.hit for r, (_, c, _) in zip(results, rows, strict=True) if c != "crisis"), other_n
        ),
        "fire_rate_by_category": per_category,
        "per_language": per_language,
        "messages_per_second": repeats * len(rows) / elapsed if elapsed else 0.0,
    }
    wrong = [
        (lang, cat, text)
        for r, (lang, cat, text) in zip(results, rows, strict=True)
        if r.hit != (cat == "crisis")
    ]
    return report, wrong


def main() -> int:
    """Run the benchmark and print (and optionally write) its numbers."""
    args, path = parse_args(__doc__.splitlines()[0], "crisis", "print every missed or false alarm")
    report, wrong = run(path, args.repeats)
    per_language = report["per_language"]
    assert isinstance(per_language, dict)
    rows = [
        [lang, v["crisis"], v["recall"], v["others"], v["false_positive_rate"], v["locale_correct"]]
        for lang, v in per_language.items()
    ]
    print(table(["language", "crisis", "recall", "others", "false-pos rate", "locale right"], rows))
    fire = report["fire_rate_by_category"]
    assert isinstance(fire, dict)
    print("\nfires on: " + ", ".join(f"{cat} {rate:.3f}" for cat, rate in fire.items()))
    print(
        f"{report['set']}: {report['messages']} messages, recall {report['recall']:.3f}, "
        f"false-positive rate {report['false_positive_rate']:.3f}, "
        f"{report['messages_per_second']:,.0f} messages per CPU second"
    )
    return finish(args, report, [f"{lang} {cat:>10}  {text}" for lang, cat, text in wrong])


if __name__ == "__main__":
    raise SystemExit(main())
