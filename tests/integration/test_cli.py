"""The command line as an operator uses it: a real subprocess, real config files, real servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.errors import EXIT_CONFIG, EXIT_OK, EXIT_UNAVAILABLE, EXIT_UNHEALTHY
from tests.conftest import REDIS_HOST, REDIS_PORT, ChromaProcess, free_port, require_service

REPO = Path(__file__).resolve().parents[2]


def kindred(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m bot`` with a clean environment plus ``env``."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("KINDRED") and k not in ("DISCORD_TOKEN", "OPENAI_API_KEY", "OPENAI_BASE_URL")
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=REPO,
        env={**base, **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def embedded_env(tmp_path: Path) -> dict[str, str]:
    return {"KINDRED__STORAGE__DATA_DIR": str(tmp_path / "data"), "HF_HUB_OFFLINE": "1"}


def test_bad_config_exits_78_naming_the_field(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("storage:\n  cache:\n    backend: memcached\n")
    result = kindred("--config", str(config), "doctor")
    assert result.returncode == EXIT_CONFIG
    assert "storage.cache.backend" in result.stderr


def test_run_without_a_token_names_the_field(tmp_path: Path) -> None:
    result = kindred("run", env=embedded_env(tmp_path))
    assert result.returncode == EXIT_CONFIG
    assert "discord.token is not set" in result.stderr


def test_migrate_then_doctor_is_healthy_on_the_embedded_default(tmp_path: Path) -> None:
    env = embedded_env(tmp_path)
    migrated = kindred("migrate", env=env)
    assert migrated.returncode == EXIT_OK, migrated.stderr
    assert "-> 0" in migrated.stdout
    result = kindred("doctor", "--json", env=env)
    assert result.returncode == EXIT_OK, result.stdout + result.stderr
    parts = {p["part"]: p for p in json.loads(result.stdout)}
    assert {parts[t]["status"] for t in ("sql", "cache", "vectors", "embedding")} == {"ok"}
    assert parts["sql"]["backend"] == "sqlite" and parts["vectors"]["backend"] == "chroma-embedded"
    assert parts["embedding"]["model_id"].startswith("model2vec:builtin")
    assert parts["discord"]["configured"] is False  # shown, but no reason to fail


def test_doctor_fails_while_the_schema_is_missing(tmp_path: Path) -> None:
    result = kindred("doctor", env=embedded_env(tmp_path))
    assert result.returncode == EXIT_UNHEALTHY
    assert "run `kindred migrate`" in result.stdout


def test_doctor_reports_an_unreachable_database(tmp_path: Path) -> None:
    env = {
        **embedded_env(tmp_path),
        "KINDRED__STORAGE__SQL__URL": f"postgresql://postgres@127.0.0.1:{free_port()}/x",
    }
    result = kindred("doctor", env=env)
    assert result.returncode == EXIT_UNHEALTHY
    assert "down" in result.stdout and "did not answer" in result.stdout


def test_migrate_gives_up_on_an_unreachable_database_with_exit_69(tmp_path: Path) -> None:
    env = {
        **embedded_env(tmp_path),
        "KINDRED__STORAGE__SQL__URL": f"postgresql://postgres@127.0.0.1:{free_port()}/x",
        "KINDRED__STORAGE__SQL__CONNECT_RETRIES": "1",
        "KINDRED__STORAGE__SQL__CONNECT_RETRY_DELAY_S": "0.01",
    }
    result = kindred("migrate", env=env)
    assert result.returncode == EXIT_UNAVAILABLE
    assert "did not answer after 2 attempts" in result.stderr


def test_doctor_is_healthy_on_postgres_redis_and_a_chroma_server(
    tmp_path: Path, postgres_url: str, unique_prefix: str
) -> None:
    require_service("Redis", REDIS_HOST, REDIS_PORT)
    chroma = ChromaProcess(free_port(), tmp_path / "chroma")
    chroma.start()
    try:
        env = {
            **embedded_env(tmp_path),
            "KINDRED__STORAGE__SQL__URL": postgres_url,
            "KINDRED__STORAGE__CACHE__BACKEND": "redis",
            "KINDRED__STORAGE__CACHE__REDIS_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/0",
            "KINDRED__STORAGE__CACHE__KEY_PREFIX": f"{unique_prefix}:",
            "KINDRED__STORAGE__VECTORS__BACKEND": "http",
            "KINDRED__STORAGE__VECTORS__PORT": str(chroma.port),
        }
        assert kindred("migrate", env=env).returncode == EXIT_OK
        result = kindred("doctor", "--json", env=env)
        assert result.returncode == EXIT_OK, result.stdout + result.stderr
        parts = {p["part"]: p for p in json.loads(result.stdout)}
        assert (parts["sql"]["backend"], parts["cache"]["backend"], parts["vectors"]["backend"]) == (
            "postgresql",
            "redis",
            "chroma-http",
        )
        assert {parts[t]["status"] for t in ("sql", "cache", "vectors", "embedding")} == {"ok"}
    finally:
        chroma.stop()


def test_reindex_rebuilds_the_index_from_sql(tmp_path: Path) -> None:
    import asyncio

    from storage.config import StorageSettings
    from storage.scope import Scope
    from storage.service import StorageService

    async def seed() -> None:
        storage = await StorageService.open(StorageSettings(data_dir=tmp_path / "data"))
        try:
            await storage.add_memory(Scope(user_id="1"), "likes hiking in the Alps")
        finally:
            await storage.close()

    asyncio.run(seed())
    import shutil

    shutil.rmtree(tmp_path / "data" / "chroma")  # the derived index is lost; SQL still has everything
    result = kindred("reindex", env=embedded_env(tmp_path))
    assert result.returncode == EXIT_OK, result.stderr
    assert "reindexed 1 memories" in result.stdout
    assert "1/1" in result.stderr  # the progress bar


@pytest.mark.parametrize("command", ["run", "migrate", "doctor", "reindex", "healthcheck", "chat"])
def test_every_command_has_help(command: str) -> None:
    result = kindred(command, "--help")
    assert result.returncode == EXIT_OK
    assert command in result.stdout


def test_worker_command_runs_queued_jobs_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    import asyncio
    import signal
    import time

    from bot.reflection import enqueue_index
    from storage.config import StorageSettings
    from storage.scope import Scope
    from storage.service import StorageService

    scope = Scope(user_id="7", channel_id="dm7")

    async def seed() -> None:
        storage = await StorageService.open(StorageSettings(data_dir=tmp_path / "data"))
        try:
            turn = await storage.record_turn(scope, "user", "I keep bees on my roof", message_id="m1")
            assert await enqueue_index(storage, scope, [turn])
        finally:
            await storage.close()

    async def indexed() -> bool:
        storage = await StorageService.open(StorageSettings(data_dir=tmp_path / "data"))
        try:
            # Found by the vector index, not only by the full-text index that SQL keeps itself.
            found = await storage.search(scope, "bees", kinds=("turn",))
            return any(r.reasons.get("semantic", 0.0) > 0 for r in found)
        finally:
            await storage.close()

    asyncio.run(seed())
    base = {k: v for k, v in os.environ.items() if not k.startswith("KINDRED")}
    worker = subprocess.Popen(
        [sys.executable, "-m", "bot", "worker"],
        cwd=REPO,
        env={**base, **embedded_env(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not asyncio.run(indexed()):
            assert worker.poll() is None, worker.communicate()[1]
            assert time.monotonic() < deadline, "the worker did not index the queued turn"
            time.sleep(0.5)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == EXIT_OK
    finally:
        if worker.poll() is None:
            worker.kill()
