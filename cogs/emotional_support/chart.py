"""The /mood picture: average valence per day as a line, each day's dot coloured by its dominant emotion."""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Any

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 900, 460
LEFT, RIGHT, TOP, BOTTOM = 80, 160, 56, 64
BACKGROUND = (255, 255, 255)
AXIS = (60, 60, 60)
GRID = (225, 225, 225)
LINE = (90, 90, 90)
COLOURS: dict[str, tuple[int, int, int]] = {
    "joy": (242, 183, 5),
    "surprise": (230, 126, 34),
    "neutral": (149, 165, 166),
    "fear": (142, 68, 173),
    "anger": (214, 48, 49),
    "sadness": (66, 114, 196),
    "loneliness": (52, 73, 94),
}

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def _font(size: int) -> Font:
    try:
        return ImageFont.load_default(size=size)
    except (OSError, TypeError, ValueError):  # Pillow built without FreeType: the small bitmap font
        return ImageFont.load_default()


def daily_points(
    days: dict[str, dict[str, Any]], span: int, today: date
) -> list[tuple[date, float, str] | None]:
    """Return (day, mean valence, dominant emotion), or None, for each of the last ``span`` days."""
    points: list[tuple[date, float, str] | None] = []
    for offset in range(span - 1, -1, -1):
        day = today - timedelta(days=offset)
        sums = days.get(day.isoformat())
        count = int(sums.get("n", 0)) if sums else 0
        if not sums or count <= 0:
            points.append(None)
            continue
        emotions: dict[str, float] = {k: float(v) for k, v in (sums.get("emotions") or {}).items()}
        dominant = max(emotions, key=lambda k: emotions[k]) if emotions else "neutral"
        mean = max(-1.0, min(1.0, float(sums.get("valence", 0.0)) / count))
        points.append((day, mean, dominant))
    return points


def render_mood(days: dict[str, dict[str, Any]], span: int, today: date) -> bytes:
    """Return a PNG of the person's mood over the last ``span`` days ending ``today``."""
    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(image)
    title, small = _font(18), _font(13)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(index: int) -> float:
        return LEFT + (plot_w * index / (span - 1) if span > 1 else plot_w / 2)

    def y_of(valence: float) -> float:
        return TOP + (1.0 - valence) / 2.0 * plot_h

    draw.text((LEFT, 16), f"Your mood over the last {span} days", fill=AXIS, font=title)
    # The valence axis: gridlines and labels at every half step, the neutral line stronger.
    for step in (-1.0, -0.5, 0.0, 0.5, 1.0):
        y = y_of(step)
        draw.line([(LEFT, y), (LEFT + plot_w, y)], fill=AXIS if step == 0 else GRID, width=1)
        label = {1.0: "+1 good", 0.0: "0", -1.0: "-1 low"}.get(step, f"{step:+.1f}")
        box = draw.textbbox((0, 0), label, font=small)
        draw.text((LEFT - 8 - (box[2] - box[0]), y - 7), label, fill=AXIS, font=small)
    draw.line([(LEFT, TOP), (LEFT, TOP + plot_h)], fill=AXIS, width=2)
    draw.line([(LEFT, TOP + plot_h), (LEFT + plot_w, TOP + plot_h)], fill=AXIS, width=2)
    points = daily_points(days, span, today)
    label_every = 1 if span <= 7 else 5
    for index, offset in enumerate(range(span - 1, -1, -1)):
        x = x_of(index)
        draw.line([(x, TOP + plot_h), (x, TOP + plot_h + 5)], fill=AXIS, width=1)
        if offset % label_every == 0:
            label = (today - timedelta(days=offset)).strftime("%b %d")
            box = draw.textbbox((0, 0), label, font=small)
            draw.text((x - (box[2] - box[0]) / 2, TOP + plot_h + 9), label, fill=AXIS, font=small)
    # The line joins consecutive days that have readings; a day without any leaves a gap.
    for index in range(1, span):
        a, b = points[index - 1], points[index]
        if a is not None and b is not None:
            draw.line([(x_of(index - 1), y_of(a[1])), (x_of(index), y_of(b[1]))], fill=LINE, width=3)
    for index, point in enumerate(points):
        if point is not None:
            x, y = x_of(index), y_of(point[1])
            draw.ellipse([(x - 7, y - 7), (x + 7, y + 7)], fill=COLOURS.get(point[2], LINE), outline=AXIS)
    if all(p is None for p in points):
        draw.text((LEFT + 20, TOP + plot_h / 2 - 24), "No readings in these days yet.", fill=AXIS, font=small)
    # The legend: what each dot colour means.
    legend_x = LEFT + plot_w + 24
    draw.text((legend_x, TOP), "Strongest feeling", fill=AXIS, font=small)
    for row, (emotion, colour) in enumerate(COLOURS.items()):
        y = TOP + 24 + row * 22
        draw.ellipse([(legend_x, y), (legend_x + 12, y + 12)], fill=colour, outline=AXIS)
        draw.text((legend_x + 20, y - 1), emotion, fill=AXIS, font=small)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
