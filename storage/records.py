"""Plain records the storage service hands out; callers never hold ORM rows or driver objects."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from storage.scope import Scope


@dataclass(frozen=True, slots=True)
class TurnRecord:
    id: int
    conversation_id: int
    role: str
    speaker: str | None
    text: str
    created_at: datetime
    message_id: str | None = None
    channel_id: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        """Serialise for the cache window."""
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> TurnRecord:
        """Rebuild a record serialised by ``to_json``."""
        data = json.loads(raw)
        data["created_at"] = datetime.fromisoformat(data["created_at"])
        return cls(**data)


def turn_record(row: Any, scope: Any) -> TurnRecord:
    """Build a TurnRecord from a ``turns`` row, in the channel of ``scope`` (a Scope)."""
    return TurnRecord(
        id=row.id,
        conversation_id=row.conversation_id,
        role=row.role,
        speaker=row.speaker,
        text=row.text,
        created_at=row.created_at,
        message_id=row.message_id,
        channel_id=scope.channel_id,
        meta=dict(row.meta or {}),
    )


@dataclass(frozen=True, slots=True)
class MemoryRecord:
    id: int
    kind: str
    text: str
    speaker: str | None
    importance: float
    pinned: bool
    created_at: datetime
    valid_from: datetime
    valid_to: datetime | None
    realm: str
    source_turn_ids: list[int] = field(default_factory=list)
    superseded_by: int | None = None
    # Structured extras: a versioned fact's ``key`` and ``value``; ``about`` when reported about another.
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def current(self) -> bool:
        return self.valid_to is None


@dataclass(frozen=True, slots=True)
class SessionRef:
    """One closed session of one person in one place (for the work that follows its end)."""

    scope: Scope
    conversation_id: int


@dataclass(frozen=True, slots=True)
class Recalled:
    """A recalled item (a memory or a turn) with the parts of its score, so it can say why it came back."""

    kind: str  # "memory" or "turn"
    id: int
    text: str
    created_at: datetime
    score: float
    reasons: dict[str, float] = field(default_factory=dict)
    speaker: str | None = None
    realm: str | None = None
    # For a turn recalled with ``neighbours``: the turns said just before and after it there, in order.
    context: tuple[Recalled, ...] = ()


@dataclass(frozen=True, slots=True)
class ReindexReport:
    space: str
    model_id: str
    memories: int
    turns: int
    dropped_spaces: list[str] = field(default_factory=list)
