"""Export and forget-me across every tier: SQL rows, cache keys, vector collections and queued jobs.

Run on SQLite + the in-process cache + embedded Chroma, and on PostgreSQL + Redis + a Chroma server; and
with a private Redis that goes away in the middle of a forget-me and comes back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select

from cogs.memory.feature import ForgetSweep
from storage.cache import FailoverCache
from storage.config import CacheSettings, QueueSettings
from storage.personal_data import FORGET_SWEEP, count_person_rows
from storage.queue import RetryLater
from storage.scope import Scope
from storage.service import StorageService
from storage.sql.models import Job
from storage.vectors.base import Partition
from tests.conftest import RedisProcess
from tests.integration import test_storage_service
from tests.integration.test_storage_service import storage_settings

ALICE = Scope(user_id="4100", guild_id="1", channel_id="10")
ALICE_DM = Scope(user_id="4100", channel_id="dm41")
# A person whose id starts like Alice's: nothing of theirs may go with her.
ALICE_PREFIX_TWIN = Scope(user_id="410", guild_id="1", channel_id="10")
BOB = Scope(user_id="4200", guild_id="1", channel_id="10")

# The storage service's fixture: SQLite + in-process cache + local Chroma, PostgreSQL + Redis + a server.
storage = test_storage_service.storage


async def populate(storage: StorageService, scope: Scope, *, words: str = "Biscuit") -> None:
    """Give a person data in every tier: turns, memories with history, vectors, cache keys, jobs, patterns."""
    for place in (scope, Scope(scope.user_id, None, f"dm{scope.user_id}", scope.platform)):
        turn = await storage.record_turn(
            place, "user", f"my dog {words} loves the park", message_id=f"m{place.realm}"
        )
        await storage.record_turn(place, "assistant", "lovely", message_id=f"m{place.realm}:reply")
        await storage.index_turns(place, [turn])
        await storage.recent_turns(place)  # fills the cached window
    await storage.add_memory(scope, "Lives in Lisbon", key="lives_in", value="Lisbon")
    await storage.add_memory(scope, "Lives in Porto", key="lives_in", value="Porto")  # supersedes Lisbon
    await storage.add_memory(scope, f"Has a dog called {words}")
    await storage.list_memories(scope)  # caches the readable realms
    await storage.take_rate_tokens("user", scope.user_key, 5, 1)
    await storage.enqueue_job("semantic", f"{scope.user_key}:job", {"n": 1}, scope=scope)
    # A job enqueued without an owner, naming the person only in its payload.
    await storage.jobs.enqueue(
        "episodic",
        f"{scope.user_key}:orphan",
        {"scope": {"platform": scope.platform, "user_id": scope.user_id}},
    )
    await storage.memory.learn(scope, "pins", {"people": 0.6})
    await storage.memory.set_paused(scope, False)


async def realms_with_vectors(storage: StorageService, scope: Scope) -> list[str]:
    found = []
    for realm in (ALICE.realm, ALICE_DM.realm):
        if (await storage.vectors.get(storage.space, Partition(scope.user_key, realm))).ids:
            found.append(realm)
    return found


async def jobs_naming(storage: StorageService, scope: Scope) -> int:
    async with storage.engine.connect() as conn:
        rows = (await conn.execute(select(Job.job_key).where(Job.job_type != FORGET_SWEEP))).all()
    return sum(1 for (key,) in rows if key.split(":", 1)[1].startswith(scope.user_key + ":"))


async def test_export_holds_every_tier_and_the_history_of_memories(storage: StorageService) -> None:
    await populate(storage, ALICE)
    await populate(storage, BOB, words="Rex")
    document = await storage.personal.export(ALICE.platform, ALICE.user_id)
    sql = document["sql"]
    assert document["person"]["id"] == ALICE.user_id and document["format"] == "kindred-export/1"
    assert {t["text"] for t in sql["turns"]} >= {"my dog Biscuit loves the park", "lovely"}
    assert len(sql["turns"]) == 4 and all("Rex" not in t["text"] for t in sql["turns"])
    lisbon = next(m for m in sql["memories"] if m["text"] == "Lives in Lisbon")
    assert lisbon["valid_to"] is not None  # superseded, kept as history
    assert [v["text"] for v in document["memory_history"][0]["versions"]] == [
        "Lives in Lisbon",
        "Lives in Porto",
    ]
    assert sql["importance_patterns"][0]["feature"] == "people"
    assert len(sql["job_outbox"]) == 1
    assert any(key.startswith("realms:") for key in document["cache"]["keys"])
    assert all(ALICE.user_key in key.split(":") for key in document["cache"]["keys"])
    assert set(document["vectors"]) == {ALICE.realm, ALICE_DM.realm}
    assert document["vectors"][ALICE.realm]["ids"]


async def test_forget_me_leaves_nothing_in_any_tier_and_spares_everyone_else(storage: StorageService) -> None:
    await populate(storage, ALICE)
    await populate(storage, ALICE_PREFIX_TWIN, words="Twin")
    await populate(storage, BOB, words="Rex")
    twin_rows = await count_person_rows(storage._sessions, "discord", ALICE_PREFIX_TWIN.user_id)
    report = await storage.personal.forget(ALICE.platform, ALICE.user_id)
    assert report.complete and report.sql["turns"] == 4 and report.sql["users"] == 1
    assert report.cache_keys and report.vector_collections == 2
    assert await count_person_rows(storage._sessions, ALICE.platform, ALICE.user_id) == 0
    assert await storage.cache.keys_with_segment(ALICE.user_key) == []
    assert await realms_with_vectors(storage, ALICE) == []
    assert await storage.vectors.drop_user(ALICE.user_key) == 0
    assert await jobs_naming(storage, ALICE) == 0  # the owned job and the orphan naming her
    # Everyone else keeps everything, the person whose id merely starts the same included.
    assert await count_person_rows(storage._sessions, "discord", ALICE_PREFIX_TWIN.user_id) == twin_rows
    assert await storage.cache.keys_with_segment(ALICE_PREFIX_TWIN.user_key)
    assert await realms_with_vectors(storage, BOB) == [BOB.realm, ALICE_DM.realm]
    assert await jobs_naming(storage, BOB) == 2
    assert "Has a dog called Rex" in [m.text for m in await storage.list_memories(BOB)]


async def test_forget_me_twice_is_safe_and_the_person_can_start_again(storage: StorageService) -> None:
    await populate(storage, ALICE)
    await storage.personal.forget(ALICE.platform, ALICE.user_id)
    again = await storage.personal.forget(ALICE.platform, ALICE.user_id)
    assert again.sql_rows == 0 and again.complete
    # The service's id cache must not hand out the deleted person's row.
    await storage.record_turn(ALICE, "user", "hello again", message_id="after")
    document = await storage.personal.export(ALICE.platform, ALICE.user_id)
    assert [t["text"] for t in document["sql"]["turns"]] == ["hello again"]


# ---------------------------------------------------------------- Redis away during a forget-me


async def raw_keys(url: str, segment: str) -> list[str]:
    client: Any = Redis.from_url(url, decode_responses=True)
    try:
        return [k async for k in client.scan_iter(match=f"*{segment}*")]
    finally:
        await client.aclose()


async def save_and_stop(server: RedisProcess) -> None:
    """Stop the private Redis with its keys written to disk (--dir), so they are back when it restarts."""
    client: Any = Redis.from_url(server.url)
    try:
        await client.save()
    finally:
        await client.aclose()
    server.stop()


async def test_forget_me_with_redis_down_deletes_sql_now_and_the_rest_when_redis_returns(
    tmp_path: Path, redis_process: RedisProcess
) -> None:
    settings = storage_settings(
        tmp_path,
        f"sqlite+aiosqlite:///{tmp_path / 'k.db'}",
        cache=CacheSettings(backend="redis", redis_url=redis_process.url, reconnect_interval_s=3600),
    )
    settings = settings.model_copy(update={"queue": QueueSettings(backend="sql")})
    storage = await StorageService.open(settings)
    try:
        await populate(storage, ALICE)
        assert await raw_keys(redis_process.url, ALICE.user_key)
        await save_and_stop(redis_process)

        report = await storage.personal.forget(ALICE.platform, ALICE.user_id)
        assert report.queued == ["cache"] and report.cache_keys is None
        assert await count_person_rows(storage._sessions, ALICE.platform, ALICE.user_id) == 0
        assert report.vector_collections == 2  # the vector tier was up: done at once
        sweep = ForgetSweep(storage)
        jobs = [j for j in await storage.jobs.claim("test", 10) if j.job_type == FORGET_SWEEP]
        assert len(jobs) == 1
        with pytest.raises(RetryLater):  # still away: the job is retried, never dropped
            await sweep(jobs)
        await storage.jobs.release("test", jobs)

        redis_process.start()
        assert await raw_keys(redis_process.url, ALICE.user_key)  # Redis kept them through the outage
        cache = storage.cache
        assert isinstance(cache, FailoverCache)
        assert await cache.try_reconnect()
        jobs = [j for j in await storage.jobs.claim("test", 10) if j.job_type == FORGET_SWEEP]
        await sweep(jobs)
        await storage.jobs.complete("test", jobs)
        assert await raw_keys(redis_process.url, ALICE.user_key) == []
        async with storage.engine.connect() as conn:
            pending = await conn.scalar(
                select(func.count())
                .select_from(Job)
                .where(Job.job_type == FORGET_SWEEP, Job.status != "done")
            )
        assert pending == 0
    finally:
        await storage.close()
