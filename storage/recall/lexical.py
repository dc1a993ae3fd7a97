"""Lexical recall inside storage: SQLite FTS5 or PostgreSQL full-text, behind one interface.

The full-text structures are made by migration 0005 and live outside the ORM models:
- SQLite: external-content FTS5 tables ``turns_fts`` and ``memories_fts`` (porter stemming over unicode61
  with diacritics removed) kept in sync with ``turns`` and ``memories`` by triggers. Only person-authored
  turns (role ``user``) are indexed, since recall only returns those.
- PostgreSQL: GIN expression indexes over ``to_tsvector('english', speaker || ' ' || text)``; the queries
  below repeat that exact expression so the planner can use them.

Every query here takes a ``Visibility`` and applies it in SQL; there is no unscoped read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.recall.terms import fts5_match, tsquery_text

# Names of the full-text objects migration 0005 makes; the model comparison skips them (see ``include_name``).
FTS_TABLES = ("turns_fts", "memories_fts")
FTS_INDEXES = ("ix_turns_fts", "ix_memories_fts")
# The document both backends index: who said it, then what was said. Keep in step with migration 0005.
PG_DOCUMENT = "to_tsvector('english', coalesce({t}.speaker, '') || ' ' || {t}.text)"
# bm25's weight for the speaker column against the text. 0 on LoCoMo's tuning: a name matches half of a
# two-person conversation and only adds noise; re-ranking boosts the turns of a speaker the query names.
SPEAKER_WEIGHT = 0.0


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
    return True


def _turn_visibility(v: Visibility, alias: str) -> str:
    mine = f"({alias}.user_id = :uid AND {alias}.realm IN :realms)"
    if v.channel_scope_id is None:
        return mine
    return f"({mine} OR {alias}.scope_id = :sid)"


def _params(v: Visibility) -> dict[str, object]:
    return {"uid": v.user_id, "realms": list(v.realms), "sid": v.channel_scope_id}


async def search_turns(
    session: AsyncSession, dialect: str, v: Visibility, tokens: Sequence[str], limit: int
) -> list[LexicalHit]:
    """Return the visible person-authored turns matching any token, best first."""
    if dialect == "sqlite":
        match = fts5_match(list(tokens))
        if match is None:
            return []
        sql = (
            f"SELECT t.id, -bm25(turns_fts, {SPEAKER_WEIGHT}, 1.0) AS score "
            "FROM turns_fts JOIN turns t ON t.id = turns_fts.rowid "
            f"WHERE turns_fts MATCH :q AND t.role = 'user' AND {_turn_visibility(v, 't')} "
            "ORDER BY score DESC LIMIT :n"
        )
    else:
        match = tsquery_text(list(tokens))
        if match is None:
            return []
        doc = PG_DOCUMENT.format(t="t")
        sql = (
            f"SELECT t.id, ts_rank_cd({doc}, q, 1) AS score FROM turns t, to_tsquery('english', :q) q "
            f"WHERE t.role = 'user' AND {doc} @@ q AND {_turn_visibility(v, 't')} "
            "ORDER BY score DESC LIMIT :n"
        )
    return await _run(session, sql, match, v, limit)


async def search_memories(
    session: AsyncSession, dialect: str, v: Visibility, tokens: Sequence[str], limit: int, history: bool
) -> list[LexicalHit]:
    """Return this person's current memories (and superseded ones with ``history``) matching any token."""
    mine = "m.user_id = :uid AND m.realm IN :realms" + ("" if history else " AND m.valid_to IS NULL")
    if dialect == "sqlite":
        match = fts5_match(list(tokens))
        if match is None:
            return []
        sql = (
            f"SELECT m.id, -bm25(memories_fts, {SPEAKER_WEIGHT}, 1.0) AS score "
            "FROM memories_fts JOIN memories m ON m.id = memories_fts.rowid "
            f"WHERE memories_fts MATCH :q AND {mine} ORDER BY score DESC LIMIT :n"
        )
    else:
        match = tsquery_text(list(tokens))
        if match is None:
            return []
        doc = PG_DOCUMENT.format(t="m")
        sql = (
            f"SELECT m.id, ts_rank_cd({doc}, q, 1) AS score FROM memories m, to_tsquery('english', :q) q "
            f"WHERE {doc} @@ q AND {mine} ORDER BY score DESC LIMIT :n"
        )
    return await _run(session, sql, match, v, limit)


async def _run(session: AsyncSession, sql: str, match: str, v: Visibility, limit: int) -> list[LexicalHit]:
    statement = text(sql).bindparams(bindparam("realms", expanding=True))
    params = {**_params(v), "q": match, "n": limit}
    if v.channel_scope_id is None:
        params.pop("sid")
    rows = await session.execute(statement, params)
    return [LexicalHit(int(i), float(s)) for i, s in rows.all()]
