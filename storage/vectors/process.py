"""Embedded vector stores in a child process: the parent's side, a ``VectorIndex`` like any other.

Why a child at all is told in ``storage.vectors.child``. One child serves every embedded store of a
process (the bot has one; a test run opens many), so its start-up, about a second to import Chroma, is
paid once and in the background (``warm``). Calls go down a socket and a reader thread hands each answer
to the event loop that asked, so an index serves any loop and never blocks one: a thread does the sending
too, since a socket fills while the child is busy.

The child is a plain ``python -c`` calling ``storage.vectors.child.main``, not a ``multiprocessing``
process, which would re-import the parent's main script in the child (and run it, were it unguarded).
If the child dies, the calls waiting on it fail with ``VectorsUnavailable`` (recall degrades and the
worker retries its index jobs, as for any vector outage), and the next call starts a new one, at most once
per ``RESTART_AFTER_S``; it reopens each store on that store's next call.

A store already held by another Kindred process's child (a separate ``kindred worker`` beside the bot) is
used through that child, over the store's owner socket (``storage.vectors.owner`` says why): the local
child answers ``OwnedElsewhere`` and the index sends its calls there until that process goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from queue import SimpleQueue
from typing import Any

from storage.embedding.base import Vectors
from storage.handoff import settle_soon
from storage.health import TierHealth
from storage.vectors.base import (
    Partition,
    StoredVectors,
    VectorHit,
    VectorItem,
    VectorsUnavailable,
    health_by_ping,
)
from storage.vectors.child import CLOSE, Reply, Request, StoreKey, send_all
from storage.vectors.chroma import BACKEND_EMBEDDED, check_prefix
from storage.vectors.owner import OwnedElsewhere, connect

log = logging.getLogger(__name__)

RESTART_AFTER_S = 2.0
# The thread counts numpy's BLAS builds read at start (OpenBLAS, OpenMP builds, MKL): the child gets 1.
BLAS_THREAD_SETTINGS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
# The reply path's calls: past this the store counts as unavailable for that call (recall degrades).
READ_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 30.0
# Where the ``storage`` package is, for the child's import path.
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]

_CHILD_MAIN = "import sys; from storage.vectors.child import main; sys.exit(main())"

_tokens = itertools.count(1)


class Channel:
    """Calls down one socket to a vector process, each answer handed to the event loop that asked.

    A thread sends (a socket fills while the other side is busy) and one reads. When the other side goes,
    the calls waiting on it fail with ``VectorsUnavailable`` and ``on_gone`` runs in the reading thread.
    """

    def __init__(self, conn: Connection, what: str, on_gone: Callable[[], str | None] | None = None) -> None:
        self._conn = conn
        self._what = what
        self._on_gone = on_gone
        self._lock = threading.Lock()
        self._outbox: SimpleQueue[Request | None] = SimpleQueue()
        self._waiting: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]]] = {}
        self._ids = itertools.count(1)
        self.open = True
        self.gone = threading.Event()  # set once the calls that waited on a closed channel have failed
        threading.Thread(target=self._read, name="vector-answers", daemon=True).start()
        threading.Thread(
            target=send_all, args=(conn, self._outbox, self._unsendable), name="vector-calls", daemon=True
        ).start()

    async def call(self, key: StoreKey, name: str, args: tuple[Any, ...], wait_s: float | None) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        req_id = next(self._ids)
        with self._lock:
            if not self.open:
                raise VectorsUnavailable(f"{self._what} has exited")
            self._waiting[req_id] = (loop, future)
            self._outbox.put((req_id, key, name, args))
        try:
            if wait_s is None:
                return await future
            return await asyncio.wait_for(future, wait_s)
        except TimeoutError as exc:
            raise VectorsUnavailable(f"the vector store did not answer {name} within {wait_s:g}s") from exc
        finally:
            with self._lock:
                self._waiting.pop(req_id, None)

    def hang_up(self) -> None:
        """Close the channel (its reading thread fails whatever still waits)."""
        with contextlib.suppress(OSError), socket.socket(fileno=os.dup(self._conn.fileno())) as sock:
            sock.shutdown(socket.SHUT_RDWR)

    def _read(self) -> None:
        conn = self._conn
        while True:
            try:
                reply: Reply = conn.recv()
            except (EOFError, OSError):
                break
            req_id, outcome = reply
            with self._lock:
                waiting = self._waiting.pop(req_id, None)
            if waiting is not None:
                settle_soon(*waiting, outcome)
        with self._lock:
            self.open = False
            self._outbox.put(None)
            waiting_now, self._waiting = self._waiting, {}
        reason = self._on_gone() if self._on_gone is not None else None
        conn.close()
        error = VectorsUnavailable(f"{self._what} has exited" + (f" ({reason})" if reason else ""))
        for loop, future in waiting_now.values():
            settle_soon(loop, future, error)
        self.gone.set()

    def _unsendable(self, request: Request, exc: Exception) -> None:
        # Arguments that cannot be pickled are the caller's mistake, as a bad argument to Chroma would be.
        with self._lock:
            waiting = self._waiting.pop(request[0], None)
        if waiting is not None:
            settle_soon(*waiting, TypeError(f"a vector index call's arguments cannot be sent: {exc}"))


class ChildProcess:
    """The one child of this process, started on demand and restarted after it dies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._channel: Channel | None = None
        self._died_at = float("-inf")

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def start_soon(self) -> None:
        """Start the child in a background thread unless it runs (the first call would wait for it)."""
        if self._channel is None or not self._channel.open:
            threading.Thread(target=self._quietly_start, name="vector-process-start", daemon=True).start()

    async def call(self, key: StoreKey, name: str, args: tuple[Any, ...], wait_s: float | None) -> Any:
        channel = self._channel
        if channel is None or not channel.open:
            channel = await asyncio.to_thread(self._ensure)
        return await channel.call(key, name, args, wait_s)

    def kill(self) -> None:
        """Kill the child (for fault tests and a child that stopped answering); the calls waiting on it have
        failed when this returns, and the next call (after ``RESTART_AFTER_S``) starts a new one."""
        proc, channel = self._proc, self._channel
        if proc is not None and proc.poll() is None:
            proc.kill()
            if channel is not None:
                channel.gone.wait(timeout=10)

    # ------------------------------------------------------------------ starting

    def _quietly_start(self) -> None:
        try:
            self._ensure()
        except VectorsUnavailable as exc:
            log.warning("could not start the vector store process: %s", exc)

    def _ensure(self) -> Channel:
        with self._lock:
            if self._channel is not None and self._channel.open:
                return self._channel
            wait = self._died_at + RESTART_AFTER_S - time.monotonic()
            if wait > 0:
                raise VectorsUnavailable(f"the vector store process exited; restarting in {wait:.1f}s")
            return self._start()

    def _start(self) -> Channel:
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_PACKAGE_ROOT), env.get("PYTHONPATH")]))
        # glibc's malloc, unless the operator tuned it: Chroma allocates each loaded index in blocks of about
        # 2.6 MB and frees them when the index is unloaded. A fixed mmap threshold (glibc's own starting
        # value) keeps such blocks out of the heap, so freeing them gives the memory back; otherwise the
        # threshold grows past them after the first free and the heap keeps what they leave behind. Two
        # arenas instead of eight per core: Chroma's threads otherwise each hold their own. See
        # docs/performance.md, "Memory (session 4)".
        env.setdefault("MALLOC_MMAP_THRESHOLD_", "131072")
        env.setdefault("MALLOC_ARENA_MAX", "2")
        # One BLAS thread, unless the operator chose: numpy's OpenBLAS splits a search over a partition of
        # thousands of vectors across every core, and its helper threads then spin waiting for more work.
        # On two cores that spinning took the core the bot's own recall was using: 3.7 ms of CPU per search
        # of 10,000 vectors instead of 1.1 ms, for no faster answer (docs/performance.md, "Session 9").
        for blas_threads in BLAS_THREAD_SETTINGS:
            env.setdefault(blas_threads, "1")
        try:
            proc = subprocess.Popen(
                [sys.executable, "-c", _CHILD_MAIN, str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                env=env,
                stdin=subprocess.DEVNULL,
            )
        except OSError as exc:
            ours.close()
            raise VectorsUnavailable(f"cannot start the vector store process: {exc}") from exc
        finally:
            theirs.close()
        self._proc = proc
        channel = Channel(Connection(ours.detach()), "the vector store process", lambda: self._exited(proc))
        self._channel = channel
        log.info("vector store process %s started", proc.pid)
        return channel

    def _exited(self, proc: subprocess.Popen[bytes]) -> str:
        code = proc.wait()
        with self._lock:
            self._died_at = time.monotonic()
        log.error("the vector store process exited (code %s); recall runs without it until it restarts", code)
        return f"code {code}"


_child = ChildProcess()


def child_process() -> ChildProcess:
    """Return this process's vector child (one per process, shared by every embedded store)."""
    return _child


class ProcessIndex:
    """``VectorIndex`` on embedded Chroma held by this process's vector child (see the module docstring)."""

    backend = BACKEND_EMBEDDED

    def __init__(
        self,
        path: Path,
        *,
        prefix: str = "kindred",
        cache_size: int = 1024,
        loaded_max: int = 0,
        exact_max: int = 0,
        exact_cache_bytes: int = 64 << 20,
    ) -> None:
        check_prefix(prefix)
        self.prefix = prefix
        self.location = str(path)
        self._key = StoreKey(
            next(_tokens), path, prefix, cache_size, loaded_max, exact_max, exact_cache_bytes
        )
        self._closed = False
        self._opening: asyncio.Task[None] | None = None
        # Set while another process's vector process owns the store (storage.vectors.owner).
        self._owner: Channel | None = None

    @property
    def reclaims_space(self) -> bool:
        """Dropping a collection removes its files from the local directory."""
        return True

    # ------------------------------------------------------------------ the VectorIndex API

    async def upsert(self, space: str, partition: Partition, items: Sequence[VectorItem]) -> None:
        """Insert or replace vectors in one partition, creating its collection when needed."""
        if items:
            await self._call("upsert", (space, partition, list(items)))

    async def query(
        self,
        space: str,
        partitions: Sequence[Partition],
        vector: Vectors | Sequence[float],
        k: int,
        where: dict[str, Any] | None = None,
    ) -> list[VectorHit]:
        """Return the k nearest items across the given partitions, nearest first."""
        if k <= 0 or not partitions:
            return []
        hits: list[VectorHit] = await self._call(
            "query", (space, list(partitions), vector, k, where), wait_s=READ_TIMEOUT_S
        )
        return hits

    async def delete(self, space: str, partition: Partition, ids: Sequence[str]) -> None:
        """Remove vectors by id from one partition (absent ids and partitions are fine)."""
        if ids:
            await self._call("delete", (space, partition, list(ids)))

    async def get(self, space: str, partition: Partition, ids: Sequence[str] | None = None) -> StoredVectors:
        """Return stored vectors: those with these ids (absent ones are left out), or all for None."""
        wanted = None if ids is None else list(ids)
        stored: StoredVectors = await self._call("get", (space, partition, wanted))
        return stored

    async def drop_partition(self, space: str, partition: Partition) -> bool:
        """Remove one partition's collection; return whether it existed."""
        return bool(await self._call("drop_partition", (space, partition)))

    async def drop_user(self, user_key: str) -> int:
        """Remove every partition of one person in every space; return how many collections went."""
        return int(await self._call("drop_user", (user_key,)))

    async def drop_space(self, space: str) -> int:
        """Remove every collection of a space (after a reindex into a new one)."""
        return int(await self._call("drop_space", (space,)))

    async def count(self, space: str | None = None) -> int:
        """Return how many vectors are stored, in one space or in all of ours."""
        return int(await self._call("count", (space,)))

    async def ping(self) -> float:
        """Return the round trip through the child to Chroma's heartbeat, in milliseconds."""
        started = time.perf_counter()
        await self._call("ping", (), wait_s=READ_TIMEOUT_S)
        return (time.perf_counter() - started) * 1000.0

    async def health(self) -> TierHealth:
        """Report whether the store answers through the child, and how fast."""
        health = await health_by_ping(self.backend, self.ping, {"location": self.location})
        health.extra["process"] = _child.pid  # known once the ping has started it
        health.extra["held_by"] = "another Kindred process" if self._owner is not None else "this process"
        return health

    async def set_aside(self) -> Path | None:
        """Move an unreadable store aside so ``reindex`` can build a fresh one; return where it went."""
        moved: Path | None = await self._call("set_aside", ())
        return moved

    def warm(self) -> None:
        """Start the child and open the store there in the background, so that the first call waits for
        neither (opening an embedded Chroma takes about a second: the first recall after a start paid it)."""
        if self._closed:
            return
        _child.start_soon()
        if self._opening is None:
            self._opening = asyncio.get_running_loop().create_task(self._open())

    async def _open(self) -> None:
        try:
            await self.ping()  # the first call opens the store in the child
        except VectorsUnavailable as exc:
            # The first real call will find out again, and report it where it matters.
            log.debug("opening the vector store ahead of use failed: %s", exc)

    async def close(self) -> None:
        """Close this store in the child once what was asked of it is answered; unusable afterwards."""
        if self._closed:
            return
        self._closed = True
        if self._opening is not None:
            self._opening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._opening
        owner, self._owner = self._owner, None
        if owner is not None:
            await self._close_at(owner)
            owner.hang_up()
        elif _child.pid is not None:  # else nothing is open there: a new child would only open and close it
            await self._close_at(_child)

    async def _close_at(self, target: Channel | ChildProcess) -> None:
        try:
            await target.call(self._key, CLOSE, (), CLOSE_TIMEOUT_S)
        except VectorsUnavailable as exc:
            log.warning("closing the vector store at %s: %s", self.location, exc)

    async def _call(
        self, name: str, args: tuple[Any, ...], *, wait_s: float | None = None, retry: bool = True
    ) -> Any:
        if self._closed:
            raise VectorsUnavailable("the vector index is closed")
        owner = self._owner
        if owner is not None:
            if owner.open:
                return await owner.call(self._key, name, args, wait_s)
            self._owner = None  # it went: this time our own child may become the owner
        try:
            return await _child.call(self._key, name, args, wait_s)
        except OwnedElsewhere as elsewhere:
            address = elsewhere.address
        try:
            owner = await self._reach(address)
        except VectorsUnavailable:
            if not retry:
                raise
            # The owner let the store go between our child's claim and this connect: ours may hold it now.
            return await self._call(name, args, wait_s=wait_s, retry=False)
        return await owner.call(self._key, name, args, wait_s)

    async def _reach(self, address: str) -> Channel:
        """Connect to the vector process of another Kindred process, which owns this store."""
        try:
            sock = await asyncio.to_thread(connect, address)
        except OSError as exc:
            raise VectorsUnavailable(
                f"the process that holds the vector store at {self.location} is not answering: {exc}"
            ) from exc
        log.info("the vector store at %s is held by another Kindred process: using it there", self.location)
        channel = Channel(Connection(sock.detach()), "the Kindred process holding the vector store")
        if self._closed:  # closed while connecting
            channel.hang_up()
            raise VectorsUnavailable("the vector index is closed")
        self._owner = channel
        return channel
