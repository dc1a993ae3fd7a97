"""The vector process gets glibc malloc settings that let Chroma's freed index memory go back to the
system, and one BLAS thread, unless the operator set them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from storage.vectors.process import BLAS_THREAD_SETTINGS, ChildProcess

SETTINGS = ("MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_", *BLAS_THREAD_SETTINGS)


def child_environment(monkeypatch: pytest.MonkeyPatch, **operator: str) -> dict[str, str]:
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    for name, value in operator.items():
        monkeypatch.setenv(name, value)
    child = ChildProcess()
    child._ensure()
    try:
        pid = child.pid
        assert pid is not None
        raw = started_environment(pid)
    finally:
        child.kill()
    pairs = (entry.split(b"=", 1) for entry in raw.split(b"\0") if b"=" in entry)
    return {key.decode(): value.decode() for key, value in pairs}


def started_environment(pid: int) -> bytes:
    """The child's environment once its exec has set it up. Popen returns when the exec closes the child's
    close-on-exec pipe, which the kernel does before it records where the new environment lies, so a read
    straight away can find it empty (seen once in CI)."""
    deadline = time.monotonic() + 10
    while True:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
        if b"PYTHONPATH=" in raw or time.monotonic() > deadline:
            return raw
        time.sleep(0.01)


def test_the_child_gets_a_fixed_mmap_threshold_two_arenas_and_one_blas_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = child_environment(monkeypatch)
    assert env["MALLOC_MMAP_THRESHOLD_"] == "131072"
    assert env["MALLOC_ARENA_MAX"] == "2"
    assert {name: env[name] for name in BLAS_THREAD_SETTINGS} == dict.fromkeys(BLAS_THREAD_SETTINGS, "1")


def test_the_operators_settings_win(monkeypatch: pytest.MonkeyPatch) -> None:
    chosen = {"MALLOC_ARENA_MAX": "4", "MALLOC_MMAP_THRESHOLD_": "65536", "OPENBLAS_NUM_THREADS": "2"}
    env = child_environment(monkeypatch, **chosen)
    assert {name: env[name] for name in chosen} == chosen
    assert env["OMP_NUM_THREADS"] == "1"
