"""LoCoMo for the benchmarks: load it, ingest it through the real write path, score the rankings.

Shared by ``bench/compression.py`` and ``bench/locomo.py``. The data set (CC BY-NC 4.0) is never copied into
the project: every benchmark takes its path as an argument. See /work/shared/bench/README.md for the format.

- ``load(path)`` returns the conversations and an ``EvidenceReport`` saying how many evidence ids were
  normalised ("D30:05" -> "D30:5", "D:11:26" -> "D11:26", "D8:6; D9:17" -> two ids) or dropped (unparseable,
  or naming no turn of the conversation).
- ``ingest(storage, conversation)`` records every turn with ``StorageService.record_turn`` (speaker, the
  session's real date and time), indexes each session with ``StorageService.index_turns`` and ends the
  session, all in one scope per conversation: both speakers' turns are recorded as role "user" with their
  speaker names, in a DM-realm scope of a per-conversation person, so the questions are asked in that
  conversation's scope and no conversation can see another's turns.
- ``ranking_metrics`` and ``MetricTable``: hit@k, all@k, frac@k, NDCG@10 and MRR, turn-level and
  session-level, per category (LoCoMo's own numbering, 1..5) and overall.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from storage.recall.timeframe import MONTHS
from storage.records import TurnRecord
from storage.scope import Scope
from storage.service import StorageService

PLATFORM = "locomo"
KS = (1, 5, 10)
NDCG_K = 10
CATEGORIES = (1, 2, 3, 4, 5)

_SESSION = re.compile(r"^session_(\d+)$")
_WHEN = re.compile(
    r"^\s*(?P<hour>\d{1,2}):(?P<minute>\d{2})\s*(?P<ampm>am|pm)\s+on\s+(?P<day>\d{1,2})\s+"
    r"(?P<month>[A-Za-z]+),?\s+(?P<year>\d{4})\s*$",
    re.IGNORECASE,
)
# A well-formed id, and the looser shapes seen in the data: "D:11:26", "D30:05", spaces around parts.
_DIA = re.compile(r"^D(\d+):(\d+)$")
_LOOSE_DIA = re.compile(r"^D\s*:?\s*(\d+)\s*:\s*(\d+)$", re.IGNORECASE)
_SPLIT = re.compile(r"[;,]|\s+(?=D)")


# ---------------------------------------------------------------------------------------------- the data


@dataclass(frozen=True, slots=True)
class LocomoTurn:
    """One turn: its dialogue id ("D3:7"), speaker, text and the session's date and time."""

    dia_id: str
    session: int
    speaker: str
    text: str
    at: datetime
    caption: str | None = None


@dataclass(frozen=True, slots=True)
class LocomoSession:
    number: int
    at: datetime
    turns: tuple[LocomoTurn, ...]


@dataclass(frozen=True, slots=True)
class LocomoQuestion:
    """A question with its gold evidence (normalised dialogue ids) and LoCoMo category (1..5)."""

    question: str
    category: int
    evidence: tuple[str, ...]
    answer: str | None = None


@dataclass(frozen=True, slots=True)
class LocomoConversation:
    sample_id: str
    speaker_a: str
    speaker_b: str
    sessions: tuple[LocomoSession, ...]
    questions: tuple[LocomoQuestion, ...]

    @property
    def turns(self) -> list[LocomoTurn]:
        """Return every turn in session order."""
        return [turn for session in self.sessions for turn in session.turns]


@dataclass(slots=True)
class EvidenceReport:
    """What happened to the evidence ids while loading: kept as they were, normalised, or dropped."""

    kept: int = 0
    normalised: int = 0
    dropped: int = 0
    # Questions left with no usable evidence (they are not scored).
    questions_without_evidence: int = 0
    examples: list[str] = field(default_factory=list)

    def note(self, raw: str, outcome: str) -> None:
        """Remember a few examples of what was changed, for the benchmark's report."""
        if len(self.examples) < 20:
            self.examples.append(f"{raw!r} -> {outcome}")


def parse_session_time(text: str) -> datetime:
    """Parse LoCoMo's "1:56 pm on 8 May, 2023" into an aware UTC datetime (the data has no time zone)."""
    found = _WHEN.match(text)
    if found is None:
        raise ValueError(f"not a LoCoMo session time: {text!r}")
    month = MONTHS.get(found["month"].lower())
    if month is None:
        raise ValueError(f"unknown month in LoCoMo session time: {text!r}")
    hour = int(found["hour"])
    if not 1 <= hour <= 12:
        raise ValueError(f"hour out of range in LoCoMo session time: {text!r}")
    hour = hour % 12 + (12 if found["ampm"].lower() == "pm" else 0)
    return datetime(int(found["year"]), month, int(found["day"]), hour, int(found["minute"]), tzinfo=UTC)


def normalise_evidence(raw: str) -> list[str]:
    """Return the well-formed dialogue ids in one raw evidence entry (none when it cannot be read)."""
    out: list[str] = []
    for part in _SPLIT.split(raw.strip()):
        part = part.strip()
        if not part:
            continue
        found = _LOOSE_DIA.match(part)
        if found is None:
            continue
        out.append(f"D{int(found[1])}:{int(found[2])}")
    return out


def clean_evidence(
    raw_ids: Iterable[str], known: Mapping[str, object] | set[str], report: EvidenceReport
) -> tuple[str, ...]:
    """Normalise a question's evidence ids against the conversation's turns, counting what changed."""
    out: list[str] = []
    for raw in raw_ids:
        raw = str(raw)
        ids = normalise_evidence(raw)
        if not ids:
            report.dropped += 1
            report.note(raw, "dropped (unreadable)")
            continue
        changed = len(ids) != 1 or ids[0] != raw
        for dia in ids:
            if dia not in known:
                report.dropped += 1
                report.note(raw, f"{dia} dropped (no such turn)")
                continue
            if dia in out:
                continue
            out.append(dia)
            if changed:
                report.normalised += 1
                report.note(raw, dia)
            else:
                report.kept += 1
    return tuple(out)


def load(path: str | Path) -> tuple[list[LocomoConversation], EvidenceReport]:
    """Load the LoCoMo JSON: conversations with parsed session times and cleaned evidence ids."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise ValueError("LoCoMo data must be a list of samples")
    report = EvidenceReport()
    return [parse_sample(sample, report) for sample in data], report


def parse_sample(sample: Mapping[str, Any], report: EvidenceReport) -> LocomoConversation:
    """Turn one LoCoMo sample into a conversation (the ``observation`` and summaries are ignored)."""
    conversation = sample["conversation"]
    sessions: list[LocomoSession] = []
    numbers = sorted(int(m[1]) for key in conversation if (m := _SESSION.match(key)))
    for number in numbers:
        raw_turns = conversation.get(f"session_{number}") or []
        when_text = conversation.get(f"session_{number}_date_time")
        if not raw_turns or not when_text:
            continue
        at = parse_session_time(str(when_text))
        turns = tuple(
            LocomoTurn(
                dia_id=str(t["dia_id"]),
                session=number,
                speaker=str(t["speaker"]),
                text=str(t.get("text") or ""),
                at=at,
                caption=t.get("blip_caption"),
            )
            for t in raw_turns
        )
        sessions.append(LocomoSession(number, at, turns))
    known = {turn.dia_id for session in sessions for turn in session.turns}
    questions: list[LocomoQuestion] = []
    for qa in sample.get("qa", []):
        evidence = clean_evidence(qa.get("evidence") or [], known, report)
        if not evidence:
            report.questions_without_evidence += 1
        answer = qa.get("answer", qa.get("adversarial_answer"))
        questions.append(
            LocomoQuestion(
                question=str(qa["question"]),
                category=int(qa["category"]),
                evidence=evidence,
                answer=None if answer is None else str(answer),
            )
        )
    return LocomoConversation(
        sample_id=str(sample["sample_id"]),
        speaker_a=str(conversation["speaker_a"]),
        speaker_b=str(conversation["speaker_b"]),
        sessions=tuple(sessions),
        questions=tuple(questions),
    )


def session_of(dia_id: str) -> str:
    """Return the session part of a dialogue id ("D3:7" -> "D3")."""
    return dia_id.split(":", 1)[0]


# ---------------------------------------------------------------------------------------------- ingest


def conversation_scope(conversation: LocomoConversation) -> Scope:
    """Return the scope a conversation lives in: a per-conversation person in their own DM channel."""
    safe = re.sub(r"[^A-Za-z0-9_.:-]", "_", conversation.sample_id)[:56]
    return Scope(user_id=f"locomo-{safe}", guild_id=None, channel_id=f"dm-{safe}", platform=PLATFORM)


@dataclass(slots=True)
class Ingested:
    """A conversation recorded into storage: its scope and which turn id holds which dialogue id."""

    conversation: LocomoConversation
    scope: Scope
    turn_to_dia: dict[int, str]
    turns: int
    seconds: float


async def ingest(
    storage: StorageService,
    conversation: LocomoConversation,
    *,
    index: bool = True,
    with_captions: bool = False,
) -> Ingested:
    """Record and index every turn the way the bot does, one session at a time, and end each session.

    Both speakers' turns are recorded as role "user" with their own speaker names; the recorded time is
    the session's real date and time. ``with_captions`` appends a shared image's caption to the text.
    """
    scope = conversation_scope(conversation)
    turn_to_dia: dict[int, str] = {}
    started = time.perf_counter()
    count = 0
    for session in conversation.sessions:
        records: list[TurnRecord] = []
        for turn in session.turns:
            text = turn.text
            if with_captions and turn.caption:
                text = f"{text} [shares an image: {turn.caption}]"
            record = await storage.record_turn(
                scope,
                "user",
                text,
                speaker=turn.speaker,
                message_id=f"{conversation.sample_id}/{turn.dia_id}"[:64],
                created_at=turn.at,
            )
            records.append(record)
            turn_to_dia[record.id] = turn.dia_id
        if index:
            await storage.index_turns(scope, records)
        await storage.end_session(scope)
        count += len(records)
    return Ingested(conversation, scope, turn_to_dia, count, time.perf_counter() - started)


# ---------------------------------------------------------------------------------------------- metrics


def ranking_metrics(ranked: Sequence[str], gold: Iterable[str], ks: Sequence[int] = KS) -> dict[str, float]:
    """Score one ranking against gold ids: hit@k, all@k, frac@k for each k, NDCG@10 and MRR.

    Repeated ids in ``ranked`` count once, at their best rank (a session-level ranking repeats sessions).
    """
    wanted = set(gold)
    if not wanted:
        raise ValueError("a ranking needs at least one gold id to be scored")
    order = list(dict.fromkeys(ranked))
    out: dict[str, float] = {}
    for k in ks:
        found = wanted.intersection(order[:k])
        out[f"hit@{k}"] = 1.0 if found else 0.0
        out[f"all@{k}"] = 1.0 if len(found) == len(wanted) else 0.0
        out[f"frac@{k}"] = len(found) / len(wanted)
    dcg = sum(1.0 / math.log2(rank + 2) for rank, item in enumerate(order[:NDCG_K]) if item in wanted)
    ideal = sum(1.0 / math.log2(rank + 2) for rank in range(min(len(wanted), NDCG_K)))
    out[f"ndcg@{NDCG_K}"] = dcg / ideal
    first = next((rank for rank, item in enumerate(order) if item in wanted), None)
    out["mrr"] = 0.0 if first is None else 1.0 / (first + 1)
    return out


def session_ranking(ranked_dia_ids: Sequence[str]) -> list[str]:
    """Collapse a turn ranking to sessions, each at its best rank."""
    return list(dict.fromkeys(session_of(d) for d in ranked_dia_ids))


@dataclass(slots=True)
class MetricTable:
    """Averages of per-question metrics, turn-level and session-level, per category and overall."""

    ks: Sequence[int] = KS
    _sums: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)
    _counts: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))

    def add(self, category: int, ranked_dia_ids: Sequence[str], evidence: Iterable[str]) -> None:
        """Score one question's ranking (dialogue ids, best first) at turn and session level."""
        gold = list(evidence)
        per_level = {
            "turn": ranking_metrics(ranked_dia_ids, gold, self.ks),
            "session": ranking_metrics(
                session_ranking(ranked_dia_ids), {session_of(g) for g in gold}, self.ks
            ),
        }
        for level, scores in per_level.items():
            for group in (str(category), "overall"):
                key = (level, group)
                sums = self._sums.setdefault(key, defaultdict(float))
                for name, value in scores.items():
                    sums[name] += value
                self._counts[key] += 1

    def count(self, level: str = "turn", group: str = "overall") -> int:
        """Return how many questions were scored in a group."""
        return self._counts.get((level, group), 0)

    def mean(self, level: str = "turn", group: str = "overall") -> dict[str, float]:
        """Return the average of each metric in one group ({} when it holds no question)."""
        n = self._counts.get((level, group), 0)
        if not n:
            return {}
        return {name: total / n for name, total in self._sums[(level, group)].items()}

    def summary(self) -> dict[str, Any]:
        """Return every group's averages and counts, for JSON output."""
        out: dict[str, Any] = {}
        for level in ("turn", "session"):
            groups = ["overall", *(str(c) for c in CATEGORIES)]
            out[level] = {
                group: {"n": self.count(level, group), **self.mean(level, group)}
                for group in groups
                if self.count(level, group)
            }
        return out
