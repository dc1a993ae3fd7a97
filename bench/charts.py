"""Small PNG charts for the benchmarks (Pillow only), sized for docs/img/ and a commit.

Two shapes cover what the benches show: grouped bars (percentiles per case, against a target) and lines
over a growing x axis (recall and RSS as the store grows). Palette-mode PNGs keep each file to a few KB.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 640, 360
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 64, 16, 40, 56
COLOURS = ("#3b6ea8", "#e08a2c", "#4d9a5b", "#b5475b", "#7b5ea7", "#8c8c8c")
INK, GRID, TARGET = "#222222", "#dddddd", "#c0392b"


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _nice_ceiling(value: float) -> float:
    """Return a round number at or above ``value`` for the top of an axis."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _label(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


class _Canvas:
    """A plot area with a y axis from 0 to ``top`` (or log10 when ``log``), a title and a legend."""

    def __init__(self, title: str, unit: str, top: float, log: bool, bottom: float = 0.0) -> None:
        self.image = Image.new("RGB", (WIDTH, HEIGHT), "white")
        self.draw = ImageDraw.Draw(self.image)
        self.log, self.top, self.bottom = log, top, bottom
        self.x0, self.x1 = MARGIN_LEFT, WIDTH - MARGIN_RIGHT
        self.y0, self.y1 = HEIGHT - MARGIN_BOTTOM, MARGIN_TOP
        self.draw.text((MARGIN_LEFT, 10), title, fill=INK, font=_font(15))
        self.draw.text((6, MARGIN_TOP - 16), unit, fill=INK, font=_font(11))
        for tick in self._ticks():
            y = self.y(tick)
            self.draw.line([(self.x0, y), (self.x1, y)], fill=GRID)
            text = _label(tick)
            self.draw.text((self.x0 - 6 - 6 * len(text), y - 6), text, fill=INK, font=_font(11))
        self.draw.line([(self.x0, self.y0), (self.x1, self.y0)], fill=INK)
        self.draw.line([(self.x0, self.y0), (self.x0, self.y1)], fill=INK)

    @classmethod
    def fitting(
        cls,
        title: str,
        unit: str,
        series: Mapping[str, Sequence[float]],
        target: tuple[float, str] | None,
        log: bool,
    ) -> _Canvas:
        """Return a canvas whose y axis holds every finite value of ``series`` and the target."""
        values = [v for vs in series.values() for v in vs if math.isfinite(v)]
        if target:
            values.append(target[0])
        ceiling = max([*values, 1e-9])
        if not log:
            return cls(title, unit, _nice_ceiling(ceiling * 1.1), log)
        bottom = min([v for v in values if v > 0], default=1.0)
        return cls(
            title, unit, 10 ** math.ceil(math.log10(ceiling)), log, 10 ** math.floor(math.log10(bottom))
        )

    def _ticks(self) -> list[float]:
        if self.log:
            lo, hi = math.floor(math.log10(self.bottom)), math.ceil(math.log10(self.top))
            return [10.0**e for e in range(lo, hi + 1)]
        return [self.top * i / 5 for i in range(6)]

    def y(self, value: float) -> float:
        """Return the pixel row of a value."""
        if self.log:
            lo, hi = math.log10(self.bottom), math.log10(self.top)
            share = (math.log10(max(value, self.bottom)) - lo) / (hi - lo)
        else:
            share = value / self.top if self.top else 0.0
        return self.y0 - max(0.0, min(1.0, share)) * (self.y0 - self.y1)

    def target(self, value: float, text: str) -> None:
        """Draw a dashed horizontal target line."""
        y = self.y(value)
        for x in range(self.x0, self.x1, 10):
            self.draw.line([(x, y), (min(x + 5, self.x1), y)], fill=TARGET, width=2)
        self.draw.text((self.x1 - 7 * len(text), y - 15), text, fill=TARGET, font=_font(11))

    def legend(self, names: Sequence[str]) -> None:
        """Name each colour under the plot."""
        x = self.x0
        for n, name in enumerate(names):
            self.draw.rectangle([(x, HEIGHT - 18), (x + 10, HEIGHT - 8)], fill=COLOURS[n % len(COLOURS)])
            self.draw.text((x + 14, HEIGHT - 20), name, fill=INK, font=_font(11))
            x += 24 + 7 * len(name)

    def save(self, path: Path) -> Path:
        """Write the chart as a small palette PNG."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.image.convert("P", palette=Image.Palette.ADAPTIVE, colors=32).save(path, optimize=True)
        return path


def bar_chart(
    path: Path,
    title: str,
    groups: Sequence[str],
    series: Mapping[str, Sequence[float]],
    unit: str,
    target: tuple[float, str] | None = None,
    log: bool = False,
) -> Path:
    """Draw grouped bars: one group per label in ``groups``, one bar per series; return the path."""
    if not groups or any(len(v) != len(groups) for v in series.values()):
        raise ValueError("every series needs one value per group")
    canvas = _Canvas.fitting(title, unit, series, target, log)
    slot = (canvas.x1 - canvas.x0) / len(groups)
    width = slot * 0.8 / max(1, len(series))
    for g, group in enumerate(groups):
        left = canvas.x0 + g * slot + slot * 0.1
        for s, values_ in enumerate(series.values()):
            value = values_[g]
            if not math.isfinite(value):
                continue
            x = left + s * width
            canvas.draw.rectangle(
                [(x, canvas.y(value)), (x + width - 2, canvas.y0)], fill=COLOURS[s % len(COLOURS)]
            )
        canvas.draw.text((left, canvas.y0 + 6), group, fill=INK, font=_font(11))
    if target:
        canvas.target(*target)
    canvas.legend(list(series))
    return canvas.save(path)


def line_chart(
    path: Path,
    title: str,
    xs: Sequence[str],
    series: Mapping[str, Sequence[float]],
    unit: str,
    target: tuple[float, str] | None = None,
    log: bool = False,
) -> Path:
    """Draw one line per series over the labelled x positions; return the path."""
    if not xs or any(len(v) != len(xs) for v in series.values()):
        raise ValueError("every series needs one value per x")
    canvas = _Canvas.fitting(title, unit, series, target, log)
    step = (canvas.x1 - canvas.x0) / max(1, len(xs))
    position = [canvas.x0 + step * (i + 0.5) for i in range(len(xs))]
    for s, values_ in enumerate(series.values()):
        colour = COLOURS[s % len(COLOURS)]
        points = [(position[i], canvas.y(v)) for i, v in enumerate(values_) if math.isfinite(v)]
        if len(points) > 1:
            canvas.draw.line(points, fill=colour, width=3)
        for x, y in points:
            canvas.draw.ellipse([(x - 4, y - 4), (x + 4, y + 4)], fill=colour)
    for i, x_label in enumerate(xs):
        canvas.draw.text((position[i] - 3 * len(x_label), canvas.y0 + 6), x_label, fill=INK, font=_font(11))
    if target:
        canvas.target(*target)
    canvas.legend(list(series))
    return canvas.save(path)


# ---------------------------------------------------------------------------------------------- the benches


def load_charts(reports: Sequence[Mapping[str, object]], out_dir: Path) -> list[Path]:
    """Render bench/load.py reports (one per backend) as a percentile chart."""
    groups = [
        f"{r['backend']}"
        + (f"\npool {r['sql_pool']}+{r['sql_pool']}" if r.get("sql_pool") else "")
        + (f"\nthink {r['think_ms']}" if r.get("think_ms", "const:0") != "const:0" else "")
        for r in reports
    ]
    medians = [r["median"] for r in reports]

    def pick(key: str) -> list[float]:
        return [float(m[key]) for m in medians]  # type: ignore[index]

    return [
        bar_chart(
            out_dir / "load-overhead.png",
            "Reply overhead and event-loop lag, 200 people talking at once",
            groups,
            {
                "overhead p50": pick("overhead_p50_ms"),
                "overhead p99": pick("overhead_p99_ms"),
                "lag p50": pick("lag_p50_ms"),
                "lag p99": pick("lag_p99_ms"),
            },
            "ms",
            target=(50.0, "target p99 50 ms"),
            log=True,
        )
    ]


def scale_charts(report: Mapping[str, object], out_dir: Path) -> list[Path]:
    """Render a bench/scale.py report: recall latency and RSS along the ladder."""
    steps: Sequence[Mapping[str, float]] = report["steps"]  # type: ignore[assignment]
    xs = [_size(s["memories"]) for s in steps]
    return [
        line_chart(
            out_dir / "scale-recall.png",
            "Recall latency as memories grow (embedded default)",
            xs,
            {
                "recall p50": [s["recall_p50_ms"] for s in steps],
                "recall p99": [s["recall_p99_ms"] for s in steps],
            },
            "ms",
            target=(10.0, "target p50 10 ms"),
            log=True,
        ),
        line_chart(
            out_dir / "scale-rss.png",
            "RSS of a restarted bot after recall (embedded default)",
            xs,
            {"RSS": [s["rss_mb"] for s in steps]},
            "MB",
            target=(300.0, "target 300 MB at 100k"),
        ),
    ]


def _size(n: float) -> str:
    return f"{n / 1e6:g}M" if n >= 1e6 else f"{n / 1e3:g}k" if n >= 1e3 else f"{n:g}"


def main(argv: Sequence[str] | None = None) -> int:
    """Render charts from saved JSON reports: ``--load a.json b.json --scale s.json --out-dir docs/img``."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--load", nargs="*", type=Path, default=[], help="bench/load.py reports")
    parser.add_argument("--scale", type=Path, help="a bench/scale.py report")
    parser.add_argument("--out-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    written: list[Path] = []
    if args.load:
        written += load_charts([json.loads(p.read_text()) for p in args.load], args.out_dir)
    if args.scale:
        written += scale_charts(json.loads(args.scale.read_text()), args.out_dir)
    for path in written:
        print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
