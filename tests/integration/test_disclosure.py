"""The AI disclosure's memory: when Kindred last said it is an AI is kept per person in SQL, so a restart
neither repeats it early nor forgets it, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.config import DisclosureSettings
from bot.safety.disclosure import AIDisclosure
from storage.config import SQLSettings, StorageSettings
from storage.scope import Scope
from storage.service import StorageService

ALICE = Scope(user_id="alice", guild_id="g1", channel_id="c1")
BOB = Scope(user_id="bob", guild_id="g1", channel_id="c1")
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def open_storage(tmp_path: Path, sql_url: str) -> StorageService:
    return await StorageService.open(
        StorageSettings(data_dir=tmp_path / "data", sql=SQLSettings(url=sql_url, connect_retries=0))
    )


async def test_disclosure_is_remembered_across_a_restart(tmp_path: Path, sql_url: str) -> None:
    now = [START]
    storage = await open_storage(tmp_path, sql_url)
    try:
        first = AIDisclosure(storage, DisclosureSettings(), "Kindred", clock=lambda: now[0])
        assert await first.due(ALICE)
        assert not await first.due(ALICE)
    finally:
        await storage.close()
    now[0] = START + timedelta(hours=2)
    storage = await open_storage(tmp_path, sql_url)
    try:
        restarted = AIDisclosure(storage, DisclosureSettings(), "Kindred", clock=lambda: now[0])
        assert not await restarted.due(ALICE)  # said two hours ago, before the restart
        assert await restarted.due(BOB)  # each person is told for themselves
        now[0] = START + timedelta(hours=3)
        assert await restarted.due(ALICE)
    finally:
        await storage.close()


async def test_interval_and_wording_are_configurable(tmp_path: Path, sqlite_url: str) -> None:
    now = [START]
    settings = DisclosureSettings(interval_hours=0.5, text="{name} here: I'm a bot.")
    storage = await open_storage(tmp_path, sqlite_url)
    try:
        disclosure = AIDisclosure(storage, settings, "Wren", clock=lambda: now[0])
        assert disclosure.text == "Wren here: I'm a bot."
        assert await disclosure.due(ALICE)
        now[0] += timedelta(minutes=31)
        assert await disclosure.due(ALICE)
        off = AIDisclosure(storage, DisclosureSettings(enabled=False), "Wren", clock=lambda: now[0])
        assert not await off.due(BOB)
    finally:
        await storage.close()
