"""The hang guard (tests/hang_guard.py) turns a test stuck in its teardown into a failure that says where."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

STUCK = """
import asyncio
import pytest

@pytest.fixture
async def stuck():
    yield
    await asyncio.Event().wait()  # nothing ever sets it

async def test_stuck(stuck):
    pass

def test_after():
    pass
"""


def test_a_stuck_teardown_fails_with_its_await_chain_and_the_run_goes_on(tmp_path: Path) -> None:
    (tmp_path / "test_stuck.py").write_text(STUCK)
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_mode = auto\n")
    env = {**os.environ, "KINDRED_TEST_HANG_S": "1", "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.hang_guard", "-p", "no:cacheprovider", "-q", "-n", "0"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "test_stuck.py::test_stuck has run for more than 1s" in run.stdout
    # The fixture's own line, reached through the async generator it is suspended in.
    assert "test_stuck.py:8 in stuck" in run.stdout
    assert "2 passed, 1 error" in run.stdout
