"""The index job end to end: enqueued turns are indexed by the worker, batched; none is lost or doubled."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.reflection import INDEX, default_registry, enqueue_index
from bot.reflection.index import index_payload
from bot.worker import Worker
from storage.config import CacheSettings, EmbeddingSettings, QueueSettings, SQLSettings, StorageSettings
from storage.embedding import make_embedder
from storage.embedding.base import Embedder, EmbeddingError, Vectors
from storage.scope import Scope
from storage.service import StorageService
from storage.sql.models import Job as JobRow
from tests.conftest import RedisProcess, fresh_postgres_db

ALICE = Scope(user_id="100", guild_id="1", channel_id="10")
BOB = Scope(user_id="200", guild_id="1", channel_id="10")
QUEUE = {
    "lease_s": 10.0,
    "backoff_base_s": 0.05,
    "backoff_cap_s": 0.5,
    "poll_interval_s": 0.1,
    "batch_max_wait_s": 0.2,
    "redrive_after_s": 1.0,
    "sweep_interval_s": 0.5,
    "stop_grace_s": 2.0,
}


class CountingEmbedder:
    """The real embedder, counting its calls; it can be switched off to act out an outage."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.calls = 0
        self.down = False

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    async def embed(self, texts: Sequence[str]) -> Vectors:
        if self.down:
            raise EmbeddingError("embedding provider unreachable")
        self.calls += 1
        return await self.inner.embed(texts)

    async def probe(self) -> int:
        return await self.inner.probe()

    async def close(self) -> None:
        """Leave the shared model loaded for the module's other tests."""


@pytest.fixture(scope="module")
def real_embedder() -> Embedder:
    """Load the shipped model once for the module."""
    return make_embedder(EmbeddingSettings())


@pytest.fixture
def embedder(real_embedder: Embedder) -> CountingEmbedder:
    return CountingEmbedder(real_embedder)


def settings_for(
    tmp_path: Path, url: str, redis: RedisProcess | None = None, **queue: float
) -> StorageSettings:
    return StorageSettings(
        data_dir=tmp_path / "data",
        sql=SQLSettings(url=url, connect_retries=0),
        cache=CacheSettings(
            redis_url=redis.url if redis else "redis://127.0.0.1:1/0", reconnect_interval_s=0.2
        ),
        queue=QueueSettings(backend="redis" if redis else "sql", **{**QUEUE, **queue}),
    )


@pytest.fixture
async def storage(tmp_path: Path, embedder: CountingEmbedder) -> AsyncIterator[StorageService]:
    """Yield embedded storage (SQLite, SQL outbox, local Chroma) with the counting embedder."""
    service = await StorageService.open(
        settings_for(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'k.db'}"), embedder=embedder
    )
    try:
        yield service
    finally:
        await service.close()


async def until(check: Callable[[], Awaitable[bool]], what: str, within_s: float = 30.0) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def count_jobs(storage: StorageService, status: str) -> int:
    async with storage.engine.connect() as conn:
        query = select(func.count()).select_from(JobRow).where(JobRow.status == status)
        return int(await conn.scalar(query) or 0)


def start_worker(storage: StorageService) -> Worker:
    worker = Worker(storage.jobs, default_registry(storage), storage.settings.queue)
    worker.start()
    return worker


async def test_indexed_turn_is_found_by_semantic_search(storage: StorageService) -> None:
    turn = await storage.record_turn(ALICE, "user", "my sister Maya plays the cello", message_id="m1")
    assert await enqueue_index(storage, ALICE, [turn])
    worker = start_worker(storage)
    try:
        await until(lambda: _has(count_jobs(storage, "done"), 1), "the index job")
    finally:
        await worker.stop()
    hits = await storage.search(ALICE, "who plays the cello", kinds=("turn",))
    assert [(h.id, "semantic" in h.reasons) for h in hits] == [(turn.id, True)]


async def test_same_message_is_enqueued_for_indexing_once(storage: StorageService) -> None:
    turn = await storage.record_turn(ALICE, "user", "hello", message_id="m1")
    assert await enqueue_index(storage, ALICE, [turn])
    assert not await enqueue_index(storage, ALICE, [turn])


async def test_index_jobs_share_embedding_calls(storage: StorageService, embedder: CountingEmbedder) -> None:
    people = [Scope(user_id=str(300 + i), guild_id="1", channel_id="10") for i in range(5)]
    for n in range(4):
        for person in people:
            turn = await storage.record_turn(
                person, "user", f"note {n} from {person.user_id}", message_id=f"{n}"
            )
            await enqueue_index(storage, person, [turn])
    embedder.calls = 0
    worker = start_worker(storage)
    try:
        await until(lambda: _has(count_jobs(storage, "done"), 20), "every index job")
    finally:
        await worker.stop()
    assert 0 < embedder.calls < 20
    assert await storage.vectors.count(storage.space) == 20


async def test_only_the_persons_own_turns_are_indexed(storage: StorageService) -> None:
    asked = await storage.record_turn(ALICE, "user", "what is my favourite colour", message_id="m1")
    answer = await storage.record_turn(ALICE, "assistant", "you told me it is green", message_id="m1")
    await enqueue_index(storage, ALICE, [asked, answer])
    worker = start_worker(storage)
    try:
        await until(lambda: _has(count_jobs(storage, "done"), 1), "the index job")
    finally:
        await worker.stop()
    assert await storage.vectors.count(storage.space) == 1


async def test_index_job_cannot_reach_another_persons_turns(storage: StorageService) -> None:
    alices = await storage.record_turn(ALICE, "user", "a private thought", message_id="m1")
    # A job claiming to be Bob's that names Alice's turn indexes nothing.
    await storage.enqueue_job(INDEX, "forged", index_payload(BOB, [alices.id]), scope=BOB)
    worker = start_worker(storage)
    try:
        await until(lambda: _has(count_jobs(storage, "done"), 1), "the index job")
    finally:
        await worker.stop()
    assert await storage.vectors.count(storage.space) == 0


async def test_embedding_outage_holds_index_jobs_back_until_it_ends(
    storage: StorageService, embedder: CountingEmbedder
) -> None:
    embedder.down = True
    turn = await storage.record_turn(ALICE, "user", "I started learning Welsh", message_id="m1")
    await enqueue_index(storage, ALICE, [turn])
    worker = start_worker(storage)
    try:
        await until(lambda: _retrying(storage), "the job to be held back")
        embedder.down = False
        await until(lambda: _has(count_jobs(storage, "done"), 1), "the job to run after the outage")
    finally:
        await worker.stop()
    assert await count_jobs(storage, "dead") == 0


# ---------------------------------------------------------------- zero loss


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sql", "redis"])
async def test_no_turn_is_lost_or_indexed_twice_through_crashes_and_a_redis_restart(
    backend: str, tmp_path: Path, embedder: CountingEmbedder, request: pytest.FixtureRequest
) -> None:
    users, per_user = 100, 10
    redis: RedisProcess | None = request.getfixturevalue("redis_process") if backend == "redis" else None
    async with zero_loss_storage(tmp_path, redis, embedder) as storage:
        workers = [start_worker(storage), start_worker(storage)]

        async def person(i: int) -> None:
            scope = Scope(user_id=str(1000 + i), guild_id=str(i % 3), channel_id="c")
            for n in range(per_user):
                turn = await storage.record_turn(
                    scope, "user", f"message {n} of person {i}", message_id=f"{i}-{n}"
                )
                await enqueue_index(storage, scope, [turn])

        people = asyncio.gather(*(person(i) for i in range(users)))
        await until(lambda: _at_least(count_jobs(storage, "done"), 100), "the first jobs")
        # A crash: the task is cancelled with no grace and hands nothing back.
        crashed = workers.pop(0).start()  # start() on a running worker returns its task
        crashed.cancel()
        await asyncio.gather(crashed, return_exceptions=True)
        if redis is not None:
            await until(lambda: _at_least(count_jobs(storage, "done"), 300), "more jobs")
            redis.stop()
            await asyncio.sleep(0.5)
            redis.start()
        workers.append(start_worker(storage))
        await people
        try:
            await until(
                lambda: _has(count_jobs(storage, "done"), users * per_user), "every job", within_s=60.0
            )
        finally:
            for worker in workers:
                await worker.stop()
        assert await storage.vectors.count(storage.space) == users * per_user


@asynccontextmanager
async def zero_loss_storage(
    tmp_path: Path, redis: RedisProcess | None, embedder: Embedder
) -> AsyncIterator[StorageService]:
    """Yield PostgreSQL with the SQL outbox alone, or with Redis Streams on a Redis the test restarts.

    PostgreSQL, because at a hundred concurrent writers SQLite's lock wait, not the queue, is what gives
    way first (record_turn can exceed its busy timeout); the SQLite outbox has its own tests.
    """
    async with fresh_postgres_db() as url:
        # A short lease so the crashed worker's jobs come back quickly.
        settings = settings_for(tmp_path, url, redis, lease_s=6.0, batch_max_wait_s=0.05)
        storage = await StorageService.open(settings, embedder=embedder)
        try:
            yield storage
        finally:
            await storage.close()


async def _has(value: Awaitable[int], expected: int) -> bool:
    return await value == expected


async def _at_least(value: Awaitable[int], expected: int) -> bool:
    return await value >= expected


async def _retrying(storage: StorageService) -> bool:
    stats = await storage.jobs.stats()
    return stats.retrying == 1 and stats.in_flight == 0
