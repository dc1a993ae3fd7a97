"""/admin reload: live sections change in place; the rest is reported as needing a restart."""

from __future__ import annotations

from bot.config import Settings
from cogs.admin.reload import apply_reload
from storage.config import StorageSettings


def test_live_sections_are_updated_in_place_for_everyone_holding_them() -> None:
    current = Settings()
    persona, pipeline = current.persona, current.pipeline
    fresh = Settings.model_validate(
        {
            "persona": {"name": "Juniper"},
            "pipeline": {"user_messages_per_minute": 3},
            "bot": {"owner_ids": ["9"]},
        }
    )
    report = apply_reload(current, fresh)
    assert persona is current.persona and persona.name == "Juniper"
    assert pipeline is current.pipeline and pipeline.user_messages_per_minute == 3
    assert current.bot.owner_ids == ["9"]
    assert set(report.applied) == {"persona", "pipeline", "bot.owner_ids"}
    assert report.needs_restart == []


def test_restart_only_changes_are_reported_and_not_applied() -> None:
    current = Settings()
    before = current.storage.data_dir
    fresh = Settings(storage=StorageSettings(data_dir="elsewhere"), bot={"cogs": ["cogs.conversation"]})
    report = apply_reload(current, fresh)
    assert set(report.needs_restart) == {"storage", "bot"}
    assert current.storage.data_dir == before
    assert current.bot.cogs != ["cogs.conversation"]


def test_an_unchanged_config_changes_nothing() -> None:
    report = apply_reload(Settings(), Settings())
    assert report.applied == [] and report.needs_restart == []
