"""The ``semantic`` job: facts a person stated about themselves, extracted from their turn with one LLM call.

Attribution: a turn's facts are only ever stored in the speaker's own scope. What the speaker says about
themself becomes their fact; what they report about someone else ("remember that Alice likes sushi") is
kept as the speaker's report, with ``meta.about`` naming that person and text saying who said it. It is
never a memory of the other person, nor a preference of the speaker's.

Contradiction: every fact carries a stable key (``lives_in``, ``pet:dog:name``). A new value for a key the
person already has supersedes the old memory (``valid_to`` and ``superseded_by``; history is kept), which
``StorageService.add_memory`` decides deterministically within the person and realm.

Failures never lose a turn: the turn is indexed by its own job. A reply that is not valid JSON is mended
locally, then sent back once for repair; if that fails too the failure is counted and the job finishes.
A model outage holds the job back (``RetryLater``) until the model returns.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from bot.config import ReflectionSettings
from bot.llm import Completion, LLMRequestError, LLMRouter, LLMUnavailable
from bot.reflection.budget import ReflectionBudget, ReflectionStatus
from bot.reflection.extraction import (
    OUTPUT_MODES,
    Extraction,
    ExtractionError,
    Fact,
    OutputMode,
    extraction_messages,
    normalise_key,
    parse_json,
    repair_messages,
    response_format,
    validate,
)
from bot.reflection.jobs import job_scope
from bot.reflection.procedural import apply_style
from storage.queue import Job, RetryLater
from storage.records import TurnRecord
from storage.scope import Scope
from storage.service import StorageService

log = logging.getLogger(__name__)

# Rejections that no other output mode would cure: the turn itself is the problem.
_HOPELESS_CODES = {"context_length_exceeded", "content_filter", "content_policy_violation"}
# How many of the person's existing keys are shown to the model, so it reuses them.
KNOWN_KEYS_LIMIT = 200


class SemanticProcessor:
    """Extracts facts (and style requests) from one turn per job and stores them for the speaker."""

    def __init__(
        self,
        storage: StorageService,
        llm: LLMRouter | None,
        settings: ReflectionSettings,
        budget: ReflectionBudget,
        status: ReflectionStatus,
    ) -> None:
        self.storage = storage
        self.llm = llm
        self.settings = settings
        self.budget = budget
        self.status = status
        # Per model: the output mode that endpoint accepted (auto mode steps down on rejection).
        self._modes: dict[str, OutputMode] = {}

    async def __call__(self, jobs: list[Job]) -> None:
        """Run each job's extraction in turn (the worker gives one job unless batching is on)."""
        for job in jobs:
            await self.run(job)

    async def run(self, job: Job) -> None:
        """Extract and store the facts of one job's turn."""
        scope = job_scope(job.payload)
        turn_id = int(job.payload["user_turn_id"])
        if self.llm is None or not (self.settings.enabled and self.settings.semantic_enabled):
            return
        turns = [t for t in await self.storage.turns_for_indexing(scope, [turn_id]) if t.role == "user"]
        if not turns or not turns[0].text.strip():
            return  # forgotten since, or nothing to read
        turn = turns[0]
        extraction = await self.extract(scope, turn)
        if extraction is None:
            return
        stored = await self.store(scope, turn, extraction.facts)
        if self.settings.procedural_enabled:
            await apply_style(self.storage, scope, extraction.style)
        log.debug("turn %s: %s facts stored, %s dropped by the schema", turn.id, stored, extraction.dropped)

    # ------------------------------------------------------------ extraction

    async def extract(self, scope: Scope, turn: TurnRecord) -> Extraction | None:
        """Return the turn's facts, or None when the budget is spent or the reply could not be read."""
        speaker = turn.speaker or "the person"
        known = await self._known_keys(scope)
        messages = extraction_messages(speaker, turn.text, known, self.settings.max_facts_per_turn)
        first = await self._call(scope, messages)
        if first is None:
            return None
        try:
            return validate(parse_json(first.text), self.settings.max_facts_per_turn)
        except ExtractionError as exc:
            log.info("turn %s: extraction reply unreadable (%s); asking the model to repair it", turn.id, exc)
        repaired = await self._call(scope, repair_messages(first.text))
        if repaired is None:
            await self.status.extraction_failed()
            return None
        try:
            return validate(parse_json(repaired.text), self.settings.max_facts_per_turn)
        except ExtractionError as exc:
            log.warning(
                "turn %s: no facts extracted, the repaired reply is unreadable too (%s)", turn.id, exc
            )
            await self.status.extraction_failed()
            return None

    async def _known_keys(self, scope: Scope) -> list[str]:
        memories = await self.storage.list_memories(scope, limit=KNOWN_KEYS_LIMIT)
        keys = [
            str(m.meta["key"])
            for m in memories
            if m.kind == "fact" and m.meta.get("key") and "about" not in m.meta
        ]
        return list(dict.fromkeys(keys))

    def _first_mode(self) -> OutputMode:
        if self.settings.structured_output != "auto":
            return self.settings.structured_output
        assert self.llm is not None
        candidates = self.llm.candidates()
        return self._modes.get(candidates[0].name, OUTPUT_MODES[0]) if candidates else OUTPUT_MODES[0]

    async def _call(self, scope: Scope, messages: Sequence[dict[str, Any]]) -> Completion | None:
        """Make one budgeted call; None when the budget is spent or the request was refused for good."""
        assert self.llm is not None
        spent = await self.budget.spent(scope)
        if spent is not None:
            await self.status.index_only(scope, spent)
            return None
        mode = self._first_mode()
        while True:
            try:
                completion = await self.llm.complete(
                    messages,
                    response_format=response_format(mode),
                    max_tokens=self.settings.extraction_max_tokens,
                    temperature=0.0,
                )
            except LLMUnavailable as exc:
                raise RetryLater("the language model is unavailable") from exc
            except LLMRequestError as exc:
                lower = self._step_down(exc, mode)
                if lower is None:
                    log.warning(
                        "extraction refused by model %s (status %s, code %s)", exc.model, exc.status, exc.code
                    )
                    await self.status.extraction_failed()
                    return None
                log.info("model %s refused %s output; trying %s", exc.model, mode, lower)
                mode = lower
                continue
            self._modes[completion.model] = mode
            await self.budget.charge(scope, completion.usage.total_tokens)
            return completion

    def _step_down(self, exc: LLMRequestError, mode: OutputMode) -> OutputMode | None:
        # Only auto mode experiments; an operator's explicit choice is respected, even if it fails.
        if self.settings.structured_output != "auto" or exc.code in _HOPELESS_CODES:
            return None
        if exc.status not in (400, 422) or mode == OUTPUT_MODES[-1]:
            return None
        lower = OUTPUT_MODES[OUTPUT_MODES.index(mode) + 1]
        self._modes[exc.model] = lower
        return lower

    # ------------------------------------------------------------ storing

    async def store(self, scope: Scope, turn: TurnRecord, facts: Sequence[Fact]) -> int:
        """Store each fact in the speaker's scope (superseding older values); return how many."""
        speaker = turn.speaker or "the person"
        for fact in facts:
            meta: dict[str, Any] = {"category": fact.kind}
            key, text = fact.key, fact.text
            if fact.about is not None:
                # The speaker's report about someone else: theirs to recall, never the other person's.
                key = f"about:{normalise_key(fact.about)}:{fact.key}"
                text = f"{speaker} said: {fact.text}"
                meta["about"] = fact.about
            await self.storage.add_memory(
                scope,
                text,
                kind="fact",
                speaker=turn.speaker,
                importance=fact.importance,
                source_turn_ids=[turn.id],
                valid_from=turn.created_at,
                key=key,
                value=fact.value,
                meta=meta,
            )
        return len(facts)
