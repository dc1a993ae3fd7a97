"""Lexical recall inside storage: SQLite FTS5 or PostgreSQL full-text, behind one interface.

The full-text structures are made by migrations 0005 and 0010 and live outside the ORM models:
- SQLite: external-content FTS5 tables ``turns_fts`` and ``memories_fts`` (porter stemming over unicode61
  with diacritics removed) kept in sync with ``turns`` and ``memories`` by triggers. Only person-authored
  turns (role ``user``) are indexed, since recall only returns those. Besides ``speaker`` and ``text`` they
  index whose each row is (``user_id``; turns also ``scope_id``, their place), so a search seeks through
  the asking person's rows only (migration 0011 says why).
- PostgreSQL: a stored generated column ``search_document`` on both tables holding
  ``to_tsvector('english', speaker || ' ' || text)`` (person-authored turns only), with GIN indexes over it.
  Stored rather than an expression index: ranking reads every match's document, and recomputing it from the
  text was most of a search's time.

Every query here takes a ``Visibility`` and applies it in SQL; there is no unscoped read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import Connection, TextClause, bindparam, text

from storage.recall.terms import fts5_match, tsquery_text
from storage.sql import bare

# Names of the full-text objects migrations 0005 and 0010 make; the model comparison skips them (see
# ``include_name``).
FTS_TABLES = ("turns_fts", "memories_fts")
FTS_INDEXES = ("ix_turns_fts", "ix_memories_fts")
# PostgreSQL: the stored column holding the indexed document, who said it then what was said (0010).
DOCUMENT_COLUMN = "search_document"
# bm25's weight for the speaker column against the text. 0 on LoCoMo's tuning: a name matches half of a
# two-person conversation and only adds noise; re-ranking boosts the turns of a speaker the query names.
SPEAKER_WEIGHT = 0.0
# SQLite: how many of the newest visible matches of one word are scored (see ``_run_capped``). Bounds the
# cost of a word common in a long history; a rarer word's matches are all scored.
TERM_POOL = 200


@dataclass(frozen=True, slots=True)
class Visibility:
    """What one person may recall from one place, resolved inside storage.

    ``user_id`` and ``realms``: their own turns and memories (realms widen only with the cross-server
    opt-in). ``channel_scope_id``: in a server channel, the turns anyone said there in public, which
    everyone in that channel saw anyway; None in DMs. Memories (facts, profile) are never shared.
    """

    user_id: int
    realms: tuple[str, ...]
    channel_scope_id: int | None = None


@dataclass(frozen=True, slots=True)
class LexicalHit:
    id: int
    score: float  # larger is better; comparable only within one query and one kind


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Tell Alembic's comparison to skip the full-text objects, which only migrations manage."""
    if name is None:
        return True
    if type_ == "table":
        return not any(name == t or name.startswith(f"{t}_") for t in FTS_TABLES)
    if type_ == "index":
        return name not in FTS_INDEXES
    if type_ == "column":
        return name != DOCUMENT_COLUMN
    return True


def turn_visibility_sql(shared: bool, alias: str = "turns") -> str:
    """Return the SQL text of ``rows.visible_turn`` (less its role test) over ``alias``, with the same
    parameters: the person's own turns in their realms and, in a shared channel, anyone's there."""
    mine = f"({alias}.user_id = :uid AND {alias}.realm IN :realms)"
    return f"({mine} OR {alias}.scope_id = :sid)" if shared else mine


def _params(v: Visibility) -> dict[str, object]:
    return {"uid": v.user_id, "realms": list(v.realms), "sid": v.channel_scope_id}


def search_turns(
    conn: Connection, dialect: str, v: Visibility, tokens: Sequence[str], limit: int
) -> list[LexicalHit]:
    """Return the visible person-authored turns matching any token, best first."""
    if dialect == "sqlite":
        condition = f"t.role = 'user' AND {turn_visibility_sql(v.channel_scope_id is not None, 't')}"
        owners = f"user_id : {int(v.user_id)}"
        if v.channel_scope_id is not None:
            owners = f"({owners} OR scope_id : {int(v.channel_scope_id)})"
        return _run_capped(conn, "turns_fts", "turns t", condition, owners, tokens, v, limit)
    else:
        match = tsquery_text(list(tokens))
        if match is None:
            return []
        doc = f"t.{DOCUMENT_COLUMN}"
        visible = turn_visibility_sql(v.channel_scope_id is not None, "t")
        sql = (
            f"SELECT t.id, ts_rank_cd({doc}, q, 1) AS score FROM turns t, to_tsquery('english', :q) q "
            f"WHERE t.role = 'user' AND {doc} @@ q AND {visible} "
            "ORDER BY score DESC LIMIT :n"
        )
    return _run(conn, sql, match, v, limit)


def search_memories(
    conn: Connection, dialect: str, v: Visibility, tokens: Sequence[str], limit: int, history: bool
) -> list[LexicalHit]:
    """Return this person's current memories (and superseded ones with ``history``) matching any token."""
    mine = "m.user_id = :uid AND m.realm IN :realms" + ("" if history else " AND m.valid_to IS NULL")
    if dialect == "sqlite":
        owners = f"user_id : {int(v.user_id)}"
        return _run_capped(conn, "memories_fts", "memories m", mine, owners, tokens, v, limit)
    else:
        match = tsquery_text(list(tokens))
        if match is None:
            return []
        doc = f"m.{DOCUMENT_COLUMN}"
        sql = (
            f"SELECT m.id, ts_rank_cd({doc}, q, 1) AS score FROM memories m, to_tsquery('english', :q) q "
            f"WHERE {doc} @@ q AND {mine} ORDER BY score DESC LIMIT :n"
        )
    return _run(conn, sql, match, v, limit)


def _run(conn: Connection, sql: str, match: str, v: Visibility, limit: int) -> list[LexicalHit]:
    params = {**_params(v), "q": match, "n": limit}
    if v.channel_scope_id is None:
        params.pop("sid")
    rows = conn.execute(_statement(sql), params)
    return [LexicalHit(int(i), float(s)) for i, s in rows.all()]


@lru_cache(maxsize=256)
def _statement(sql: str) -> TextClause:
    # One text object per distinct query (there are a few dozen shapes): parsing its parameters once, and
    # a stable object for SQLAlchemy's compiled cache.
    return text(sql).bindparams(bindparam("realms", expanding=True))


def _pool(fts: str, table: str, condition: str, match: str) -> str:
    """Return SQL scoring the newest ``:cap`` visible rows matching ``match``.

    FTS5 gives its matches in rowid order either way round (nothing is sorted), so newest first it walks and
    the query stops after ``:cap`` visible ones; bm25 is computed for those rows only, as they are returned.
    So a word in a third of someone's history costs what a rare word costs. (It was two passes, the newest
    rows' ids first and then the scores of the rows from the oldest of them on: the same rows and scores,
    each word's matches walked twice, about a fifth more time.)
    """
    alias = table.split()[-1]
    # CROSS JOIN keeps the FTS5 table outermost: SQLite would otherwise walk the person's rows and probe it.
    # Weights for speaker, text, then the owner columns (no weight: they only narrow the match).
    score = f"-bm25({fts}, {SPEAKER_WEIGHT}, 1.0, 0.0, 0.0)"
    return (
        f"SELECT {alias}.id AS id, {score} AS s FROM {fts} CROSS JOIN {table} ON {alias}.id = {fts}.rowid "
        f"WHERE {fts} MATCH :{match} AND {condition} ORDER BY {fts}.rowid DESC LIMIT :cap"
    )


def _run_capped(
    conn: Connection,
    fts: str,
    table: str,
    condition: str,
    owners: str,
    tokens: Sequence[str],
    v: Visibility,
    limit: int,
) -> list[LexicalHit]:
    """Run one FTS5 search whose cost is bounded however many rows match a common word.

    FTS5 computes ``bm25()`` for every row that matches before it can keep the best, so the cost of one OR
    query follows the longest posting list. Instead each word is a pool of its newest ``TERM_POOL`` visible
    matches, and one more pool holds the newest rows matching every word. bm25 is a sum over the query's
    phrases, so summing a row's one-word scores gives its score for the whole query (exact for rows in the
    every-word pool, which take that score); a rare word's pool holds all its matches, so only the oldest
    matches of words common in this person's history are left out.

    ``owners`` is an FTS5 expression over the owner columns (``user_id : 42``): every MATCH is that AND the
    words, which are looked for in ``speaker`` and ``text`` only, so a number among them never matches an id.
    ``condition`` still applies the whole visibility in SQL.
    """
    terms = [m for m in (fts5_match([t]) for t in tokens) if m is not None]
    if not terms:
        return []
    params: dict[str, object] = {f"t{i}": _owned(owners, m) for i, m in enumerate(terms)}
    pools = [f"p{i} AS MATERIALIZED ({_pool(fts, table, condition, f't{i}')})" for i in range(len(terms))]
    by_word = " UNION ALL ".join(f"SELECT id, s FROM p{i}" for i in range(len(terms)))
    scored = f"SELECT id, sum(s) AS s FROM ({by_word}) GROUP BY id"
    if len(terms) > 1:
        params["every"] = _owned(owners, " AND ".join(f"({m})" for m in terms))
        pools.append(f"p_every AS MATERIALIZED ({_pool(fts, table, condition, 'every')})")
        scored = f"SELECT id, max(s) AS s FROM ({scored} UNION ALL SELECT id, s FROM p_every) GROUP BY id"
    # MATERIALIZED: bm25() only works in a query over its own FTS5 table, not after flattening into a union.
    sql = f"WITH {', '.join(pools)} SELECT id, s AS score FROM ({scored}) ORDER BY score DESC LIMIT :n"
    params.update(_params(v), n=limit, cap=TERM_POOL)
    # On the driver's cursor (storage.sql.bare): this runs on every reply.
    return [LexicalHit(int(i), float(s)) for i, s in bare.fetch(conn, sql, params)]


def _owned(owners: str, words: str) -> str:
    return f"{owners} AND {{speaker text}} : ({words})"
