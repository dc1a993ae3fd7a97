"""Procedural memory: how a person wants Kindred to answer them, kept in their profile and put in the prompt.

The style is stored in the person's settings under ``style``: ``length`` (short, normal, detailed),
``tone``, and ``avoid_topics``. It comes from the semantic processor's LLM call, and from cheap rules for
explicit requests ("keep it short", "don't talk about X"), which work with no model at all.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bot.pipeline.budget import Section
from bot.pipeline.message import TurnInput
from bot.reflection.extraction import MAX_TOPIC_CHARS, MAX_TOPICS, StyleUpdate
from bot.reflection.jobs import job_scope
from storage.queue import Job
from storage.scope import Scope
from storage.service import StorageService

log = logging.getLogger(__name__)

PROCEDURAL = "procedural"
STYLE_KEY = "style"
# Above recalled memories and the reply chain: a standing request outranks anything situational.
PRIORITY_STYLE = 90

# A request, not a report: the verb opens a sentence or follows "please", "can you" and the like, so
# "I'll keep it short" or "I don't talk about work" are not taken as instructions to Kindred.
_ASK = (
    r"(?:^|[.!?;,:]\s*|\bplease\s+|\b(?:can|could|would|will)\s+you\s+(?:please\s+)?|"
    r"\bi(?:'d|\s+would)\s+(?:like|prefer)\s+(?:it\s+if\s+)?(?:you\s+)?(?:to\s+)?|\btry\s+to\s+)"
)
_YOURS = r"(?:it|things|them|your\s+(?:answers?|repl(?:y|ies)|responses?|messages?))"
_SHORT = re.compile(
    rf"{_ASK}(?:keep|make)\s+{_YOURS}\s+(?:short|shorter|brief|briefer|concise|to\s+the\s+point)\b"
    rf"|{_ASK}be\s+(?:more\s+)?(?:brief|concise)\b"
    r"|\b(?:shorter|briefer|more\s+concise)\s+(?:answers|replies|responses|messages)\s*,?\s*please\b",
    re.IGNORECASE,
)
_DETAILED = re.compile(
    rf"{_ASK}(?:keep|make)\s+{_YOURS}\s+(?:longer|more\s+detailed|detailed)\b"
    rf"|{_ASK}(?:be\s+more\s+detailed|go\s+into\s+(?:more\s+)?detail)\b"
    r"|\b(?:longer|more\s+detailed)\s+(?:answers|replies|responses)\s*,?\s*please\b",
    re.IGNORECASE,
)
_TONE = re.compile(
    rf"{_ASK}(?:be|talk|sound)\s+(?:a\s+bit\s+|more\s+|less\s+)?"
    r"(?P<tone>casual|formal|playful|serious|gentle|direct|warm|funny|relaxed|professional)\b",
    re.IGNORECASE,
)
_AVOID = re.compile(
    rf"{_ASK}(?:(?:don'?t|do\s+not|never|stop|no\s+more)\s+)"
    r"(?:talk(?:ing)?\s+(?:to\s+me\s+)?about|bring(?:ing)?\s+up|mention(?:ing)?|ask(?:ing)?\s+(?:me\s+)?about)"
    r"\s+(?P<topic>[^.!?;,:\n\u2014]{1,80})",
    re.IGNORECASE,
)
_ALLOW = re.compile(
    r"\byou\s+(?:can|may)\s+(?:talk\s+about|bring\s+up|mention|ask\s+(?:me\s+)?about)\s+"
    r"(?P<topic>[^.!?;,:\n\u2014]{1,80}?)\s+again\b",
    re.IGNORECASE,
)
_TOPIC_CLAUSE = re.compile(r"\s+(?:because|since|unless|but|when|while|as|if)\s+", re.IGNORECASE)
_NOT_TOPICS = frozenset({"it", "that", "this", "them", "him", "her", "me", "those", "these", "anything"})
_TOPIC_TAIL = re.compile(
    r"[\s,]+(?:please|again|anymore|any\s+more|with\s+me|ever|ok(?:ay)?|thanks?(?:\s+you)?)\s*$",
    re.IGNORECASE,
)


def _topic(raw: str) -> str | None:
    # A reason or condition after the topic is not part of it: "politics because it upsets me".
    topic = _TOPIC_CLAUSE.split(raw, maxsplit=1)[0].strip(" '\"")
    while True:
        trimmed = _TOPIC_TAIL.sub("", topic)
        if trimmed == topic:
            break
        topic = trimmed
    # The person's "my ex" is "their ex" when the instruction is read back to the model.
    topic = re.sub(r"^my\s+", "their ", topic, flags=re.IGNORECASE)
    topic = " ".join(topic.split())[:MAX_TOPIC_CHARS]
    # "Don't talk about it" points back at something the rules cannot see; it names no topic.
    if topic.casefold() in _NOT_TOPICS:
        return None
    return topic or None


def detect_style(text: str) -> StyleUpdate:
    """Return the explicit style requests in a message (cheap rules, English only)."""
    length = None
    if _SHORT.search(text):
        length = "short"
    elif _DETAILED.search(text):
        length = "detailed"
    tone_match = _TONE.search(text)
    avoid = [t for t in (_topic(m.group("topic")) for m in _AVOID.finditer(text)) if t]
    allow = [t for t in (_topic(m.group("topic")) for m in _ALLOW.finditer(text)) if t]
    return StyleUpdate(
        length=length,
        tone=tone_match.group("tone").lower() if tone_match else None,
        avoid_topics=tuple(dict.fromkeys(avoid))[:MAX_TOPICS],
        allow_topics=tuple(dict.fromkeys(allow))[:MAX_TOPICS],
    )


def merge_style(current: dict[str, Any], update: StyleUpdate) -> dict[str, Any]:
    """Return the style after a request: newer length and tone win; topics are added or allowed again."""
    style = dict(current)
    if update.length:
        style["length"] = update.length
    if update.tone:
        style["tone"] = update.tone
    avoid = [t for t in style.get("avoid_topics") or [] if isinstance(t, str)]
    allowed = {t.casefold() for t in update.allow_topics}
    avoid = [t for t in avoid if t.casefold() not in allowed]
    for topic in update.avoid_topics:
        if topic.casefold() not in {t.casefold() for t in avoid} and topic.casefold() not in allowed:
            avoid.append(topic)
    style["avoid_topics"] = avoid[-MAX_TOPICS:]
    return style


async def apply_style(
    storage: StorageService, scope: Scope, update: StyleUpdate, clock: Callable[[], datetime] | None = None
) -> bool:
    """Merge a style request into the person's profile; return whether anything changed."""
    if update.empty:
        return False
    settings = await storage.user_settings(scope)
    current = settings.get(STYLE_KEY) or {}
    merged = merge_style(current, update)
    if {k: v for k, v in merged.items() if k != "updated_at"} == {
        k: v for k, v in current.items() if k != "updated_at"
    }:
        return False
    merged["updated_at"] = (clock or (lambda: datetime.now(UTC)))().isoformat()
    await storage.update_user_settings(scope, {STYLE_KEY: merged})
    log.debug("response style updated for %s", scope.user_key)
    return True


class ProceduralProcessor:
    """Applies the explicit style requests of a turn (rules only; the LLM's go with the semantic job)."""

    def __init__(self, storage: StorageService) -> None:
        self.storage = storage

    async def __call__(self, jobs: list[Job]) -> None:
        """Read each job's turn and store the style it asks for."""
        for job in jobs:
            scope = job_scope(job.payload)
            turns = await self.storage.turns_for_indexing(scope, [int(job.payload["user_turn_id"])])
            for turn in turns:
                if turn.role == "user":
                    await apply_style(self.storage, scope, detect_style(turn.text))


def render_style(style: dict[str, Any]) -> list[str]:
    """Return the style as instructions for the model, one per line."""
    units = []
    length = style.get("length")
    if length == "short":
        units.append("- Keep your replies short: a few sentences at most, unless they ask for more.")
    elif length == "detailed":
        units.append("- Give detailed, thorough replies.")
    tone = style.get("tone")
    if isinstance(tone, str) and tone:
        units.append(f"- Tone: {tone[:MAX_TOPIC_CHARS]}.")
    topics = [t[:MAX_TOPIC_CHARS] for t in style.get("avoid_topics") or [] if isinstance(t, str)]
    if topics:
        units.append(f"- Do not bring up: {'; '.join(topics[:MAX_TOPICS])} (unless they raise it first).")
    return units


class StyleProvider:
    """The person's standing requests about how Kindred should answer them."""

    name = "style"

    def __init__(self, storage: StorageService) -> None:
        self.storage = storage

    async def provide(self, turn: TurnInput) -> list[Section]:
        """Return the person's response style as a high-priority section, if they have one."""
        settings = await self.storage.user_settings(turn.scope)
        style = settings.get(STYLE_KEY)
        units = render_style(style) if isinstance(style, dict) else []
        if not units:
            return []
        header = f"How {turn.author} asked you to respond (follow it):"
        return [Section("style", PRIORITY_STYLE, header=header, units=units)]
