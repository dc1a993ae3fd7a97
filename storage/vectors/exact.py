"""Small partitions, searched exactly: their vectors in one SQLite file beside Chroma's, scored in memory.

Why not a Chroma collection for everyone: most people have a few hundred vectors, and each collection costs
a catalogue entry, an index directory, several synced transactions per write (about 11 ms whatever the
write holds) and about 2.5 MB of memory while loaded. With many people the embedded store was bound by that
per-person work (indexing at about 120 turns/s across 200 people; recall for someone whose index was not
loaded read it from disk first). Exact search over a few thousand vectors is one matrix product of well
under a millisecond, and one SQLite transaction writes a batch. ``ChromaIndex`` keeps a partition here until
it holds more than its ``exact_max`` vectors, then moves it into a Chroma collection for good.

Every call runs under one lock on one connection: the vector process runs its calls one at a time anyway.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from storage.vectors.base import StoredVectors, VectorHit

log = logging.getLogger(__name__)

FILE_NAME = "exact.sqlite3"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS partitions ("
    " pid INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, space TEXT NOT NULL, user_part TEXT NOT NULL,"
    " moving INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX IF NOT EXISTS partitions_by_user ON partitions (user_part)",
    "CREATE TABLE IF NOT EXISTS vectors ("
    " pid INTEGER NOT NULL, id TEXT NOT NULL, vector BLOB NOT NULL, metadata TEXT NOT NULL,"
    " PRIMARY KEY (pid, id)) WITHOUT ROWID",
)
# SQLite's default limit on bound parameters is 999 on older builds.
_IDS_PER_STATEMENT = 500
# Pages large enough to hold a row in the table's own leaf. On SQLite's default 4 KB pages a WITHOUT ROWID
# row keeps at most about 1,000 bytes there and the rest goes to an overflow page of its own, allocated when
# it was written: a 256-dimension vector (1 KB) then took a whole 4 KB page more, the file was four times
# its data (4.7 GB at 1M vectors) and loading one person's partition read a page per vector scattered over
# the file instead of a few neighbouring pages. 16 KB pages keep rows of up to about 4,000 bytes (vectors of
# up to about 1,000 dimensions) inline; larger ones still work, with the old cost.
PAGE_SIZE = 16384


@dataclass(slots=True)
class _Loaded:
    """One partition's vectors in memory: unit rows of ``matrix[:n]``, metadata parsed when first needed."""

    ids: list[str]
    matrix: np.ndarray
    raw: list[str]
    parsed: list[dict[str, Any] | None]
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def nbytes(self) -> int:
        return int(self.matrix.nbytes) + sum(len(r) for r in self.raw) + 100 * len(self.ids)

    def metadata(self, row: int) -> dict[str, Any]:
        found = self.parsed[row]
        if found is None:
            found = self.parsed[row] = json.loads(self.raw[row])
        return found

    def put(self, ids: Sequence[str], units: np.ndarray, raw: Sequence[str]) -> None:
        """Replace rows whose id is known, append the others (the matrix grows by doubling)."""
        for item_id, unit, text in zip(ids, units, raw, strict=True):
            row = self.rows.get(item_id)
            if row is None:
                row = self.n
                if row == self.matrix.shape[0]:
                    grown = np.zeros((max(16, 2 * row), units.shape[1]), dtype=np.float32)
                    grown[:row] = self.matrix[:row]
                    self.matrix = grown
                self.rows[item_id] = row
                self.ids.append(item_id)
                self.raw.append(text)
                self.parsed.append(None)
            else:
                self.raw[row] = text
                self.parsed[row] = None
            self.matrix[row] = unit


class ExactStore:
    """The small partitions of one embedded store. Partition names are ``ChromaIndex`` collection names."""

    def __init__(self, directory: Path, *, cache_bytes: int = 64 << 20) -> None:
        self.path = directory / FILE_NAME
        self._cache_bytes = max(0, cache_bytes)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pids: dict[str, int] = {}
        self._loaded: OrderedDict[str, _Loaded] = OrderedDict()
        self._loaded_bytes = 0
        # SQLite's count of commits by other connections when the copies above were last known to be current.
        self._seen_version = -1

    # ------------------------------------------------------------------ lifecycle

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            try:
                conn.execute("PRAGMA busy_timeout = 5000")
                _large_pages(conn, self.path)
                # Derived data (a reindex rebuilds it), so a power cut may lose the last commits but never
                # corrupts: write-ahead logging with a sync at checkpoints only.
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
                with _transaction(conn):
                    for statement in _SCHEMA:
                        conn.execute(statement)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        self._check_current(self._conn)
        return self._conn

    def _check_current(self, conn: sqlite3.Connection) -> None:
        # Another connection to this file (another store opened on the same directory) may have written:
        # then nothing held in memory can be trusted. One PRAGMA, a few microseconds.
        version = int(conn.execute("PRAGMA data_version").fetchone()[0])
        if version != self._seen_version:
            self._pids = dict(conn.execute("SELECT name, pid FROM partitions").fetchall())
            self._loaded.clear()
            self._loaded_bytes = 0
            self._seen_version = version

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
            self._pids = {}
            self._loaded.clear()
            self._loaded_bytes = 0
        if conn is not None:
            conn.close()

    def ping(self) -> None:
        """Raise sqlite3.Error if the file cannot be read."""
        with self._lock:
            self._db().execute("SELECT pid FROM partitions LIMIT 1").fetchall()

    # ------------------------------------------------------------------ reads

    def names(self) -> list[str]:
        with self._lock:
            self._db()
            return list(self._pids)

    def moving(self) -> list[str]:
        """Return partitions whose move into Chroma started and did not finish (a crash in between)."""
        with self._lock:
            rows = self._db().execute("SELECT name FROM partitions WHERE moving = 1").fetchall()
            return [str(row[0]) for row in rows]

    def search(
        self, name: str, query: np.ndarray, k: int, matches: Callable[[dict[str, Any]], bool] | None
    ) -> list[VectorHit]:
        """Return the k nearest vectors of one partition (cosine distance), only those ``matches`` accepts."""
        with self._lock:
            loaded = self._load(name)
            if loaded is None or loaded.n == 0 or k <= 0:
                return []
            if query.shape[-1] != loaded.matrix.shape[1]:
                held = loaded.matrix.shape[1]
                raise ValueError(f"query has dimension {query.shape[-1]}, partition holds dimension {held}")
            similarity = loaded.matrix[: loaded.n] @ _unit(query.reshape(-1))
            # The nearest few first (all of them when a filter may reject many), nearest first, ties by id.
            wanted = k if matches is None else 4 * k
            hits = self._best(loaded, similarity, wanted, k, matches)
            if len(hits) < k and matches is not None and wanted < loaded.n:
                hits = self._best(loaded, similarity, loaded.n, k, matches)
            return hits

    @staticmethod
    def _best(
        loaded: _Loaded,
        similarity: np.ndarray,
        wanted: int,
        k: int,
        matches: Callable[[dict[str, Any]], bool] | None,
    ) -> list[VectorHit]:
        if wanted < loaded.n:
            rows = np.argpartition(-similarity, wanted - 1)[:wanted].tolist()
            order = sorted(rows, key=lambda row: (-float(similarity[row]), loaded.ids[row]))
        else:
            order = np.argsort(-similarity, kind="stable").tolist()
        hits: list[VectorHit] = []
        for row in order:
            metadata = loaded.metadata(row)
            if matches is not None and not matches(metadata):
                continue
            distance = max(0.0, 1.0 - float(similarity[row]))
            hits.append(VectorHit(id=loaded.ids[row], distance=distance, metadata=dict(metadata)))
            if len(hits) == k:
                break
        return hits

    def get(self, name: str, ids: Sequence[str] | None) -> StoredVectors | None:
        """Return stored vectors as written (all, or those with these ids); None for a partition not here."""
        with self._lock:
            pid = self._pid(name)
            if pid is None:
                return None
            conn = self._db()
            if ids is None:
                rows = conn.execute(
                    "SELECT id, vector, metadata FROM vectors WHERE pid = ? ORDER BY id", (pid,)
                ).fetchall()
            else:
                found: dict[str, tuple[Any, ...]] = {}
                for chunk in _chunks(list(ids)):
                    marks = ",".join("?" * len(chunk))
                    sql = f"SELECT id, vector, metadata FROM vectors WHERE pid = ? AND id IN ({marks})"
                    found.update((row[0], row) for row in conn.execute(sql, (pid, *chunk)))
                rows = [found[i] for i in ids if i in found]
        if not rows:
            return StoredVectors([], np.zeros((0, 0), dtype=np.float32), [])
        matrix = np.stack([np.frombuffer(row[1], dtype=np.float32) for row in rows])
        return StoredVectors([str(row[0]) for row in rows], matrix, [json.loads(row[2]) for row in rows])

    def count(self, space: str | None = None) -> int:
        with self._lock:
            conn = self._db()
            if space is None:
                return int(conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])
            sql = "SELECT COUNT(*) FROM vectors JOIN partitions USING (pid) WHERE partitions.space = ?"
            return int(conn.execute(sql, (space,)).fetchone()[0])

    # ------------------------------------------------------------------ writes

    def upsert(
        self,
        name: str,
        space: str,
        user_part: str,
        ids: Sequence[str],
        vectors: np.ndarray,
        metadatas: Sequence[dict[str, Any] | None],
    ) -> int:
        """Insert or replace vectors (ids unique, float32 rows); return how many the partition then holds."""
        raw = [json.dumps(m or {}, separators=(",", ":")) for m in metadatas]
        with self._lock:
            conn = self._db()
            loaded = self._loaded.get(name)
            if loaded is not None and loaded.matrix.shape[1] != vectors.shape[1]:
                held = loaded.matrix.shape[1]
                raise ValueError(
                    f"vectors have dimension {vectors.shape[1]}, partition holds dimension {held}"
                )
            with _transaction(conn):
                pid = self._pid(name)
                if pid is None:
                    insert = "INSERT INTO partitions (name, space, user_part) VALUES (?, ?, ?)"
                    pid = int(conn.execute(insert, (name, space, user_part)).lastrowid or 0)
                conn.executemany(
                    "INSERT OR REPLACE INTO vectors (pid, id, vector, metadata) VALUES (?, ?, ?, ?)",
                    [(pid, i, v.tobytes(), r) for i, v, r in zip(ids, vectors, raw, strict=True)],
                )
                held = int(conn.execute("SELECT COUNT(*) FROM vectors WHERE pid = ?", (pid,)).fetchone()[0])
            self._pids[name] = pid
            if loaded is not None:
                before = loaded.nbytes
                loaded.put(ids, _units(vectors), raw)
                self._loaded_bytes += loaded.nbytes - before
                self._trim()
            return held

    def delete(self, name: str, ids: Sequence[str]) -> None:
        with self._lock:
            pid = self._pid(name)
            if pid is None:
                return
            conn = self._db()
            with _transaction(conn):
                for chunk in _chunks(list(ids)):
                    marks = ",".join("?" * len(chunk))
                    conn.execute(f"DELETE FROM vectors WHERE pid = ? AND id IN ({marks})", (pid, *chunk))
            self._unload(name)

    def mark_moving(self, name: str) -> None:
        with self._lock:
            self._db().execute("UPDATE partitions SET moving = 1 WHERE name = ?", (name,))

    def drop(self, name: str) -> bool:
        """Remove one partition; return whether it was here."""
        with self._lock:
            pid = self._pid(name)
            if pid is None:
                return False
            conn = self._db()
            with _transaction(conn):
                conn.execute("DELETE FROM vectors WHERE pid = ?", (pid,))
                conn.execute("DELETE FROM partitions WHERE pid = ?", (pid,))
            del self._pids[name]
            self._unload(name)
            return True

    def drop_matching(self, *, space: str | None = None, user_part: str | None = None) -> list[str]:
        """Remove every partition of one space or of one person; return their names."""
        column, value = ("space", space) if space is not None else ("user_part", user_part)
        with self._lock:
            rows = self._db().execute(f"SELECT name FROM partitions WHERE {column} = ?", (value,)).fetchall()
            names = [str(row[0]) for row in rows]
            return [name for name in names if self.drop(name)]

    # ------------------------------------------------------------------ the in-memory copies

    def _pid(self, name: str) -> int | None:
        self._db()
        return self._pids.get(name)

    def _load(self, name: str) -> _Loaded | None:
        self._db()
        loaded = self._loaded.get(name)
        if loaded is not None:
            self._loaded.move_to_end(name)
            return loaded
        pid = self._pid(name)
        if pid is None:
            return None
        rows = self._db().execute("SELECT id, vector, metadata FROM vectors WHERE pid = ?", (pid,)).fetchall()
        if not rows:
            return None
        matrix = _units(
            np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float32).reshape(len(rows), -1)
        )
        ids = [str(row[0]) for row in rows]
        loaded = _Loaded(ids, matrix, [str(row[2]) for row in rows], [None] * len(rows))
        loaded.rows = {item_id: row for row, item_id in enumerate(ids)}
        self._loaded[name] = loaded
        self._loaded_bytes += loaded.nbytes
        self._trim(keep=name)
        return loaded

    def _unload(self, name: str) -> None:
        loaded = self._loaded.pop(name, None)
        if loaded is not None:
            self._loaded_bytes -= loaded.nbytes

    def _trim(self, keep: str | None = None) -> None:
        # Least recently used first; the partition being searched stays even if it alone is over the bound.
        while self._loaded_bytes > self._cache_bytes and self._loaded:
            oldest = next(iter(self._loaded))
            if oldest == keep:
                if len(self._loaded) == 1:
                    return
                self._loaded.move_to_end(oldest)
                continue
            self._unload(oldest)


def _large_pages(conn: sqlite3.Connection, path: Path) -> None:
    """Give a new file ``PAGE_SIZE`` pages; rewrite an older file with smaller ones once (VACUUM)."""
    if int(conn.execute("PRAGMA page_size").fetchone()[0]) >= PAGE_SIZE:
        return
    conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # applies to a file not written yet
    if int(conn.execute("PRAGMA page_count").fetchone()[0]) == 0:
        return
    log.info("rewriting the exact vector store %s with %d-byte pages (once)", path, PAGE_SIZE)
    # SQLite changes the page size of a written file only in a VACUUM outside write-ahead logging; the
    # caller turns it back on. The file is derived data: an interrupted rewrite leaves the old file whole.
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("VACUUM")


class _transaction:
    """BEGIN IMMEDIATE ... COMMIT on an autocommit connection, ROLLBACK on any error."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self._conn.execute("COMMIT" if kind is None else "ROLLBACK")


def _units(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix, dtype=np.float32), where=norms > 0)


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return (vector / norm).astype(np.float32) if norm > 0 else vector.astype(np.float32)


def _chunks(ids: list[str]) -> list[list[str]]:
    return [ids[i : i + _IDS_PER_STATEMENT] for i in range(0, len(ids), _IDS_PER_STATEMENT)]


def where_predicate(where: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
    """Return a test of metadata equivalent to a Chroma ``where`` filter, or raise ValueError if malformed.

    Chroma's grammar: ``{key: value}`` or ``{key: {op: value}}`` with ``$eq $ne $gt $gte $lt $lte $in $nin``,
    combined with ``{"$and": [...]}`` / ``{"$or": [...]}``. A key the metadata lacks matches nothing, ``$ne``
    and ``$nin`` included. Numbers compare as numbers; a boolean is never a number here.
    """
    if not isinstance(where, dict) or len(where) != 1:
        raise ValueError(f"a where filter is a dict with exactly one key (use $and for more), got {where!r}")
    ((key, condition),) = where.items()
    if key in ("$and", "$or"):
        if not isinstance(condition, list) or not condition:
            raise ValueError(f"{key} takes a non-empty list of filters, got {condition!r}")
        parts = [where_predicate(part) for part in condition]
        combine = all if key == "$and" else any
        return lambda metadata: combine(part(metadata) for part in parts)
    if key.startswith("$"):
        raise ValueError(f"unknown where operator {key!r}")
    operator, operand = next(iter(condition.items())) if isinstance(condition, dict) else ("$eq", condition)
    if isinstance(condition, dict) and len(condition) != 1:
        raise ValueError(f"one operator per key in a where filter, got {condition!r}")
    test = _COMPARE.get(operator)
    if test is None:
        raise ValueError(f"unknown where operator {operator!r}")
    if operator in ("$in", "$nin") and not isinstance(operand, list):
        raise ValueError(f"{operator} takes a list, got {operand!r}")
    return lambda metadata: key in metadata and test(metadata[key], operand)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(stored: Any, wanted: Any) -> bool:
    if _number(stored) and _number(wanted):
        return bool(stored == wanted)
    return type(stored) is type(wanted) and stored == wanted


def _ordered(check: Callable[[float, float], bool]) -> Callable[[Any, Any], bool]:
    return lambda stored, wanted: _number(stored) and _number(wanted) and check(stored, wanted)


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "$eq": _equal,
    "$ne": lambda stored, wanted: not _equal(stored, wanted),
    "$gt": _ordered(lambda a, b: a > b),
    "$gte": _ordered(lambda a, b: a >= b),
    "$lt": _ordered(lambda a, b: a < b),
    "$lte": _ordered(lambda a, b: a <= b),
    "$in": lambda stored, wanted: any(_equal(stored, value) for value in wanted),
    "$nin": lambda stored, wanted: not any(_equal(stored, value) for value in wanted),
}
