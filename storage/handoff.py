"""Handing a result from a worker thread to the event loop that waits for it."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


def settle_soon(loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], outcome: object) -> None:
    """From any thread: complete ``future`` on its loop with ``outcome``, raised if it is an exception.

    A future already done (its caller cancelled the wait) is left alone, and so is one whose loop has
    closed: nobody is waiting for either.
    """

    def settle() -> None:
        if future.done():
            return
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)

    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(settle)
