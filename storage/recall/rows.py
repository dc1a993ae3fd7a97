"""The rows recall returns, read back from SQL under the same ``Visibility`` as the search itself.

Both indexes are derived (the vector tier may be stale, another person's id may come back from a shared
channel), so every hit is re-read here with the visibility condition before it can be returned.

Each statement is built once per shape (shared channel or not, how many anchors) with bound parameters for
everything that varies: recall runs on every reply, and building and compiling a SQLAlchemy statement costs
more CPU than SQLite takes to run it. Reads go through a plain connection (no ORM session): nothing here
loads entities. On SQLite the statements on every recall's way (turns, memories, a time window, the turns
around others) are SQL text run on the driver's cursor (storage.sql.bare says why); PostgreSQL runs the same
reads through SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Executable,
    Select,
    SQLColumnExpression,
    Subquery,
    and_,
    bindparam,
    false,
    func,
    literal_column,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnElement

from storage.recall.lexical import Visibility, turn_visibility_sql
from storage.sql import bare
from storage.sql.models import Memory, Turn, User

# How far back in a channel to look for the people whose public turns a recall there may read.
PARTICIPANT_WINDOW = 2_000
# Statement shapes kept built; a shape is a handful of small flags and counts.
SHAPES = 256


@dataclass(frozen=True, slots=True)
class Row:
    """A recalled turn or memory, with what re-ranking needs."""

    kind: str
    id: int
    text: str
    speaker: str | None
    realm: str
    created_at: datetime
    scope_id: int
    importance: float = 0.5
    valid_to: datetime | None = None
    pinned: bool = False


def visible_turn(shared: bool) -> ColumnElement[bool]:
    """Return the SQL condition for turns a visibility may read (bound as ``visibility_params`` says):
    the person's own turns in their realms and, with ``shared``, what anyone said in public in the channel."""
    mine = and_(Turn.user_id == bindparam("uid"), Turn.realm.in_(bindparam("realms", expanding=True)))
    return and_(Turn.role == "user", or_(mine, Turn.scope_id == bindparam("sid")) if shared else mine)


def visibility_params(v: Visibility) -> dict[str, Any]:
    """Return the parameters ``visible_turn(v.channel_scope_id is not None)`` binds."""
    params: dict[str, Any] = {"uid": v.user_id, "realms": list(v.realms)}
    if v.channel_scope_id is not None:
        params["sid"] = v.channel_scope_id
    return params


# Plain columns rather than ORM entities: recall reads a hundred rows per query and builds no objects.
# Whether a turn was said while its author paused remembering, read in SQL: decoding each candidate's whole
# meta JSON in Python to look at one key was about a tenth of a search's CPU.
PAUSED = func.coalesce(Turn.meta["paused"].as_boolean(), false()).label("paused")
TURN_COLUMNS = (Turn.id, Turn.text, Turn.speaker, Turn.realm, Turn.created_at, Turn.scope_id, PAUSED)


def _turn_rows(found: Iterable[Sequence[Any]]) -> list[Row]:
    # Rows of TURN_COLUMNS, by position (SQLAlchemy's rows and the bare cursor's tuples alike). A turn said
    # while its author paused remembering is kept for that conversation only, never recalled.
    return [Row("turn", *t[:6]) for t in found if not t[6]]


# The same reads as SQL text for SQLite's bare cursor: TURN_COLUMNS with PAUSED written for SQLite, and where
# created_at is among them.
_TURN_NAMES = [c.key for c in TURN_COLUMNS]
_TURN_SQL = ", ".join([*_TURN_NAMES[:-1], "coalesce(json_extract(meta, '$.paused'), 0) AS paused"])
_TURN_TIME = (_TURN_NAMES.index("created_at"),)


@lru_cache(maxsize=SHAPES)
def _turns_sql(shared: bool) -> str:
    visible = turn_visibility_sql(shared)
    return f"SELECT {_TURN_SQL} FROM turns WHERE id IN :ids AND role = 'user' AND {visible}"


@lru_cache(maxsize=SHAPES)
def _turns_statement(shared: bool) -> Executable:
    ids = Turn.id.in_(bindparam("ids", expanding=True))
    return select(*TURN_COLUMNS).where(ids, visible_turn(shared))


def turns(conn: Connection, v: Visibility, ids: Sequence[int]) -> dict[int, Row]:
    """Return the visible turns with these ids."""
    if not ids:
        return {}
    shared = v.channel_scope_id is not None
    if bare.is_sqlite(conn):
        params = {**visibility_params(v), "ids": bare.padded(ids)}
        return {r.id: r for r in _turn_rows(bare.fetch(conn, _turns_sql(shared), params, _TURN_TIME))}
    params = {**visibility_params(v), "ids": list(ids)}
    return {r.id: r for r in _turn_rows(conn.execute(_turns_statement(shared), params))}


MEMORY_COLUMNS = (
    Memory.id,
    Memory.text,
    Memory.speaker,
    Memory.realm,
    Memory.created_at,
    Memory.scope_id,
    Memory.importance,
    Memory.valid_to,
    Memory.pinned,
)


@lru_cache(maxsize=SHAPES)
def _memories_statement(history: bool) -> Executable:
    mine = and_(
        Memory.id.in_(bindparam("ids", expanding=True)),
        Memory.user_id == bindparam("uid"),
        Memory.realm.in_(bindparam("realms", expanding=True)),
    )
    return select(*MEMORY_COLUMNS).where(mine if history else and_(mine, Memory.valid_to.is_(None)))


_MEMORY_TIMES = tuple(i for i, c in enumerate(MEMORY_COLUMNS) if c.key in ("created_at", "valid_to"))


@lru_cache(maxsize=SHAPES)
def _memories_sql(history: bool) -> str:
    names = ", ".join(c.key for c in MEMORY_COLUMNS)
    current = "" if history else " AND valid_to IS NULL"
    return f"SELECT {names} FROM memories WHERE id IN :ids AND user_id = :uid AND realm IN :realms{current}"


def memories(conn: Connection, v: Visibility, ids: Sequence[int], history: bool) -> dict[int, Row]:
    """Return this person's current memories with these ids (and superseded ones with ``history``)."""
    if not ids:
        return {}
    params = {"uid": v.user_id, "realms": list(v.realms)}
    if bare.is_sqlite(conn):
        found: Iterable[Sequence[Any]] = bare.fetch(
            conn, _memories_sql(history), {**params, "ids": bare.padded(ids)}, _MEMORY_TIMES
        )
    else:
        found = conn.execute(_memories_statement(history), {**params, "ids": list(ids)})
    return {
        m[0]: Row("memory", m[0], m[1], m[2], m[3], m[4], m[5], float(m[6]), m[7], bool(m[8])) for m in found
    }


@lru_cache(maxsize=SHAPES)
def _between_statement(shared: bool) -> Executable:
    within = and_(Turn.created_at >= bindparam("start"), Turn.created_at < bindparam("end"))
    return (
        select(Turn.id)
        .where(visible_turn(shared), within)
        .order_by(Turn.created_at.desc())
        .limit(bindparam("n", type_=BigInteger))
    )


@lru_cache(maxsize=SHAPES)
def _between_sql(shared: bool) -> str:
    return (
        f"SELECT id FROM turns WHERE role = 'user' AND {turn_visibility_sql(shared)} "
        "AND created_at >= :start AND created_at < :end ORDER BY created_at DESC LIMIT :n"
    )


def turns_between(conn: Connection, v: Visibility, start: datetime, end: datetime, limit: int) -> list[int]:
    """Return the ids of the newest visible turns said in ``[start, end)``."""
    shared = v.channel_scope_id is not None
    params = {**visibility_params(v), "start": start, "end": end, "n": limit}
    if bare.is_sqlite(conn):
        return [int(i) for (i,) in bare.fetch(conn, _between_sql(shared), params)]
    return [int(i) for i in conn.scalars(_between_statement(shared), params)]


def neighbours(
    conn: Connection, v: Visibility, anchors: Sequence[Row], before: int, after: int
) -> dict[int, list[Row]]:
    """Return, for each anchor turn, the visible turns said just before and after it in its place, in order.

    One statement for all anchors (see ``_around``); an anchor's own lookups alone make its list.
    """
    raw = _around(conn, v, anchors, before, after)
    return {
        anchor.id: [*_turn_rows(reversed(raw[anchor.id][0])), *_turn_rows(raw[anchor.id][1])]
        for anchor in anchors
    }


def adjacent(
    conn: Connection, v: Visibility, anchors: Sequence[Row], radius: int = 1
) -> dict[int, list[tuple[int, Row]]]:
    """Return, for each anchor turn, (distance, turn) for the visible turns up to ``radius`` either side of
    it in its place."""
    if not anchors or radius <= 0:
        return {}
    raw = _around(conn, v, anchors, radius, radius)
    found = {r.id: r for sides in raw.values() for side in sides for r in _turn_rows(side)}.values()
    out: dict[int, list[tuple[int, Row]]] = {}
    for anchor in anchors:
        here = [r for r in found if r.scope_id == anchor.scope_id]
        earlier = sorted((r for r in here if r.id < anchor.id), key=lambda r: -r.id)[:radius]
        later = sorted((r for r in here if r.id > anchor.id), key=lambda r: r.id)[:radius]
        out[anchor.id] = [(d + 1, r) for side in (earlier, later) for d, r in enumerate(side)]
    return out


def _around(
    conn: Connection, v: Visibility, anchors: Sequence[Row], before: int, after: int
) -> dict[int, tuple[list[Sequence[Any]], list[Sequence[Any]]]]:
    """Return, for each anchor, the raw visible turns (rows of TURN_COLUMNS) nearest before it and after it
    in its place (nearest first on each side, paused ones included): one statement for all anchors.

    Each side of each anchor is a small ordered lookup that stops after its limit, tagged so that each anchor
    gets exactly its own lookups back. Inside one place the visibility condition comes down to one of two
    simpler ones, and each has an index that serves it alone (see ``_in_place``): a planner given the whole
    OR intersects every turn of the place with every turn of the person instead.
    """
    out: dict[int, tuple[list[Sequence[Any]], list[Sequence[Any]]]] = {a.id: ([], []) for a in anchors}
    if not anchors or (before <= 0 and after <= 0):
        return out
    public = [a for a in anchors if a.scope_id == v.channel_scope_id]
    own = [a for a in anchors if a.scope_id != v.channel_scope_id]
    groups = (own, public)
    params = visibility_params(v)
    found: Iterable[Sequence[Any]]
    if bare.is_sqlite(conn):
        for g, group in enumerate(groups):
            for i, a in enumerate(group):
                params.update({f"a{g}_{i}": a.id, f"s{g}_{i}": a.scope_id})
        sql = _around_union(len(own), len(public), before, after)
        found = bare.fetch(conn, sql, params, [1 + _TURN_TIME[0]])  # the tag first, then the turn
    else:
        for g, group in enumerate(groups):
            params.update({f"ids{g}": [a.id for a in group], f"scopes{g}": [a.scope_id for a in group]})
        found = conn.execute(_around_lateral(before, after, bool(own), bool(public)), params)
    for arm, *turn in found:
        out[groups[arm % 2][arm // 4].id][arm // 2 % 2].append(turn)
    for earlier, later in out.values():
        earlier.sort(key=lambda r: -r[0])
        later.sort(key=lambda r: r[0])
    return out


def _sides(before: int, after: int) -> list[tuple[int, int]]:
    """Return (side, limit) for the sides wanted: 0 is earlier, 1 is later."""
    return [(side, n) for side, n in ((0, before), (1, after)) if n > 0]


def _in_place(public: bool) -> ColumnElement[bool]:
    """Return ``visible_turn`` for turns of one place: in the shared channel (``public``) anyone's turns
    there, since they are all in its OR; in any other place only the person's own (the OR's other side
    cannot hold there). ix_turns_scope serves the first, ix_turns_scope_user the second."""
    if public:
        return and_(Turn.role == "user", Turn.scope_id == bindparam("sid"))
    return visible_turn(False)


def _nearest(scope_id: Any, anchor_id: Any, public: bool, side: int, n: int) -> Select[Any]:
    """Return the ``n`` visible turns nearest ``anchor_id`` in its place on one side of it."""
    closer = Turn.id < anchor_id if side == 0 else Turn.id > anchor_id
    order = Turn.id.desc() if side == 0 else Turn.id.asc()
    near = and_(Turn.scope_id == scope_id, _in_place(public), closer)
    # The limit is written into the SQL (it is part of the shape): a bound one leaves PostgreSQL's generic
    # plan guessing how many rows are wanted.
    return select(*TURN_COLUMNS).where(near).order_by(order).limit(literal_column(str(n)))


def _tag(anchor: Any, side: int, public: bool) -> ColumnElement[Any]:
    # arm = 4 * (index in its group) + 2 * side + group; ``anchor`` is the index (or a 1-based ordinality).
    return (anchor * literal_column("4") + literal_column(str(2 * side + int(public)))).label("arm")


# The same two conditions as ``_in_place``, for ``_around_union``'s text.
_IN_PLACE_SQL = ("role = 'user' AND user_id = :uid AND realm IN :realms", "role = 'user' AND scope_id = :sid")


@lru_cache(maxsize=SHAPES)
def _around_union(own: int, public: int, before: int, after: int) -> str:
    # SQLite: a UNION ALL of the lookups, each an index range on ix_turns_scope_user or ix_turns_scope that
    # stops at its limit, tagged by a constant. Written as text: SQLAlchemy took about 8 ms per lookup to
    # compile the same statement built from Core, a first-use cost for every new anchor count.
    arms = []
    for g, count in enumerate((own, public)):
        for i in range(count):
            for side, n in _sides(before, after):
                closer, order = ("<", "DESC") if side == 0 else (">", "ASC")
                arms.append(
                    f"SELECT * FROM (SELECT {4 * i + 2 * side + g} AS arm, {_TURN_SQL} FROM turns "
                    f"WHERE scope_id = :s{g}_{i} AND {_IN_PLACE_SQL[g]} AND id {closer} :a{g}_{i} "
                    f"ORDER BY id {order} LIMIT {n})"
                )
    return " UNION ALL ".join(arms)


@lru_cache(maxsize=SHAPES)
def _around_lateral(before: int, after: int, own: bool, public: bool) -> Executable:
    # PostgreSQL plans a UNION ALL of forty small lookups in milliseconds, longer than running it, and again
    # for every new anchor count. A lateral join over each group of anchors as arrays has one shape: it is
    # prepared and planned once per connection, whatever the anchors.
    arms = []
    for g, wanted in enumerate((own, public)):
        if not wanted:
            continue
        anchor = (
            func.unnest(
                bindparam(f"ids{g}", type_=ARRAY(BigInteger)),
                bindparam(f"scopes{g}", type_=ARRAY(BigInteger)),
            )
            .table_valued("id", "scope", with_ordinality="i")
            .render_derived()
        )
        for side, n in _sides(before, after):
            found = _nearest(anchor.c.scope, anchor.c.id, bool(g), side, n).lateral()
            tag = _tag(anchor.c.i - literal_column("1"), side, bool(g))
            arms.append(select(tag, found).select_from(anchor.join(found, true())))
    return union_all(*arms) if len(arms) > 1 else arms[0]


def _recent_in_place(
    scope_id: int, column: SQLColumnExpression[Any], *where: ColumnElement[bool]
) -> Subquery:
    """Return the newest ``PARTICIPANT_WINDOW`` person-authored turns of a place meeting ``where``, as a
    subquery of ``column`` and their ``id``: who spoke there lately."""
    return (
        select(column, Turn.id)
        .where(Turn.scope_id == scope_id, Turn.role == "user", *where)
        .order_by(Turn.id.desc())
        .limit(PARTICIPANT_WINDOW)
        .subquery()
    )


def channel_speakers(conn: Connection, scope_id: int, exclude: int, limit: int) -> list[str]:
    """Return the user keys of up to ``limit`` other people who spoke in a place lately, latest first."""
    recent = _recent_in_place(scope_id, Turn.user_id)
    found = conn.execute(
        select(User.platform, User.external_id)
        .join(recent, recent.c.user_id == User.id)
        .where(User.id != exclude)
        .group_by(User.id, User.platform, User.external_id)
        .order_by(func.max(recent.c.id).desc())
        .limit(limit)
    )
    return [f"{platform}.{external}" for platform, external in found.all()]


def channel_names(conn: Connection, scope_id: int, limit: int) -> list[str]:
    """Return the names of the people who spoke in a place lately (the asker too, ``limit`` at most)."""
    recent = _recent_in_place(scope_id, Turn.speaker, Turn.speaker.is_not(None))
    found = conn.execute(
        select(recent.c.speaker)
        .group_by(recent.c.speaker)
        .order_by(func.max(recent.c.id).desc())
        .limit(limit)
    )
    return [str(name) for (name,) in found.all()]
