"""The vector tier on Chroma: embedded (``PersistentClient``) or a server (``HttpClient``).

Layout: one collection per partition, named ``{prefix}-{space}-{user}-{realm}``. The collection *is* the
scope filter: a ``where`` on one shared collection measured 59 ms p50 at 100k vectors over 100 users,
against 2.8 ms unfiltered, and a query can only ever see the partition it names.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import hashlib
import logging
import re
import shutil
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import numpy as np

from storage.config import VectorSettings
from storage.embedding.base import Vectors
from storage.health import TierHealth
from storage.vectors.base import (
    Partition,
    StoredVectors,
    VectorHit,
    VectorItem,
    VectorsUnavailable,
    health_by_ping,
)
from storage.vectors.exact import ExactStore, where_predicate

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.collection_configuration import (
        CreateCollectionConfiguration,
        UpdateCollectionConfiguration,
    )
    from chromadb.api.models.Collection import Collection

log = logging.getLogger(__name__)

T = TypeVar("T")

BACKEND_EMBEDDED = "chroma-embedded"
BACKEND_HTTP = "chroma-http"

_PREFIX = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,46}[A-Za-z0-9])?$")
_SPACE = re.compile(r"^[A-Za-z0-9]{1,32}$")
_SEGMENT_ID = re.compile(r"^[0-9a-fA-F-]{36}$")
_KEEP = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
# Keeps the longest possible name (prefix 48 + space 32 + two parts + three dashes) under Chroma's 512.
_MAX_PART = 200
_LIST_PAGE = 1000
# A filtered query first asks for this many times k unfiltered neighbours (see _search_filtered_locally).
_OVERFETCH = 4
_MIN_OVERFETCH = 32
# Every write goes to the index files at once. Chroma 1.5.9 reloads an index that its in-memory cache
# evicted from those files alone, without replaying the log written since the last sync: under Chroma's
# default threshold (1,000 writes) a person with fewer vectors gets "Nothing found on disk", and one with
# more silently loses the newest. See storage/vectors/chroma_bounded.py.
_SYNC_EVERY_WRITE: UpdateCollectionConfiguration = {"hnsw": {"sync_threshold": 1, "batch_size": 1}}
# Chroma 1.x takes the distance in ``configuration`` at creation ("hnsw:space" metadata is legacy).
_COSINE: CreateCollectionConfiguration = {"hnsw": {"space": "cosine", "sync_threshold": 1, "batch_size": 1}}


def check_prefix(prefix: str) -> None:
    """Raise ValueError unless ``prefix`` can start a Chroma collection name."""
    if not _PREFIX.match(prefix) or ".." in prefix:
        raise ValueError(
            f"vectors.collection_prefix {prefix!r} must be 1-48 characters of [A-Za-z0-9._-], "
            "start and end with a letter or digit, and contain no '..'"
        )


def encode_part(value: str) -> str:
    """Return a collection-name-safe, injective encoding of a user key or realm."""
    if not value:
        raise ValueError("a partition's user_key and realm must not be empty")
    # Letters and digits pass through; every other byte becomes ``_xx``. '_' is always an escape, so two
    # different keys can never share a name (``a:b`` and ``a_b`` stay apart), and no '-', '.' or '..' leaks
    # into the part, so names split unambiguously on '-'.
    out: list[str] = []
    for char in value:
        if char in _KEEP:
            out.append(char)
        else:
            out.extend(f"_{byte:02x}" for byte in char.encode("utf-8"))
    encoded = "".join(out)
    if len(encoded) > _MAX_PART:
        # "_h" can never start a normal encoding ('h' is not a hex digit), so a hashed part stays distinct.
        encoded = "_h" + hashlib.sha256(value.encode("utf-8")).hexdigest()[:40]
    return encoded


class ChromaIndex:
    """``VectorIndex`` on Chroma, one collection per (space, person, realm), with an async API."""

    def __init__(
        self,
        connect: Callable[[], ClientAPI],
        *,
        backend: str,
        prefix: str = "kindred",
        location: str = "",
        timeout_s: float | None = None,
        cache_size: int = 1024,
        persist_path: Path | None = None,
        executor: Executor | None = None,
        loaded_max: int = 0,
        exact_max: int = 0,
        exact_cache_bytes: int = 64 << 20,
    ) -> None:
        """Wrap a client factory; the client is made on first use so a down server does not stop startup.

        ``loaded_max`` (embedded only; 0 for no bound) is how many collections' indexes may be held in memory:
        see ``_admit``. ``exact_max`` (embedded only; 0 for none) keeps a partition in the exact store
        (``storage.vectors.exact``) until it holds more vectors than that; ``exact_cache_bytes`` bounds the
        memory that store's loaded partitions take.
        """
        check_prefix(prefix)
        self.backend = backend
        self.prefix = prefix
        self.location = location
        self._connect = connect
        self._timeout_s = timeout_s
        self._cache_size = max(1, cache_size)
        self._client: ClientAPI | None = None
        self._closed = False
        self._lock = threading.Lock()
        self._handles: OrderedDict[str, Collection] = OrderedDict()
        self._max_batch: int | None = None
        # The embedded store's directory, where dropping a collection also removes its index files.
        self._persist_path = persist_path
        # Where the blocking Chroma calls run; None is the loop's default thread pool.
        self._executor = executor
        self._loaded_max = max(0, loaded_max) if persist_path is not None else 0
        # The collections this client has touched since it opened: each may have its index loaded.
        self._touched: set[str] = set()
        self._calls_running = 0
        self._exact_max = max(0, exact_max) if persist_path is not None else 0
        self._exact = (
            ExactStore(persist_path, cache_bytes=exact_cache_bytes)
            if persist_path is not None and self._exact_max
            else None
        )
        # Names of the partitions that have a Chroma collection (read once, then kept here): with the exact
        # store on, every other partition lives there. None until first needed.
        self._in_chroma: set[str] | None = None

    @property
    def reclaims_space(self) -> bool:
        """Return whether dropping a collection gives its disk space back (the embedded store does)."""
        return self._persist_path is not None

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_settings(
        cls, settings: VectorSettings, path: Path, *, timeout_s: float = 10.0, cache_size: int = 1024
    ) -> ChromaIndex:
        """Build the index the settings describe; ``path`` is the embedded directory (already resolved)."""
        if settings.backend == "http":
            return cls.http(
                settings.host,
                settings.port,
                ssl=settings.ssl,
                prefix=settings.collection_prefix,
                timeout_s=timeout_s,
                cache_size=cache_size,
            )
        return cls.embedded(
            path,
            prefix=settings.collection_prefix,
            cache_size=cache_size,
            loaded_max=settings.loaded_indexes_max,
            exact_max=settings.exact_max,
            exact_cache_bytes=settings.exact_cache_mb << 20,
        )

    @classmethod
    def embedded(
        cls,
        path: Path,
        *,
        prefix: str = "kindred",
        cache_size: int = 1024,
        loaded_max: int = 0,
        executor: Executor | None = None,
        exact_max: int = 0,
        exact_cache_bytes: int = 64 << 20,
    ) -> ChromaIndex:
        """Return an index stored in a local directory through Chroma's ``PersistentClient``.

        ``loaded_max`` bounds how many collections' vector indexes stay in memory (0: Chroma's default,
        which follows the open-file limit); see ``storage.vectors.chroma_bounded``. Partitions of up to
        ``exact_max`` vectors live in the exact store instead (``storage.vectors.exact``; 0: none do).
        """

        made: list[Any] = []

        def connect() -> ClientAPI:
            from storage.vectors.chroma_bounded import open_persistent_client

            path.mkdir(parents=True, exist_ok=True)
            # Chroma's settings read the environment and .env files (about 15 ms): once per index, since
            # a bounded index reopens its client whenever it unloads its indexes (``_admit``).
            if not made:
                made.append(_chroma_settings())
            return open_persistent_client(path, made[0].model_copy(), loaded_max)

        return cls(
            connect,
            backend=BACKEND_EMBEDDED,
            prefix=prefix,
            location=str(path),
            cache_size=cache_size,
            persist_path=path,
            executor=executor,
            loaded_max=loaded_max,
            exact_max=exact_max,
            exact_cache_bytes=exact_cache_bytes,
        )

    @classmethod
    def http(
        cls,
        host: str,
        port: int,
        *,
        ssl: bool = False,
        prefix: str = "kindred",
        timeout_s: float = 10.0,
        cache_size: int = 1024,
    ) -> ChromaIndex:
        """Return an index on a Chroma server through ``HttpClient``."""

        def connect() -> ClientAPI:
            import chromadb

            client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=_chroma_settings())
            _bound_http_timeout(client, timeout_s)
            return client

        scheme = "https" if ssl else "http"
        return cls(
            connect,
            backend=BACKEND_HTTP,
            prefix=prefix,
            location=f"{scheme}://{host}:{port}",
            timeout_s=timeout_s,
            cache_size=cache_size,
        )

    # ------------------------------------------------------------------ naming

    def collection_name(self, space: str, partition: Partition) -> str:
        """Return the collection that holds one partition of one embedding space."""
        return f"{self._space_prefix(space)}{encode_part(partition.user_key)}-{encode_part(partition.realm)}"

    def _space_prefix(self, space: str) -> str:
        if not _SPACE.match(space):
            raise ValueError(f"an embedding space id must be 1-32 letters or digits, got {space!r}")
        return f"{self.prefix}-{space}-"

    def _parse(self, name: str) -> tuple[str, str, str] | None:
        """Split one of our collection names into (space, user part, realm part); None if not ours."""
        head = f"{self.prefix}-"
        if not name.startswith(head):
            return None
        parts = name[len(head) :].split("-")
        if len(parts) != 3:
            return None
        space, user, realm = parts
        return space, user, realm

    # ------------------------------------------------------------------ the VectorIndex API

    async def upsert(self, space: str, partition: Partition, items: Sequence[VectorItem]) -> None:
        """Insert or replace vectors in one partition, creating its collection when needed."""
        if not items:
            return
        name = self.collection_name(space, partition)
        # Last one wins for a repeated id, as a sequence of upserts would; Chroma rejects duplicates.
        latest = {item.id: item for item in items}
        ids = list(latest)
        vectors = _matrix([latest[i].vector for i in ids])
        metadatas = [dict(latest[i].metadata) or None for i in ids]
        await self._run(lambda: self._upsert_routed(name, ids, vectors, metadatas))

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
        names = list(dict.fromkeys(self.collection_name(space, p) for p in partitions))
        query = _matrix([vector])
        return await self._run(lambda: self._query_sync(names, query, k, where or None))

    async def delete(self, space: str, partition: Partition, ids: Sequence[str]) -> None:
        """Remove vectors by id from one partition (absent ids and partitions are fine)."""
        if not ids:
            # Never call Chroma's delete without ids: with no filter at all it is not a no-op everywhere.
            return
        name = self.collection_name(space, partition)
        await self._run(lambda: self._delete_sync(name, list(ids)))

    async def get(self, space: str, partition: Partition, ids: Sequence[str] | None = None) -> StoredVectors:
        """Return stored vectors: those with these ids (absent ones are left out), or all for None."""
        empty = StoredVectors([], np.zeros((0, 0), dtype=np.float32), [])
        if ids is not None and not ids:
            return empty
        name = self.collection_name(space, partition)
        wanted = None if ids is None else list(dict.fromkeys(ids))

        def read(handle: Collection) -> StoredVectors:
            return _get_all(handle, wanted)

        def get() -> StoredVectors:
            if self._exact is not None and not self._in_chroma_now(name):
                return self._exact.get(name, wanted) or empty
            return self._with_collection(name, False, read, empty)

        return await self._run(get)

    async def drop_partition(self, space: str, partition: Partition) -> bool:
        """Remove one partition's collection (compaction rebuilds it); return whether it existed."""
        name = self.collection_name(space, partition)
        return await self._run(lambda: self._drop_one_sync(name))

    async def drop_user(self, user_key: str) -> int:
        """Remove every partition of one person in every space; return how many collections went."""
        user = encode_part(user_key)
        return await self._run(lambda: self._drop_sync(lambda parsed: parsed[1] == user, user_part=user))

    async def drop_space(self, space: str) -> int:
        """Remove every collection of a space (after a reindex into a new one)."""
        self._space_prefix(space)
        return await self._run(lambda: self._drop_sync(lambda parsed: parsed[0] == space, space=space))

    async def count(self, space: str | None = None) -> int:
        """Return how many vectors are stored, in one space or in all of ours."""
        if space is not None:
            self._space_prefix(space)
        return await self._run(lambda: self._count_sync(space))

    async def ping(self) -> float:
        """Return the round-trip time of a heartbeat in milliseconds, or raise VectorsUnavailable."""
        return await self._run(self._ping_sync)

    async def health(self) -> TierHealth:
        """Report whether Chroma answers, and how fast."""
        return await health_by_ping(self.backend, self.ping, {"location": self.location})

    async def close(self) -> None:
        """Release the client (for the embedded store: its files); the index cannot be used afterwards."""
        with self._lock:
            self._closed = True
            client, self._client = self._client, None
            self._handles.clear()
            self._touched.clear()
            self._in_chroma = None
        if client is not None:
            await asyncio.to_thread(_close_client, client)
        if self._exact is not None:
            await asyncio.to_thread(self._exact.close)

    async def set_aside(self) -> Path | None:
        """Move an unreadable embedded store aside (kept for inspection) so ``reindex`` can build a fresh one
        in its place; return where it went, or None for a server, whose files are not ours to move."""
        path = self._persist_path
        if path is None or not path.exists():
            return None
        with self._lock:
            client, self._client = self._client, None
            self._handles.clear()
            self._touched.clear()
            self._in_chroma = None
        if client is not None:
            await asyncio.to_thread(_close_client, client)
        if self._exact is not None:
            await asyncio.to_thread(self._exact.close)
        target = path.with_name(f"{path.name}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}")
        await asyncio.to_thread(path.rename, target)
        log.warning("moved the unreadable vector store %s aside to %s", path, target)
        return target

    # ------------------------------------------------------------------ running calls

    async def _run(self, call: Callable[[], T]) -> T:
        # Chroma's Python API blocks; a worker thread keeps the event loop free.
        work = asyncio.get_running_loop().run_in_executor(self._executor, self._guarded, call)
        if self._timeout_s is None:
            return await work
        try:
            return await asyncio.wait_for(work, self._timeout_s)
        except TimeoutError as exc:
            raise VectorsUnavailable(
                f"Chroma at {self.location} did not answer within {self._timeout_s:g}s"
            ) from exc

    def _guarded(self, call: Callable[[], T]) -> T:
        from chromadb.errors import AuthorizationError, ChromaAuthError, ChromaError, InternalError

        with self._lock:
            self._calls_running += 1
        try:
            return call()
        except VectorsUnavailable:
            raise
        except httpx.HTTPError as exc:
            raise VectorsUnavailable(f"Chroma at {self.location} is unreachable: {exc}") from exc
        except InternalError as exc:
            # Embedded: a corrupt or unreadable store. Server: a failure on its side.
            raise VectorsUnavailable(f"Chroma at {self.location} failed: {exc}") from exc
        except (ChromaAuthError, AuthorizationError) as exc:
            raise VectorsUnavailable(f"Chroma at {self.location} refused our credentials: {exc}") from exc
        except ChromaError as exc:
            if exc.code() >= 500 or exc.code() == 429:
                raise VectorsUnavailable(f"Chroma at {self.location} failed: {exc}") from exc
            # Anything else (a bad argument, a dimension mismatch) is a bug in the caller: let it show.
            raise
        except OSError as exc:
            raise VectorsUnavailable(f"Chroma at {self.location} cannot be used: {exc}") from exc
        except sqlite3.Error as exc:
            raise VectorsUnavailable(f"the exact vector store at {self.location} failed: {exc}") from exc
        finally:
            with self._lock:
                self._calls_running -= 1

    def _get_client(self) -> ClientAPI:
        with self._lock:
            if self._closed:
                raise VectorsUnavailable("the vector index is closed")
            if self._client is not None:
                return self._client
            self._client = self._open_client()
            return self._client

    def _open_client(self) -> ClientAPI:
        from chromadb.errors import ChromaError

        try:
            client = self._connect()
        except (ChromaError, OSError, httpx.HTTPError) as exc:
            raise VectorsUnavailable(f"cannot open Chroma at {self.location}: {exc}") from exc
        except (ValueError, AttributeError) as exc:
            # Chroma reports "Could not connect to a Chroma server" (and a clash of settings for one
            # directory) as ValueError. A second open of a corrupt embedded store fails in Chroma's own
            # cleanup with an AttributeError; the store is just as unusable.
            raise VectorsUnavailable(f"cannot open Chroma at {self.location}: {exc}") from exc
        log.info("connected to %s at %s", self.backend, self.location)
        return client

    # ------------------------------------------------------------------ collection handles (LRU)

    def _cached(self, name: str) -> Collection | None:
        with self._lock:
            handle = self._handles.get(name)
            if handle is not None:
                self._handles.move_to_end(name)
            return handle

    def _remember(self, name: str, handle: Collection) -> None:
        with self._lock:
            self._handles[name] = handle
            self._handles.move_to_end(name)
            while len(self._handles) > self._cache_size:
                self._handles.popitem(last=False)

    def _forget(self, name: str) -> None:
        with self._lock:
            self._handles.pop(name, None)

    def _existing(self, name: str) -> Collection | None:
        """Return the collection if it exists, without creating it."""
        from chromadb.errors import NotFoundError

        handle = self._cached(name)
        if handle is not None:
            return handle
        try:
            handle = self._get_client().get_collection(name, embedding_function=None)
        except NotFoundError:
            return None
        self._sync_every_write(handle)
        self._remember(name, handle)
        return handle

    def _ensure(self, name: str) -> Collection:
        handle = self._cached(name)
        if handle is not None:
            return handle
        handle = self._get_client().get_or_create_collection(
            name,
            configuration=_COSINE,
            embedding_function=None,
        )
        self._sync_every_write(handle)
        self._remember(name, handle)
        return handle

    def _sync_every_write(self, handle: Collection) -> None:
        # Collections made before _COSINE carried the threshold get it on first use. Only the embedded
        # store: a server keeps its own cache, and an older server may refuse to modify a configuration.
        if self._persist_path is None:
            return
        hnsw = (handle.configuration_json or {}).get("hnsw") or {}
        if hnsw.get("sync_threshold") != 1:
            handle.modify(configuration=_SYNC_EVERY_WRITE)

    def _admit(self, name: str) -> None:
        """Close the client first if touching ``name`` would leave more than ``loaded_max`` indexes loaded.

        Chroma 1.5.9 keeps loaded indexes in a cache split into 64 shards that each keep at least their
        newest index, so its capacity alone holds up to 64 of them (about 2.6 MB each) however low it is set.
        Closing the client frees them all; the next call opens it again (about 15 ms) and reads indexes
        back from disk as they are used. Only when no other call is using the client: the child process
        runs one call at a time, so there it is always so.
        """
        if not self._loaded_max:
            return
        with self._lock:
            if name in self._touched:
                return
            client = None
            if len(self._touched) >= self._loaded_max and self._calls_running <= 1:
                client, self._client = self._client, None
                self._handles.clear()
                self._touched.clear()
                if client is not None:
                    # Under the lock: a call that starts now must not open the store while it closes.
                    log.debug("reopening the vector store at %s to unload its indexes", self.location)
                    _close_client(client)
            self._touched.add(name)
        if client is not None:
            _return_freed_memory()

    def _with_collection(self, name: str, create: bool, action: Callable[[Collection], T], empty: T) -> T:
        """Run an action on a collection, re-resolving once if another process dropped it under us."""
        from chromadb.errors import NotFoundError

        self._admit(name)
        for attempt in range(2):
            handle = self._ensure(name) if create else self._existing(name)
            if handle is None:
                return empty
            try:
                return action(handle)
            except NotFoundError:
                self._forget(name)
                if attempt == 1:
                    if create:
                        raise
                    return empty
        return empty

    # ------------------------------------------------------------------ sync bodies (worker thread)

    def _batch_limit(self) -> int:
        if self._max_batch is None:
            self._max_batch = max(1, int(self._get_client().get_max_batch_size()))
        return self._max_batch

    def _upsert_sync(
        self, name: str, ids: list[str], vectors: np.ndarray, metadatas: list[dict[str, Any] | None]
    ) -> None:
        step = self._batch_limit()

        def write(handle: Collection) -> None:
            for start in range(0, len(ids), step):
                end = start + step
                handle.upsert(
                    ids=ids[start:end],
                    embeddings=vectors[start:end],
                    metadatas=metadatas[start:end],  # type: ignore[arg-type]
                )

        self._with_collection(name, True, write, None)

    def _query_sync(
        self, names: list[str], query: np.ndarray, k: int, where: dict[str, Any] | None
    ) -> list[VectorHit]:
        matches = _local_predicate(where) if where else None
        hits: list[VectorHit] = []
        for name in names:
            if self._exact is not None and not self._in_chroma_now(name):
                hits.extend(self._exact.search(name, query, k, where_predicate(where) if where else None))
                continue

            def search(handle: Collection) -> list[VectorHit]:
                if where and matches is not None:
                    return _search_filtered_locally(handle, query, k, where, matches)
                return _search(handle, query, k, where)

            hits.extend(self._with_collection(name, False, search, []))
        hits.sort(key=lambda hit: (hit.distance, hit.id))
        return hits[:k]

    def _delete_sync(self, name: str, ids: list[str]) -> None:
        if self._exact is not None and not self._in_chroma_now(name):
            self._exact.delete(name, ids)
            return
        self._with_collection(name, False, lambda handle: handle.delete(ids=ids), None)

    # ------------------------------------------------------------------ the exact store's partitions

    def _in_chroma_now(self, name: str) -> bool:
        """Return whether a partition lives in a Chroma collection (with the exact store on)."""
        with self._lock:
            known = self._in_chroma
        if known is None:
            known = {collection for collection, _ in self._ours()}
            with self._lock:
                self._in_chroma = known
            assert self._exact is not None
            for unfinished in self._exact.moving():
                self._move_to_chroma(unfinished)
        return name in known

    def _upsert_routed(
        self, name: str, ids: list[str], vectors: np.ndarray, metadatas: list[dict[str, Any] | None]
    ) -> None:
        exact = self._exact
        if exact is None or self._in_chroma_now(name):
            self._upsert_sync(name, ids, vectors, metadatas)
            return
        parsed = self._parse(name)
        assert parsed is not None
        held = exact.upsert(name, parsed[0], parsed[1], ids, vectors, metadatas)
        if held > self._exact_max:
            self._move_to_chroma(name)

    def _move_to_chroma(self, name: str) -> None:
        """Copy a partition grown past ``exact_max`` into a Chroma collection, then drop it here.

        Marked first: a crash in between leaves it marked, and the next start finishes the move (upserts are
        idempotent), so no vector is ever only half moved.
        """
        assert self._exact is not None
        self._exact.mark_moving(name)
        stored = self._exact.get(name, None)
        if stored is not None and stored.ids:
            self._upsert_sync(name, stored.ids, stored.vectors, [m or None for m in stored.metadatas])
        with self._lock:
            if self._in_chroma is not None:
                self._in_chroma.add(name)
        self._exact.drop(name)
        log.info(
            "moved a partition of %d vectors into its own Chroma collection", len(stored.ids) if stored else 0
        )

    def _ours(self) -> Iterator[tuple[str, tuple[str, str, str]]]:
        client = self._get_client()
        offset = 0
        while True:
            page = client.list_collections(limit=_LIST_PAGE, offset=offset)
            for collection in page:
                parsed = self._parse(collection.name)
                if parsed is not None:
                    yield collection.name, parsed
            if len(page) < _LIST_PAGE:
                return
            offset += len(page)

    def _drop_one_sync(self, name: str) -> bool:
        from chromadb.errors import NotFoundError

        handle = self._existing(name)
        self._forget(name)
        with self._lock:
            if self._in_chroma is not None:
                self._in_chroma.discard(name)
        was_exact = self._exact is not None and self._exact.drop(name)
        if handle is None:
            return was_exact
        leftovers = self._segment_dirs(str(handle.id))
        try:
            self._get_client().delete_collection(name)
        except NotFoundError:
            return False
        for directory in leftovers:
            shutil.rmtree(directory, ignore_errors=True)
        return True

    def _segment_dirs(self, collection_id: str) -> list[Path]:
        """Return the on-disk index directories of one collection of the embedded store.

        Chroma 1.x deletes a collection from its catalogue but leaves its HNSW directory behind (the garbage
        collector that should remove it is not part of the embedded store; chroma-core/chroma#5259), so a
        dropped partition, a forgotten person included, would stay on disk. Dropping removes them itself.
        """
        if self._persist_path is None:
            return []
        catalogue = self._persist_path / "chroma.sqlite3"
        try:
            with closing(sqlite3.connect(f"file:{catalogue}?mode=ro", uri=True)) as conn:
                query = "SELECT id FROM segments WHERE collection = ?"
                rows = conn.execute(query, (collection_id,)).fetchall()
        except sqlite3.Error as exc:
            log.debug("cannot list the segments of collection %s: %s", collection_id, exc)
            return []
        found = [self._persist_path / str(row[0]) for row in rows if _SEGMENT_ID.match(str(row[0]))]
        return [path for path in found if path.is_dir()]

    def _drop_sync(
        self,
        match: Callable[[tuple[str, str, str]], bool],
        *,
        space: str | None = None,
        user_part: str | None = None,
    ) -> int:
        # Collect first: deleting while paging would shift the offsets under us.
        doomed = [name for name, parsed in self._ours() if match(parsed)]
        dropped = sum(1 for name in doomed if self._drop_one_sync(name))
        if self._exact is not None:
            dropped += len(self._exact.drop_matching(space=space, user_part=user_part))
        if dropped:
            log.info("dropped %d vector collections", dropped)
        return dropped

    def _count_sync(self, space: str | None) -> int:
        total = 0 if self._exact is None else self._exact.count(space)
        for name, parsed in list(self._ours()):
            if space is not None and parsed[0] != space:
                continue
            total += self._with_collection(name, False, lambda handle: int(handle.count()), 0)
        return total

    def _ping_sync(self) -> float:
        client = self._get_client()
        started = time.perf_counter()
        client.heartbeat()
        if self._exact is not None:
            self._exact.ping()
        return (time.perf_counter() - started) * 1000.0


def _chroma_settings() -> Any:
    from chromadb.config import Settings

    return Settings(anonymized_telemetry=False, allow_reset=False)


def _bound_http_timeout(client: Any, timeout_s: float) -> None:
    # Chroma's HTTP session has no timeout at all, so a hung server would hold a worker thread forever
    # (and, one by one, every thread in the pool). There is no public setting; set it where the session
    # lives, and leave it alone if a future release moves it (``_run`` still bounds the wait).
    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(timeout_s)


def _close_client(client: Any) -> None:
    close = getattr(client, "close", None)
    if callable(close):
        try:
            close()
        except Exception:
            log.warning("closing the Chroma client failed", exc_info=True)


def _return_freed_memory() -> None:
    # glibc keeps freed heap pages; after unloading the indexes hand them back (a few ms, once per reopen).
    # Elsewhere there is no malloc_trim, and nothing to do.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


def _matrix(rows: Sequence[Any]) -> np.ndarray:
    try:
        matrix = np.asarray(rows, dtype=np.float32)
    except ValueError as exc:
        raise ValueError("vectors must all have the same length") from exc
    if matrix.ndim == 3 and matrix.shape[1] == 1:
        matrix = matrix.reshape(matrix.shape[0], matrix.shape[2])
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise ValueError(f"expected one-dimensional vectors, got shape {matrix.shape[1:]}")
    if not np.isfinite(matrix).all():
        raise ValueError("vectors must not contain NaN or infinite values")
    return matrix


def _search(handle: Collection, query: np.ndarray, n: int, where: dict[str, Any] | None) -> list[VectorHit]:
    result = handle.query(
        query_embeddings=query,
        n_results=n,
        where=where,
        include=["distances", "metadatas"],
    )
    return list(_hits(result))


def _search_filtered_locally(
    handle: Collection,
    query: np.ndarray,
    k: int,
    where: dict[str, Any],
    matches: Callable[[dict[str, Any]], bool],
) -> list[VectorHit]:
    """Over-fetch without ``where`` and filter here; fall back to Chroma's filter only when that falls short.

    Embedded Chroma evaluates ``where`` against one SQLite table shared by every collection, so its cost
    grows with the whole store (about 33 ms p50 at 100k vectors against 2.5 ms for the same query
    unfiltered). The result is the same: if at least k of the n nearest match, they are the k nearest
    matches; if the partition returned fewer than n, it had no more to give.
    """
    wanted = max(k * _OVERFETCH, _MIN_OVERFETCH)
    nearest = _search(handle, query, wanted, None)
    kept = [hit for hit in nearest if matches(hit.metadata)]
    if len(kept) >= k or len(nearest) < wanted:
        return kept[:k]
    return _search(handle, query, k, where)


def _local_predicate(where: dict[str, Any]) -> Callable[[dict[str, Any]], bool] | None:
    """Return a Python test equivalent to a simple ``where``, or None when only Chroma should judge it."""
    if len(where) != 1:
        return None
    ((key, condition),) = where.items()
    if key == "$and":
        if not isinstance(condition, list) or not condition:
            return None
        parts = [_local_predicate(part) if isinstance(part, dict) else None for part in condition]
        if any(part is None for part in parts):
            return None
        checks = [part for part in parts if part is not None]
        return lambda metadata: all(check(metadata) for check in checks)
    if key.startswith("$"):
        return None
    if isinstance(condition, dict):
        if len(condition) != 1:
            return None
        ((operator, operand),) = condition.items()
        if operator == "$eq" and _plain(operand):
            return lambda metadata: _same(metadata.get(key), operand)
        if operator == "$in" and isinstance(operand, list) and operand and all(_plain(v) for v in operand):
            return lambda metadata: any(_same(metadata.get(key), value) for value in operand)
        return None
    if _plain(condition):
        return lambda metadata: _same(metadata.get(key), condition)
    return None


def _plain(value: Any) -> bool:
    # Only strings and booleans: how Chroma compares ints with floats is not ours to second-guess.
    return isinstance(value, str | bool)


def _same(stored: Any, wanted: Any) -> bool:
    # Type first, so True never equals 1.
    return type(stored) is type(wanted) and stored == wanted


def _get_all(handle: Collection, ids: list[str] | None) -> StoredVectors:
    # Paged, so a large partition never comes back in one response bigger than the server allows.
    include: Any = ["embeddings", "metadatas"]
    found_ids: list[str] = []
    rows: list[np.ndarray] = []
    metadatas: list[dict[str, Any]] = []
    offset = 0
    while True:
        if ids is not None:
            result = handle.get(ids=ids[offset : offset + _LIST_PAGE], include=include)
        else:
            result = handle.get(limit=_LIST_PAGE, offset=offset, include=include)
        page = list(result.get("ids") or [])
        if page:
            rows.append(np.asarray(result.get("embeddings"), dtype=np.float32).reshape(len(page), -1))
            raw: list[Any] = list(result.get("metadatas") or [])
            raw += [None] * (len(page) - len(raw))
            metadatas.extend(dict(m or {}) for m in raw)
            found_ids.extend(page)
        offset += _LIST_PAGE if ids is not None else len(page)
        if (ids is not None and offset >= len(ids)) or (ids is None and len(page) < _LIST_PAGE):
            break
    vectors = np.concatenate(rows) if rows else np.zeros((0, 0), dtype=np.float32)
    return StoredVectors(found_ids, vectors, metadatas)


def _hits(result: Any) -> Iterator[VectorHit]:
    ids = (result.get("ids") or [[]])[0]
    distances = (result.get("distances") or [[]])[0]
    metadatas = (result.get("metadatas") or [[]])[0] or [None] * len(ids)
    for item_id, distance, metadata in zip(ids, distances, metadatas, strict=False):
        yield VectorHit(id=item_id, distance=float(distance), metadata=dict(metadata or {}))
