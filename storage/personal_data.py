"""Everything Kindred holds about one person, across every tier: export it, or forget it.

The SQL part is generic: every table with a ``user_id`` column that references ``users.id`` is a per-person
table (the rule every feature's tables follow), so a feature's new table is exported and forgotten without
a change here. Outside SQL, a person's cache keys carry their ``user_key`` as a ``:``-separated part, and
their vectors live in collections named after it.

Forgetting deletes the SQL rows at once, in one transaction: that is the source of truth, and once it is
gone nothing can bring the rest back (the vector index is rebuilt from SQL, the cache reloads from it). The
cache and vector sweep is recorded as a durable job first and then tried right away; if Redis or Chroma is
away, the job finishes it when they return.
"""

from __future__ import annotations

import base64
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.cache import Cache
from storage.cache.base import CacheUnavailable
from storage.queue import JobQueue
from storage.sql.models import Base, Job, User, utcnow
from storage.sql.repositories import PeopleRepo
from storage.sql.uow import UnitOfWork
from storage.vectors.base import Partition, VectorIndex, VectorsUnavailable

log = logging.getLogger(__name__)

FORGET_SWEEP = "forget_sweep"
EXPORT_FORMAT = "kindred-export/1"
# Scanned for jobs that name the person only in their payload (enqueued without an owner).
ORPHAN_JOB_SCAN = 10_000


@dataclass(slots=True)
class ForgetReport:
    """What forgetting one person removed, per tier. None means "queued: finished when the tier returns"."""

    sql: dict[str, int] = field(default_factory=dict)
    cache_keys: int | None = 0
    vector_collections: int | None = 0
    queued: list[str] = field(default_factory=list)

    @property
    def sql_rows(self) -> int:
        return sum(self.sql.values())

    @property
    def complete(self) -> bool:
        return not self.queued


def person_tables() -> list[Table]:
    """Return every table holding per-person rows, children before parents (the order to delete in)."""
    tables = []
    for table in Base.metadata.sorted_tables:
        column = table.columns.get("user_id")
        if column is not None and any(fk.column.table.name == "users" for fk in column.foreign_keys):
            tables.append(table)
    return list(reversed(tables))


class PersonalData:
    """Export or forget everything about one person (``platform``, their id on that platform)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        cache: Cache,
        vectors: VectorIndex,
        jobs: JobQueue,
        space: str,
        id_caches: tuple[OrderedDict[Any, Any], dict[tuple[int, int], Any]],
    ) -> None:
        self._sessions = sessions
        self._cache = cache
        self._vectors = vectors
        self._jobs = jobs
        self._space = space
        # The storage service's caches of (scope -> ids) and ((user, place) -> open session): a forgotten
        # person's ids must not be reused from them (SQLite even hands the same user id out again).
        self._resolved, self._open_sessions = id_caches

    # ------------------------------------------------------------ export

    async def export(self, platform: str, user_id: str) -> dict[str, Any]:
        """Return everything held about the person as JSON-ready data (see docs/memory-controls.md)."""
        user_key = f"{platform}.{user_id}"
        document: dict[str, Any] = {
            "format": EXPORT_FORMAT,
            "exported_at": utcnow().isoformat(),
            "person": {"platform": platform, "id": user_id},
            "sql": {},
            "cache": {"keys": []},
            "vectors": {},
        }
        async with UnitOfWork(self._sessions) as uow:
            user = await PeopleRepo(uow.session).find_user(platform, user_id)
            if user is not None:
                document["sql"]["users"] = [
                    _plain({c.name: getattr(user, c.key) for c in User.__table__.columns})
                ]
                for table in person_tables():
                    rows = await uow.session.execute(
                        select(table).where(table.c.user_id == user.id).order_by(*table.primary_key.columns)
                    )
                    document["sql"][table.name] = [_plain(dict(r._mapping)) for r in rows]
                realms = sorted(
                    {str(m["realm"]) for m in document["sql"].get("memories", [])}
                    | {str(t["realm"]) for t in document["sql"].get("turns", [])}
                )
            else:
                realms = []
        document["memory_history"] = _histories(document["sql"].get("memories", []))
        try:
            document["cache"]["keys"] = sorted(await self._cache.keys_with_segment(user_key))
        except CacheUnavailable:
            document["cache"] = {"unavailable": True, "keys": []}
        for realm in realms:
            try:
                stored = await self._vectors.get(self._space, Partition(user_key, realm))
            except VectorsUnavailable:
                document["vectors"] = {"unavailable": True}
                break
            document["vectors"][realm] = {"ids": stored.ids, "metadata": stored.metadatas}
        return document

    # ------------------------------------------------------------ forget

    async def forget(self, platform: str, user_id: str) -> ForgetReport:
        """Delete everything about the person; safe to repeat. Cache and vectors follow when reachable."""
        user_key = f"{platform}.{user_id}"
        report = ForgetReport()
        # Queued before the SQL delete: a crash between the two still leaves the sweep to be done.
        await self._jobs.enqueue(
            FORGET_SWEEP, f"{user_key}:{utcnow().timestamp():.6f}", {"user_key": user_key}
        )
        async with UnitOfWork(self._sessions) as uow:
            user = await PeopleRepo(uow.session).find_user(platform, user_id)
            if user is not None:
                for table in person_tables():
                    result = await uow.session.execute(delete(table).where(table.c.user_id == user.id))
                    if result.rowcount:  # type: ignore[attr-defined]
                        report.sql[table.name] = int(result.rowcount)  # type: ignore[attr-defined]
                await uow.session.execute(delete(User).where(User.id == user.id))
                report.sql["users"] = 1
            orphans = await _orphan_jobs(uow.session, platform, user_id)
            if orphans:
                await uow.session.execute(delete(Job).where(Job.id.in_(orphans)))
                report.sql["job_outbox"] = report.sql.get("job_outbox", 0) + len(orphans)
            await uow.commit()
        for key in [k for k in self._resolved if k[0] == platform and k[1] == user_id]:
            self._resolved.pop(key, None)
        if user is not None:
            for session_key in [k for k in self._open_sessions if k[0] == user.id]:
                self._open_sessions.pop(session_key, None)
        swept = await self.sweep(user_key)
        report.cache_keys, report.vector_collections = swept.cache_keys, swept.vector_collections
        report.queued = swept.queued
        log.info(
            "forgot a person: %s SQL rows; queued for later: %s", report.sql_rows, report.queued or "none"
        )
        return report

    async def sweep(self, user_key: str) -> ForgetReport:
        """Delete the person's cache keys and vector collections; a tier that is away goes in ``queued``."""
        report = ForgetReport()
        try:
            report.cache_keys = await self._cache.delete_segment(user_key)
        except CacheUnavailable:
            report.cache_keys = None
            report.queued.append("cache")
        try:
            report.vector_collections = await self._vectors.drop_user(user_key)
        except VectorsUnavailable:
            report.vector_collections = None
            report.queued.append("vectors")
        return report


async def _orphan_jobs(session: AsyncSession, platform: str, user_id: str) -> list[int]:
    """Return ids of jobs with no owner whose payload's scope names the person."""
    rows = await session.execute(
        select(Job.id, Job.payload)
        .where(Job.user_id.is_(None), Job.job_type != FORGET_SWEEP)
        .order_by(Job.id.desc())
        .limit(ORPHAN_JOB_SCAN)
    )
    found = []
    for job_id, payload in rows.all():
        scope = (payload or {}).get("scope") if isinstance(payload, dict) else None
        if (
            isinstance(scope, dict)
            and str(scope.get("user_id")) == user_id
            and str(scope.get("platform", "discord")) == platform
        ):
            found.append(int(job_id))
    return found


async def count_person_rows(sessions: async_sessionmaker[AsyncSession], platform: str, user_id: str) -> int:
    """Return how many SQL rows anywhere belong to the person (0 once forgotten): for checks and tests."""
    async with UnitOfWork(sessions) as uow:
        user = await PeopleRepo(uow.session).find_user(platform, user_id)
        if user is None:
            return 0
        total = 1
        for table in person_tables():
            total += int(
                await uow.session.scalar(
                    select(func.count()).select_from(table).where(table.c.user_id == user.id)
                )
                or 0
            )
        return total


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {name: _json_value(value) for name, value in values.items()}


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        # Quantised vectors of the cold tier: derived from the text, kept for completeness.
        return {"base64": base64.b64encode(bytes(value)).decode("ascii")}
    return value


def _histories(memories: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Group memory versions into chains, current version last: what was corrected or replaced, and when."""
    by_id = {int(m["id"]): m for m in memories}
    successors = {int(m["id"]): m.get("superseded_by") for m in memories}
    chains = []
    for memory_id in sorted(by_id):
        if any(s == memory_id for s in successors.values()):
            continue  # not the oldest version of its chain
        chain: list[dict[str, Any]] = []
        current: int | None = memory_id
        seen: set[int] = set()
        while current is not None and current in by_id and current not in seen:
            seen.add(current)
            chain.append(
                {
                    k: by_id[current][k]
                    for k in ("id", "text", "valid_from", "valid_to")
                    if k in by_id[current]
                }
            )
            current = successors.get(current)
        if len(chain) > 1:
            chains.append({"versions": chain})
    return chains
