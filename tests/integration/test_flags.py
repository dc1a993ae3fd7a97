"""Runtime feature flags on SQLite and PostgreSQL + Redis: values, caching, and automatic rollback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import FlagSettings, LLMModelSettings, LLMSettings
from bot.flags import SYSTEM_ACTOR, Flags
from bot.llm import LLMRouter
from bot.llm.errors import LLMError
from storage.config import CacheSettings, SQLSettings, StorageSettings
from storage.service import StorageService
from tests.conftest import REDIS_HOST, REDIS_PORT, fresh_postgres_db, require_service
from tests.fakes.openai_api import FakeOpenAI, RecordedRequest


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "postgres+redis"])
async def storage(
    request: pytest.FixtureRequest, tmp_path: Path, redis_prefix: str
) -> AsyncIterator[StorageService]:
    """Yield storage on SQLite + in-process cache, or PostgreSQL + Redis (vectors embedded in both)."""
    if request.param == "sqlite":
        settings = StorageSettings(
            data_dir=tmp_path, sql=SQLSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'k.db'}")
        )
        service = await StorageService.open(settings)
        yield service
        await service.close()
        return
    require_service("Redis", REDIS_HOST, REDIS_PORT)
    async with fresh_postgres_db() as url:
        cache = CacheSettings(
            backend="redis", redis_url=f"redis://{REDIS_HOST}:{REDIS_PORT}/0", key_prefix=redis_prefix
        )
        service = await StorageService.open(
            StorageSettings(data_dir=tmp_path, sql=SQLSettings(url=url), cache=cache)
        )
        try:
            yield service
        finally:
            await service.cache.delete_prefix("")
            await service.close()


def make_flags(storage: StorageService, clock: Clock | None = None, **settings: Any) -> Flags:
    return Flags(storage.admin, FlagSettings(**settings), {"synthesis_mode": False}, clock=clock or Clock())


async def test_a_flag_follows_default_then_global_then_guild_value(storage: StorageService) -> None:
    flags = make_flags(storage)
    assert await flags.enabled("reflection", "g1") is True  # default
    await flags.set("reflection", False, by="1")
    assert await flags.enabled("reflection", "g1") is False
    await flags.set("reflection", True, guild_id="g1", by="1")
    assert await flags.enabled("reflection", "g1") is True
    assert await flags.enabled("reflection", "g2") is False
    await flags.set("reflection", None, guild_id="g1", by="1")  # back to following the global value
    assert await flags.enabled("reflection", "g1") is False


async def test_another_process_sees_a_change_once_its_cache_ttl_passes(storage: StorageService) -> None:
    clock = Clock()
    mine, theirs = make_flags(storage), make_flags(storage, clock, cache_ttl_s=5.0)
    assert await theirs.enabled("fast_path") is True
    await mine.set("fast_path", False, by="1")
    assert await theirs.enabled("fast_path") is True  # still its snapshot: no SQL read per call
    clock.now += 5.0
    assert await theirs.enabled("fast_path") is False


async def test_unknown_flags_are_refused_and_declared_ones_work(storage: StorageService) -> None:
    flags = make_flags(storage)
    with pytest.raises(KeyError, match="unknown feature flag 'nope'"):
        await flags.enabled("nope")
    with pytest.raises(KeyError):
        await flags.set("nope", True)
    flags.declare("crystal_maps", False, "constellation maps")
    assert await flags.enabled("crystal_maps") is False
    assert "crystal_maps" in flags.names()


async def test_states_show_where_each_value_comes_from(storage: StorageService) -> None:
    flags = make_flags(storage)
    await flags.set("emotional_support", False, guild_id="g1", by="1")
    state = next(s for s in await flags.states("g1") if s.name == "emotional_support")
    assert (state.default, state.global_value, state.guild_value, state.effective) == (
        True,
        None,
        False,
        False,
    )


async def test_error_rate_over_the_threshold_switches_a_flag_off_audits_and_tells_admins(
    storage: StorageService,
) -> None:
    told: list[str] = []
    flags = make_flags(storage, rollback_min_samples=20, rollback_error_rate=0.05)

    async def tell(text: str) -> None:
        told.append(text)

    flags.on_rollback.append(tell)
    for _ in range(19):
        assert await flags.record("reflection", True) is False
    assert await flags.record("reflection", False) is False  # 1 of 20: exactly 5%, not past it
    assert await flags.enabled("reflection") is True
    assert await flags.record("reflection", False) is True  # 2 of 21: past 5%
    assert await flags.enabled("reflection") is False
    assert len(told) == 1 and "reflection" in told[0] and "switched off automatically" in told[0]
    entries, total = await storage.admin.audit_page(None, None)
    assert total == 1 and entries[0].action == "flags.rollback" and entries[0].actor_id == SYSTEM_ACTOR
    assert entries[0].target == "reflection" and entries[0].detail["samples"] == 21


async def test_too_few_samples_or_old_failures_never_trip(storage: StorageService) -> None:
    clock = Clock()
    flags = make_flags(storage, clock, rollback_min_samples=10, rollback_window_s=60)
    for _ in range(5):
        assert await flags.record("fast_path", False) is False  # 100% failing, but only 5 samples
    clock.now += 61  # those failures leave the window
    for _ in range(10):
        assert await flags.record("fast_path", True) is False
    assert await flags.enabled("fast_path") is True


async def test_switching_a_flag_back_on_starts_its_error_count_afresh(storage: StorageService) -> None:
    flags = make_flags(storage, rollback_min_samples=3)
    for ok in (True, True, False):
        await flags.record("fast_path", ok)
    assert await flags.enabled("fast_path") is False
    await flags.set("fast_path", True, by="1")
    assert await flags.record("fast_path", True) is False
    assert await flags.enabled("fast_path") is True


def _draft(request: RecordedRequest) -> bool:
    return not request.stream  # synthesis drafts are plain completions; the fallback reply is streamed


async def test_failing_synthesis_rolls_back_to_plain_streamed_replies(
    storage: StorageService, openai_server: FakeOpenAI
) -> None:
    model = LLMModelSettings(name="a", base_url=openai_server.base_url, model="model-a", api_key="k")
    router = LLMRouter.from_settings(
        LLMSettings(models=[model], breaker_failure_threshold=100, breaker_min_calls=1000)
    )
    flags = make_flags(storage, rollback_min_samples=4)
    router.flags = flags
    await flags.set("synthesis_mode", True, by="1")
    messages = [{"role": "user", "content": "hello"}]
    try:
        for _ in range(3):
            assert "".join([c async for c in router.reply(messages)])
        assert sum(1 for r in openai_server.requests if _draft(r)) == 6  # two drafts per reply
        openai_server.configure("model-a", status_for=lambda r: 500 if _draft(r) else None)
        with pytest.raises(LLMError):
            _ = [c async for c in router.reply(messages)]  # the 4th outcome, failed: 25% > 5%
        assert await flags.enabled("synthesis_mode") is False
        drafts_before = sum(1 for r in openai_server.requests if _draft(r))
        assert "".join([c async for c in router.reply(messages)])  # baseline: one streamed reply
        assert sum(1 for r in openai_server.requests if _draft(r)) == drafts_before
        assert openai_server.requests[-1].stream
    finally:
        await router.close()
