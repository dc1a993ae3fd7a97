"""The cold-start part of bench/scale.py still runs: a first start and a restart of `python -m bot run`."""

from __future__ import annotations

import json
from pathlib import Path

from bench import scale


def test_cold_start_only_times_a_first_start_and_a_restart(tmp_path: Path) -> None:
    out = tmp_path / "cold.json"
    assert scale.main(["--out", str(out), "--cold-start-only", "--starts", "1"]) == 0
    report = json.loads(out.read_text())
    assert report["steps"] == []
    for key in ("bot_run_ready", "bot_run_restart_ready"):
        (wall,) = report[f"{key}_s"]
        (cpu,) = report[f"{key}_cpu_s"]
        assert wall > 0 and cpu > 0
    names = [t["name"] for t in report["targets"]]
    assert any("restart" in name for name in names)
