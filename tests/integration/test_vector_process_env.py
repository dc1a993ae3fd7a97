"""The vector process gets glibc malloc settings that let Chroma's freed index memory go back to the
system, unless the operator set them."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.vectors.process import ChildProcess


def child_environment(monkeypatch: pytest.MonkeyPatch, **operator: str) -> dict[str, str]:
    for name in ("MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_"):
        monkeypatch.delenv(name, raising=False)
    for name, value in operator.items():
        monkeypatch.setenv(name, value)
    child = ChildProcess()
    child._ensure()
    try:
        pid = child.pid
        assert pid is not None
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    finally:
        child.kill()
    pairs = (entry.split(b"=", 1) for entry in raw.split(b"\0") if b"=" in entry)
    return {key.decode(): value.decode() for key, value in pairs}


def test_the_child_gets_a_fixed_mmap_threshold_and_two_arenas(monkeypatch: pytest.MonkeyPatch) -> None:
    env = child_environment(monkeypatch)
    assert env["MALLOC_MMAP_THRESHOLD_"] == "131072"
    assert env["MALLOC_ARENA_MAX"] == "2"


def test_the_operators_malloc_settings_win(monkeypatch: pytest.MonkeyPatch) -> None:
    env = child_environment(monkeypatch, MALLOC_ARENA_MAX="4", MALLOC_MMAP_THRESHOLD_="65536")
    assert env["MALLOC_ARENA_MAX"] == "4"
    assert env["MALLOC_MMAP_THRESHOLD_"] == "65536"
