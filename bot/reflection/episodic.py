"""The ``episodic`` job: a summary of a session once it went idle, remembered with its time span.

The scheduler's reflection sweep closes idle sessions and enqueues one job per closed session. The
summary is written by the LLM when one is configured and the place's budget has room; otherwise it is
extractive (the person's own most informative sentences), so nothing depends on a model being present.
The memory's ``valid_from`` is the session's first turn and ``meta.until`` its last.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from bot.config import ReflectionSettings
from bot.llm import LLMRequestError, LLMRouter, LLMUnavailable
from bot.reflection.budget import ReflectionBudget, ReflectionStatus
from bot.reflection.jobs import EPISODIC, job_scope, scope_payload
from storage.queue import Job, RetryLater
from storage.records import SessionRef, TurnRecord
from storage.scope import Scope
from storage.service import StorageService, query_terms

log = logging.getLogger(__name__)

EPISODIC_IMPORTANCE = 0.4
SUMMARY_MAX_CHARS = 1200
EXTRACT_SENTENCES = 3
SENTENCE_MAX_CHARS = 200
# Content words (plus two for speaking of oneself) a sentence needs to be worth keeping.
MIN_SENTENCE_SCORE = 4.0
# One memory per session: storing the summary again (a re-run) finds this key and value and stops.
SUMMARY_VALUE = "summary"

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_FIRST_PERSON = re.compile(r"\b(?:i|i'm|im|i've|i'd|i'll|my|me|mine|we|our|us)\b", re.IGNORECASE)

SUMMARY_PROMPT = """\
Summarise this conversation between {speaker} and {bot} for {bot}'s long-term memory, in 2 to 4 \
sentences in the third person that name {speaker}: what they talked about, what is happening in their \
life, how they seemed to feel, and anything left open. Use only what {speaker} said or agreed to; \
leave out anyone else's private details. Plain text, no lists, no preamble."""


def episodic_key(ref: SessionRef) -> str:
    """Return the job key of a session's summary: one job per closed session."""
    scope = ref.scope
    return f"{scope.platform}:{scope.user_id}:{scope.realm}:c{ref.conversation_id}"


async def enqueue_episodic(storage: StorageService, ref: SessionRef) -> bool:
    """Enqueue the summary of a closed session; return False if it was enqueued before."""
    payload: dict[str, Any] = {"scope": scope_payload(ref.scope), "conversation_id": ref.conversation_id}
    return await storage.enqueue_job(EPISODIC, episodic_key(ref), payload, scope=ref.scope)


def _sentences(turns: Sequence[TurnRecord]) -> list[str]:
    out = []
    for turn in turns:
        out += [s.strip() for s in _SENTENCE.split(turn.text) if s.strip()]
    return out


def extractive_summary(turns: Sequence[TurnRecord], speaker: str, limit: int = EXTRACT_SENTENCES) -> str:
    """Return the person's own most informative sentences, in the order said (no model needed)."""
    own = [t for t in turns if t.role == "user"]
    scored: list[tuple[float, int, str]] = []
    seen: set[frozenset[str]] = set()
    for index, sentence in enumerate(_sentences(own)):
        words = frozenset(query_terms(sentence))
        # Questions and greetings say little about the person; repeats say nothing new.
        if sentence.endswith("?") or words in seen:
            continue
        seen.add(words)
        # Statements about themselves carry the most memory.
        score = len(words) + (2.0 if _FIRST_PERSON.search(sentence) else 0.0)
        if score >= MIN_SENTENCE_SCORE:
            scored.append((score, index, sentence))
    best = sorted(scored, key=lambda s: (-s[0], s[1]))[:limit]
    picked = [s[:SENTENCE_MAX_CHARS] for _, _, s in sorted(best, key=lambda s: s[1])]
    if not picked:
        return ""
    day = own[0].created_at.strftime("%Y-%m-%d") if own else ""
    return f"Conversation on {day}: {speaker} said: " + " ".join(picked)


def transcript(turns: Sequence[TurnRecord], speaker: str, bot: str, max_chars: int) -> str:
    """Return the session as "name: text" lines, cut from the start to ``max_chars`` (the newest kept)."""
    lines = [f"{speaker if t.role == 'user' else bot}: {' '.join(t.text.split())}" for t in turns]
    return "\n".join(newest_lines(lines, max_chars))


def newest_lines(lines: Sequence[str], max_chars: int) -> list[str]:
    """Return the newest lines (in order) that fit in ``max_chars``, counting one newline per line."""
    kept: list[str] = []
    size = 0
    for line in reversed(lines):
        if size + len(line) + 1 > max_chars:
            break
        kept.append(line)
        size += len(line) + 1
    return list(reversed(kept))


class EpisodicProcessor:
    """Summarises a closed session into one episodic memory of the person's."""

    def __init__(
        self,
        storage: StorageService,
        llm: LLMRouter | None,
        settings: ReflectionSettings,
        budget: ReflectionBudget,
        status: ReflectionStatus,
        bot_name: str = "Kindred",
    ) -> None:
        self.storage = storage
        self.llm = llm
        self.settings = settings
        self.budget = budget
        self.status = status
        self.bot_name = bot_name

    async def __call__(self, jobs: list[Job]) -> None:
        """Summarise each job's session."""
        for job in jobs:
            await self.run(job)

    async def run(self, job: Job) -> None:
        """Summarise one session, unless it is too short or episodic memory is off."""
        scope = job_scope(job.payload)
        conversation_id = int(job.payload["conversation_id"])
        if not (self.settings.enabled and self.settings.episodic_enabled):
            return
        turns = await self.storage.session_turns(scope, conversation_id)
        own = [t for t in turns if t.role == "user" and t.text.strip()]
        if len(own) < self.settings.episodic_min_turns:
            return
        speaker = next((t.speaker for t in reversed(own) if t.speaker), None) or "the person"
        summary = await self._llm_summary(scope, turns, speaker)
        method = "llm" if summary else "extractive"
        if not summary:
            summary = extractive_summary(own, speaker)
        if not summary:
            return
        await self.storage.add_memory(
            scope,
            summary,
            kind="episodic",
            speaker=speaker,
            importance=EPISODIC_IMPORTANCE,
            source_turn_ids=[t.id for t in own],
            valid_from=turns[0].created_at,
            key=f"session:{conversation_id}",
            value=SUMMARY_VALUE,
            meta={
                "until": turns[-1].created_at.isoformat(),
                "conversation_id": conversation_id,
                "turns": len(turns),
                "method": method,
            },
        )
        log.debug("session %s summarised (%s, %s turns)", conversation_id, method, len(turns))

    async def _llm_summary(self, scope: Scope, turns: Sequence[TurnRecord], speaker: str) -> str | None:
        if self.llm is None:
            return None
        spent = await self.budget.spent(scope)
        if spent is not None:
            await self.status.index_only(scope, spent)
            return None
        messages = [
            {"role": "system", "content": SUMMARY_PROMPT.format(speaker=speaker, bot=self.bot_name)},
            {
                "role": "user",
                "content": transcript(turns, speaker, self.bot_name, self.settings.summary_max_chars),
            },
        ]
        try:
            completion = await self.llm.complete(
                messages, max_tokens=self.settings.summary_max_tokens, temperature=0.2
            )
        except LLMUnavailable as exc:
            raise RetryLater("the language model is unavailable") from exc
        except LLMRequestError as exc:
            log.warning(
                "session summary refused by model %s (status %s); using an extract", exc.model, exc.status
            )
            return None
        await self.budget.charge(scope, completion.usage.total_tokens)
        text = " ".join(completion.text.split())
        return text[:SUMMARY_MAX_CHARS] or None
