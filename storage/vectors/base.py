"""The vector tier's contract: a derived, rebuildable semantic index, partitioned by person and realm."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from storage.embedding.base import Vectors
from storage.health import Status, TierHealth


class VectorsUnavailable(Exception):
    """The vector backend cannot be reached or its data cannot be read."""


@dataclass(frozen=True, slots=True)
class Partition:
    """Where vectors live: one person (``user_key``) in one realm (a guild, or DMs)."""

    user_key: str
    realm: str


@dataclass(frozen=True, slots=True)
class VectorItem:
    """One vector to index. ``id`` is e.g. ``m42`` (memory 42) or ``t7`` (turn 7)."""

    id: str
    vector: Sequence[float]
    metadata: dict[str, str | int | float | bool] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoredVectors:
    """Vectors read back from the index: ``vectors[i]`` belongs to ``ids[i]``."""

    ids: list[str]
    vectors: Vectors
    metadatas: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class VectorHit:
    id: str
    distance: float  # cosine distance: 0 is identical
    metadata: dict[str, Any]


class VectorIndex(Protocol):
    """Chroma behind an async API. ``space`` is the embedding-space fingerprint (see ``space_id``)."""

    backend: str

    async def upsert(self, space: str, partition: Partition, items: Sequence[VectorItem]) -> None: ...

    async def query(
        self,
        space: str,
        partitions: Sequence[Partition],
        vector: Vectors | Sequence[float],
        k: int,
        where: dict[str, Any] | None = None,
    ) -> list[VectorHit]:
        """Return the k nearest items across the given partitions, nearest first."""
        ...

    async def delete(self, space: str, partition: Partition, ids: Sequence[str]) -> None: ...

    async def get(self, space: str, partition: Partition, ids: Sequence[str] | None = None) -> StoredVectors:
        """Return stored vectors: those with these ids (absent ones are left out), or all for None."""
        ...

    async def drop_partition(self, space: str, partition: Partition) -> bool:
        """Remove one partition's collection; return whether it existed."""
        ...

    async def drop_user(self, user_key: str) -> int:
        """Remove every partition of one person in every space; return how many collections went."""
        ...

    async def drop_space(self, space: str) -> int:
        """Remove every collection of a space (after a reindex into a new one)."""
        ...

    async def count(self, space: str | None = None) -> int: ...

    async def ping(self) -> float:
        """Return the round-trip time in milliseconds, or raise VectorsUnavailable."""
        ...

    async def close(self) -> None: ...


async def health_by_ping(
    backend: str, ping: Callable[[], Awaitable[float]], extra: dict[str, Any]
) -> TierHealth:
    """Return the vector tier's health: down with the reason if ``ping`` raises VectorsUnavailable."""
    try:
        latency = await ping()
    except VectorsUnavailable as exc:
        return TierHealth(tier="vectors", backend=backend, status=Status.DOWN, detail=str(exc))
    return TierHealth(tier="vectors", backend=backend, status=Status.OK, latency_ms=latency, extra=extra)
