"""Health of a storage tier, as reported by ``doctor``, ``/healthz`` and metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    DOWN = "down"


@dataclass(slots=True)
class TierHealth:
    """One tier's state: which backend, whether it answers, how fast, and why not."""

    tier: str
    backend: str
    status: Status
    latency_ms: float | None = None
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        return self.status is Status.OK
