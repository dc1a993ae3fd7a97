"""``kindred doctor``: check every configured part and print one table."""

from __future__ import annotations

import time

from bot.config import Settings
from storage.cache import make_cache
from storage.embedding import make_embedder
from storage.health import Status, TierHealth
from storage.service import StorageService
from storage.sql.engine import SQLUnavailable, backend_name
from storage.vectors import make_vector_index
from storage.vectors.base import VectorsUnavailable

# Parts that are simply not configured are shown but do not make doctor fail.
UNSET = {"configured": False}


def healthy(parts: list[TierHealth]) -> bool:
    """Return whether every configured part is ok."""
    return all(p.healthy for p in parts if p.extra.get("configured", True))


async def diagnose(settings: Settings) -> list[TierHealth]:
    """Return the health of each storage tier and of the other configured parts, without migrating."""
    storage_settings = settings.storage.model_copy(deep=True)
    storage_settings.sql.connect_retries = 0  # doctor answers now; it does not wait for a database
    try:
        storage = await StorageService.open(storage_settings, migrate_schema=False, require_schema=False)
    except SQLUnavailable as exc:
        parts = [TierHealth("sql", backend_name(storage_settings.sql_url()), Status.DOWN, detail=str(exc))]
        parts += await _tiers_without_sql(settings)
    else:
        try:
            parts = await storage.health()
        finally:
            await storage.close()
    parts.append(_discord_part(settings))
    parts.append(_llm_part(settings))
    return parts


async def _tiers_without_sql(settings: Settings) -> list[TierHealth]:
    cache = make_cache(settings.storage.cache)
    try:
        await cache.ping()
        cache_part = cache.health()
    finally:
        await cache.close()
    vectors = make_vector_index(settings.storage.vectors, settings.storage.chroma_path())
    try:
        latency = await vectors.ping()
        vectors_part = TierHealth("vectors", vectors.backend, Status.OK, latency)
    except VectorsUnavailable as exc:
        vectors_part = TierHealth("vectors", vectors.backend, Status.DOWN, detail=str(exc))
    finally:
        await vectors.close()
    embedder = make_embedder(settings.storage.embedding)
    start = time.perf_counter()
    await embedder.embed(["doctor"])
    embed_part = TierHealth(
        "embedding",
        settings.storage.embedding.provider,
        Status.OK,
        (time.perf_counter() - start) * 1000,
        f"{embedder.model_id} ({embedder.dimension}-d)",
    )
    return [cache_part, vectors_part, embed_part]


def _discord_part(settings: Settings) -> TierHealth:
    token = settings.discord.token
    if token is None or not token.get_secret_value().strip():
        return TierHealth(
            "discord",
            "gateway",
            Status.DEGRADED,
            detail="no token: set DISCORD_TOKEN to run the bot",
            extra=UNSET,
        )
    return TierHealth("discord", "gateway", Status.OK, detail="token set")


def _llm_part(settings: Settings) -> TierHealth:
    chain = settings.llm.chain()
    if not chain:
        return TierHealth(
            "llm",
            "openai-compatible",
            Status.DEGRADED,
            detail="no model: set OPENAI_API_KEY, or llm.base_url (e.g. http://localhost:11434/v1)",
            extra=UNSET,
        )
    names = ", ".join(f"{m.name}={m.model}" for m in chain)
    return TierHealth("llm", "openai-compatible", Status.OK, detail=f"chain: {names}")


def render(parts: list[TierHealth]) -> str:
    """Format the parts as an aligned text table."""
    rows = [("part", "backend", "status", "latency", "detail")]
    for p in parts:
        latency = f"{p.latency_ms:.1f} ms" if p.latency_ms is not None else "-"
        status = "unset" if not p.extra.get("configured", True) else p.status.value
        rows.append((p.tier, p.backend, status, latency, p.detail))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r[:4])) + "  " + r[4] for r in rows]
    lines.insert(1, "-" * min(max(len(line) for line in lines), 100))
    return "\n".join(lines)
