"""What the load and scale benches share around a run: a clean environment, and writing the results."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def prepare() -> None:
    """Log warnings only; drop KINDRED*/OPENAI_* variables so a developer's setup cannot redirect a run."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for var in [v for v in os.environ if v.startswith(("KINDRED", "OPENAI_"))]:
        os.environ.pop(var)


def publish(
    report: dict[str, Any],
    out: Path,
    show: Callable[[dict[str, Any]], None],
    charts: Path | None,
    render: Callable[[Path], Sequence[Path]],
) -> None:
    """Write the JSON report, print its table and, when asked, render its charts."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    show(report)
    print(f"\nwrote {out}")
    if charts is not None:
        for path in render(charts):
            print(f"wrote {path}")
