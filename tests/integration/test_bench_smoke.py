"""The benchmarks still run: each bench module imports, and the load and scale benches finish a tiny run.

Sizes are tiny so this takes seconds of work; the numbers are not judged (benchmarks are never timed
assertions), only that the runs complete, lose nothing and write well-formed reports and charts.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
from PIL import Image

from bench import charts, load, scale

BENCH_MODULES = sorted(
    p.stem for p in (Path(__file__).resolve().parents[2] / "bench").glob("*.py") if not p.stem.startswith("_")
)


@pytest.mark.parametrize("name", BENCH_MODULES)
def test_every_bench_module_imports_and_has_a_main(name: str) -> None:
    module = importlib.import_module(f"bench.{name}")
    if name in {"charts", "labelled", "locomo_data", "output"}:  # libraries of the benches, not benches
        return
    assert callable(getattr(module, "main", None))


def test_load_bench_answers_every_turn_and_writes_its_report(tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    assert load.main(["--out", str(out), "--people", "2", "--turns", "4", "--llm-latency-ms", "const:0"]) == 0
    report = json.loads(out.read_text())
    run = report["runs"][0]
    assert run["turns_sent"] == 4 and run["warmup_turns"] == 2
    assert run["lost"] == {"no_turn_in_sql": 0, "no_reply_delivered": 0, "examples": []}
    assert run["statuses"] == {"replied": 4}
    assert report["median"]["turns_lost"] == 0
    assert 0 < run["overhead"]["p50_ms"] <= run["overhead"]["p99_ms"]


def test_scale_bench_measures_each_step_of_the_ladder(tmp_path: Path) -> None:
    out = tmp_path / "scale.json"
    argv = ["--out", str(out), "--ladder", "2x2,3x3", "--queries", "3", "--rounds", "1", "--starts", "0"]
    assert scale.main(argv) == 0
    report = json.loads(out.read_text())
    assert [s["memories"] for s in report["steps"]] == [4, 9]
    for step in report["steps"]:
        (measured,) = step["measured"]
        assert measured["queries"] == 3 and measured["queries_with_semantic_hits"] > 0
        assert step["rss_mb"] > 0 and step["start_to_ready_s"] > 0


def test_charts_render_small_pngs(tmp_path: Path) -> None:
    paths = charts.scale_charts(
        {
            "steps": [
                {"memories": m, "recall_p50_ms": m / 1e3, "recall_p99_ms": m / 1e2, "rss_mb": 200.0}
                for m in (10_000, 100_000, 1_000_000)
            ]
        },
        tmp_path,
    )
    for path in paths:
        with Image.open(path) as image:
            assert image.size == (charts.WIDTH, charts.HEIGHT)
        assert path.stat().st_size < 50_000


@pytest.mark.parametrize(
    ("spec", "problem"),
    [("gauss:5", "unknown latency distribution"), ("uniform:9:1", "LO <= HI"), ("const", "1 parameter")],
)
def test_bad_latency_spec_is_refused_with_the_reason(spec: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        load.Latency.parse(spec)


def test_ladder_that_shrinks_is_refused() -> None:
    with pytest.raises(ValueError, match="shrinks"):
        scale.parse_ladder("100x10,50x10")
