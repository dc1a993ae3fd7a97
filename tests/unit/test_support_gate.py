"""The emotional_support flag: off is baseline at once; a failing provider costs its section only."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from bot.pipeline.budget import Section
from bot.pipeline.message import TurnInput
from cogs.emotional_support.gate import GatedSupportProvider, SupportGate
from storage.scope import Scope


class Flags:
    """Stands in for bot.flags.Flags (tested on its own): one switch, and the outcomes reported to it."""

    def __init__(self, on: bool) -> None:
        self.on = on
        self.outcomes: list[bool] = []

    async def enabled(self, name: str, guild_id: str | None = None) -> bool:
        assert name == "emotional_support"
        return self.on

    async def record(self, name: str, ok: bool) -> None:
        self.outcomes.append(ok)


class Provider:
    name = "support"

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls = 0

    async def provide(self, turn: TurnInput) -> list[Section]:
        self.calls += 1
        if self.fail:
            raise RuntimeError("the support store broke")
        return [Section("support", 85, header="Emotional support:", units=["they seem low"])]


def turn() -> TurnInput:
    return TurnInput(
        scope=Scope(user_id="1", guild_id="9"),
        author="alice",
        text="i feel low",
        message_ids=["1"],
        created_at=datetime.now(UTC),
    )


def gated(provider: Provider, flags: Flags | None) -> GatedSupportProvider:
    host: Any = SimpleNamespace(services={} if flags is None else {"flags": flags})
    return GatedSupportProvider(provider, SupportGate(host))  # type: ignore[arg-type]


async def test_flag_off_gives_no_section_and_never_calls_the_feature() -> None:
    provider, flags = Provider(), Flags(on=False)
    assert await gated(provider, flags).provide(turn()) == []
    assert provider.calls == 0 and flags.outcomes == []


async def test_flag_on_gives_the_section_and_reports_success() -> None:
    provider, flags = Provider(), Flags(on=True)
    sections = await gated(provider, flags).provide(turn())
    assert [s.name for s in sections] == ["support"] and flags.outcomes == [True]


async def test_a_failing_feature_costs_its_section_not_the_turn_and_counts_towards_rollback() -> None:
    provider, flags = Provider(fail=True), Flags(on=True)
    assert await gated(provider, flags).provide(turn()) == []
    assert flags.outcomes == [False]


async def test_without_the_admin_feature_support_runs_unflagged() -> None:
    provider = Provider()
    assert len(await gated(provider, None).provide(turn())) == 1
