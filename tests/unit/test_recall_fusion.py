"""Fusion and re-ranking: every part of a score is reported, and each part moves the order the right way."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from storage.recall.fusion import (
    Evidence,
    Scored,
    Weights,
    asks,
    asks_when,
    collect,
    day_relevance,
    fuse,
    is_question,
    names_time,
    rerank,
    settle,
)
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


def scored(r: Row, score: float, **reasons: float) -> Scored:
    return Scored(r, score, {**reasons, "score": score})


def test_a_days_relevance_is_its_best_scores_over_the_best_days() -> None:
    monday = [row(1, days=3), row(2, days=3), row(3, days=3), row(4, days=3)]
    tuesday = [row(5, days=2)]
    elsewhere = [replace(row(6, days=3), scope_id=2)]  # the same day, another place: its own group
    ranked = [
        *(scored(r, s) for r, s in zip(monday, (0.4, 0.3, 0.2, 0.1), strict=True)),
        scored(tuesday[0], 0.6),
        scored(elsewhere[0], 0.45),
    ]
    days = day_relevance(ranked, top=3)
    # Monday: 0.4 + 0.3 + 0.2 (the fourth best is left out) = 0.9, the best day.
    assert days[(1, monday[0].created_at.date())] == pytest.approx(1.0)
    assert days[(1, tuesday[0].created_at.date())] == pytest.approx(0.6 / 0.9)
    assert days[(2, monday[0].created_at.date())] == pytest.approx(0.45 / 0.9)
    assert day_relevance([], top=3) == {}
    assert day_relevance([scored(row(1), 0.0)], top=3) == {}


def test_a_day_is_a_utc_date() -> None:
    late = replace(row(1), created_at=datetime(2024, 3, 13, 23, 30, tzinfo=UTC))
    early = replace(row(2), created_at=datetime(2024, 3, 14, 0, 30, tzinfo=UTC))
    # 01:30 the next day in UTC+2 is still 23:30 UTC of the 13th: the same day as ``late``.
    shifted = replace(row(3), created_at=datetime(2024, 3, 14, 1, 30, tzinfo=timezone(timedelta(hours=2))))
    days = day_relevance([scored(late, 1.0), scored(early, 0.5), scored(shifted, 0.2)], top=3)
    assert days == {
        (1, datetime(2024, 3, 13).date()): pytest.approx(1.0),
        (1, datetime(2024, 3, 14).date()): pytest.approx(0.5 / 1.2),
    }


def test_questions_are_told_apart_from_statements() -> None:
    assert is_question("where did you go?") and is_question("what?  \n") and is_question("何？")
    assert not is_question("I went to the market.") and not is_question("?!") and not is_question("")


def test_a_text_asking_anywhere_is_told_apart_from_one_that_only_asks() -> None:
    mixed = "Wow! What did you paint? Show me."
    assert asks(mixed) and not is_question(mixed)
    assert asks("where did you go?") and asks("何？") and is_question("where did you go?")
    assert not asks("I went to the market.") and not asks("")


def test_questions_asking_when_are_told_apart() -> None:
    assert asks_when("When did Alice adopt the kitten?") and asks_when("  when was that")
    assert asks_when("In what year did Bob move?") and asks_when("Which month was the trip?")
    assert not asks_when("What did Alice adopt?") and not asks_when("Where was she when it rained?")


def test_texts_naming_a_time_are_told_apart() -> None:
    for text in (
        "We adopted her last week",
        "two years ago, at the shelter",
        "Yesterday was wild",
        "on Saturday we hiked",
        "Back in June!",
        "since 3 March",
        "this summer, maybe",
        "every weekend",
    ):
        assert names_time(text), text
    for text in ("We adopted a kitten", "I may go", "a march for rights", "yearning for the sea", ""):
        assert not names_time(text), text


def test_a_turn_naming_a_time_rises_only_when_the_query_asks_when() -> None:
    dated = replace(row(1), text="We adopted her last week")
    plain = replace(row(2), text="We adopted a kitten from the shelter")
    ranked = [scored(plain, 0.6), scored(dated, 0.5)]
    asked = settle(ranked, {}, {}, W, when=True)
    assert [s.row.id for s in asked] == [1, 2]
    assert asked[0].reasons["when"] == 1.0 and asked[0].score == pytest.approx(0.5 + W.when)
    assert "when" not in asked[1].reasons and asked[1].score == pytest.approx(0.6)
    told = settle(ranked, {}, {}, W)
    assert [s.row.id for s in told] == [2, 1] and not any("when" in s.reasons for s in told)


def test_the_best_days_turns_rise_over_a_lone_better_match() -> None:
    # One turn elsewhere matches a little better, but the day most of the question's matches come from
    # is the one asked about: its turns come first.
    day_a = [row(1, days=5), row(2, days=5), row(3, days=5)]
    lone = row(4, days=40)
    ranked = [scored(lone, 0.5), scored(day_a[0], 0.45), scored(day_a[1], 0.4), scored(day_a[2], 0.35)]
    days = day_relevance(ranked, W.session_top)
    out = settle(ranked, days, {}, W)
    assert [s.row.id for s in out][:2] == [1, 2]
    assert out[0].reasons["session"] == pytest.approx(1.0)
    assert out[0].score == pytest.approx(0.45 + W.session) == out[0].reasons["score"]
    assert next(s for s in out if s.row.id == 4).reasons["session"] == pytest.approx(0.5 / 1.2)


def test_a_question_gives_way_to_its_answer() -> None:
    asked = replace(row(1, speaker="Bob"), text="Where did you get the turnip?")
    answer = replace(row(2, speaker="Alice"), text="At the night market, it glows.")
    # The question shares the query's words, its answer none: the answer comes first, by the reply share.
    ranked = [scored(asked, 0.8), scored(answer, 0.3)]
    out = settle(ranked, {}, {answer.id: 0.8}, W)
    assert [s.row.id for s in out] == [2, 1]
    assert out[0].reasons["reply"] == 0.8 and out[0].score == pytest.approx(0.3 + W.reply * 0.8)
    assert out[1].reasons["question"] == 1.0 and out[1].score == pytest.approx(0.8 - W.question)
    assert "question" not in out[0].reasons and "reply" not in out[1].reasons


def test_a_named_speaker_adds_to_the_score_and_a_memory_gets_no_reply_share() -> None:
    said = scored(row(1, speaker="Bob"), 0.5, speaker=1.0)
    other = scored(row(2, speaker="Alice"), 0.5, speaker=0.0)
    fact = scored(row(3, kind="memory"), 0.5)
    out = {s.row.id: s for s in settle([said, other, fact], {}, {3: 1.0}, W)}
    assert out[1].score == pytest.approx(0.5 + W.named)
    assert out[2].score == pytest.approx(0.5) and out[3].score == pytest.approx(0.5)
    assert "reply" not in out[3].reasons


def test_context_weights_at_zero_leave_the_order_and_scores_alone() -> None:
    off = replace(W, session=0.0, named=0.0, question=0.0, reply=0.0, when=0.0)
    ranked = [
        scored(replace(row(1), text="why?"), 0.9, speaker=1.0),
        scored(row(2, days=9), 0.5),
        scored(row(3), 0.2),
    ]
    ranked.append(scored(replace(row(4), text="last week"), 0.1))
    out = settle(ranked, day_relevance(ranked, 3), {3: 0.9}, off, when=True)
    assert [(s.row.id, s.score) for s in out] == [(1, 0.9), (2, 0.5), (3, 0.2), (4, 0.1)]
    # The parts are still reported (bench/locomo_blend.py learns the weights from them).
    assert (
        out[0].reasons["question"] == 1.0 and out[2].reasons["reply"] == 0.9 and out[3].reasons["when"] == 1.0
    )
