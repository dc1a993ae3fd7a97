"""Payload helpers shared by the reflection jobs: who a job is for, and its idempotency key."""

from __future__ import annotations

from typing import Any

from storage.scope import Scope

SEMANTIC = "semantic"
EPISODIC = "episodic"


def scope_payload(scope: Scope) -> dict[str, Any]:
    """Return a scope as a job payload field (the same shape the index job uses)."""
    return {
        "platform": scope.platform,
        "user_id": scope.user_id,
        "guild_id": scope.guild_id,
        "channel_id": scope.channel_id,
    }


def job_scope(payload: dict[str, Any]) -> Scope:
    """Return the scope a job payload names; a payload without one is a poison job and raises."""
    raw = payload["scope"]
    return Scope(
        user_id=str(raw["user_id"]),
        guild_id=raw.get("guild_id"),
        channel_id=raw.get("channel_id"),
        platform=str(raw.get("platform", "discord")),
    )


def message_key(scope: Scope, message_id: str) -> str:
    """Return the key of a per-message job: the platform message, so a replayed message adds no job."""
    return f"{scope.platform}:{scope.user_id}:m{message_id}"


def turn_payload(scope: Scope, user_turn_id: int, reply_turn_id: int | None) -> dict[str, Any]:
    """Return the payload of a per-turn reflection job."""
    return {"scope": scope_payload(scope), "user_turn_id": user_turn_id, "reply_turn_id": reply_turn_id}
