"""Support strategies keep working from memory while PostgreSQL is unreachable, and are written back after.

PostgreSQL is reached through a TCP relay the test owns: closing the relay (and every connection through
it) is the outage, opening it again on the same port is the recovery. The shared server is never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.config import SupportSettings
from bot.pipeline.message import TurnInput
from cogs.emotional_support.service import SupportService
from storage.config import SQLSettings, StorageSettings
from storage.scope import Scope
from storage.service import StorageService
from tests.conftest import PG_HOST, PG_PORT, free_port, fresh_postgres_db

ALICE = Scope(user_id="100", guild_id="1", channel_id="10")


class Relay:
    """A TCP relay from a local port to PostgreSQL that can be cut and restored."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(PG_HOST, PG_PORT)
        self._writers |= {writer, upstream_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))


@pytest.fixture
async def relayed_postgres() -> AsyncIterator[tuple[str, str, Relay]]:
    """Yield (URL through the relay, direct URL, relay) for a fresh PostgreSQL database."""
    async with fresh_postgres_db() as direct:
        relay = Relay(free_port())
        await relay.start()
        host = f"{PG_HOST}:{PG_PORT}"
        try:
            yield direct.replace(host, f"127.0.0.1:{relay.port}"), direct, relay
        finally:
            await relay.stop()


async def stored_score(direct_url: str, strategy: str) -> tuple[float | None, list[str]]:
    """Read a strategy's score and the history causes straight from PostgreSQL (not through the relay)."""
    engine = create_async_engine(direct_url)
    try:
        async with engine.connect() as conn:
            score = (
                await conn.execute(
                    text("SELECT score FROM user_support_strategies WHERE strategy = :s"), {"s": strategy}
                )
            ).scalar_one_or_none()
            causes = (await conn.execute(text("SELECT cause FROM strategy_history ORDER BY id"))).scalars()
            return score, list(causes)
    finally:
        await engine.dispose()


async def test_sql_outage_degrades_to_memory_then_writes_back(
    tmp_path: Path, relayed_postgres: tuple[str, str, Relay]
) -> None:
    relayed, direct, relay = relayed_postgres
    settings = StorageSettings(data_dir=tmp_path / "data", sql=SQLSettings(url=relayed, connect_retries=0))
    storage = await StorageService.open(settings)
    try:
        storage.support.retry_s = 0.0  # try SQL again on every call, so the test needs no waiting
        support = SupportService(storage, SupportSettings())
        await support.set_consent(ALICE, True)
        turn = TurnInput(ALICE, "Alice", "I feel really low and sad today", ["m1"], datetime.now(UTC))
        choice = (await support.select(turn)).choice
        assert choice is not None
        await support.after_turn(turn, 1, 2)
        before, _ = await stored_score(direct, choice.strategy)

        await relay.stop()  # PostgreSQL is now unreachable for Kindred
        name, score = await support.feedback(ALICE, helped=True)
        assert name == choice.strategy and score > 0.5
        assert storage.support.pending == 1 and storage.support.error is not None
        # The person's state keeps working from memory: the next turn still gets the learned approach.
        state = await support.state(ALICE)
        assert state.opted_in and state.strategies[name].score == pytest.approx(score)
        later = TurnInput(ALICE, "Alice", "still feeling so sad and low", ["m2"], datetime.now(UTC))
        assert (await support.select(later)).choice == type(choice)(name, "learned", pytest.approx(score))
        assert await stored_score(direct, name) == (before, [])  # nothing reached SQL

        await relay.start()  # PostgreSQL is back
        assert await storage.support.flush() == 1
        assert storage.support.pending == 0 and storage.support.error is None
        assert await stored_score(direct, name) == (pytest.approx(score), ["feedback"])
    finally:
        await relay.stop()
        await storage.close()
