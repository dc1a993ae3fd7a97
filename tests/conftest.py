"""Fixtures for the real services: PostgreSQL, Redis and a Chroma server.

Outside CI a missing server skips the tests that need it, with the reason; under CI (CI=true) it fails them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

pytest_plugins = ["tests.fakes.discord_api.plugin", "tests.fakes.openai_api", "tests.hang_guard"]

PG_HOST, PG_PORT = os.environ.get("KINDRED_TEST_PG_HOST", "127.0.0.1"), 5432
REDIS_HOST, REDIS_PORT = os.environ.get("KINDRED_TEST_REDIS_HOST", "127.0.0.1"), 6379
IN_CI = os.environ.get("CI", "").lower() == "true"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip (or, under CI, fail) the calling test when a server is not listening."""
    if _reachable(host, port):
        return
    message = f"{name} is not reachable at {host}:{port}"
    if IN_CI:
        pytest.fail(f"{message}; CI=true requires it (see the env skill for the start command)")
    pytest.skip(message)


def free_port() -> int:
    """Return a TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Block until something accepts connections on 127.0.0.1:port, or raise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for port {port} exited with {proc.returncode}")
        if _reachable("127.0.0.1", port):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout}s")


# ---------------------------------------------------------------- PostgreSQL


@asynccontextmanager
async def fresh_postgres_db() -> AsyncIterator[str]:
    """Create an empty PostgreSQL database, yield its async URL, and drop it afterwards."""
    require_service("PostgreSQL", PG_HOST, PG_PORT)
    import asyncpg

    name = f"kindred_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user="postgres", database="test")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user="postgres", database="test")
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """Yield the URL of a fresh, empty PostgreSQL database."""
    async with fresh_postgres_db() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """Return the async URL of a fresh SQLite file."""
    return f"sqlite+aiosqlite:///{tmp_path / 'kindred.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
async def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Yield a fresh database URL on each SQL backend, so one test covers both."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'kindred.db'}"
        return
    async with fresh_postgres_db() as url:
        yield url


# ---------------------------------------------------------------- Redis


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """Yield the shared Redis URL; keys the test made under its prefix are removed afterwards."""
    require_service("Redis", REDIS_HOST, REDIS_PORT)
    yield f"redis://{REDIS_HOST}:{REDIS_PORT}/0"


@pytest.fixture
def redis_prefix() -> str:
    """Return a key prefix unique to this test, so tests never see each other's keys."""
    return f"kindred-test:{uuid.uuid4().hex[:10]}:"


class RedisProcess:
    """A private redis-server on its own port that a test may stop and start again."""

    def __init__(self, port: int, workdir: Path) -> None:
        self.port = port
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            if IN_CI:
                pytest.fail("redis-server is not installed; CI=true requires it")
            pytest.skip("redis-server is not installed")
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, proc=self.proc)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture
def redis_process(tmp_path: Path) -> Iterator[RedisProcess]:
    """Yield a started private redis-server; stopped at the end whatever the test did."""
    server = RedisProcess(free_port(), tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------- Chroma server


class ChromaProcess:
    """A Chroma server (``chroma run``) on its own port and directory."""

    def __init__(self, port: int, path: Path) -> None:
        self.port = port
        self.path = path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        chroma = Path(sys.executable).with_name("chroma")
        cmd = [str(chroma)] if chroma.exists() else [sys.executable, "-m", "chromadb.cli.cli"]
        self.proc = subprocess.Popen(
            [*cmd, "run", "--path", str(self.path), "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
        wait_for_port(self.port, timeout=60, proc=self.proc)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=15)
        self.proc = None


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaProcess]:
    """Yield one Chroma server for the session; tests use their own collection prefixes."""
    server = ChromaProcess(free_port(), tmp_path_factory.mktemp("chroma-server"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def unique_prefix() -> str:
    """Return a short name prefix unique to this test (for collections and keys)."""
    return f"t{uuid.uuid4().hex[:8]}"
