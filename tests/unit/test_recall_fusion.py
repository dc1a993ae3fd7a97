"""Fusion and re-ranking: every part of a score is reported, and each part moves the order the right way."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from storage.recall.fusion import Evidence, Weights, collect, fuse, rerank
from storage.recall.rows import Row
from storage.recall.timeframe import find_timeframe

NOW = datetime(2024, 3, 14, 12, 0, tzinfo=UTC)
W = Weights()


def row(i: int, *, kind: str = "turn", days: float = 1, importance: float = 0.5, **extra: object) -> Row:
    at = NOW - timedelta(days=days)
    return Row(kind, i, f"text {i}", extra.pop("speaker", None), "g1", at, 1, importance, **extra)  # type: ignore[arg-type]


def scores(rows: list[Row], evidence: dict[tuple[str, int], Evidence], **kwargs: object) -> list[int]:
    fused = fuse(evidence, W, semantic_used=True)
    ranked = rerank(fused, {(r.kind, r.id): r for r in rows}, W, NOW, **kwargs)  # type: ignore[arg-type]
    return [s.row.id for s in ranked]


def test_collect_keeps_the_best_similarity_and_marks_cold_items() -> None:
    found = collect(
        [(("turn", 1), 3.0)], [(("turn", 1), 0.2), (("turn", 1), 0.5), (("memory", 2), 0.4)], {("memory", 2)}
    )
    assert found[("turn", 1)] == Evidence(lexical=3.0, semantic=0.5, cold=False)
    assert found[("memory", 2)].cold and found[("memory", 2)].lexical == 0.0


def test_fused_parts_are_normalised_and_weighted() -> None:
    fused = fuse({("turn", 1): Evidence(4.0, 0.8), ("turn", 2): Evidence(2.0, 0.4)}, W, semantic_used=True)
    assert fused[("turn", 1)] == {
        "lexical": 1.0,
        "semantic": 1.0,
        "fused": pytest.approx(W.lexical + W.semantic),
    }
    assert fused[("turn", 2)]["lexical"] == 0.5 and fused[("turn", 2)]["semantic"] == 0.5


def test_without_vectors_the_lexical_part_is_the_whole_relevance() -> None:
    fused = fuse({("turn", 1): Evidence(4.0)}, W, semantic_used=False)
    assert fused[("turn", 1)] == {"lexical": 1.0, "fused": 1.0}


def test_importance_pins_recency_and_validity_order_equal_matches() -> None:
    same = Evidence(1.0, 0.5)
    rows = [
        row(1, kind="memory", importance=0.2),
        row(2, kind="memory", importance=0.9),
        row(3, kind="memory", importance=0.2, pinned=True),
        row(4, kind="memory", importance=0.9, valid_to=NOW - timedelta(days=2)),
    ]
    assert scores(rows, {("memory", r.id): same for r in rows}, frame=None) == [3, 2, 1, 4]


def test_newer_wins_a_tie_and_recency_is_reported() -> None:
    rows = [row(1, days=200), row(2, days=2)]
    fused = fuse({("turn", 1): Evidence(1.0), ("turn", 2): Evidence(1.0)}, W, semantic_used=False)
    ranked = rerank(fused, {("turn", r.id): r for r in rows}, W, NOW, None)
    assert [s.row.id for s in ranked] == [2, 1]
    assert ranked[0].reasons["recency"] > ranked[1].reasons["recency"]


def test_a_named_window_lifts_what_was_said_in_it() -> None:
    rows = [row(1, days=30), row(2, days=8)]  # 8 days before a Thursday: last week's Wednesday
    evidence = {("turn", 1): Evidence(1.0, 0.6), ("turn", 2): Evidence(0.8, 0.5)}
    assert scores(rows, evidence, frame=None) == [1, 2]
    assert scores(rows, evidence, frame=find_timeframe("last week", NOW)) == [2, 1]


def test_a_named_speaker_lifts_their_turns() -> None:
    rows = [row(1, speaker="Alice"), row(2, speaker="Bob")]
    evidence = {("turn", 1): Evidence(1.0, 0.5), ("turn", 2): Evidence(0.9, 0.5)}
    assert scores(rows, evidence, frame=None, named=frozenset({"bob"})) == [2, 1]


def test_candidates_sql_did_not_return_are_dropped() -> None:
    # Stale in the index, or not visible to the asker: SQL is the judge.
    assert scores([row(1)], {("turn", 1): Evidence(1.0), ("turn", 99): Evidence(5.0)}, frame=None) == [1]


def test_every_reason_is_reported() -> None:
    frame = find_timeframe("yesterday", NOW)
    fused = fuse({("turn", 1): Evidence(1.0, 0.5, cold=True)}, W, semantic_used=True)
    (scored,) = rerank(fused, {("turn", 1): row(1, speaker="Alice")}, W, NOW, frame, frozenset({"alice"}))
    assert scored.reasons.keys() == {
        "lexical",
        "semantic",
        "cold",
        "fused",
        "importance",
        "recency",
        "validity",
        "time",
        "speaker",
        "score",
    }
    assert scored.reasons["score"] == scored.score


def test_weights_can_turn_a_part_off() -> None:
    off = replace(W, importance=0.0)
    fused = fuse({("memory", 1): Evidence(1.0), ("memory", 2): Evidence(1.0)}, off, semantic_used=False)
    rows = {
        ("memory", 1): row(1, kind="memory", importance=0.1),
        ("memory", 2): row(2, kind="memory", importance=0.9),
    }
    ranked = rerank(fused, rows, off, NOW, None)
    assert ranked[0].score == ranked[1].score
