"""The memory controls in `kindred chat`: the same operations as the slash commands, typed in the console."""

from __future__ import annotations

import io
import json
from pathlib import Path

from bot.config import Settings
from bot.platforms.console import console_scope, run_console
from storage.records import MemoryRecord
from storage.service import StorageService
from tests.e2e.harness import make_settings
from tests.fakes.openai_api import FakeOpenAI

SAM = console_scope("sam")


async def seed(settings: Settings, *texts: str) -> list[MemoryRecord]:
    storage = await StorageService.open(settings.storage)
    try:
        return [await storage.add_memory(SAM, text) for text in texts]
    finally:
        await storage.close()


async def console(settings: Settings, *lines: str) -> str:
    out = io.StringIO()
    await run_console(settings, "sam", stdin=io.StringIO("\n".join([*lines, "/quit", ""])), out=out)
    return out.getvalue()


async def test_list_pin_correct_and_forget_with_confirmation(
    tmp_path: Path, openai_server: FakeOpenAI
) -> None:
    settings = make_settings(tmp_path / "data", openai_server)
    tea, nurse = await seed(settings, "likes green tea", "Works as a nurse")
    shown = await console(
        settings,
        "/memory list",
        f"/memory pin {tea.id}",
        f"/memory correct #{nurse.id} Works as a doctor",
        f"/memory forget {tea.id}",
        "/memory list",
    )
    assert "likes green tea" in shown and "Pinned: " in shown
    assert f"Corrected #{nurse.id}" in shown and "the old one is kept as history" in shown
    assert f"Type /memory forget {tea.id} confirm" in shown
    assert shown.count("likes green tea") >= 3  # still listed at the end: not deleted without confirm
    confirmed = await console(settings, f"/memory forget {tea.id} confirm", "/memory list")
    assert f"Forgot memory #{tea.id}." in confirmed and "green tea" not in confirmed.split("Forgot")[1]
    assert "Works as a doctor" in confirmed


async def test_bad_ids_and_unknown_subcommands_are_explained(
    tmp_path: Path, openai_server: FakeOpenAI
) -> None:
    settings = make_settings(tmp_path / "data", openai_server)
    shown = await console(
        settings, "/memory pin abc", "/memory forget 999", "/memory dance", "/memory privacy maybe"
    )
    assert "'abc' is not a memory id" in shown
    assert "You have no memory #999" in shown
    assert "usage: /memory list" in shown
    assert "/memory privacy on" in shown


async def test_export_pause_privacy_about_and_forgetme(tmp_path: Path, openai_server: FakeOpenAI) -> None:
    settings = make_settings(tmp_path / "data", openai_server)
    await seed(settings, "My brother Tom lives in Lisbon")
    target = tmp_path / "mine.json"
    shown = await console(
        settings,
        f"/memory export {target}",
        "/memory pause",
        "/memory about",
        "/memory resume",
        "/memory privacy on",
        "/forgetme",
    )
    document = json.loads(target.read_text())
    assert [m["text"] for m in document["sql"]["memories"]] == ["My brother Tom lives in Lisbon"]
    assert "Paused" in shown and "**Remembering:** paused" in shown and "Remembering again." in shown
    assert "Recall across servers and DMs is on." in shown
    assert "Type /forgetme confirm" in shown
    gone = await console(settings, "/forgetme confirm", "/forgetme confirm", "/memory list")
    assert gone.count("Done: I deleted everything") == 2  # safe to repeat
    assert "I hold no memories about you here yet." in gone
