"""An offline, rule-based emotion reader for chat messages.

Each cue from the lexicon that appears in a message adds its weight to its label; the rules around it
adjust that weight the way people write in chat:

- Elongated words ("sooo", "happyyy") are looked up with repeated letters folded.
- Intensifiers ("so", "really", "super", "af") strengthen the next cue; softeners ("kinda", "a bit")
  weaken it; a cue in capitals counts more.
- A negation shortly before a cue ("not happy", "never scared") turns a pleasant cue into a mild sad one
  and cancels an unpleasant one.
- After "but", the second clause is what the person means, so cues before it count less.

Neutral holds a constant share, so a message without cues reads as neutral and one with a weak cue stays
close to it. The run time is linear in the message length; no model, no network.
"""

from __future__ import annotations

import re
from functools import lru_cache

from bot.emotion.lexicon import entries
from bot.emotion.reading import LABEL_VALENCE, LABELS, EmotionReading

_NEUTRAL_SHARE = 0.7  # the neutral score every message starts with
_FLOOR = 0.03  # a label without cues still keeps a little probability
_SHARPEN = 1.6  # exponent on scores: two cues of one label beat one cue each of two labels
_MAX_PHRASE = 6

_INTENSIFIERS = frozenset(
    [
        "so",
        "soo",
        "sooo",
        "very",
        "really",
        "rly",
        "super",
        "extremely",
        "totally",
        "absolutely",
        "literally",
        "completely",
        "incredibly",
        "deeply",
        "too",
        "such",
        "freaking",
        "freakin",
        "fricking",
        "fucking",
        "fkn",
        "effing",
        "hella",
        "truly",
        "genuinely",
        "insanely",
        "utterly",
        "mega",
        "crazy",
    ]
)
_AFTER_INTENSIFIERS = frozenset(["af", "asf", "asl", "lol!!", "!!!", "fr", "frfr"])
_SOFTENERS = frozenset(
    [
        "kinda",
        "kindof",
        "sorta",
        "slightly",
        "little",
        "bit",
        "somewhat",
        "lowkey",
        "abit",
        "mildly",
        "partly",
    ]
)
_NEGATIONS = frozenset(
    [
        "not",
        "no",
        "never",
        "dont",
        "don't",
        "doesnt",
        "doesn't",
        "didnt",
        "didn't",
        "isnt",
        "isn't",
        "wasnt",
        "wasn't",
        "arent",
        "aren't",
        "aint",
        "ain't",
        "nothing",
        "without",
        "hardly",
        "barely",
        "neither",
        "nor",
        "cannot",
        "wont",
        "won't",
        "wouldnt",
        "wouldn't",
        "havent",
        "haven't",
        "hasnt",
        "hasn't",
        "im_not",
    ]
)
_CLAUSE_BREAKS = frozenset([".", ",", ";", "!", "?", "?!", "but", "though", "although", "however"])
_NEGATION_WINDOW = 3

_TOKEN_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[?!]+|[^\w\s.,;:'\"()\[\]{}<>/\\|@#$%^&*_+=~`-]|[.,;]")
_RUN_RE = re.compile(r"(.)\1{2,}")
_RUN2_RE = re.compile(r"(.)\1+")
_EMOJI_MODIFIERS = re.compile("[\ufe0f\u200d\U0001f3fb-\U0001f3ff]")


def _tokens(text: str) -> list[str]:
    text = _EMOJI_MODIFIERS.sub("", text.replace("\u2019", "'").replace("\u2018", "'"))
    out = []
    for raw in _TOKEN_RE.findall(text.lower()):
        token = raw
        if token[0] in "?!":
            both = "?" in token and "!" in token
            token = "?!" if both else "??" if token.startswith("??") else token[0]
            out.append(token)
            if len(raw) >= 2 and token == "!":
                out.append("!!!")  # several exclamation marks: counts as an after-intensifier
            continue
        out.append(token)
    return out


Cue = tuple[tuple[str, float], ...]  # the (label, weight) pairs one cue adds


@lru_cache(maxsize=1)
def _index() -> tuple[dict[tuple[str, ...], Cue], dict[str, Cue], int]:
    """Return (exact cues keyed by token tuple, stems keyed by prefix, the shortest stem length)."""
    exact: dict[tuple[str, ...], Cue] = {}
    stems: dict[str, Cue] = {}
    for cue, label, weight in entries():
        if cue.endswith("*") and " " not in cue and len(cue) > 2:
            stem = cue[:-1].lower()
            stems[stem] = (*stems.get(stem, ()), (label, weight))
            continue
        key = tuple(_tokens(cue))
        if key:
            exact[key] = (*exact.get(key, ()), (label, weight))
    return exact, stems, min((len(s) for s in stems), default=1)


@lru_cache(maxsize=4096)
def _variants(token: str) -> tuple[str, ...]:
    """Return token, then with stretched letters (3+) folded to two, then to one, then every double folded
    too ("happyyy": "happyy", "happy", "hapy")."""
    out = [token]
    for folded in (_RUN_RE.sub(r"\1\1", token), _RUN_RE.sub(r"\1", token), _RUN2_RE.sub(r"\1", token)):
        if folded not in out:
            out.append(folded)
    return tuple(out)


def _lookup_word(token: str) -> Cue | None:
    exact, stems, shortest = _index()
    candidates = _variants(token)
    for word in candidates:
        hit = exact.get((word,))
        if hit:
            return hit
    for word in candidates:
        for end in range(len(word), shortest - 1, -1):
            hit = stems.get(word[:end])
            if hit:
                return hit
    return None


def _match(tokens: list[str], i: int) -> tuple[Cue, int] | None:
    """Return the longest cue starting at token i, with how many tokens it spans."""
    exact, _, _ = _index()
    for length in range(min(_MAX_PHRASE, len(tokens) - i), 1, -1):
        window = tokens[i : i + length]
        for form in range(2):
            key = (
                tuple(_variants(t)[min(form, len(_variants(t)) - 1)] for t in window)
                if form
                else tuple(window)
            )
            hit = exact.get(key)
            if hit:
                return hit, length
    word = _lookup_word(tokens[i])
    return (word, 1) if word else None


def _negated(tokens: list[str], i: int) -> bool:
    for j in range(i - 1, max(-1, i - 1 - _NEGATION_WINDOW), -1):
        if tokens[j] in _CLAUSE_BREAKS:
            return False
        if tokens[j] in _NEGATIONS:
            return True
    return False


def _modifier(tokens: list[str], i: int, end: int, raw_upper: bool) -> float:
    factor = 1.0
    before = tokens[max(0, i - 2) : i]
    if any(t in _INTENSIFIERS for t in before):
        factor *= 1.5
    if any(t in _SOFTENERS for t in before):
        factor *= 0.75
    if end < len(tokens) and tokens[end] in _AFTER_INTENSIFIERS:
        factor *= 1.4
    if raw_upper:
        factor *= 1.3
    return factor


def score(text: str) -> tuple[dict[str, float], float]:
    """Return the raw cue score per label and the strength of the emphasis (caps, '!', intensifiers)."""
    tokens = _tokens(text)
    upper_words = {w.lower() for w in re.findall(r"\b[A-Z]{2,}\b", text) if w not in ("I", "OK")}
    scores = dict.fromkeys(LABELS, 0.0)
    emphasis = 0.0
    but_at = max((k for k, t in enumerate(tokens) if t in ("but", "though", "however")), default=-1)
    i = 0
    while i < len(tokens):
        hit = _match(tokens, i)
        if hit is None:
            if tokens[i] in _INTENSIFIERS or tokens[i] == "!!!":
                emphasis += 0.15
            i += 1
            continue
        cue, used = hit
        factor = _modifier(tokens, i, i + used, tokens[i] in upper_words)
        if i < but_at:
            factor *= 0.5
        negated = _negated(tokens, i)
        for label, weight in cue:
            weight *= factor
            # Negation flips pleasant words and cancels unpleasant ones, but not emoji, loneliness (said
            # with negations: "no one texts", "haven't talked to anyone") or surprise ("didn't expect").
            if not negated or label in ("surprise", "loneliness") or not tokens[i][0].isalnum():
                scores[label] += weight
            elif label == "joy":
                scores["sadness"] += weight
            else:
                scores["neutral"] += 0.3 * weight
        i += used
    emphasis += 0.1 * text.count("!") + 0.2 * len(upper_words)
    return scores, min(1.0, emphasis)


def detect(text: str) -> EmotionReading:
    """Read the emotions in one message (expected already normalised, but any string works)."""
    scores, emphasis = score(text)
    weights = {
        label: (scores[label] + (_NEUTRAL_SHARE if label == "neutral" else 0.0)) ** _SHARPEN + _FLOOR
        for label in LABELS
    }
    total = sum(weights.values())
    emotions = {label: w / total for label, w in weights.items()}
    top = max(LABELS, key=lambda label: emotions[label])
    valence = sum(emotions[label] * LABEL_VALENCE[label] for label in LABELS)
    evidence = sum(v for k, v in scores.items() if k != "neutral")
    felt = evidence / (evidence + 1.5)
    intensity = min(1.0, felt * (0.75 + 0.5 * emphasis))
    return EmotionReading(
        emotion=top, emotions=emotions, valence=max(-1.0, min(1.0, valence)), intensity=intensity
    )
