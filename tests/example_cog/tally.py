"""The tally itself: plain Python, no Discord, so a test (or the console) can drive it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.pipeline.budget import Section
from bot.pipeline.message import TurnInput
from bot.reflection.jobs import job_scope, scope_payload
from storage.queue import Job
from storage.scope import Scope
from storage.service import StorageService

JOB_TYPE = "example.tally"
SETTINGS_KEY = "example_tally"  # the person's own settings row: exported and forgotten with them
STATUS_NOTE = "example.tally"
_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Tally:
    messages: int = 0
    words: int = 0
    last_turn_id: int = 0  # makes the processor idempotent: a job run twice counts once

    @classmethod
    def of(cls, settings: dict[str, Any]) -> Tally:
        """Read the tally out of a person's settings (all zero when there is none yet)."""
        raw = settings.get(SETTINGS_KEY) or {}
        return cls(int(raw.get("messages", 0)), int(raw.get("words", 0)), int(raw.get("last_turn_id", 0)))

    def describe(self) -> str:
        """Say the tally in one line."""
        return f"{self.messages} messages, {self.words} words"


class TallyService:
    """Everything the tally does, given the storage service."""

    def __init__(self, storage: StorageService) -> None:
        self.storage = storage
        self.processed = 0

    async def tally(self, scope: Scope) -> Tally:
        """Return this person's tally."""
        return Tally.of(await self.storage.user_settings(scope))

    # after-turn hook: runs once the reply is out, so the person never waits for it
    async def enqueue(self, turn: TurnInput, user_turn_id: int, reply_turn_id: int | None) -> None:
        """Queue the counting of a recorded turn (keyed by turn id, so a replay is not counted twice)."""
        # Ids only, never the message text: the processor reads the turn back from storage.
        payload = {"scope": scope_payload(turn.scope), "turn_id": user_turn_id}
        await self.storage.enqueue_job(JOB_TYPE, f"tally:{user_turn_id}", payload, scope=turn.scope)

    # reflection processor: the worker calls it with the jobs it claimed
    async def process(self, jobs: list[Job]) -> None:
        """Count the words of each job's turn into its person's tally."""
        for job in jobs:
            scope = job_scope(job.payload)
            turn_id = int(job.payload["turn_id"])
            current = await self.tally(scope)
            if turn_id <= current.last_turn_id:
                continue
            turns = await self.storage.turns_for_indexing(scope, [turn_id])
            words = sum(len(_WORD.findall(t.text)) for t in turns)
            updated = Tally(current.messages + 1, current.words + words, turn_id)
            await self.storage.update_user_settings(
                scope,
                {
                    SETTINGS_KEY: {
                        "messages": updated.messages,
                        "words": updated.words,
                        "last_turn_id": updated.last_turn_id,
                    }
                },
            )
            self.processed += 1

    # scheduled job: a plain coroutine without arguments
    async def digest(self) -> dict[str, Any]:
        """Save how many turns this process has tallied as a status note (storage.status_note)."""
        note = {"processed": self.processed, "at": datetime.now(UTC).isoformat()}
        await self.storage.put_status_note(STATUS_NOTE, note)
        return note


class TallyProvider:
    """Context provider: tells the model how much this person has said so far."""

    name = "example.tally"

    def __init__(self, service: TallyService) -> None:
        self.service = service

    async def provide(self, turn: TurnInput) -> list[Section]:
        """Return one low-priority section with the tally, or nothing for a newcomer."""
        tally = await self.service.tally(turn.scope)
        if tally.messages == 0:
            return []
        line = f"{turn.author} has sent you {tally.describe()} before this one."
        return [Section(self.name, priority=20, units=[line])]
