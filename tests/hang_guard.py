"""A guard against a test that never ends: it fails the run with the test's name and where it is stuck.

A test (with its fixtures' set-up and teardown) that runs past ``KINDRED_TEST_HANG_S`` seconds (300 by
default; no test comes near it) gets every thread's stack and every asyncio task's await chain written to
stderr, which pytest captures into the test's report; then every task of a running event loop is cancelled,
so the test fails there and the run goes on. If it still has not ended ``GRACE_S`` later (stuck outside the
loop), its process exits: under pytest-xdist a crashed worker, reported with the test's id. Either way CI
fails with the place it was stuck instead of running into its own time limit with nothing to show. A thread
dump alone shows an idle event loop in ``select``; the await chains show what it waits for.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import gc
import os
import sys
import threading
import types
from collections.abc import Iterator
from typing import Any, TextIO

import pytest

HANG_S = float(os.environ.get("KINDRED_TEST_HANG_S", "300"))
GRACE_S = 30.0
# The exit status of a process the guard ended, distinct from pytest's own codes (0-5).
HUNG_EXIT = 70


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    ended = threading.Event()
    guard = threading.Thread(target=_watch, args=(item.nodeid, ended), name="hang-guard", daemon=True)
    guard.start()
    try:
        yield
    finally:
        ended.set()


def _watch(nodeid: str, ended: threading.Event) -> None:
    if ended.wait(HANG_S):
        return
    out = sys.stderr
    print(f"\n=== {nodeid} has run for more than {HANG_S:g}s: cancelling its tasks", file=out)
    faulthandler.dump_traceback(file=out, all_threads=True)
    loops = {loop: list(asyncio.all_tasks(loop)) for loop in _running_loops()}
    for loop, tasks in loops.items():
        # Read from this thread while the loop's own thread waits: racy in principle, fine for a stuck loop.
        print(f"\n--- asyncio tasks of {loop!r}", file=out)
        for task in tasks:
            print(f"{task.get_name()}:", file=out)
            _print_chain(task.get_coro(), out)
    # An await inside an async generator (a fixture's teardown) shows in its task only as ``asend``: the
    # generators waiting on something, with their chains.
    for agen in gc.get_objects():
        if isinstance(agen, types.AsyncGeneratorType) and agen.ag_await is not None:
            print("async generator:", file=out)
            _print_chain(agen, out)
    for loop, tasks in loops.items():
        for task in tasks:
            with contextlib.suppress(RuntimeError):  # the loop closed once the first cancel ended the test
                loop.call_soon_threadsafe(task.cancel)
    out.flush()
    if not ended.wait(GRACE_S):
        print(f"=== {nodeid} is still stuck {GRACE_S:g}s later: ending this process", file=out, flush=True)
        os._exit(HUNG_EXIT)


def _running_loops() -> list[asyncio.AbstractEventLoop]:
    return [o for o in gc.get_objects() if isinstance(o, asyncio.AbstractEventLoop) and o.is_running()]


def _print_chain(step: Any, out: TextIO) -> None:
    """Print where a coroutine and each coroutine it awaits are suspended, outermost first."""
    while step is not None:
        frame = _first(step, "cr_frame", "ag_frame", "gi_frame")
        if frame is None:  # a future, or something else that is not a coroutine: the end of the chain
            print(f"    awaiting {step!r}", file=out)
            return
        print(f"    {frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}", file=out)
        step = _first(step, "cr_await", "ag_await", "gi_yieldfrom")


def _first(obj: Any, *names: str) -> Any:
    """Return the first of these attributes ``obj`` has (coroutines, async generators and generators name
    the same thing differently), or None."""
    return next((getattr(obj, name) for name in names if hasattr(obj, name)), None)
