"""Views of a person's crystals as a constellation: a 2D map (PNG), a rotating 3D image (GIF) and a
self-contained HTML page with a 3D view the person can turn with the mouse.

Crystals are placed by a PCA projection of their centroids (similar themes sit close), sized by brightness,
coloured by hue and joined by their links.
"""

from __future__ import annotations

import io
import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from cogs.crystals.renderer import colour_of

BACKGROUND = (8, 10, 24)


@dataclass(frozen=True, slots=True)
class Star:
    """A crystal as a constellation shows it."""

    id: int
    name: str
    brightness: float
    hue: float
    centroid: Sequence[float]


def layout(stars: Sequence[Star], dimensions: int) -> np.ndarray:
    """Return positions in [-1, 1]^dimensions: a PCA projection of the centroids (few crystals: a ring)."""
    n = len(stars)
    if n == 0:
        return np.zeros((0, dimensions))
    points = np.zeros((n, dimensions))
    # Centroids from an older embedding model may differ in length: padded, they still get a place.
    width = max(len(s.centroid) for s in stars)
    vectors = np.zeros((n, width))
    for i, s in enumerate(stars):
        vectors[i, : len(s.centroid)] = list(s.centroid)
    usable = vectors.ndim == 2 and vectors.shape[1] > 0 and n >= 3
    if usable:
        # Imported here: scikit-learn takes about a second to import, which every bot start would pay.
        from sklearn.decomposition import PCA

        parts = min(dimensions, n - 1, vectors.shape[1])
        projected = PCA(n_components=parts, svd_solver="full", random_state=0).fit_transform(vectors)
        points[:, :parts] = projected
    else:
        for i in range(n):  # one or two crystals: PCA has nothing to spread, so space them evenly
            angle = 2 * math.pi * i / max(n, 1)
            points[i, 0], points[i, 1] = math.cos(angle) * (n > 1), math.sin(angle) * (n > 1)
    scale = np.abs(points).max()
    return points / scale if scale > 0 else points


def render_map(
    stars: Sequence[Star], links: Sequence[tuple[int, int, float]], width: int, height: int
) -> Image.Image:
    """Draw the constellation map: a star field, links as lines, crystals as glowing gems with names."""
    image = _starfield(width, height, seed=sum(s.id for s in stars))
    if not stars:
        return image
    points = layout(stars, 2)
    margin = 0.16
    xy = [(width * (0.5 + (0.5 - margin) * p[0]), height * (0.5 + (0.5 - margin) * p[1])) for p in points]
    index = {s.id: i for i, s in enumerate(stars)}
    glow = Image.new("RGBA", image.size, (0, 0, 0, 0))
    gdraw = ImageDraw.Draw(glow)
    for s, (x, y) in zip(stars, xy, strict=True):
        r = _radius(s, min(width, height)) * 2.6
        gdraw.ellipse([x - r, y - r, x + r, y + r], fill=(*colour_of(s.hue), 110))
    glow = glow.filter(ImageFilter.GaussianBlur(radius=max(2.0, min(width, height) / 45)))
    image = Image.alpha_composite(image.convert("RGBA"), glow)
    draw = ImageDraw.Draw(image, "RGBA")
    for a, b, similarity in links:
        if a in index and b in index:
            alpha = int(60 + 150 * max(0.0, min(1.0, similarity)))
            draw.line([xy[index[a]], xy[index[b]]], fill=(190, 200, 255, alpha), width=2)
    font = _font(max(12, min(width, height) // 32))
    for s, (x, y) in zip(stars, xy, strict=True):
        _gem(draw, x, y, _radius(s, min(width, height)), s.hue)
        label = s.name if len(s.name) <= 28 else s.name[:27] + "…"
        box = draw.textbbox((0, 0), label, font=font)
        tx = min(max(x - (box[2] - box[0]) / 2, 4), width - (box[2] - box[0]) - 4)
        ty = y + _radius(s, min(width, height)) + 6
        draw.text((tx, ty), label, font=font, fill=(235, 238, 255, 235))
    return image.convert("RGB")


def render_rotation(
    stars: Sequence[Star], links: Sequence[tuple[int, int, float]], size: int, frames: int = 24
) -> bytes:
    """Return an animated GIF of the constellation turning once around its vertical axis."""
    if frames < 2:
        raise ValueError("a rotation needs at least two frames")
    points = layout(stars, 3)
    index = {s.id: i for i, s in enumerate(stars)}
    background = _starfield(size, size, seed=len(stars) + 7)
    images = []
    for f in range(frames):
        angle = 2 * math.pi * f / frames
        frame = background.copy()
        draw = ImageDraw.Draw(frame, "RGBA")
        projected = [_project(p, angle, size) for p in points]
        for a, b, _ in links:
            if a in index and b in index:
                (x1, y1, _z1), (x2, y2, _z2) = projected[index[a]], projected[index[b]]
                draw.line([(x1, y1), (x2, y2)], fill=(170, 185, 255, 120), width=1)
        # Far crystals first, so near ones are drawn over them.
        for i in sorted(range(len(stars)), key=lambda k: projected[k][2]):
            x, y, z = projected[i]
            r = _radius(stars[i], size) * (0.7 + 0.3 * (z + 1))
            _gem(draw, x, y, r, stars[i].hue)
        images.append(frame.convert("P", palette=Image.Palette.ADAPTIVE, colors=128))
    out = io.BytesIO()
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:], duration=90, loop=0)
    return out.getvalue()


def explore_html(stars: Sequence[Star], links: Sequence[tuple[int, int, float]], title: str) -> str:
    """Return a self-contained HTML page with a rotatable 3D view (inline script, no external files)."""
    points = layout(stars, 3)
    data = {
        "title": title,
        "stars": [
            {
                "id": s.id,
                "name": s.name,
                "brightness": round(s.brightness, 3),
                "colour": "#{:02x}{:02x}{:02x}".format(*colour_of(s.hue)),
                "pos": [round(float(v), 4) for v in p],
            }
            for s, p in zip(stars, points, strict=True)
        ],
        "links": [[a, b, round(sim, 3)] for a, b, sim in links],
    }
    # Names are the person's own text: "<" is escaped so nothing in them can close the script element.
    payload = json.dumps(data).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    safe_title = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _HTML.replace("__TITLE__", safe_title).replace("__DATA__", payload)


def png_of(image: Image.Image) -> bytes:
    """Encode an image as PNG."""
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


# ---------------------------------------------------------------------- drawing helpers


def _radius(star: Star, size: int) -> float:
    return size * (0.018 + 0.03 * max(0.0, min(1.0, star.brightness)))


def _gem(draw: ImageDraw.ImageDraw, x: float, y: float, r: float, hue: float) -> None:
    light, dark = colour_of(hue, 0.72), colour_of(hue, 0.42)
    top, bottom = (x, y - r * 1.3), (x, y + r * 1.3)
    left, right = (x - r, y), (x + r, y)
    draw.polygon([top, left, bottom], fill=(*light, 255))
    draw.polygon([top, right, bottom], fill=(*dark, 255))
    draw.line([top, bottom], fill=(255, 255, 255, 110), width=1)


def _project(p: np.ndarray, angle: float, size: int) -> tuple[float, float, float]:
    x, y, z = (float(v) for v in p)
    rx = x * math.cos(angle) + z * math.sin(angle)
    rz = -x * math.sin(angle) + z * math.cos(angle)
    depth = 3.0 / (3.0 + rz)
    return size / 2 + rx * size * 0.34 * depth, size / 2 + y * size * 0.34 * depth, rz


def _starfield(width: int, height: int, seed: int) -> Image.Image:
    rng = random.Random(seed)
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    for _ in range(int(width * height / 1500)):
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        level = rng.randint(70, 200)
        draw.point((x, y), fill=(level, level, min(255, level + 30)))
    return image


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType support has only the fixed bitmap font
        return ImageFont.load_default()


_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>__TITLE__</title>
<style>
  html, body { margin: 0; height: 100%; background: #080a18; color: #e8ecff; font: 14px sans-serif; }
  #view { display: block; width: 100vw; height: 100vh; cursor: grab; }
  #title { position: fixed; top: 12px; left: 16px; opacity: .85; }
  #hint { position: fixed; bottom: 12px; left: 16px; opacity: .6; }
</style>
</head>
<body>
<div id="title">__TITLE__</div>
<canvas id="view" width="900" height="640"></canvas>
<div id="hint">Drag to turn the constellation; scroll to zoom.</div>
<script>
"use strict";
const DATA = __DATA__;
const canvas = document.getElementById("view");
const ctx = canvas.getContext("2d");
let yaw = 0.6, pitch = 0.25, zoom = 1, dragging = null, auto = true;

function resize() {
  canvas.width = window.innerWidth || 900;
  canvas.height = window.innerHeight || 640;
}

function project(p) {
  const cy = Math.cos(yaw), sy = Math.sin(yaw), cp = Math.cos(pitch), sp = Math.sin(pitch);
  const x = p[0] * cy + p[2] * sy;
  const z0 = -p[0] * sy + p[2] * cy;
  const y = p[1] * cp - z0 * sp;
  const z = p[1] * sp + z0 * cp;
  const scale = Math.min(canvas.width, canvas.height) * 0.36 * zoom * (3 / (3 + z));
  return { x: canvas.width / 2 + x * scale, y: canvas.height / 2 + y * scale, z: z, s: 3 / (3 + z) };
}

function draw() {
  ctx.fillStyle = "#080a18";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const pos = {};
  for (const star of DATA.stars) pos[star.id] = project(star.pos);
  ctx.lineWidth = 1;
  for (const [a, b, sim] of DATA.links) {
    if (!pos[a] || !pos[b]) continue;
    ctx.strokeStyle = "rgba(180, 190, 255, " + (0.25 + 0.6 * Math.max(0, sim)) + ")";
    ctx.beginPath();
    ctx.moveTo(pos[a].x, pos[a].y);
    ctx.lineTo(pos[b].x, pos[b].y);
    ctx.stroke();
  }
  const order = DATA.stars.slice().sort((p, q) => pos[p.id].z - pos[q.id].z);
  for (const star of order) {
    const p = pos[star.id];
    const r = (8 + 16 * star.brightness) * p.s * zoom;
    const glow = ctx.createRadialGradient(p.x, p.y, 0, p.x, p.y, r * 3);
    glow.addColorStop(0, star.colour);
    glow.addColorStop(1, "rgba(0, 0, 0, 0)");
    ctx.fillStyle = glow;
    ctx.beginPath();
    ctx.arc(p.x, p.y, r * 3, 0, Math.PI * 2);
    ctx.fill();
    ctx.fillStyle = star.colour;
    ctx.beginPath();
    ctx.moveTo(p.x, p.y - r * 1.3);
    ctx.lineTo(p.x + r, p.y);
    ctx.lineTo(p.x, p.y + r * 1.3);
    ctx.lineTo(p.x - r, p.y);
    ctx.closePath();
    ctx.fill();
    ctx.fillStyle = "#e8ecff";
    ctx.fillText(star.name, p.x + r + 4, p.y + 4);
  }
}

function tick() {
  if (auto && !dragging) yaw += 0.004;
  draw();
  window.requestAnimationFrame(tick);
}

canvas.addEventListener("pointerdown", (e) => { dragging = { x: e.clientX, y: e.clientY }; auto = false; });
window.addEventListener("pointerup", () => { dragging = null; });
window.addEventListener("pointermove", (e) => {
  if (!dragging) return;
  yaw += (e.clientX - dragging.x) * 0.01;
  pitch = Math.max(-1.4, Math.min(1.4, pitch + (e.clientY - dragging.y) * 0.01));
  dragging = { x: e.clientX, y: e.clientY };
});
canvas.addEventListener("wheel", (e) => {
  e.preventDefault();
  zoom = Math.max(0.4, Math.min(3, zoom * (e.deltaY < 0 ? 1.1 : 0.9)));
}, { passive: false });
window.addEventListener("resize", resize);
resize();
draw();
window.requestAnimationFrame(tick);
</script>
</body>
</html>
"""
