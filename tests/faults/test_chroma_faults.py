"""The embedded Chroma directory is corrupted (as a bad disk or a half-copied backup would leave it): the bot
keeps answering with recall on the lexical index, time and recency, `/healthz` says the vector part is
down, and `reindex` sets the unreadable store aside and rebuilds it from SQL. The embedded store's process
is killed: the same degradation until it restarts, and no index job lost."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from storage.config import StorageSettings
from storage.scope import Scope
from storage.service import StorageService
from storage.vectors import Partition
from storage.vectors import process as vector_process
from storage.vectors.process import child_process
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.openai_api import FakeOpenAI
from tests.faults.harness import (
    MODEL,
    Script,
    Stream,
    check_invariants,
    job_key,
    make_settings,
    part,
    running,
    settled,
    wait_health,
)


def corrupt(store: Path) -> None:
    """Overwrite every file of the store with bytes that are no database or index."""
    files = [p for p in store.rglob("*") if p.is_file()]
    assert files, "the store holds no files to corrupt"
    for path in files:
        path.write_bytes(b"\x00not chroma\xff" * 64)


async def test_corrupt_chroma_degrades_recall_and_reindex_restores_it(
    tmp_path: Path, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    script = Script()
    openai_server.configure(MODEL, reply=script)
    data_dir = tmp_path / "data"
    settings = make_settings(data_dir, openai_server)
    stream = Stream.of(fake_discord, size=2)
    async with running(settings, fake_discord):
        await wait_health(settings.ops.http_port, lambda b: b["status"] == "ok", "ok at start")
        await stream.round(2)
        await settled(settings.storage.sql_url(), stream)
    corrupt(settings.storage.chroma_path())

    settings = make_settings(data_dir, openai_server)
    async with running(settings, fake_discord) as app:
        body = await wait_health(
            settings.ops.http_port, lambda b: part(b, "vectors")["status"] == "down", "the vector part down"
        )
        assert (body["status"], body["http"]) == ("degraded", 200)
        await stream.round()  # answering on lexical recall
        first = stream.sent[0]
        scope = Scope(user_id=str(first.user.id), channel_id=str(first.channel.id))
        found = await app.storage.search(scope, first.tag, kinds=("memory",))
        assert [r.text for r in found][:1] == [f"The person mentioned {first.tag}."]
        # Facts are still extracted; indexing waits (held back, never failed) for a readable store.
        book = await settled(settings.storage.sql_url(), stream, ("semantic",))
    held = [s for s in stream.sent if book.jobs[job_key("index", s)][0] != "done"]
    states = {s.tag: book.jobs[job_key("index", s)] for s in held}
    # The book is read while the worker runs, so a held-back job may be in its next try ("running") just
    # then; what matters is that no try counted as a failure.
    assert held and all(state in {("pending", 0), ("running", 0)} for state in states.values()), states

    storage = await StorageService.open(StorageSettings(data_dir=data_dir))
    try:
        report = await storage.reindex()
    finally:
        await storage.close()
    assert report.memories == len(stream.sent)
    assert list(data_dir.glob("chroma.unreadable-*")), "the unreadable store was not kept for inspection"

    settings = make_settings(data_dir, openai_server)
    async with running(settings, fake_discord) as app:
        await wait_health(settings.ops.http_port, lambda b: b["status"] == "ok", "ok after reindex")
        assert await app.storage.vectors.count(app.storage.space) == report.memories + report.turns
        await stream.round()
        book = await settled(settings.storage.sql_url(), stream)
    check_invariants(book, stream)


async def test_a_killed_vector_process_degrades_then_restarts_with_nothing_lost(
    tmp_path: Path, fake_discord: FakeDiscord, openai_server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Long enough for /healthz to be seen down before the next call brings the process back.
    monkeypatch.setattr(vector_process, "RESTART_AFTER_S", 6.0)
    script = Script()
    openai_server.configure(MODEL, reply=script)
    settings = make_settings(tmp_path / "data", openai_server)
    stream = Stream.of(fake_discord, size=2)
    async with running(settings, fake_discord) as app:
        await wait_health(settings.ops.http_port, lambda b: b["status"] == "ok", "ok at start")
        await stream.round()
        child = child_process()
        killed = child.pid
        assert killed is not None and killed != os.getpid(), "the embedded store is not in a child process"

        child.kill()
        body = await wait_health(
            settings.ops.http_port, lambda b: part(b, "vectors")["status"] == "down", "the vector part down"
        )
        assert (body["status"], body["http"]) == ("degraded", 200)
        await stream.round()  # answered while the store is gone or coming back
        await wait_health(settings.ops.http_port, lambda b: b["status"] == "ok", "ok after the restart")
        assert child.pid not in (None, killed)
        await stream.round()
        book = await settled(settings.storage.sql_url(), stream)
        # Every person's turn is in the index once: the index jobs that met the dead process ran again.
        indexed = 0
        for scope in {Scope(user_id=str(s.user.id), channel_id=str(s.channel.id)) for s in stream.sent}:
            stored = await app.storage.vectors.get(app.storage.space, Partition(scope.user_key, scope.realm))
            indexed += sum(1 for vector_id in stored.ids if vector_id.startswith("t"))
        assert indexed == sum(book.user_turns.values())
    check_invariants(book, stream)
