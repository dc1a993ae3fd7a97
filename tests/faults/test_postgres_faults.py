"""PostgreSQL is restarted while people talk. The server is a private PostgreSQL instance that this test
creates (initdb into a temporary directory) and stops and starts on its own port; the shared server is
never touched."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from bot.pipeline.inbox import HELD_NOTICE
from storage.config import SQLSettings
from tests.conftest import IN_CI, free_port, wait_for_port
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.openai_api import FakeOpenAI
from tests.faults.harness import (
    MODEL,
    Script,
    Sent,
    Stream,
    check_invariants,
    make_settings,
    part,
    running,
    settled,
    wait_health,
)


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


class PostgresProcess:
    """A throwaway PostgreSQL cluster on its own port; run as the ``postgres`` user when we are root."""

    def __init__(self, bin_dir: Path, root: Path, port: int) -> None:
        self.bin_dir, self.root, self.port = bin_dir, root, port
        self.data = root / "data"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin_dir / tool), *args]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start")
        wait_for_port(self.port)

    def stop(self) -> None:
        # immediate: like a crash, no goodbye to the clients, whose connections simply die.
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


@pytest.fixture
def private_postgres() -> Iterator[PostgresProcess]:
    """Yield a started private PostgreSQL; stopped and removed afterwards whatever the test did."""
    bin_dir = _binaries()
    if bin_dir is None:
        if IN_CI:
            pytest.fail("PostgreSQL server binaries are not installed; CI=true requires them")
        pytest.skip("PostgreSQL server binaries are not installed")
    # Not under pytest's tmp_path, which only root may enter: the postgres user must reach this directory.
    root = Path(tempfile.mkdtemp(prefix="kindred-pg-"))
    server = PostgresProcess(bin_dir, root, free_port())
    try:
        server.init()
        server.start()
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            server.stop()  # unless the test left it stopped
        shutil.rmtree(root, ignore_errors=True)


def sql_down(body: dict[str, object]) -> bool:
    return body["status"] == "down" and part(body, "sql")["status"] == "down"


def streaming(fake: FakeDiscord, sent: Sent) -> bool:
    """Return whether the bot's reply to ``sent`` has started but not finished."""
    reply = f"Reply {sent.tag}."
    return any(
        m.content and m.content != reply and reply.startswith(m.content)
        for m in fake.bot_messages_in(sent.channel)
    )


async def reply_in(fake: FakeDiscord, sent: Sent) -> None:
    await fake.wait_for_message(sent.channel, lambda m: m.content == f"Reply {sent.tag}.")


async def restart(
    server: PostgresProcess, port: int, during: Callable[[], Awaitable[object]] | None = None
) -> None:
    """Stop PostgreSQL, see `/healthz` say SQL is down (and run ``during``), start it, see ok again."""
    server.stop()
    body = await wait_health(port, sql_down, "the SQL part down")
    assert body["http"] == 503  # without its source of truth the bot cannot work: restart it if it stays
    if during is not None:
        await during()
    server.start()
    await wait_health(port, lambda b: b["status"] == "ok", "ok again after PostgreSQL returned")


async def test_postgres_restarted_loses_no_turn_and_no_job(
    tmp_path: Path, fake_discord: FakeDiscord, openai_server: FakeOpenAI, private_postgres: PostgresProcess
) -> None:
    script = Script()
    openai_server.configure(MODEL, reply=script)
    sql = SQLSettings(url=private_postgres.url, connect_retries=0)
    settings = make_settings(tmp_path / "data", openai_server, storage={"sql": sql})
    stream = Stream.of(fake_discord)
    async with running(settings, fake_discord):
        port = settings.ops.http_port
        await wait_health(port, lambda b: b["status"] == "ok", "ok at start")
        await stream.round(2)
        # First a restart between turns, then one while every person's reply is streaming.
        await settled(private_postgres.url, stream)
        await restart(private_postgres, port)
        # The pool's connections died with the server: the very next turns must not fail on them.
        await stream.round(2)
        openai_server.configure(MODEL, chunk_chars=2, chunk_delay_s=0.2)
        in_flight = [await stream.send(user) for user in stream.people]
        await fake_discord.wait_for(lambda: all(streaming(fake_discord, s) for s in in_flight) or None)
        await restart(
            private_postgres,
            port,
            # Delivery needs no database: every reply finishes while it is away, and is recorded after.
            during=lambda: asyncio.gather(*(reply_in(fake_discord, s) for s in in_flight)),
        )
        for sent in in_flight:
            sent.answered = sent.replied = True
        openai_server.configure(MODEL, chunk_chars=4, chunk_delay_s=0.0)
        await stream.round()
        # Messages that arrive while PostgreSQL is away are held, the person is told, and each is answered
        # once it is back: none is dropped.
        held: list[Sent] = []

        async def send_while_down() -> None:
            for user in stream.people:
                sent = await stream.send(user)
                await fake_discord.wait_for_message(sent.channel, lambda m: m.content == HELD_NOTICE)
                held.append(sent)

        await restart(private_postgres, port, during=send_while_down)
        await asyncio.gather(*(reply_in(fake_discord, s) for s in held))
        for sent in held:
            sent.answered = sent.replied = True
        book = await settled(private_postgres.url, stream)
    check_invariants(book, stream)
    # A job cut off by the restart after its model call runs again (at least once); its fact lands once.
    assert all(script.extractions[s.tag] >= 1 for s in stream.sent), script.extractions
    assert not [k for k, (_, attempts) in book.jobs.items() if attempts], "the outage counted as job failures"
