"""bench/locomo_blend.py: the parts it reads from reasons, the fit's direction and the metrics it reports."""

from __future__ import annotations

import numpy as np

from bench.locomo_blend import Question, evaluate, fit, parts_of

ZERO = {"session": 0.0, "named": 0.0, "question": 0.0, "reply": 0.0, "when": 0.0}


def test_parts_are_read_from_reasons_with_absent_ones_as_zero() -> None:
    assert parts_of({"score": 0.7, "session": 0.5, "question": 1.0}) == [0.7, 0.5, 0.0, 1.0, 0.0, 0.0]
    assert parts_of({"score": 0.2, "speaker": 1.0, "reply": 0.4}) == [0.2, 0.0, 1.0, 0.0, 0.4, 0.0]
    assert parts_of({"score": 0.3, "when": 1.0}) == [0.3, 0.0, 0.0, 0.0, 0.0, 1.0]


def synthetic(n: int, seed: int) -> list[Question]:
    """Questions whose gold turn scores no better than the rest but sits on the best day and is no question;
    the others are questions half the time."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        rows = 12
        parts = np.zeros((rows, 6))
        parts[:, 0] = rng.uniform(0.3, 0.6, rows)
        parts[:, 1] = rng.uniform(0.0, 0.6, rows)
        parts[:, 3] = rng.integers(0, 2, rows)
        parts[0, 1], parts[0, 3] = 1.0, 0.0
        out.append(Question(0, [f"D{i}:{j}" for j in range(rows)], parts, {f"D{i}:0"}))
    return out


def test_the_fit_learns_the_day_share_and_the_question_penalty_and_they_help() -> None:
    train, check = synthetic(200, 1), synthetic(200, 2)
    weights = fit(train)
    assert weights["session"] > 0 and weights["question"] > 0  # a question's weight is a penalty
    assert evaluate(check, weights)["hit@10"] >= evaluate(check, ZERO)["hit@10"]
    assert evaluate(check, weights, k=1)["hit@1"] > evaluate(check, ZERO, k=1)["hit@1"]


def test_metrics_count_each_question_once_and_share_its_gold() -> None:
    parts = np.array([[0.9, 0, 0, 0, 0, 0], [0.5, 0, 0, 0, 0, 0], [0.1, 0, 0, 0, 0, 0]], dtype=float)
    questions = [
        Question(0, ["a", "b", "c"], parts, {"a", "c"}),
        Question(0, ["a", "b", "c"], parts, {"z"}),
    ]
    assert evaluate(questions, ZERO, k=2) == {"hit@2": 0.5, "frac@2": 0.25, "n": 2}
