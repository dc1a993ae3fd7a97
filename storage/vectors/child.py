"""The embedded vector store's own process: the side that runs inside it (``main``).

Embedded Chroma holds the interpreter lock while it writes: 10 to 100 ms per upsert here, during which no
other thread of the process runs Python. In the bot's process that stalled the event loop, and with it
every reply, whenever the background worker indexed a turn (docs/background.md). So embedded stores live
in a child process (``storage.vectors.process`` is the parent's side), which runs the ordinary
``ChromaIndex`` for each store the parent opened, on an event loop of its own.

Inside the child every Chroma call runs on one thread, reads before writes: a query that arrives while
writes are queued waits for the write in progress only, not for the queue (Chroma serialises its calls on
the interpreter lock anyway, so one thread loses nothing).

Each request names its store by a ``StoreKey``; the child opens a store on its first request and closes it
when asked, so a restarted child simply reopens the stores as requests arrive. It exits when the parent's
end of the socket closes, after closing every store.

Opening a store makes the child its owner (``storage.vectors.owner``): other Kindred processes on the same
directory connect to the owner socket and are answered like the parent, so every process sees every write.
If another process's child owns it already, the request fails with ``OwnedElsewhere`` and the parent goes
there instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import heapq
import itertools
import logging
import os
import pickle
import signal
import socket
import sys
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from queue import SimpleQueue
from typing import Any

from storage.vectors import owner
from storage.vectors.chroma import ChromaIndex
from storage.vectors.owner import OwnedElsewhere

log = logging.getLogger(__name__)

# Calls the reply path waits for go first; writes, drops and maintenance after them.
READS = frozenset({"query", "get", "count", "ping"})
CALLS = READS | {"upsert", "delete", "drop_partition", "drop_user", "drop_space", "set_aside"}
CLOSE = "close"
# How long closing a store waits for its owner socket's address to be free again.
RELEASE_WAIT_S = 5.0

_priority: contextvars.ContextVar[int] = contextvars.ContextVar("vector_call_priority", default=1)


@dataclass(frozen=True, slots=True)
class StoreSpec:
    """The arguments of ``ChromaIndex.embedded``: requests with equal specs share one index."""

    path: Path
    prefix: str
    cache_size: int
    loaded_max: int
    exact_max: int
    exact_cache_bytes: int


@dataclass(frozen=True, slots=True)
class StoreKey:
    """One parent-side index: its own token, and the store it opens."""

    token: int
    path: Path
    prefix: str
    cache_size: int
    loaded_max: int
    exact_max: int = 0
    exact_cache_bytes: int = 64 << 20

    @property
    def spec(self) -> StoreSpec:
        return StoreSpec(
            self.path, self.prefix, self.cache_size, self.loaded_max, self.exact_max, self.exact_cache_bytes
        )


Request = tuple[int, StoreKey | None, str, tuple[Any, ...]]
# A request's id and its result; an exception is what the call raised (no call returns one).
Reply = tuple[int, Any]


class PriorityExecutor(Executor):
    """One thread running submitted calls lowest priority number first, in order within a priority.

    The priority is read from ``_priority`` in the submitting context: ``ChromaIndex`` submits each call
    from the task that makes it, so a task sets it once.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, Future[Any], Callable[..., Any], tuple[Any, ...]]] = []
        self._order = itertools.count()
        self._ready = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._work, name="chroma-calls", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if kwargs:
            raise TypeError("PriorityExecutor takes positional arguments only")
        future: Future[Any] = Future()
        with self._ready:
            if self._stopping:
                raise RuntimeError("the executor is shut down")
            heapq.heappush(self._heap, (_priority.get(), next(self._order), future, fn, args))
            self._ready.notify()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._ready:
            self._stopping = True
            if cancel_futures:
                for _, _, future, _, _ in self._heap:
                    future.cancel()
                self._heap.clear()
            self._ready.notify()
        if wait:
            self._thread.join()

    def _work(self) -> None:
        while True:
            with self._ready:
                while not self._heap and not self._stopping:
                    self._ready.wait()
                if not self._heap:
                    return
                _, _, future, fn, args = heapq.heappop(self._heap)
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # handed to the waiting task, as a thread pool does
                future.set_exception(exc)


# Who asked: 0 for this child's parent, else a foreign connection's number; then the asker's own token.
Holder = tuple[int, int]
Answer = Callable[[Reply], None]


class Host:
    """The stores this child holds, and the answering of requests for them.

    One ``ChromaIndex`` serves every holder of the same store (this child's parent, and the processes that
    reached it through the store's owner socket, ``storage.vectors.owner``); it closes with its last holder,
    and the child gives up owning a directory when no store in it is open.
    """

    def __init__(self, executor: Executor) -> None:
        self._executor = executor
        self._indexes: dict[StoreSpec, ChromaIndex] = {}
        self._holders: dict[StoreSpec, set[Holder]] = {}
        # Per holder: the calls still running, so its close waits for them.
        self._running: dict[Holder, set[asyncio.Task[None]]] = {}
        self._owned: dict[Path, Listener] = {}

    def dispatch(self, request: Request, answer: Answer, origin: int = 0, only: Path | None = None) -> None:
        req_id, key, name, args = request
        if key is None or (name != CLOSE and name not in CALLS):
            answer((req_id, ValueError(f"unknown vector index call {name!r}")))
            return
        if only is not None and key.path != only:
            answer((req_id, ValueError(f"this vector process serves only the store at {only}")))
            return
        holder = (origin, key.token)
        spec = key.spec
        work = self._release(holder, spec) if name == CLOSE else self._answer(holder, spec, name, args)
        task = asyncio.get_running_loop().create_task(_reply(req_id, work, answer))
        running = self._running.setdefault(holder, set())
        running.add(task)
        task.add_done_callback(running.discard)

    def foreign_gone(self, origin: int) -> None:
        """A foreign connection closed: let go of whatever it held, once its calls have ended."""
        for spec, holders in list(self._holders.items()):
            for holder in [h for h in holders if h[0] == origin]:
                asyncio.get_running_loop().create_task(self._release(holder, spec))

    async def close_all(self) -> None:
        for spec, holders in list(self._holders.items()):
            for holder in list(holders):
                await self._release(holder, spec)

    async def _answer(self, holder: Holder, spec: StoreSpec, name: str, args: tuple[Any, ...]) -> Any:
        _priority.set(0 if name in READS else 1)
        index = self._indexes.get(spec)
        if index is None:
            self._own(spec.path)
            index = self._indexes[spec] = ChromaIndex.embedded(
                spec.path,
                prefix=spec.prefix,
                cache_size=spec.cache_size,
                loaded_max=spec.loaded_max,
                executor=self._executor,
                exact_max=spec.exact_max,
                exact_cache_bytes=spec.exact_cache_bytes,
            )
        self._holders.setdefault(spec, set()).add(holder)
        return await getattr(index, name)(*args)

    async def _release(self, holder: Holder, spec: StoreSpec) -> None:
        current = asyncio.current_task()
        # What was asked before the close is answered before the store closes.
        earlier = [t for t in self._running.get(holder, ()) if t is not current]
        if earlier:
            await asyncio.gather(*earlier, return_exceptions=True)
        self._running.pop(holder, None)
        holders = self._holders.get(spec)
        if holders is None or holder not in holders:
            return
        holders.discard(holder)
        if holders:
            return
        del self._holders[spec]
        index = self._indexes.pop(spec, None)
        if index is not None:
            try:
                await index.close()
            except Exception:
                log.warning("closing the vector store at %s failed", spec.path, exc_info=True)
        if not any(s.path == spec.path for s in self._indexes):
            listener = self._owned.pop(spec.path, None)
            if listener is not None:
                listener.close()

    def _own(self, path: Path) -> None:
        if path in self._owned:
            return
        sock = owner.claim(path)
        if sock is None:
            raise OwnedElsewhere(owner.store_address(path))
        self._owned[path] = Listener(sock, path, self, asyncio.get_running_loop())


async def _reply(req_id: int, work: Awaitable[Any], answer: Answer) -> None:
    try:
        answer((req_id, await work))
    except Exception as exc:
        answer((req_id, _portable(exc)))


class Listener:
    """The owner socket of one store: each process that connects gets its calls answered like the parent's."""

    def __init__(self, sock: socket.socket, path: Path, host: Host, loop: asyncio.AbstractEventLoop) -> None:
        self._sock = sock
        self._path = path
        self._host = host
        self._loop = loop
        self._lock = threading.Lock()
        self._connections: list[Connection] = []
        self._closed = False
        self._accepting = threading.Thread(target=self._accept_all, name="vector-owner", daemon=True)
        self._accepting.start()

    def close(self) -> None:
        """Stop accepting and hang up on every foreign process (their next call finds the new owner)."""
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        owner.release(self._sock)
        # The kernel frees the address only once the thread blocked in accept() has returned from it: until
        # then a store opened again at once would find its own old claim in the way and, connecting to it,
        # be refused (seen under load).
        self._accepting.join(timeout=RELEASE_WAIT_S)
        for conn in connections:
            _hang_up(conn)

    def _accept_all(self) -> None:
        for origin in itertools.count(1):
            try:
                sock, _ = self._sock.accept()
            except OSError:
                return  # released
            conn = Connection(sock.detach())
            with self._lock:
                if self._closed:
                    conn.close()
                    return
                self._connections.append(conn)
            self._serve(conn, origin)

    def _serve(self, conn: Connection, origin: int) -> None:
        outbox: SimpleQueue[Reply | None] = SimpleQueue()
        path, host = self._path, self._host

        def receive(request: Request | None) -> None:
            if request is None:
                outbox.put(None)
                host.foreign_gone(origin)
            else:
                host.dispatch(request, outbox.put, origin, only=path)

        threading.Thread(target=_read_all, args=(conn, self._loop, receive), daemon=True).start()
        threading.Thread(target=send_all, args=(conn, outbox, _unsendable_reply), daemon=True).start()


def _hang_up(conn: Connection) -> None:
    """Shut a connection down under the threads blocked on it (they see end of file and finish)."""
    with contextlib.suppress(OSError), socket.socket(fileno=os.dup(conn.fileno())) as sock:
        sock.shutdown(socket.SHUT_RDWR)


def main() -> int:
    """Serve the parent on the socket whose descriptor is the first argument."""
    # Ctrl-C in a terminal reaches the whole process group; the parent decides when stores close.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s vectors: %(message)s")
    conn = Connection(socket.socket(fileno=int(sys.argv[1])).detach())
    asyncio.run(_serve(conn))
    return 0


async def _serve(conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    executor = PriorityExecutor()
    outbox: SimpleQueue[Reply | None] = SimpleQueue()
    host = Host(executor)
    gone = asyncio.Event()

    def receive(request: Request | None) -> None:
        if request is None:
            gone.set()
        else:
            host.dispatch(request, outbox.put)

    reader = threading.Thread(target=_read_all, args=(conn, loop, receive), name="vector-calls", daemon=True)
    reader.start()
    sender = threading.Thread(
        target=send_all, args=(conn, outbox, _unsendable_reply), name="vector-replies", daemon=True
    )
    sender.start()
    await gone.wait()
    await host.close_all()
    outbox.put(None)
    await asyncio.to_thread(sender.join)
    executor.shutdown()


def _read_all(conn: Connection, loop: asyncio.AbstractEventLoop, receive: Callable[[Any], None]) -> None:
    """Hand each request to the loop; ``None`` once the parent's end has closed."""
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            loop.call_soon_threadsafe(receive, None)
            return
        loop.call_soon_threadsafe(receive, request)


def send_all(
    conn: Connection, outbox: SimpleQueue[Any], unsendable: Callable[[Any, Exception], Any | None]
) -> None:
    """Send what the queue holds down ``conn`` until ``None`` or the other end has gone (both ends' sender).

    A message that cannot be pickled goes to ``unsendable``, which answers for it and may return a message
    to send in its place; the thread carries on, since every later message's caller would wait for ever.
    """
    while (message := outbox.get()) is not None:
        try:
            try:
                conn.send(message)
            except (pickle.PicklingError, TypeError, AttributeError) as exc:
                instead = unsendable(message, exc)
                if instead is not None:
                    conn.send(instead)
        except (OSError, EOFError, ValueError):
            return  # the other end is gone: its reader fails whatever still waits


def _unsendable_reply(reply: Reply, exc: Exception) -> Reply:
    return (reply[0], RuntimeError(f"the vector store's answer could not be sent: {exc}"))


def _portable(exc: Exception) -> Exception:
    """Return the exception itself if it survives pickling, else a RuntimeError that says what it was."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc
