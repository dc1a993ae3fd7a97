"""A small linear model beside the crisis rules: the probability that a prepared message signals risk.

The rules (crisis.py) miss about one new phrasing in five on each fresh held-out set. This logistic
regression, trained on the development set by ``bench/train_crisis.py``, reads the same prepared text as
the rules (lower case, plain letters, squeezed runs) as hashed character n-grams within words and word
uni- and bigrams, so a phrasing it has never seen still scores by the pieces it shares with ones it has.

It is deterministic and offline: the hash is CRC-32 (Python's ``hash()`` changes between runs), the
weights ship in the package (``data/crisis_model.npz``, with the hashing parameters and the thresholds the
check uses) and are loaded once, on first use. Scoring is a sum of a few hundred weights, numpy only.
If the file is missing or unreadable, ``default_model()`` returns None, logs one warning, and the rules
run alone.
"""

from __future__ import annotations

import itertools
import logging
import math
import zlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

MODEL_FILE = "crisis_model.npz"


@dataclass(frozen=True, slots=True)
class Hashing:
    """How a prepared message becomes feature buckets; stored with the weights so both always agree."""

    buckets: int = 1 << 17
    char_min: int = 3  # character n-grams from char_min to char_max letters, within one padded word
    char_max: int = 5
    word_max: int = 2  # word n-grams from one word to word_max words
    skip_window: int = 0  # also every pair of words at most this many apart, in order (0: none)
    stem: int = 0  # also each word cut to its first ``stem`` letters, and bigrams of those (0: none)


def _bucket(kind: str, piece: str, buckets: int) -> int:
    return zlib.crc32(f"{kind}{piece}".encode()) % buckets


@lru_cache(maxsize=1 << 15)
def _word_buckets(word: str, hashing: Hashing) -> tuple[int, ...]:
    # A word's character n-grams do not depend on its neighbours, and chat reuses few words, so they
    # are hashed once per word rather than once per message.
    padded = f" {word} "
    pieces = {
        padded[start : start + size]
        for size in range(hashing.char_min, hashing.char_max + 1)
        for start in range(len(padded) - size + 1)
    }
    return tuple(_bucket("c", piece, hashing.buckets) for piece in pieces)


def feature_buckets(prepared: str, hashing: Hashing) -> list[int]:
    """Return the sorted distinct feature buckets present in prepared text (each counts once)."""
    words = prepared.split()
    found: set[int] = set()
    for word in words:
        found.update(_word_buckets(word, hashing))
    for size in range(1, hashing.word_max + 1):
        for start in range(len(words) - size + 1):
            found.add(_bucket("w", " ".join(words[start : start + size]), hashing.buckets))
    # Word pairs with up to skip_window - 1 words between them: "want ... die" whatever comes in between.
    for gap in range(2, hashing.skip_window + 1):
        for start in range(len(words) - gap):
            found.add(_bucket("s", f"{words[start]} {words[start + gap]}", hashing.buckets))
    if hashing.stem:
        # Word stems carry a verb across its endings ("umbringe", "umbringen", "umbring").
        stems = [word[: hashing.stem] for word in words]
        found.update(_bucket("t", stem, hashing.buckets) for stem in stems)
        found.update(_bucket("t", f"{a} {b}", hashing.buckets) for a, b in itertools.pairwise(stems))
    return sorted(found)


def feature_scale(count: int) -> float:
    """Return the value of each present feature, so that every message's vector has length one."""
    return 1.0 / math.sqrt(count) if count else 0.0


@dataclass(frozen=True)
class CrisisModel:
    """Weights of the trained model and the thresholds at which the crisis check acts on it."""

    weights: npt.NDArray[np.float32]
    bias: float
    hashing: Hashing
    fire_at: float  # fires on its own at or above this probability
    veto_below: float  # clears a hit from the bare-keyword rule alone below this probability (0: never)

    def probability(self, prepared: str) -> float:
        """Return the probability that prepared text (``crisis.prepare``) signals suicide or self-harm."""
        buckets = feature_buckets(prepared, self.hashing)
        if not buckets:
            return 1.0 / (1.0 + math.exp(-self.bias))
        logit = self.bias + feature_scale(len(buckets)) * float(self.weights[buckets].sum())
        return 1.0 / (1.0 + math.exp(-logit))


def load_model(path: Path) -> CrisisModel:
    """Read a model written by ``bench/train_crisis.py``; raise if the file is missing or malformed."""
    with np.load(path, allow_pickle=False) as data:
        hashing = Hashing(
            buckets=int(data["buckets"]),
            char_min=int(data["char_min"]),
            char_max=int(data["char_max"]),
            word_max=int(data["word_max"]),
            # Weights written before these features existed have neither key: they used none of them.
            skip_window=int(data["skip_window"]) if "skip_window" in data.files else 0,
            stem=int(data["stem"]) if "stem" in data.files else 0,
        )
        weights = np.asarray(data["weights"], dtype=np.float32)
        model = CrisisModel(
            weights=weights,
            bias=float(data["bias"]),
            hashing=hashing,
            fire_at=float(data["fire_at"]),
            veto_below=float(data["veto_below"]),
        )
    if weights.shape != (hashing.buckets,) or not np.isfinite(weights).all():
        raise ValueError(f"{path}: weights do not match {hashing.buckets} buckets or are not finite")
    return model


def model_path() -> Path:
    """Return where the shipped weights live inside the installed package."""
    return Path(str(resources.files("bot.safety").joinpath("data", MODEL_FILE)))


@lru_cache(maxsize=1)
def default_model() -> CrisisModel | None:
    """Return the shipped model, loaded once; None (after one warning) if it cannot be read."""
    path = model_path()
    try:
        return load_model(path)
    except Exception as error:
        # Whatever is wrong with the file (missing, truncated, not a zip, wrong keys), the crisis check
        # must still answer: the rules alone run.
        log.warning("crisis model unavailable (%s: %s); the crisis rules run alone", path.name, error)
        return None
