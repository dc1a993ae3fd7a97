"""The composition root assembles every part and takes it down again."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.app import Kindred, build_router
from bot.config import LLMSettings, OpsSettings, Settings
from bot.errors import ConfigError
from storage.config import StorageSettings
from tests.fakes.openai_api import FakeOpenAI


def settings_for(tmp_path: Path, openai: FakeOpenAI) -> Settings:
    return Settings(
        storage=StorageSettings(data_dir=tmp_path / "data"),
        llm=LLMSettings(base_url=openai.base_url, api_key="test", model="chat-a"),
        ops=OpsSettings(http_enabled=False),
    )


async def test_start_wires_processors_scheduled_jobs_and_the_worker(
    tmp_path: Path, openai_server: FakeOpenAI
) -> None:
    app = await Kindred.start(settings_for(tmp_path, openai_server))
    try:
        assert {"index", "semantic", "episodic", "procedural"} <= set(app.registry.job_types)
        assert {s.id for s in app.scheduler.status()} >= {"cache_cleanup", "reflection_sweep", "compression"}
        assert app.worker is not None
        assert app.reflection.enqueue_reflection in app.pipeline.after_turn
    finally:
        await app.close()
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()] == []


def test_a_missing_model_is_a_config_error_that_says_what_to_set() -> None:
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        build_router(Settings())
