"""`kindred export --user ID`: an operator's copy of everything held about one person."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from bot.config import Settings
from bot.errors import EXIT_OK
from storage.config import StorageSettings
from storage.scope import Scope
from storage.service import StorageService
from tests.integration.test_cli import embedded_env, kindred

ALICE = Scope(user_id="777", guild_id="5", channel_id="50")


async def seed(data_dir: Path) -> None:
    storage = await StorageService.open(Settings(storage=StorageSettings(data_dir=data_dir)).storage)
    try:
        await storage.record_turn(ALICE, "user", "I adopted a cat", message_id="m1")
        await storage.add_memory(ALICE, "Adopted a cat called Miso")
    finally:
        await storage.close()


async def test_export_writes_the_persons_data_to_a_file(tmp_path: Path) -> None:
    await seed(tmp_path / "data")
    out = tmp_path / "alice.json"
    result = await asyncio.to_thread(
        kindred, "export", "--user", ALICE.user_id, "--out", str(out), env=embedded_env(tmp_path)
    )
    assert result.returncode == EXIT_OK, result.stderr
    document = json.loads(out.read_text())
    assert [t["text"] for t in document["sql"]["turns"]] == ["I adopted a cat"]
    assert [m["text"] for m in document["sql"]["memories"]] == ["Adopted a cat called Miso"]


async def test_export_of_an_unknown_person_is_empty_not_an_error(tmp_path: Path) -> None:
    await seed(tmp_path / "data")
    result = await asyncio.to_thread(
        kindred, "export", "--user", "12345", "--platform", "console", env=embedded_env(tmp_path)
    )
    assert result.returncode == EXIT_OK, result.stderr
    document = json.loads(result.stdout)
    assert document["person"] == {"platform": "console", "id": "12345"} and document["sql"] == {}
