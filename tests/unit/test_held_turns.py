"""Messages that meet an unreachable database: held in order, bounded, the person told once, never silent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from sqlalchemy.exc import OperationalError

from bot.pipeline.inbox import FAILED_NOTICE, FULL_NOTICE, HELD_NOTICE, HeldTurns
from bot.pipeline.message import IncomingMessage
from storage.scope import Scope


class Notes:
    """A sink that keeps its notices."""

    def __init__(self) -> None:
        self.notices: list[str] = []

    async def typing(self) -> None:
        return None

    async def stream(self, chunks: AsyncIterator[str]) -> str:
        return "".join([c async for c in chunks])

    async def notice(self, text: str) -> None:
        self.notices.append(text)


def message(n: int, user: str = "u1") -> IncomingMessage:
    return IncomingMessage(str(n), Scope(user_id=user), user, f"message {n}", datetime.now(UTC))


def outage() -> OperationalError:
    return OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))


async def test_held_messages_go_through_in_arrival_order_once_sql_answers() -> None:
    down = True
    done: list[str] = []

    async def redrive(msg: IncomingMessage, sink: Notes) -> None:
        if down:
            raise outage()
        done.append(msg.message_id)

    held = HeldTurns(redrive, capacity=10, first_retry_s=0.01, max_retry_s=0.02)
    sink = Notes()
    for n in range(3):
        assert await held.hold(message(n), sink)
    await asyncio.sleep(0.05)
    assert done == [] and len(held) == 3
    down = False
    assert await held.drain(2.0) == 0
    assert done == ["0", "1", "2"]
    assert sink.notices == [HELD_NOTICE]  # told once per person, not once per message


async def test_past_its_capacity_a_message_is_refused_with_a_notice_not_dropped_silently() -> None:
    async def never(msg: IncomingMessage, sink: Notes) -> None:
        raise outage()

    held = HeldTurns(never, capacity=2, first_retry_s=0.01, max_retry_s=0.02)
    sink = Notes()
    assert await held.hold(message(1), sink) and await held.hold(message(2), sink)
    assert not await held.hold(message(3), sink)
    assert sink.notices == [HELD_NOTICE, FULL_NOTICE]
    assert await held.drain(0.05) == 2  # still held when the process stops: counted and logged


async def test_a_message_that_fails_for_its_own_reason_does_not_block_the_ones_behind_it() -> None:
    done: list[str] = []

    async def redrive(msg: IncomingMessage, sink: Notes) -> None:
        if msg.message_id == "1":
            raise ValueError("this message itself is broken")
        done.append(msg.message_id)

    held = HeldTurns(redrive, capacity=10, first_retry_s=0.01)
    first, second = Notes(), Notes()
    assert await held.hold(message(1, "a"), first)
    assert await held.hold(message(2, "b"), second)
    assert await held.drain(2.0) == 0
    assert done == ["2"]
    assert first.notices == [HELD_NOTICE, FAILED_NOTICE]


def test_an_exhausted_connection_pool_counts_as_unreachable_so_the_message_is_held() -> None:
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from storage.sql.engine import is_unavailable

    assert is_unavailable(PoolTimeout("QueuePool limit of size 5 overflow 10 reached"))
    assert not is_unavailable(ValueError("a bad value is not an outage"))
