"""At most ``pipeline.preparing_max`` turns record and build their context at once; the rest queue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.config import DisclosureSettings, LLMModelSettings, LLMSettings, PipelineSettings, SafetySettings
from bot.config import Settings as AppSettings
from bot.llm import LLMRouter
from bot.pipeline.budget import Section
from bot.pipeline.message import IncomingMessage, TurnInput
from bot.pipeline.pipeline import Pipeline
from storage.config import SQLSettings, StorageSettings
from storage.scope import Scope
from storage.service import StorageService
from storage.sql.models import Turn
from tests.fakes.openai_api import FakeOpenAI
from tests.integration.test_reflection import Sink
from tests.integration.test_storage_service import count

MODEL = "prep-model"


class Gauge:
    """A context provider that holds each turn until released and notes how many it held at once."""

    name = "gauge"

    def __init__(self, full: int) -> None:
        self.inside = 0
        self.most = 0
        self.entered = 0
        self.full_at = full
        self.full = asyncio.Event()  # set once ``full`` turns are inside
        self.release = asyncio.Event()

    async def provide(self, turn: TurnInput) -> list[Section]:
        self.inside += 1
        self.entered += 1
        self.most = max(self.most, self.inside)
        if self.inside >= self.full_at:
            self.full.set()
        try:
            await self.release.wait()
        finally:
            self.inside -= 1
        return []


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[StorageService]:
    settings = StorageSettings(
        data_dir=tmp_path / "data", sql=SQLSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'k.db'}")
    )
    service = await StorageService.open(settings)
    try:
        yield service
    finally:
        await service.close()


async def test_a_burst_prepares_a_bounded_number_of_turns_at_once_and_answers_all(
    storage: StorageService, openai_server: FakeOpenAI
) -> None:
    openai_server.configure(MODEL, reply="hello!")
    llm = LLMRouter.from_settings(
        LLMSettings(
            models=[
                LLMModelSettings(
                    name="m", base_url=openai_server.base_url, model=MODEL, api_key=SecretStr("t")
                )
            ]
        )
    )
    settings = AppSettings(
        pipeline=PipelineSettings(coalesce_window_s=0, preparing_max=3),
        safety=SafetySettings(disclosure=DisclosureSettings(enabled=False)),
    )
    gauge = Gauge(full=3)
    pipeline = Pipeline(storage, llm, settings, providers=[gauge])
    sinks = [Sink() for _ in range(10)]
    try:
        turns = [
            asyncio.create_task(
                pipeline.handle(
                    IncomingMessage(
                        f"m{i}", Scope(user_id=f"u{i}", channel_id=f"dm{i}"), f"p{i}", "hi", datetime.now(UTC)
                    ),
                    sink,
                )
            )
            for i, sink in enumerate(sinks)
        ]
        await asyncio.wait_for(gauge.full.wait(), 30)
        await asyncio.sleep(0.2)  # room for more to get in, were they let in
        assert (gauge.inside, gauge.most) == (3, 3)
        gauge.release.set()
        outcomes = await asyncio.gather(*turns)
    finally:
        await llm.close()
    assert [o.status for o in outcomes] == ["replied"] * 10
    assert gauge.most == 3 and gauge.entered == 10
    assert [s.replies for s in sinks] == [["hello!"]] * 10
    assert await count(storage, Turn) == 20  # every person's turn and its reply
