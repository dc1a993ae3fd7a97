"""Wiring: register the reflection processors with the worker and feed them after each turn."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.config import ReflectionSettings
from bot.llm import LLMRouter
from bot.pipeline.message import TurnInput
from bot.reflection.budget import ReflectionBudget, ReflectionStatus
from bot.reflection.episodic import EpisodicProcessor
from bot.reflection.index import INDEX, IndexProcessor, index_payload
from bot.reflection.jobs import EPISODIC, SEMANTIC, message_key, turn_payload
from bot.reflection.procedural import PROCEDURAL, ProceduralProcessor, detect_style
from bot.reflection.semantic import SemanticProcessor
from bot.worker import ProcessorRegistry
from storage.queue import NewJob
from storage.scope import Scope
from storage.service import StorageService
from storage.sql.engine import retry_while_unavailable

if TYPE_CHECKING:
    from bot.flags import FlagReader

log = logging.getLogger(__name__)

# How long a turn's jobs wait for an unreachable database.
ENQUEUE_RETRY_FOR_S = 300.0


class Reflection:
    """The reflection feature: its processors, and the after-turn hook that enqueues their jobs."""

    def __init__(
        self,
        storage: StorageService,
        llm: LLMRouter | None,
        settings: ReflectionSettings,
        *,
        bot_name: str = "Kindred",
    ) -> None:
        self.storage = storage
        self.llm = llm
        self.settings = settings
        self.budget = ReflectionBudget(storage, settings)
        self.status = ReflectionStatus(storage)
        self.semantic = SemanticProcessor(storage, llm, settings, self.budget, self.status)
        self.episodic = EpisodicProcessor(storage, llm, settings, self.budget, self.status, bot_name)
        self.procedural = ProceduralProcessor(storage)
        # The runtime "reflection" flag (set by the admin feature); None: only the settings decide.
        self.flags: FlagReader | None = None

    def register(self, registry: ProcessorRegistry) -> None:
        """Register index (unless already there), semantic, episodic and procedural processors."""
        if registry.get(INDEX) is None:
            registry.register(INDEX, IndexProcessor(self.storage), batch=True)
        # Always registered, even when switched off: queued jobs then finish as no-ops instead of
        # dead-lettering for want of a processor.
        registry.register(SEMANTIC, self.semantic)
        registry.register(EPISODIC, self.episodic)
        registry.register(PROCEDURAL, self.procedural)

    async def enqueue_reflection(self, turn: TurnInput, user_turn_id: int, reply_turn_id: int | None) -> None:
        """Enqueue a turn's background work (once per message): indexing always, reflection when enabled.

        ``reply_turn_id`` is None when no reply could be given; what the person said is still reflected on.
        While the database is unreachable (a restart, an outage) this keeps trying, within a bound: these
        jobs are the only record that the turn's reflection is owed, and they are keyed, so trying again
        after a write that did land adds nothing.
        """
        await retry_while_unavailable(
            lambda: self._enqueue(turn, user_turn_id, reply_turn_id),
            "enqueue a turn's reflection",
            for_s=ENQUEUE_RETRY_FOR_S,
        )

    async def _enqueue(self, turn: TurnInput, user_turn_id: int, reply_turn_id: int | None) -> None:
        scope = turn.scope
        key = message_key(scope, turn.message_id)
        ids = [i for i in (user_turn_id, reply_turn_id) if i is not None]
        # The jobs name the turns by id and nothing is read here: each processor reads them under their
        # owner's scope and leaves out a turn said while remembering was paused. All in one write.
        jobs = [NewJob(INDEX, key, index_payload(scope, ids))]
        if await self._reflecting(scope):
            payload = turn_payload(scope, user_turn_id, reply_turn_id)
            if self.settings.semantic_enabled and self.llm is not None:
                jobs.append(NewJob(SEMANTIC, key, payload))
            # The rules are cheap enough to run here, so a job is only queued for a turn that asks something.
            if self.settings.procedural_enabled and not detect_style(turn.text).empty:
                jobs.append(NewJob(PROCEDURAL, key, payload))
        await self.storage.enqueue_jobs(jobs, scope=scope)

    async def _reflecting(self, scope: Scope) -> bool:
        if not self.settings.enabled:
            return False
        return self.flags is None or await self.flags.enabled("reflection", scope.guild_id)


def register_reflection(
    registry: ProcessorRegistry,
    storage: StorageService,
    llm: LLMRouter | None,
    settings: ReflectionSettings,
    *,
    bot_name: str = "Kindred",
) -> Reflection:
    """Register the reflection processors; return the feature, whose ``enqueue_reflection`` is the hook."""
    reflection = Reflection(storage, llm, settings, bot_name=bot_name)
    reflection.register(registry)
    return reflection
