"""The LoCoMo helpers of the benchmarks: session times, evidence ids, and the ranking metrics."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from bench.locomo_data import (
    EvidenceReport,
    MetricTable,
    clean_evidence,
    normalise_evidence,
    parse_sample,
    parse_session_time,
    ranking_metrics,
    session_ranking,
)


def test_session_time_is_parsed_to_aware_utc() -> None:
    assert parse_session_time("1:56 pm on 8 May, 2023") == datetime(2023, 5, 8, 13, 56, tzinfo=UTC)


def test_midnight_and_noon_are_read_the_twelve_hour_way() -> None:
    assert parse_session_time("12:10 am on 11 August, 2023").hour == 0
    assert parse_session_time("12:24 pm on 24 August, 2023").hour == 12


def test_unreadable_session_time_is_an_error() -> None:
    with pytest.raises(ValueError, match="LoCoMo session time"):
        parse_session_time("yesterday afternoon")


@pytest.mark.parametrize(
    ("raw", "ids"),
    [
        ("D3:7", ["D3:7"]),
        ("D8:6; D9:17", ["D8:6", "D9:17"]),
        ("D:11:26", ["D11:26"]),
        ("D30:05", ["D30:5"]),
        ("D", []),
        ("", []),
    ],
)
def test_evidence_ids_are_normalised(raw: str, ids: list[str]) -> None:
    assert normalise_evidence(raw) == ids


def test_cleaning_counts_kept_normalised_and_dropped_ids() -> None:
    report = EvidenceReport()
    known = {"D1:1", "D8:6", "D9:17"}
    cleaned = clean_evidence(["D1:1", "D8:6; D9:17", "D", "D4:4"], known, report)
    assert cleaned == ("D1:1", "D8:6", "D9:17")
    assert (report.kept, report.normalised, report.dropped) == (1, 2, 2)


def test_sample_keeps_only_dated_sessions_and_counts_questions_without_evidence() -> None:
    sample = {
        "sample_id": "conv-x",
        "conversation": {
            "speaker_a": "Ann",
            "speaker_b": "Ben",
            "session_1": [{"speaker": "Ann", "dia_id": "D1:1", "text": "hi"}],
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_2": [{"speaker": "Ben", "dia_id": "D2:1", "text": "no date"}],
            "session_3_date_time": "2:00 pm on 9 May, 2023",
        },
        "qa": [
            {"question": "q1", "answer": "a", "evidence": ["D1:1"], "category": 4},
            {"question": "q2", "adversarial_answer": "b", "evidence": ["D2:1"], "category": 5},
        ],
    }
    report = EvidenceReport()
    conversation = parse_sample(sample, report)
    assert [s.number for s in conversation.sessions] == [1]
    assert [q.evidence for q in conversation.questions] == [("D1:1",), ()]
    assert report.questions_without_evidence == 1


def test_metrics_of_a_ranking_with_one_of_two_gold_ids_at_rank_two() -> None:
    scores = ranking_metrics(["D1:1", "D1:2", "D1:3"], {"D1:2", "D9:9"}, ks=(1, 5))
    assert scores["hit@1"] == 0.0
    assert (scores["hit@5"], scores["all@5"], scores["frac@5"]) == (1.0, 0.0, 0.5)
    assert scores["mrr"] == 0.5
    assert scores["ndcg@10"] == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))


def test_metrics_of_a_perfect_ranking_are_all_one() -> None:
    scores = ranking_metrics(["D1:1", "D1:2"], {"D1:1", "D1:2"}, ks=(2,))
    assert all(value == pytest.approx(1.0) for value in scores.values())


def test_metrics_of_a_ranking_that_misses_are_all_zero() -> None:
    scores = ranking_metrics(["D1:1"], {"D2:2"}, ks=(1,))
    assert all(value == 0.0 for value in scores.values())


def test_repeated_ids_count_once_at_their_best_rank() -> None:
    assert ranking_metrics(["D1:1", "D1:1", "D1:2"], {"D1:2"}, ks=(2,))["hit@2"] == 1.0


def test_a_ranking_needs_gold_ids() -> None:
    with pytest.raises(ValueError, match="gold"):
        ranking_metrics(["D1:1"], set())


def test_session_ranking_keeps_each_session_at_its_best_rank() -> None:
    assert session_ranking(["D3:1", "D1:4", "D3:9", "D2:2"]) == ["D3", "D1", "D2"]


def test_table_averages_per_category_and_overall_at_both_levels() -> None:
    table = MetricTable(ks=(1,))
    table.add(1, ["D1:1"], ["D1:1"])
    table.add(2, ["D1:2"], ["D1:1"])
    assert table.mean("turn", "overall")["hit@1"] == 0.5
    assert table.mean("turn", "1")["hit@1"] == 1.0
    assert table.mean("session", "2")["hit@1"] == 1.0  # same session, wrong turn
    assert table.summary()["turn"]["2"]["n"] == 1
