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
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import itertools
import logging
import pickle
import signal
import socket
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from queue import SimpleQueue
from typing import Any

from storage.vectors.chroma import ChromaIndex

log = logging.getLogger(__name__)

# Calls the reply path waits for go first; writes, drops and maintenance after them.
READS = frozenset({"query", "get", "count", "ping"})
CALLS = READS | {"upsert", "delete", "drop_partition", "drop_user", "drop_space", "set_aside"}
CLOSE = "close"

_priority: contextvars.ContextVar[int] = contextvars.ContextVar("vector_call_priority", default=1)


@dataclass(frozen=True, slots=True)
class StoreKey:
    """One parent-side index: its own token, and the arguments of ``ChromaIndex.embedded``."""

    token: int
    path: Path
    prefix: str
    cache_size: int
    loaded_max: int


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


class Host:
    """The stores this child holds, and the answering of requests for them."""

    def __init__(self, outbox: SimpleQueue[Reply | None], executor: Executor) -> None:
        self._outbox = outbox
        self._executor = executor
        self._stores: dict[StoreKey, ChromaIndex] = {}
        # Per store: the calls still running, so a close waits for them.
        self._running: dict[StoreKey, set[asyncio.Task[None]]] = {}

    def dispatch(self, request: Request) -> None:
        req_id, key, name, args = request
        if key is None or (name != CLOSE and name not in CALLS):
            self._outbox.put((req_id, ValueError(f"unknown vector index call {name!r}")))
            return
        work = self._close(req_id, key) if name == CLOSE else self._answer(req_id, key, name, args)
        task = asyncio.get_running_loop().create_task(work)
        running = self._running.setdefault(key, set())
        running.add(task)
        task.add_done_callback(running.discard)

    async def close_all(self) -> None:
        for key in list(self._stores):
            await self._close(None, key)

    async def _answer(self, req_id: int, key: StoreKey, name: str, args: tuple[Any, ...]) -> None:
        _priority.set(0 if name in READS else 1)
        try:
            index = self._stores.get(key)
            if index is None:
                index = self._stores[key] = ChromaIndex.embedded(
                    key.path,
                    prefix=key.prefix,
                    cache_size=key.cache_size,
                    loaded_max=key.loaded_max,
                    executor=self._executor,
                )
            self._outbox.put((req_id, await getattr(index, name)(*args)))
        except Exception as exc:
            self._outbox.put((req_id, _portable(exc)))

    async def _close(self, req_id: int | None, key: StoreKey) -> None:
        current = asyncio.current_task()
        # What was asked before the close is answered before the store closes.
        earlier = [t for t in self._running.get(key, ()) if t is not current]
        if earlier:
            await asyncio.gather(*earlier, return_exceptions=True)
        index = self._stores.pop(key, None)
        if index is not None:
            try:
                await index.close()
            except Exception:
                log.warning("closing the vector store at %s failed", key.path, exc_info=True)
        self._running.pop(key, None)
        if req_id is not None:
            self._outbox.put((req_id, None))


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
    host = Host(outbox, executor)
    gone = asyncio.Event()

    def receive(request: Request | None) -> None:
        if request is None:
            gone.set()
        else:
            host.dispatch(request)

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
