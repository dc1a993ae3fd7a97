"""Fusion and re-ranking: lexical and semantic evidence, then importance, recency, validity and time.

The score of a candidate, with every part kept in ``reasons`` so recall can say why an item came back:

    fused    = lexical_weight * lexical / best lexical  +  semantic_weight * semantic' (min-max)
    score    = fused * (1 + importance_weight * (importance - 0.5)) * (1 if current else superseded_factor)
             + recency_weight * 0.5 ** (age in days / half-life)
             + time_weight * closeness to the window the query named (1 inside, decaying outside)
    a turn by a speaker the query names: score * (1 + speaker_weight)

then, after the neighbour share (``Recall._spread``), the context of each item (``settle``):

    final    = score + session_weight * the share of its day's relevance (its place, its UTC date)
             + named_weight * (1 if the query names its speaker)
             - question_weight * (1 if it is a question)
             + reply_weight * the score of the question it answers (the turn just before, by someone else,
               among the best turns, asking something)
             + when_weight * (1 if the query asks when and it names a time: "last week", "in June")

The weights were tuned on the LoCoMo development split (docs/memory.md says how and what each gave); the
last five were learned by ``bench/locomo_blend.py`` (a logistic regression over these parts, fitted on
conversations 0-3 and checked on 4-6).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from storage.recall.rows import Row
from storage.recall.terms import fold
from storage.recall.timeframe import Timeframe

Key = tuple[str, int]  # ("turn" | "memory", id)


@dataclass(frozen=True, slots=True)
class Weights:
    """How much each part counts. Defaults: the LoCoMo-tuned values (see docs/memory.md)."""

    lexical: float = 0.8
    semantic: float = 0.2
    importance: float = 0.3
    superseded_factor: float = 0.5
    recency: float = 0.02
    recency_half_life_days: float = 90.0
    time: float = 0.3
    # A turn by someone the query names ("what did Bob say...") counts this much more.
    speaker: float = 0.2
    # A turn said right next to a strong candidate gets this share of its score (answers follow questions).
    neighbour: float = 0.8
    # How many of the best turns pass some of their score to their neighbours.
    neighbour_sources: int = 5
    # How far the share reaches either side; it is ``neighbour ** distance``.
    neighbour_radius: int = 2
    # "max": a similarity over the best one's; "minmax": spread over the batch's range.
    semantic_norm: str = "max"
    # Candidates taken from each source before fusion; more finds more, and costs more. The vector side
    # takes fewer: its part weighs less, and a deeper HNSW search is what grows with a large partition.
    candidates: int = 60
    semantic_candidates: int = 30
    # Context, learned on LoCoMo by bench/locomo_blend.py (docs/memory.md): the share of the relevance of the
    # day an item was said on (in its place), over the best day's; the day's relevance is the sum of its
    # ``session_top`` best scores.
    session: float = 0.48
    session_top: int = 3
    # Added for an item by a speaker the query names (on top of ``speaker``'s factor).
    named: float = 0.27
    # Taken off an item that is itself a question: it asks, the answer is what was wanted.
    question: float = 0.23
    # A turn that answers a question (the turn just before it, by someone else, asking something) among the
    # ``reply_sources`` best turns gets this share of that question's score.
    reply: float = 0.5
    reply_sources: int = 10
    # Added for an item that names a time ("last week", "in June", "yesterday") when the query asks when.
    when: float = 0.25


@dataclass(slots=True)
class Evidence:
    """What the sources said about one candidate."""

    lexical: float = 0.0
    semantic: float | None = None
    cold: bool = False


@dataclass(frozen=True, slots=True)
class Scored:
    row: Row
    score: float
    reasons: dict[str, float]


def collect(
    lexical: Iterable[tuple[Key, float]], semantic: Iterable[tuple[Key, float]], cold: set[Key]
) -> dict[Key, Evidence]:
    """Gather each candidate's raw lexical and semantic scores from both sources."""
    out: dict[Key, Evidence] = {}
    for key, score in lexical:
        out.setdefault(key, Evidence()).lexical = max(score, 0.0)
    for key, similarity in semantic:
        found = out.setdefault(key, Evidence())
        found.semantic = similarity if found.semantic is None else max(found.semantic, similarity)
        found.cold = found.cold or key in cold
    return out


def fuse(evidence: dict[Key, Evidence], weights: Weights, semantic_used: bool) -> dict[Key, dict[str, float]]:
    """Return each candidate's normalised lexical and semantic parts and their weighted sum."""
    best_lexical = max((e.lexical for e in evidence.values()), default=0.0)
    sims = [e.semantic for e in evidence.values() if e.semantic is not None]
    low, high = (min(sims), max(sims)) if sims else (0.0, 0.0)
    # Without the vector tier the lexical part carries the whole relevance.
    w_lex, w_sem = (weights.lexical, weights.semantic) if semantic_used else (1.0, 0.0)
    out: dict[Key, dict[str, float]] = {}
    for key, e in evidence.items():
        lexical = e.lexical / best_lexical if best_lexical > 0 else 0.0
        parts = {"lexical": lexical}
        fused = w_lex * lexical
        if semantic_used:
            semantic = _normalised(e.semantic, low, high, weights.semantic_norm)
            parts["semantic"] = semantic
            fused += w_sem * semantic
            if e.cold:
                parts["cold"] = 1.0
        parts["fused"] = fused
        out[key] = parts
    return out


def _normalised(similarity: float | None, low: float, high: float, how: str) -> float:
    if similarity is None or high <= 0:
        return 0.0
    if how == "minmax":
        return (similarity - low) / (high - low) if high > low else 1.0
    return max(similarity, 0.0) / high


def closeness(frame: Timeframe, when: datetime) -> float:
    """Return 1 inside the window, falling off by half for every window-length outside it."""
    span_days = max((frame.end - frame.start).total_seconds() / 86_400, 1.0)
    return 0.5 ** (frame.distance_days(when) / span_days)


def rerank(
    fused: dict[Key, dict[str, float]],
    rows: dict[Key, Row],
    weights: Weights,
    now: datetime,
    frame: Timeframe | None,
    named: frozenset[str] = frozenset(),
) -> list[Scored]:
    """Score every candidate that SQL returned (others are stale or not visible), best first."""
    out: list[Scored] = []
    for key, parts in fused.items():
        row = rows.get(key)
        if row is None:
            continue
        age_days = max((now - row.created_at).total_seconds() / 86_400, 0.0)
        recency = 0.5 ** (age_days / weights.recency_half_life_days)
        current = row.valid_to is None
        importance = 1.0 if row.pinned else row.importance
        score = parts["fused"] * (1.0 + weights.importance * (importance - 0.5))
        score *= 1.0 if current else weights.superseded_factor
        score += weights.recency * recency
        reasons = {
            **parts,
            "importance": importance,
            "recency": recency,
            "validity": 1.0 if current else 0.0,
        }
        if named and row.speaker:
            reasons["speaker"] = 1.0 if fold(row.speaker) in named else 0.0
            score *= 1.0 + weights.speaker * reasons["speaker"]
        if frame is not None:
            reasons["time"] = closeness(frame, row.created_at)
            score += weights.time * reasons["time"]
        if not math.isfinite(score):
            continue
        reasons["score"] = score
        out.append(Scored(row, score, reasons))
    out.sort(key=lambda s: (s.score, s.row.created_at), reverse=True)
    return out


def day_of(row: Row) -> tuple[int, date]:
    """Return the group an item's day counts in: its place and the UTC date it was said or formed on."""
    when = row.created_at
    return row.scope_id, (when if when.tzinfo is None else when.astimezone(UTC)).date()


def day_relevance(ranked: Iterable[Scored], top: int) -> dict[tuple[int, date], float]:
    """Return each day's relevance over the best day's (0..1): the sum of its ``top`` best scores.

    A question about one conversation matches several of its turns a little; a day that many candidates
    come from is likely the one asked about, and a turn there that matches less is still likely relevant.
    """
    by_day: dict[tuple[int, date], list[float]] = {}
    for s in ranked:
        by_day.setdefault(day_of(s.row), []).append(max(s.score, 0.0))
    sums = {day: sum(sorted(scores, reverse=True)[:top]) for day, scores in by_day.items()}
    best = max(sums.values(), default=0.0)
    return {day: total / best for day, total in sums.items()} if best > 0 else {}


# A question asking when: "when did...", "what year...", "which month...".
_ASKS_WHEN = re.compile(r"^\W*when\b|\b(?:what|which)\s+(?:year|month|day|date|week|season)\b", re.IGNORECASE)
# Words that place something in time. "May" and "March" only next to a number: bare, they are mostly verbs.
_NAMES_TIME = re.compile(
    r"\b(?:yesterday|today|tonight|ago|(?:last|next|this|past)\s+(?:week|month|year|night|weekend|\w+day)"
    r"|(?:last|next|this)\s+(?:spring|summer|fall|autumn|winter)"
    r"|monday|tuesday|wednesday|thursday|friday|saturday|sunday"
    r"|january|february|april|june|july|august|september|october|november|december"
    r"|(?:may|march)\s+\d|\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:may|march)"
    r"|week|month|year|weekend)s?\b",
    re.IGNORECASE,
)


def asks_when(query: str) -> bool:
    """Return whether a query asks when something happened."""
    return _ASKS_WHEN.search(query) is not None


def names_time(text: str) -> bool:
    """Return whether a text places something in time (a day, a month, "last week", "two years ago")."""
    return _NAMES_TIME.search(text) is not None


def is_question(text: str) -> bool:
    """Return whether a text asks rather than tells (it ends with a question mark)."""
    return text.rstrip().endswith(("?", "？"))


def asks(text: str) -> bool:
    """Return whether a text asks something anywhere ("Wow! What did you paint? Show me!"): the turn after it,
    by someone else, likely answers. ``is_question`` is the stricter test, for a text that only asks."""
    return "?" in text or "？" in text


def settle(
    ranked: Iterable[Scored],
    days: dict[tuple[int, date], float],
    replies: dict[int, float],
    weights: Weights,
    when: bool = False,
) -> list[Scored]:
    """Add each item's context to its score (see the module's docstring) and sort again, best first.

    ``days`` is ``day_relevance`` of the candidates before the neighbour share; ``replies`` maps a turn id
    to the score of the question it answers; ``when`` says the query asks when (``asks_when``).
    """
    out: list[Scored] = []
    for s in ranked:
        reasons = dict(s.reasons)
        score = s.score
        session = days.get(day_of(s.row), 0.0)
        reasons["session"] = session
        score += weights.session * session
        if reasons.get("speaker"):
            score += weights.named
        if is_question(s.row.text):
            reasons["question"] = 1.0
            score -= weights.question
        reply = replies.get(s.row.id, 0.0) if s.row.kind == "turn" else 0.0
        if reply > 0:
            reasons["reply"] = reply
            score += weights.reply * reply
        if when and names_time(s.row.text):
            reasons["when"] = 1.0
            score += weights.when
        reasons["score"] = score
        out.append(Scored(s.row, score, reasons))
    out.sort(key=lambda s: (s.score, s.row.created_at), reverse=True)
    return out
