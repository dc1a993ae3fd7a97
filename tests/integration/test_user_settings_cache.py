"""A person's settings are cached (they are read on every turn) without ever serving a stale value where it
matters: a change through the service shows at once, one by another process within the cache's TTL, and
forget-me leaves nothing cached."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from storage import service as storage_service
from storage.config import StorageSettings
from storage.scope import Scope
from storage.service import StorageService

ALICE = Scope(user_id="42", channel_id="dm42")


@pytest.fixture
async def storage(tmp_path: Path) -> StorageService:
    opened = await StorageService.open(StorageSettings(data_dir=tmp_path / "data"))
    yield opened  # type: ignore[misc]
    await opened.close()


async def test_a_change_through_the_service_shows_at_once(storage: StorageService) -> None:
    assert await storage.user_settings(ALICE) == {}  # now cached
    await storage.update_user_settings(ALICE, {"style": {"length": "short"}})

    assert await storage.user_settings(ALICE) == {"style": {"length": "short"}}
    await storage.set_cross_realm_recall(ALICE, True)
    assert (await storage.user_settings(ALICE))["cross_realm_recall"] is True


async def test_a_change_by_another_process_shows_within_the_ttl(
    storage: StorageService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage_service, "SETTINGS_TTL_S", 0.2)
    assert await storage.user_settings(ALICE) == {}
    # A separate worker: same database, its own in-process cache.
    other = await StorageService.open(StorageSettings(data_dir=tmp_path / "data"))
    try:
        await other.update_user_settings(ALICE, {"style": {"tone": "warm"}})
    finally:
        await other.close()

    await asyncio.sleep(0.3)  # the entry cached above has expired by now
    assert await storage.user_settings(ALICE) == {"style": {"tone": "warm"}}


async def test_forget_me_leaves_no_cached_settings(storage: StorageService) -> None:
    await storage.update_user_settings(ALICE, {"style": {"length": "long"}})
    assert await storage.user_settings(ALICE) == {"style": {"length": "long"}}

    await storage.personal.forget(ALICE.platform, ALICE.user_id)

    assert await storage.cache.keys_with_segment(ALICE.user_key) == []
    assert await storage.user_settings(ALICE) == {}
