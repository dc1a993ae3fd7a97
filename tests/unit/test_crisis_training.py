"""Training the crisis model: the shipped weights are what ``python bench/train_crisis.py`` writes from the
tree as it is, the file is the same bytes every time, and a handful of rows cannot swing the thresholds."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bench import train_crisis
from bench.train_crisis import (
    CHAT_FALSE_ALARMS,
    RuleVerdicts,
    Thresholds,
    choose_thresholds,
    save,
    smoothed_quantile,
    training_fingerprint,
)
from bot.safety import crisis_model
from bot.safety.crisis_model import Hashing

DEFAULT_INPUTS = [
    train_crisis.DATA_DIR / "crisis_dev.tsv",
    *train_crisis.CORPUS,
    *train_crisis.CORPUS2,
    train_crisis.DATA_DIR / "emotion_dev.tsv",
    train_crisis.CONTRAST,
]


def shipped_fingerprint() -> str:
    with np.load(crisis_model.model_path(), allow_pickle=False) as data:
        return str(data["fingerprint"])


def test_the_shipped_weights_were_trained_on_the_tree_as_it_is() -> None:
    # The fingerprint covers the training files, the rule modules and the training parameters: if any of
    # them changed since the weights were written, retrain (python bench/train_crisis.py) and commit both.
    assert shipped_fingerprint() == training_fingerprint(DEFAULT_INPUTS), (
        "bot/safety/data/crisis_model.npz is stale: run python bench/train_crisis.py"
    )


def test_the_fingerprint_changes_with_a_training_row(tmp_path: Path) -> None:
    data = tmp_path / "crisis_dev.tsv"
    data.write_text("en\tcrisis\ti want to die\n", encoding="utf-8")
    before = training_fingerprint([data])
    data.write_text("en\tcrisis\ti want to die\nen\tneutral\tsee you\n", encoding="utf-8")
    assert training_fingerprint([data]) != before
    assert training_fingerprint([data]) == training_fingerprint([data])


def test_the_weights_file_is_the_same_bytes_whenever_it_is_written(tmp_path: Path) -> None:
    weights = np.linspace(-1, 1, 1 << 10, dtype=np.float32)
    hashing, chosen = Hashing(buckets=1 << 10, skip_window=3, stem=5), Thresholds(0.9, 0.15)
    first, second = tmp_path / "first.npz", tmp_path / "second.npz"
    save(first, weights, -2.5, hashing, chosen, "abc")
    time.sleep(2.1)  # np.savez_compressed would stamp the second file with a later time (2 s resolution)
    save(second, weights, -2.5, hashing, chosen, "abc")
    assert first.read_bytes() == second.read_bytes()
    model = crisis_model.load_model(second)  # and the loader reads it like any other weights file
    assert model.hashing == hashing and model.fire_at == pytest.approx(0.9) and model.bias == -2.5
    assert np.array_equal(model.weights, weights)


def synthetic(seed: int, size: int = 3000) -> tuple[RuleVerdicts, list[np.ndarray], np.ndarray, np.ndarray]:
    """Rows like the training data's: a third crisis, a third everyday chat, a third other negatives, with
    two cross-validations' scores and rules that catch most crisis rows."""
    rng = np.random.default_rng(seed)
    y = (np.arange(size) % 3 == 0).astype(int)
    chat = np.arange(size) % 3 == 1
    rules = RuleVerdicts(hit=(y == 1) & (rng.random(size) < 0.7), keyword_only=np.zeros(size, dtype=bool))
    scores = [np.where(y == 1, rng.beta(5, 1.5, size), rng.beta(1.2, 6, size)) for _ in range(2)]
    return rules, scores, y, chat


def test_a_handful_of_rows_cannot_swing_the_firing_threshold() -> None:
    rules, scores, y, chat = synthetic(7)
    chosen = choose_thresholds(rules, scores, y, chat)
    rng = np.random.default_rng(11)
    for _ in range(10):
        keep = np.ones(len(y), dtype=bool)
        keep[rng.choice(len(y), 5, replace=False)] = False
        subset = RuleVerdicts(rules.hit[keep], rules.keyword_only[keep])
        again = choose_thresholds(subset, [s[keep] for s in scores], y[keep], chat[keep])
        assert abs(again.fire_at - chosen.fire_at) <= 0.003
        assert again.veto_below == chosen.veto_below


def test_the_firing_threshold_keeps_everyday_false_alarms_near_the_allowance() -> None:
    rules, scores, y, chat = synthetic(3)
    chosen = choose_thresholds(rules, scores, y, chat)
    pooled = np.concatenate(scores)
    everyday = np.tile(chat, 2) & (np.tile(y, 2) == 0)
    share = float((pooled[everyday] >= chosen.fire_at).mean())
    assert 0.5 * CHAT_FALSE_ALARMS <= share <= CHAT_FALSE_ALARMS + 0.002
    assert 0.5 <= chosen.fire_at < 1.0


def test_the_smoothed_quantile_lies_between_neighbouring_order_statistics() -> None:
    values = np.random.default_rng(5).random(1000)
    q = smoothed_quantile(values, 0.99)
    assert np.quantile(values, 0.985) <= q <= np.quantile(values, 0.995)
    assert smoothed_quantile(np.array([]), 0.5) == 0.0


@pytest.mark.slow
def test_retraining_writes_the_shipped_weights_byte_for_byte(tmp_path: Path) -> None:
    out = tmp_path / "crisis_model.npz"
    root = Path(train_crisis.__file__).resolve().parent.parent
    subprocess.run(
        [sys.executable, str(root / "bench" / "train_crisis.py"), "--out", str(out)],
        check=True,
        capture_output=True,
        cwd=root,
        timeout=900,
    )
    assert out.read_bytes() == crisis_model.model_path().read_bytes()
