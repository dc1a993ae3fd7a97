"""What the semantic processor asks the model for, and how its JSON is checked and mended.

One call per turn returns both the facts a person stated and any request about how Kindred should answer
them. The reply is JSON checked against ``EXTRACTION_SCHEMA``. Local models often wrap JSON in code fences,
add prose around it or leave trailing commas; ``parse_json`` mends that without a model call, and only
what it cannot mend is sent back to the model once for repair.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

FACT_KINDS = ("fact", "preference", "event", "relationship", "goal")
LENGTHS = ("short", "normal", "detailed")

# Bounds on what a model may make us store, whatever it returns.
MAX_KEY_CHARS = 80
MAX_VALUE_CHARS = 200
MAX_TEXT_CHARS = 300
MAX_NAME_CHARS = 60
MAX_TOPIC_CHARS = 60
MAX_TOPICS = 10
MAX_KNOWN_KEYS = 60
# A broken reply longer than this is cut before it is sent back for repair.
MAX_REPAIR_CHARS = 6000

_NULLABLE_STRING = {"type": ["string", "null"]}

EXTRACTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["facts", "style"],
    "properties": {
        "facts": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["subject", "about", "key", "value", "text", "kind", "importance"],
                "properties": {
                    "subject": {"type": "string", "enum": ["self", "other"]},
                    "about": _NULLABLE_STRING,
                    "key": {"type": "string"},
                    "value": {"type": "string"},
                    "text": {"type": "string"},
                    "kind": {"type": "string", "enum": list(FACT_KINDS)},
                    # 0..1; left unbounded here because not every strict-mode endpoint takes bounds.
                    "importance": {"type": "number"},
                },
            },
        },
        "style": {
            "type": "object",
            "additionalProperties": False,
            "required": ["length", "tone", "avoid_topics", "allow_topics"],
            "properties": {
                "length": {"type": ["string", "null"], "enum": [*LENGTHS, None]},
                "tone": _NULLABLE_STRING,
                "avoid_topics": {"type": "array", "items": {"type": "string"}},
                "allow_topics": {"type": "array", "items": {"type": "string"}},
            },
        },
    },
}

OutputMode = Literal["json_schema", "json_object", "none"]
OUTPUT_MODES: tuple[OutputMode, ...] = ("json_schema", "json_object", "none")


def response_format(mode: OutputMode) -> dict[str, Any] | None:
    """Return the ``response_format`` for an output mode (None: rely on the instructions alone)."""
    if mode == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {"name": "reflection", "strict": True, "schema": EXTRACTION_SCHEMA},
        }
    if mode == "json_object":
        return {"type": "json_object"}
    return None


SYSTEM_PROMPT = """\
You read one chat message that {speaker} sent to Kindred, an AI companion, and note what is worth \
remembering about {speaker}. Reply with one JSON object only, no prose, in this shape:
{{"facts": [{{"subject": "self", "about": null, "key": "lives_in", "value": "Lisbon", \
"text": "{speaker} lives in Lisbon.", "kind": "fact", "importance": 0.8}}],
 "style": {{"length": null, "tone": null, "avoid_topics": [], "allow_topics": []}}}}

Facts:
- Only what {speaker} states as true now. Skip questions, hypotheticals, jokes, greetings and small talk.
- subject "self": about {speaker} themself. subject "other": something {speaker} reports about another \
named person; put that person's name in "about". A request such as "remember that Alice likes sushi" is \
about Alice, never a fact or preference of {speaker}.
- key: a short stable snake_case name for ONE single-valued attribute, e.g. lives_in, job, employer, age, \
partner:name, sister:name, pet:dog:name, allergic_to:peanuts, likes:sushi. Put the item into the key when \
a person can have many (likes:sushi, speaks:welsh). Reuse a known key when the message changes its value.
- value: the current value, short ("Porto", "nurse", "yes", "no").
- text: one sentence in the third person that names {speaker}.
- kind: one of fact, preference, event, relationship, goal.
- importance: 0 to 1, how useful this will be a month from now (0.9 a move, a loss, a new job; 0.2 trivia).
- At most {max_facts} facts; none is fine.

Style: fill it only when {speaker} explicitly asks how Kindred should answer them: length (short, \
normal, detailed), tone (a few words), topics to avoid, or topics Kindred may bring up again. \
Otherwise null and empty lists.

Known keys for {speaker}: {known_keys}"""

REPAIR_PROMPT = """\
The text below was meant to be one JSON object with keys "facts" (a list of objects with subject, \
about, key, value, text, kind, importance) and "style" (an object with length, tone, avoid_topics, \
allow_topics). Return only that JSON object, corrected. Do not add facts that are not in the text."""


def extraction_messages(
    speaker: str, text: str, known_keys: list[str], max_facts: int
) -> list[dict[str, str]]:
    """Return the chat messages of the extraction call for one turn."""
    keys = ", ".join(known_keys[:MAX_KNOWN_KEYS]) or "(none yet)"
    system = SYSTEM_PROMPT.format(speaker=speaker, max_facts=max_facts, known_keys=keys)
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": f"Message from {speaker}:\n<<<\n{text}\n>>>"},
    ]


def repair_messages(broken: str) -> list[dict[str, str]]:
    """Return the chat messages of the one repair call for a reply that was not valid JSON."""
    return [
        {"role": "system", "content": REPAIR_PROMPT},
        {"role": "user", "content": broken[:MAX_REPAIR_CHARS]},
    ]


# ---------------------------------------------------------------- parsing


class ExtractionError(ValueError):
    """The model's reply is not the JSON object asked for (the message names no personal text)."""


_FENCE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n?(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_LINE_COMMENT = re.compile(r"^\s*//.*$", re.MULTILINE)
_SMART_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"'})


def parse_json(text: str) -> dict[str, Any]:
    """Return the JSON object in a model's reply, mending fences, prose and trailing commas; else raise."""
    candidates = [text.strip()]
    fenced = _FENCE.search(text)
    if fenced:
        candidates.append(fenced.group(1).strip())
    for candidate in list(candidates):
        start, end = candidate.find("{"), candidate.rfind("}")
        if 0 <= start < end:
            candidates.append(candidate[start : end + 1])
    for candidate in candidates:
        for attempt in (candidate, _mend(candidate)):
            try:
                value = json.loads(attempt)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    raise ExtractionError("the reply holds no JSON object")


def _mend(text: str) -> str:
    # Only mistakes that cannot change meaning: comments, trailing commas, typographic double quotes.
    mended = _LINE_COMMENT.sub("", text.translate(_SMART_QUOTES))
    return _TRAILING_COMMA.sub(r"\1", mended)


# ---------------------------------------------------------------- validation


@dataclass(frozen=True, slots=True)
class Fact:
    """One fact the model found, already bounded and normalised."""

    key: str
    value: str
    text: str
    kind: str
    importance: float
    about: str | None = None  # set when the speaker reported it about another person


@dataclass(frozen=True, slots=True)
class StyleUpdate:
    """A person's request about how Kindred should answer them."""

    length: str | None = None
    tone: str | None = None
    avoid_topics: tuple[str, ...] = ()
    allow_topics: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.length or self.tone or self.avoid_topics or self.allow_topics)


@dataclass(frozen=True, slots=True)
class Extraction:
    """What one turn yielded; ``dropped`` counts facts that failed the schema and were left out."""

    facts: list[Fact] = field(default_factory=list)
    style: StyleUpdate = field(default_factory=StyleUpdate)
    dropped: int = 0


def validate(data: Mapping[str, Any], max_facts: int) -> Extraction:
    """Check a parsed reply against the schema; bad facts are dropped, a bad shape raises ExtractionError."""
    facts_raw = data.get("facts", [])
    if not isinstance(facts_raw, list):
        raise ExtractionError("'facts' is not a list")
    style_raw = data.get("style")
    if style_raw is not None and not isinstance(style_raw, Mapping):
        raise ExtractionError("'style' is not an object")
    facts: list[Fact] = []
    dropped = 0
    for item in facts_raw:
        fact = _fact(item)
        if fact is None:
            dropped += 1
        else:
            facts.append(fact)
    # Keep the most important ones; a stable sort keeps the model's order among equals.
    facts.sort(key=lambda f: -f.importance)
    dropped += max(0, len(facts) - max_facts)
    return Extraction(facts[:max_facts], _style(style_raw or {}), dropped)


def normalise_key(raw: str) -> str:
    """Return a fact key as snake_case words joined by colons, e.g. ``Pet: Dog Name`` -> ``pet:dog_name``."""
    parts = [re.sub(r"[^a-z0-9_.-]+", "_", p.strip().casefold()).strip("_") for p in raw.split(":")]
    return ":".join(p for p in parts if p)[:MAX_KEY_CHARS]


def _text(value: object, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    cleaned = " ".join(value.split())
    return cleaned[:limit] if cleaned else None


def _fact(item: object) -> Fact | None:
    if not isinstance(item, Mapping):
        return None
    key = normalise_key(item["key"]) if isinstance(item.get("key"), str) else ""
    value = _text(item.get("value"), MAX_VALUE_CHARS)
    text = _text(item.get("text"), MAX_TEXT_CHARS)
    if not key or value is None or text is None:
        return None
    kind = item.get("kind") if item.get("kind") in FACT_KINDS else "fact"
    importance = item.get("importance", 0.5)
    if isinstance(importance, bool) or not isinstance(importance, int | float):
        importance = 0.5
    about: str | None = None
    if item.get("subject") == "other":
        about = _text(item.get("about"), MAX_NAME_CHARS)
        if about is None:
            return None  # a fact about someone unnamed cannot be attributed, so it is not kept
    elif item.get("subject") not in (None, "self"):
        return None
    return Fact(key, value, text, str(kind), min(1.0, max(0.0, float(importance))), about)


def _topics(raw: object) -> tuple[str, ...]:
    if not isinstance(raw, list):
        return ()
    topics = [t for t in (_text(x, MAX_TOPIC_CHARS) for x in raw) if t]
    return tuple(dict.fromkeys(topics))[:MAX_TOPICS]


def _style(raw: Mapping[str, Any]) -> StyleUpdate:
    length = raw.get("length")
    return StyleUpdate(
        length=length if length in LENGTHS else None,
        tone=_text(raw.get("tone"), MAX_TOPIC_CHARS),
        avoid_topics=_topics(raw.get("avoid_topics")),
        allow_topics=_topics(raw.get("allow_topics")),
    )
