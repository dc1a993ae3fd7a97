"""Held turns: messages that met an unreachable SQL, kept in memory and answered once it is back.

A turn is durable in SQL before Kindred replies, so while the database is down a message can be neither
recorded nor answered. Instead of dropping it, the pipeline hands it here: it is kept (bounded), the person is
told once that the answer will come late, and a background task re-drives the held messages through the
pipeline in arrival order as soon as SQL answers again. Recording is idempotent by message id, so a message
that got halfway before the outage is not recorded twice.

The bound is what makes this honest: past ``capacity`` a message is refused with a notice asking the person to
send it again, rather than kept in a queue that could grow without limit. Held messages live in this process
only; a process that stops while SQL is still down says in its log how many it could not keep.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.pipeline.message import IncomingMessage, ReplySink
from storage.sql.engine import is_unavailable

log = logging.getLogger(__name__)

HELD_NOTICE = (
    "I can't reach my memory for a moment. I've kept your message and will answer as soon as it's back."
)
FULL_NOTICE = (
    "I can't reach my memory right now and can't hold any more messages. Please send this again in a few "
    "minutes."
)

FAILED_NOTICE = "Sorry, I couldn't answer that message. Please send it again."


@dataclass(slots=True)
class Held:
    message: IncomingMessage
    sink: ReplySink


class HeldTurns:
    """A bounded, in-order holding area for messages that met an unreachable database."""

    def __init__(
        self,
        redrive: Callable[[IncomingMessage, ReplySink], Awaitable[object]],
        *,
        capacity: int = 1000,
        first_retry_s: float = 0.5,
        max_retry_s: float = 10.0,
    ) -> None:
        self._redrive = redrive
        self.capacity = capacity
        self._first_retry_s = first_retry_s
        self._max_retry_s = max_retry_s
        self._held: deque[Held] = deque()
        self._told: set[str] = set()  # people told already during this outage
        self._task: asyncio.Task[None] | None = None
        self.redriven = 0

    def __len__(self) -> int:
        return len(self._held)

    async def hold(self, message: IncomingMessage, sink: ReplySink) -> bool:
        """Keep ``message`` for later; return False (after telling the person) when there is no room."""
        if len(self._held) >= self.capacity:
            log.error("held turns are full (%d); a message was refused with a notice", self.capacity)
            await _quietly(sink.notice(FULL_NOTICE))
            return False
        self._held.append(Held(message, sink))
        if message.scope.user_key not in self._told:
            self._told.add(message.scope.user_key)
            await _quietly(sink.notice(HELD_NOTICE))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush(), name="kindred-held-turns")
        return True

    async def _flush(self) -> None:
        delay = self._first_retry_s
        while self._held:
            head = self._held[0]
            try:
                await self._redrive(head.message, head.sink)
            except Exception as exc:
                if not is_unavailable(exc):
                    # Not an outage: this message itself fails; it must not block everyone behind it.
                    log.exception("a held message failed when re-driven; it is dropped with a notice")
                    self._held.popleft()
                    await _quietly(head.sink.notice(FAILED_NOTICE))
                    continue
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_retry_s)
                continue
            self._held.popleft()
            self.redriven += 1
            delay = self._first_retry_s
        self._told.clear()

    async def drain(self, timeout_s: float) -> int:
        """Give held messages up to ``timeout_s`` to go through; return (and log) how many are still held."""
        if self._task is not None and not self._task.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
            except TimeoutError:
                self._task.cancel()
        left = len(self._held)
        if left:
            log.error("%d held messages could not be recorded before exit (SQL still unreachable)", left)
        return left


async def _quietly(notice: Awaitable[None]) -> None:
    # A notice that cannot be delivered must not stop the message from being held.
    try:
        await notice
    except Exception:
        log.warning("could not deliver a held-turn notice", exc_info=True)
