"""Two Kindred processes on one embedded vector store: each sees the other's writes, through one owner.

Without an owner, the second process's Chroma kept the index it had loaded and missed every vector the
first one wrote afterwards (storage/vectors/owner.py). Here the other process is a real one: a small
script that drives a ``ProcessIndex`` from stdin.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from storage.vectors import Partition, ProcessIndex, VectorItem, VectorsUnavailable
from storage.vectors import process as vector_process
from storage.vectors.child import Host, Listener
from storage.vectors.owner import claim, release, store_address

SPACE = "s1"
ALICE = Partition("discord.1", "g1")
NEAR = [1.0, 1.0, 0.0]

# The other process: one command per line ("upsert ID", "ids", "held", "exit"), one JSON answer per line.
OTHER = """
import asyncio, json, sys
from pathlib import Path
from storage.vectors import Partition, ProcessIndex, VectorItem

async def main():
    index = ProcessIndex(Path(sys.argv[1]), prefix=sys.argv[2])
    alice = Partition("discord.1", "g1")
    loop = asyncio.get_running_loop()
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).split()
        if not line or line[0] == "exit":
            break
        if line[0] == "upsert":
            await index.upsert("s1", alice, [VectorItem(line[1], [1.0, 1.0, 0.0], {"kind": "turn"})])
            answer = "ok"
        elif line[0] == "ids":
            answer = sorted(h.id for h in await index.query("s1", [alice], [1.0, 1.0, 0.0], k=50))
        else:
            answer = (await index.health()).extra["held_by"]
        print(json.dumps(answer), flush=True)
    await index.close()

asyncio.run(main())
"""


class Other:
    """The other Kindred process."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, path: Path, prefix: str) -> Other:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            OTHER,
            str(path),
            prefix,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def ask(self, command: str) -> object:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{command}\n".encode())
        await self.proc.stdin.drain()
        line = await asyncio.wait_for(self.proc.stdout.readline(), 60)
        assert line, "the other process ended without answering"
        return json.loads(line)

    async def stop(self) -> None:
        if self.proc.returncode is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write(b"exit\n")
            await self.proc.stdin.drain()
            await asyncio.wait_for(self.proc.wait(), 30)


async def ids(index: ProcessIndex) -> list[str]:
    return sorted(h.id for h in await index.query(SPACE, [ALICE], NEAR, k=50))


def item(name: str) -> VectorItem:
    return VectorItem(name, NEAR, {"kind": "turn"})


async def test_each_process_sees_the_others_writes(tmp_path: Path, unique_prefix: str) -> None:
    path = tmp_path / "chroma"
    index = ProcessIndex(path, prefix=unique_prefix)
    other = await Other.start(path, unique_prefix)
    try:
        await index.upsert(SPACE, ALICE, [item("t1")])
        assert await ids(index) == ["t1"]  # our process has the index loaded now

        assert await other.ask("ids") == ["t1"]
        assert await other.ask("held") == "another Kindred process"
        assert (await index.health()).extra["held_by"] == "this process"
        await other.ask("upsert t2")

        assert await ids(index) == ["t1", "t2"]  # a write by the other process, seen at once
    finally:
        await other.stop()
        await index.close()


async def test_when_the_owner_dies_the_other_process_takes_the_store_over(
    tmp_path: Path, unique_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vector_process, "RESTART_AFTER_S", 0.0)
    path = tmp_path / "chroma"
    other = await Other.start(path, unique_prefix)
    index = ProcessIndex(path, prefix=unique_prefix)
    try:
        await other.ask("upsert t1")  # the other process's vector process owns the store
        await index.upsert(SPACE, ALICE, [item("t2")])
        assert (await index.health()).extra["held_by"] == "another Kindred process"

        other.proc.kill()  # and its vector process follows: its parent's socket closes
        await other.proc.wait()
        for _ in range(100):  # at most one call fails while the owner goes; then ours takes over
            try:
                found = await ids(index)
                break
            except VectorsUnavailable:
                await asyncio.sleep(0.1)
        assert found == ["t1", "t2"]
        assert (await index.health()).extra["held_by"] == "this process"
    finally:
        await other.stop()
        await index.close()


def test_a_store_has_one_owner_until_it_lets_go(tmp_path: Path) -> None:
    first = claim(tmp_path / "chroma")
    assert first is not None
    try:
        assert claim(tmp_path / "chroma") is None
        elsewhere = claim(tmp_path / "other")
        assert elsewhere is not None
        release(elsewhere)
        assert store_address(tmp_path / "chroma") == store_address(tmp_path / "x" / ".." / "chroma")
    finally:
        release(first)
    again = claim(tmp_path / "chroma")
    assert again is not None
    release(again)


def test_without_abstract_sockets_a_file_claims_the_store_and_a_dead_owners_file_is_taken_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    from storage.vectors import owner

    monkeypatch.setattr(owner, "_ABSTRACT", False)
    short = tempfile.mkdtemp(prefix="kv", dir="/tmp")  # pytest's own directories are too deep for a socket
    monkeypatch.setattr(owner.tempfile, "gettempdir", lambda: short)
    request.addfinalizer(lambda: shutil.rmtree(short, ignore_errors=True))
    store = tmp_path / "chroma"
    first = claim(store)
    assert first is not None
    assert Path(store_address(store)).exists()
    assert claim(store) is None  # someone answers there
    first.close()  # dies without letting go: its socket file stays behind, with nobody listening
    assert Path(store_address(store)).exists()
    second = claim(store)
    assert second is not None
    release(second)
    assert not Path(store_address(store)).exists()


async def test_a_store_closed_by_its_owner_can_be_claimed_again_at_once(tmp_path: Path) -> None:
    # The kernel frees an owner address only once the thread blocked in accept() on it has returned; closing
    # used to return before that, and a store reopened at once found its own old claim in the way (about one
    # time in four in a loop like this one).
    loop = asyncio.get_running_loop()
    for i in range(50):
        path = tmp_path / str(i)
        sock = claim(path)
        assert sock is not None
        listener = Listener(sock, path, Host(ThreadPoolExecutor(1)), loop)
        await asyncio.sleep(0.001)  # its thread waits in accept() by now
        listener.close()
        again = claim(path)
        assert again is not None, f"round {i}: the closed owner's address was still taken"
        release(again)
