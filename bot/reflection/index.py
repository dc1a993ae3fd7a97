"""The ``index`` job: add recorded turns to the semantic index, many people's turns per embedding call."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from bot.reflection.jobs import job_scope, message_key, scope_payload
from storage.embedding.base import EmbeddingError
from storage.queue import Job, RetryLater
from storage.records import TurnRecord
from storage.scope import Scope
from storage.service import StorageService
from storage.vectors.base import VectorsUnavailable

log = logging.getLogger(__name__)

INDEX = "index"


def index_payload(scope: Scope, turn_ids: Sequence[int]) -> dict[str, Any]:
    """Return the payload of an index job: whose turns, and which."""
    return {"scope": scope_payload(scope), "turn_ids": [int(i) for i in turn_ids]}


def index_key(scope: Scope, turns: Sequence[TurnRecord]) -> str:
    """Return the job key: the platform message the turns answer to, else the first turn's id."""
    first = turns[0]
    with_message = next((t for t in turns if t.message_id), None)
    if with_message is not None and with_message.message_id is not None:
        return message_key(scope, with_message.message_id)
    return f"t{first.id}"


async def enqueue_index(
    storage: StorageService, scope: Scope, turns: Sequence[TurnRecord], *, urgent: bool = False
) -> bool:
    """Enqueue indexing of these turns (once per message); return False if it was enqueued before."""
    if not turns:
        return False
    return await storage.enqueue_job(
        INDEX,
        index_key(scope, turns),
        index_payload(scope, [t.id for t in turns]),
        scope=scope,
        urgent=urgent,
    )


class IndexProcessor:
    """Indexes the turns of a batch of jobs with one embedding call."""

    def __init__(self, storage: StorageService) -> None:
        self.storage = storage

    async def __call__(self, jobs: list[Job]) -> None:
        """Load each job's turns (scoped to its owner) and index them all together."""
        wanted: dict[Scope, set[int]] = {}
        for job in jobs:
            wanted.setdefault(job_scope(job.payload), set()).update(int(i) for i in job.payload["turn_ids"])
        found = await self.storage.turns_for_indexing_many({s: sorted(ids) for s, ids in wanted.items()})
        # The index holds what `reindex` rebuilds from SQL: the person's own words.
        groups = [(scope, [t for t in turns if t.role == "user"]) for scope, turns in found.items()]
        try:
            indexed = await self.storage.index_turn_groups(groups)
        except (EmbeddingError, VectorsUnavailable) as exc:
            raise RetryLater(f"the semantic index is unavailable ({type(exc).__name__})") from exc
        log.debug("indexed %s turns for %s jobs", indexed, len(jobs))
