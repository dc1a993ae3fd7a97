"""The admin store and the gates built on it, on SQLite and PostgreSQL + Redis.

Audit paging, allow/block entries and limit overrides (with their cache dropped on change), the daily token
allowance told once, and the reflection flag reverting reflection to index-only at once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from bot.config import AdminSettings, FlagSettings, ReflectionSettings
from bot.flags import Flags
from bot.pipeline.message import IncomingMessage, TurnInput
from bot.reflection import Reflection
from cogs.admin.limits import AccessGate
from storage.scope import Scope
from storage.service import StorageService
from storage.sql.models import Job
from tests.integration.test_flags import storage  # noqa: F401  (the two-backend fixture)

ALICE = Scope(user_id="100", guild_id="1", channel_id="10")
NOW = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)


class Sink:
    def __init__(self) -> None:
        self.notices: list[str] = []

    async def typing(self) -> None:
        return None

    async def stream(self, chunks: Any) -> str:
        return "".join([c async for c in chunks])

    async def notice(self, text: str) -> None:
        self.notices.append(text)


def message(scope: Scope, text: str = "hi", *, roles: tuple[str, ...] = (), parent: str | None = None) -> Any:
    return IncomingMessage(
        message_id=f"m{id(text)}",
        scope=scope,
        author="alice",
        text=text,
        created_at=NOW,
        role_ids=roles,
        parent_channel_id=parent,
    )


async def test_audit_pages_are_newest_first_and_per_guild(storage: StorageService) -> None:  # noqa: F811
    for i in range(7):
        await storage.admin.audit("discord", "1", "9", f"act.{i}", target=f"t{i}", detail={"i": i})
    await storage.admin.audit("discord", "2", "9", "elsewhere", result="refused")
    first, total = await storage.admin.audit_page("discord", "1", page=1, per_page=5)
    second, _ = await storage.admin.audit_page("discord", "1", page=2, per_page=5)
    assert total == 7
    assert [e.action for e in first] == [f"act.{i}" for i in range(6, 1, -1)]
    assert [e.action for e in second] == ["act.1", "act.0"]
    other, other_total = await storage.admin.audit_page("discord", "2")
    assert other_total == 1 and other[0].result == "refused"


async def test_access_entries_replace_each_other_and_reads_see_changes_at_once(
    storage: StorageService,  # noqa: F811
) -> None:
    assert await storage.admin.access_rules("discord", "1") == []  # now cached as empty
    await storage.admin.set_access("discord", "1", "user", "100", "block", by="9")
    assert [(r.kind, r.target_id, r.mode) for r in await storage.admin.access_rules("discord", "1")] == [
        ("user", "100", "block")
    ]
    await storage.admin.set_access("discord", "1", "user", "100", "allow", by="9")
    assert [r.mode for r in await storage.admin.access_rules("discord", "1")] == ["allow"]
    assert await storage.admin.remove_access("discord", "1", "user", "100") is True
    assert await storage.admin.remove_access("discord", "1", "user", "100") is False
    assert await storage.admin.access_rules("discord", "1") == []


async def test_the_gate_drops_blocked_people_roles_and_channels(storage: StorageService) -> None:  # noqa: F811
    gate = AccessGate(storage, AdminSettings())
    sink = Sink()
    assert await gate.admit(message(ALICE), sink)
    await storage.admin.set_access("discord", "1", "role", "muted", "block", by="9")
    assert not await gate.admit(message(ALICE, roles=("muted",)), sink)
    await storage.admin.set_access("discord", "1", "channel", "10", "block", by="9")
    thread = Scope(user_id="100", guild_id="1", channel_id="77")
    assert not await gate.admit(message(thread, parent="10"), sink)  # a thread of a blocked channel
    assert sink.notices == []  # blocks are silent


async def test_limit_overrides_reach_the_pipeline_and_clear_back_to_defaults(
    storage: StorageService,  # noqa: F811
) -> None:
    gate = AccessGate(storage, AdminSettings())
    assert await gate.rate_overrides(ALICE) == {}
    await storage.admin.set_limit(
        "discord", "1", "user", "100", messages_per_minute=2.0, tokens_per_day=None, by="9"
    )
    await storage.admin.set_limit(
        "discord", "1", "guild", None, messages_per_minute=50.0, tokens_per_day=None, by="9"
    )
    assert await gate.rate_overrides(ALICE) == {"user": 2.0, "guild": 50.0}
    await storage.admin.set_limit(
        "discord", "1", "user", "100", messages_per_minute=None, tokens_per_day=None, by="9"
    )
    assert await gate.rate_overrides(ALICE) == {"guild": 50.0}


async def test_a_spent_token_allowance_refuses_and_tells_the_person_once(storage: StorageService) -> None:  # noqa: F811
    gate = AccessGate(storage, AdminSettings(), now=lambda: NOW)
    await storage.admin.set_limit(
        "discord", "1", "user", "100", messages_per_minute=None, tokens_per_day=20, by="9"
    )
    sink = Sink()
    text = "a fairly long message that costs a good number of tokens " * 2
    assert await gate.admit(message(ALICE, text), sink)
    turn = TurnInput(ALICE, "alice", text, ["m1"], NOW)
    await gate.charge(turn, 1, None)
    assert (await gate.tokens_used(ALICE))[0] >= 20
    for _ in range(3):
        assert not await gate.admit(message(ALICE, "again"), sink)
    assert len(sink.notices) == 1 and "daily" in sink.notices[0] and "2 h" in sink.notices[0]
    bob = Scope(user_id="200", guild_id="1", channel_id="10")
    assert await gate.admit(message(bob), sink)  # someone else's allowance is untouched


async def test_reflection_flag_off_reverts_to_index_only_at_once(storage: StorageService) -> None:  # noqa: F811
    flags = Flags(storage.admin, FlagSettings(cache_ttl_s=3600))
    reflection = Reflection(storage, None, ReflectionSettings())
    reflection.llm = object()  # type: ignore[assignment]  # a model is "configured": semantic jobs may queue
    reflection.flags = flags

    async def queued_types() -> list[str]:
        async with storage.engine.connect() as conn:
            return sorted((await conn.scalars(select(Job.job_type))).all())

    async def turn(message_id: str) -> None:
        user = await storage.record_turn(ALICE, "user", "I like tea", speaker="alice", message_id=message_id)
        await reflection.enqueue_reflection(
            TurnInput(ALICE, "alice", "I like tea", [message_id], NOW), user.id, None
        )

    await turn("m1")
    assert await queued_types() == ["index", "semantic"]
    await flags.set("reflection", False, guild_id="1", by="9")
    await turn("m2")
    assert await queued_types() == ["index", "index", "semantic"]  # indexed, not reflected on
