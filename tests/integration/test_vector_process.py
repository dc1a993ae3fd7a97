"""The embedded store's child process: it holds Chroma, answers reads before queued writes, survives
its own death by restarting, and answers everything asked before a close."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest

from storage.vectors import Partition, ProcessIndex, VectorItem, VectorsUnavailable
from storage.vectors import process as vector_process
from storage.vectors.child import PriorityExecutor, _priority

SPACE = "s1"
ALICE = Partition("discord.1", "g1")


def item(i: int) -> VectorItem:
    return VectorItem(f"t{i}", [1.0, float(i), 0.0], {"kind": "turn"})


async def test_chroma_runs_in_a_child_process_not_in_this_one(tmp_path: Path, unique_prefix: str) -> None:
    index = ProcessIndex(tmp_path / "chroma", prefix=unique_prefix)
    try:
        health = await index.health()
        assert health.extra["process"] not in (None, os.getpid())
        assert vector_process.child_process().pid == health.extra["process"]
    finally:
        await index.close()


async def test_everything_asked_before_close_is_answered_and_kept(tmp_path: Path, unique_prefix: str) -> None:
    index = ProcessIndex(tmp_path / "chroma", prefix=unique_prefix)
    writes = [asyncio.ensure_future(index.upsert(SPACE, ALICE, [item(i)])) for i in range(20)]
    await asyncio.sleep(0)  # the writes are sent before the close
    await index.close()
    await asyncio.gather(*writes)

    with pytest.raises(VectorsUnavailable, match="closed"):
        await index.count(SPACE)
    reopened = ProcessIndex(tmp_path / "chroma", prefix=unique_prefix)
    try:
        assert await reopened.count(SPACE) == 20
    finally:
        await reopened.close()


async def test_a_killed_child_fails_the_waiting_calls_then_restarts_with_the_data(
    tmp_path: Path, unique_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vector_process, "RESTART_AFTER_S", 0.2)
    index = ProcessIndex(tmp_path / "chroma", prefix=unique_prefix)
    try:
        await index.upsert(SPACE, ALICE, [item(1), item(2)])
        child = vector_process.child_process()
        first = child.pid

        child.kill()
        with pytest.raises(VectorsUnavailable, match="exited"):
            await index.count(SPACE)  # within RESTART_AFTER_S of its death
        await asyncio.sleep(0.3)

        assert await index.count(SPACE) == 2
        assert child.pid not in (None, first)
        hits = await index.query(SPACE, [ALICE], [1.0, 1.0, 0.0], k=1)
        assert [h.id for h in hits] == ["t1"]
    finally:
        await index.close()


async def test_a_call_that_cannot_be_sent_fails_alone(tmp_path: Path, unique_prefix: str) -> None:
    index = ProcessIndex(tmp_path / "chroma", prefix=unique_prefix)
    try:
        unpicklable = VectorItem("t1", [1.0, 1.0, 0.0], {"kind": threading.Lock()})  # type: ignore[dict-item]
        with pytest.raises(TypeError, match="cannot be sent"):
            await index.upsert(SPACE, ALICE, [unpicklable])

        # The sender carries on: later calls are not left waiting behind the one that failed.
        await index.upsert(SPACE, ALICE, [item(1)])
        assert await index.count(SPACE) == 1
    finally:
        await index.close()


def test_reads_run_before_writes_already_queued() -> None:
    executor = PriorityExecutor()
    gate = threading.Event()
    ran: list[str] = []
    try:
        executor.submit(gate.wait)  # occupies the one thread while the rest queue up
        futures = []
        for name in ("write-1", "write-2"):
            futures.append(executor.submit(ran.append, name))
        token = _priority.set(0)
        try:
            futures.append(executor.submit(ran.append, "read"))
        finally:
            _priority.reset(token)
        futures.append(executor.submit(ran.append, "write-3"))
        gate.set()
        for future in futures:
            future.result(timeout=10)
    finally:
        executor.shutdown()

    assert ran == ["read", "write-1", "write-2", "write-3"]


def test_a_shut_down_executor_refuses_work() -> None:
    executor = PriorityExecutor()
    executor.shutdown()

    with pytest.raises(RuntimeError):
        executor.submit(print)


def resident_pages(pid: str) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1])


async def test_the_memory_budget_counts_the_vector_process_too(tmp_path: Path, unique_prefix: str) -> None:
    from bot.scheduler.compression import read_rss_bytes

    index = ProcessIndex(tmp_path / "chroma", prefix=unique_prefix)
    try:
        await index.ping()
        child = vector_process.child_process().pid
        assert child is not None
        page = os.sysconf("SC_PAGE_SIZE")
        before = resident_pages("self")
        total = read_rss_bytes()
        ours = max(before, resident_pages("self")) * page
        # Memory moves a little between the reads; the child's share (Chroma, tens of MB) cannot vanish.
        assert total - ours >= resident_pages(str(child)) * page // 2 > 0
    finally:
        await index.close()


async def test_warm_starts_the_process_in_the_background(
    tmp_path: Path, unique_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vector_process, "RESTART_AFTER_S", 0.0)
    child = vector_process.child_process()
    child.kill()  # whatever an earlier test left running
    assert child.pid is None
    index = ProcessIndex(tmp_path / "chroma", prefix=unique_prefix)
    try:
        index.warm()
        for _ in range(500):
            if child.pid is not None:
                break
            await asyncio.sleep(0.01)
        assert child.pid is not None
    finally:
        await index.close()


async def test_warm_opens_the_store_before_any_call(tmp_path: Path, unique_prefix: str) -> None:
    # Opening an embedded Chroma takes about a second; warm() has the child do it before the first recall.
    store = tmp_path / "chroma"
    index = ProcessIndex(store, prefix=unique_prefix)
    try:
        index.warm()
        for _ in range(3000):
            if (store / "chroma.sqlite3").exists():
                break
            await asyncio.sleep(0.01)
        assert (store / "chroma.sqlite3").exists()
    finally:
        await index.close()
