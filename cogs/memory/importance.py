"""How much a memory matters, and how each person's pattern of pins, forgets and corrections shifts it.

A memory's cues are numbers in [0, 1]: how strongly felt it is (bot.emotion), whether it names people,
places, events or dates, whether the person asked to have it remembered, and the importance its author
(reflection's extractor) proposed. Each cue has a weight per person; the cues combine as a noisy-or
(``1 - prod(1 - w * x)``), so any one strong cue makes a memory important and more cues add up without
passing 1. How often the memory was recalled and used adds to that the same way; a pin makes it 1.

The stored ``memories.importance`` is this score *without* age: compression decays it (halving every
``storage.compression.half_life_days`` since the last recall), and ``effective`` shows the decayed value.

Learning: a pin, a correction or a recall moves the weights of the cues the memory shows towards 1, a
forget moves them towards 0, each by its rate times the cue's strength. Weights stay in [0.05, 0.95].
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime, timedelta

from bot.config import MemorySettings
from bot.emotion import detect
from storage.compression import decayed_importance
from storage.importance import NewMemory
from storage.scope import Scope
from storage.service import StorageService
from storage.sql.models import utcnow

DEFAULT_WEIGHTS: dict[str, float] = {
    "emotion": 0.5,
    "people": 0.35,
    "places": 0.3,
    "events": 0.4,
    "dates": 0.3,
    "explicit": 0.9,
    "proposed": 0.6,
}
MIN_WEIGHT, MAX_WEIGHT = 0.05, 0.95
# Recalls needed for the usage cue to reach ~63%: a memory used a few times is clearly one that matters.
RECALLS_SCALE = 3.0
RESCORE_NOTE = "memory_rescore"

_RELATIONS = (
    "mom|mum|mother|dad|father|parents?|sister|brother|siblings?|wife|husband|partner|girlfriend|boyfriend|"
    "son|daughter|kids?|children|child|baby|grandma|grandpa|grandmother|grandfather|aunt|uncle|cousin|"
    "niece|nephew|friend|friends|boss|coworker|colleague|roommate|fianc[eé]e?|therapist|doctor|teacher"
)
PEOPLE = re.compile(rf"\b(?:my|our|his|her|their)\s+(?:\w+\s+)?(?:{_RELATIONS})\b", re.IGNORECASE)
_CALENDAR = (
    "January|February|March|April|May|June|July|August|September|October|November|December|"
    "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
)
PLACES = re.compile(
    rf"\b(?:in|at|near|to|from)\s+(?!(?:{_CALENDAR})\b)[A-Z][\w'-]{{2,}}|"
    r"\b(?:city|town|village|country|hometown|neighbou?rhood|street|apartment|house|office|school|"
    r"university|hospital)\b"
)
EVENTS = re.compile(
    r"\b(?:birthday|anniversary|wedding|married|engaged|divorced?|funeral|died|passed away|born|"
    r"graduat\w*|promot\w*|new job|fired|laid off|hired|interview|exam|surgery|diagnos\w*|pregnan\w*|"
    r"moved|moving|retire\w*|concert|holiday|vacation|trip|breakup|broke up|accident)\b",
    re.IGNORECASE,
)
DATES = re.compile(
    r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|march|april|may|june|"
    r"july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|"
    r"tomorrow|yesterday|tonight|next (?:week|month|year)|last (?:week|month|year)|"
    r"(?:19|20)\d\d|\d{1,2}(?:st|nd|rd|th)|\d{1,2}[/.-]\d{1,2}(?:[/.-]\d{2,4})?)\b",
    re.IGNORECASE,
)
EXPLICIT = re.compile(
    r"\b(?:remember (?:this|that)|please remember|don'?t forget|do not forget|never forget|keep in mind|"
    r"make a note|note that|it'?s important)\b",
    re.IGNORECASE,
)

# A capitalised word inside a sentence is often a name ("went hiking with Priya"); sentence starts and
# "I" are not.
_NAME = re.compile(
    rf"(?<![.!?]\s)(?<!^)(?<!\bin )(?<!\bat )(?<!\bto )(?<!\bfrom )\b(?!(?:{_CALENDAR})\b)[A-Z][a-z]{{2,}}\b"
)


def cues(text: str, proposed: float = 0.5, meta: Mapping[str, object] | None = None) -> dict[str, float]:
    """Return the strength in [0, 1] of each importance cue in a memory's text."""
    meta = meta or {}
    names = len(_NAME.findall(text))
    people = 1.0 if PEOPLE.search(text) or meta.get("about") else min(1.0, 0.5 * names)
    return {
        "emotion": detect(text).intensity,
        "people": people,
        "places": 1.0 if PLACES.search(text) else 0.0,
        "events": min(1.0, 0.6 * len(EVENTS.findall(text))),
        "dates": 1.0 if DATES.search(text) else 0.0,
        "explicit": 1.0 if EXPLICIT.search(text) or meta.get("explicit") else 0.0,
        "proposed": min(1.0, max(0.0, proposed)),
    }


def combine(weights: Mapping[str, float], strengths: Mapping[str, float]) -> float:
    """Return the noisy-or of weighted cues: 1 - prod(1 - w * x)."""
    keep = 1.0
    for name, strength in strengths.items():
        keep *= 1.0 - weights.get(name, DEFAULT_WEIGHTS.get(name, 0.0)) * strength
    return 1.0 - keep


def usage(recalls: int) -> float:
    """Return the usage cue of a memory recalled ``recalls`` times: 0 unused, towards 1 with use."""
    return 1.0 - math.exp(-max(recalls, 0) / RECALLS_SCALE)


def shifted(
    weights: Mapping[str, float], strengths: Mapping[str, float], target: float, rate: float
) -> dict[str, float]:
    """Return weights moved towards ``target`` in proportion to each cue's strength in the memory."""
    out = dict(weights)
    for name, strength in strengths.items():
        current = out.get(name, DEFAULT_WEIGHTS.get(name, 0.5))
        moved = current + rate * strength * (target - current)
        out[name] = round(min(MAX_WEIGHT, max(MIN_WEIGHT, moved)), 6)
    return out


class ImportanceScorer:
    """Scores memories with each person's learned weights, and learns from what they do with them."""

    def __init__(self, storage: StorageService, settings: MemorySettings, half_life_days: float) -> None:
        self.storage = storage
        self.settings = settings
        self.half_life_days = half_life_days

    async def weights(self, scope: Scope) -> dict[str, float]:
        """Return the person's weights: the defaults, overridden by what was learned for them."""
        return {**DEFAULT_WEIGHTS, **await self.storage.memory.weights(scope)}

    def score(
        self,
        weights: Mapping[str, float],
        text: str,
        proposed: float,
        pinned: bool,
        recalls: int,
        meta: Mapping[str, object] | None = None,
    ) -> float:
        """Return a memory's importance (before decay with age)."""
        if pinned:
            return 1.0
        content = combine(weights, cues(text, proposed, meta))
        used = self.settings.usage_weight * usage(recalls)
        return round(1.0 - (1.0 - content) * (1.0 - used), 4)

    async def score_new(self, scope: Scope, memory: NewMemory) -> float:
        """Score a memory about to be stored (the storage service's scorer hook)."""
        weights = await self.weights(scope)
        return self.score(weights, memory.text, memory.importance, memory.pinned, 0, memory.meta)

    def effective(self, importance: float, created_at: datetime, recalled_at: datetime | None) -> float:
        """Return importance decayed by age since the last recall (else creation), as compression sees it."""
        since = recalled_at or created_at
        age_days = (utcnow() - since).total_seconds() / 86_400
        return decayed_importance(importance, age_days, self.half_life_days)

    async def learn(
        self, scope: Scope, signal: str, text: str, meta: Mapping[str, object] | None = None
    ) -> dict[str, float]:
        """Shift the person's weights after a pin, unpin, forget, correction or recall of a memory."""
        target, rate = {
            "pins": (1.0, self.settings.pin_rate),
            "unpins": (0.0, self.settings.unpin_rate),
            "forgets": (0.0, self.settings.forget_rate),
            "corrections": (1.0, self.settings.correct_rate),
            "recalls": (1.0, self.settings.recall_rate),
        }[signal]
        strengths = cues(text, 0.0, meta)
        del strengths["proposed"]  # the extractor's guess is not the person's pattern
        weights = shifted(await self.weights(scope), strengths, target, rate)
        await self.storage.memory.learn(scope, signal, weights)
        return weights

    async def rescore(self, scope: Scope) -> int:
        """Recompute the importance of the person's current memories; return how many changed."""
        weights = await self.weights(scope)
        memories = await self.storage.memory.current_memories(scope, self.settings.rescore_limit)
        scores = {
            m.id: self.score(weights, m.text, float(m.meta.get("proposed", 0.5)), m.pinned, m.recalls, m.meta)
            for m in memories
        }
        return await self.storage.memory.set_importance(scope, scores)

    async def rescore_recalled(self) -> int:
        """Rescore everyone with a memory recalled since the last run (usage changed); return how many."""
        note = await self.storage.status_note(RESCORE_NOTE) or {}
        now = utcnow()
        since = datetime.fromisoformat(note["last"]) if "last" in note else now - timedelta(days=1)
        people = await self.storage.memory.recalled_since(since)
        for scope in people:
            await self.rescore(scope)
        await self.storage.put_status_note(RESCORE_NOTE, {"last": now.isoformat(), "people": len(people)})
        return len(people)
