"""The built-in scene painter: a procedural landscape from an emotional palette and a few themes (Pillow).

The same palette, themes and seed always paint the same picture. The palette sets the light (day for pleasant
moods, night for unpleasant ones), the colours and how jagged the land is; the themes choose what stands in
the scene (forests, towers, water, birds, crystals), so different conversations look different.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import random
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from cogs.crystals.palette import RGB, Palette

# Theme words that call for a motif; a theme matching none of them picks one by its hash.
MOTIF_WORDS: dict[str, frozenset[str]] = {
    "trees": frozenset(
        [
            "forest",
            "tree",
            "trees",
            "wood",
            "woods",
            "park",
            "garden",
            "hike",
            "hiking",
            "camping",
            "nature",
            "leaf",
            "plant",
        ]
    ),
    "towers": frozenset(
        ["city", "work", "office", "building", "home", "house", "town", "job", "school", "street", "tower"]
    ),
    "water": frozenset(
        [
            "sea",
            "ocean",
            "lake",
            "river",
            "rain",
            "swim",
            "swimming",
            "beach",
            "boat",
            "sail",
            "fishing",
            "water",
            "wave",
        ]
    ),
    "birds": frozenset(
        ["sky", "fly", "flying", "bird", "birds", "plane", "travel", "trip", "flight", "wings", "freedom"]
    ),
    "crystals": frozenset(
        ["memory", "memories", "dream", "dreams", "crystal", "magic", "stars", "star", "space", "night"]
    ),
}
MOTIFS = tuple(MOTIF_WORDS)


def motifs_for(themes: Sequence[str]) -> list[str]:
    """Return the motifs a scene about these themes shows (at least one, at most three)."""
    chosen: list[str] = []
    for theme in themes:
        word = theme.casefold().strip()
        motif = next((m for m, words in MOTIF_WORDS.items() if word in words), None)
        if motif is None and word:
            motif = MOTIFS[_hash_int(word) % len(MOTIFS)]
        if motif is not None and motif not in chosen:
            chosen.append(motif)
    return chosen[:3] or ["crystals"]


def render_scene(palette: Palette, themes: Sequence[str], seed: int, width: int, height: int) -> Image.Image:
    """Paint a landscape for the palette and themes; deterministic for (palette, themes, seed, size)."""
    if width < 16 or height < 16:
        raise ValueError("a scene needs at least 16x16 pixels")
    mix = _hash_int("|".join(sorted(t.casefold() for t in themes)))
    rng = random.Random(seed * 1_000_003 + mix % 1_000_003)
    motifs = motifs_for(themes)
    image = _sky(palette, width, height, rng)
    draw = ImageDraw.Draw(image, "RGBA")
    if palette.night:
        _stars(draw, width, height, rng, palette)
    image = _glow(image, palette, rng)
    draw = ImageDraw.Draw(image, "RGBA")
    horizon = int(height * rng.uniform(0.55, 0.68))
    water = "water" in motifs
    land_bottom = horizon + int(height * 0.08) if water else height
    _mountains(draw, palette, width, height, horizon, land_bottom, rng)
    if "birds" in motifs:
        _birds(draw, palette, width, horizon, rng)
    ridge = _ridge(width, horizon + int(height * 0.04), height * 0.05, 0.6 + palette.intensity, rng)
    base = palette.colour(0.10 if palette.night else 0.22, palette.saturation * 0.6, -20)
    draw.polygon([(0, land_bottom), *ridge, (width, land_bottom)], fill=base)
    for motif in motifs:
        if motif == "trees":
            _trees(draw, palette, ridge, rng)
        elif motif == "towers":
            _towers(draw, palette, ridge, height, rng)
        elif motif == "crystals":
            _crystals(draw, palette, ridge, height, rng)
    if water:
        image = _water(image, land_bottom)
    return _vignette(image)


def png_bytes(image: Image.Image) -> bytes:
    """Encode an image as PNG."""
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


# ---------------------------------------------------------------------- layers


def _sky(palette: Palette, width: int, height: int, rng: random.Random) -> Image.Image:
    top = palette.colour(0.08 if palette.night else 0.45, palette.saturation, rng.uniform(-15, 15))
    bottom = palette.colour(0.30 if palette.night else 0.80, palette.saturation * 0.8, rng.uniform(10, 40))
    t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None] ** 1.3
    rows = np.array(top, dtype=np.float32) * (1 - t) + np.array(bottom, dtype=np.float32) * t
    noise = np.random.default_rng(rng.randrange(2**32)).normal(0.0, 2.0, (height, width, 1))
    pixels = np.clip(rows + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(np.broadcast_to(pixels, (height, width, 3)).copy(), "RGB")


def _stars(draw: ImageDraw.ImageDraw, width: int, height: int, rng: random.Random, palette: Palette) -> None:
    tint = palette.colour(0.9, 0.3, 180)
    for _ in range(int(width * height / 1800)):
        x, y = rng.uniform(0, width), rng.uniform(0, height * 0.6)
        r = rng.choice((0.6, 0.8, 1.0, 1.6))
        alpha = rng.randint(90, 255)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=(*tint, alpha))


def _glow(image: Image.Image, palette: Palette, rng: random.Random) -> Image.Image:
    """Add the sun or moon and soft clouds or auroras, blurred on a layer of their own."""
    width, height = image.size
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    cx, cy = rng.uniform(0.15, 0.85) * width, rng.uniform(0.12, 0.35) * height
    radius = min(width, height) * rng.uniform(0.06, 0.11)
    body = palette.colour(0.92, 0.5, 25) if not palette.night else (236, 236, 226)
    draw.ellipse(
        [cx - radius * 2.4, cy - radius * 2.4, cx + radius * 2.4, cy + radius * 2.4], fill=(*body, 50)
    )
    for _ in range(rng.randint(3, 7)):
        w, h = rng.uniform(0.15, 0.4) * width, rng.uniform(0.03, 0.08) * height
        x, y = rng.uniform(-0.1, 0.9) * width, rng.uniform(0.08, 0.45) * height
        tint = palette.colour(0.7 if not palette.night else 0.5, palette.saturation, rng.uniform(-60, 60))
        draw.ellipse([x, y, x + w, y + h], fill=(*tint, rng.randint(40, 90)))
    layer = layer.filter(ImageFilter.GaussianBlur(radius=max(2.0, min(width, height) / 40)))
    sharp = ImageDraw.Draw(layer)
    sharp.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=(*body, 235))
    if palette.night:  # a crescent: the sky's colour bites into the moon
        sky = image.getpixel((int(cx), int(cy)))
        assert isinstance(sky, tuple)
        off = radius * 0.45
        sharp.ellipse(
            [cx - radius + off, cy - radius - off * 0.3, cx + radius + off, cy + radius], fill=(*sky[:3], 255)
        )
    return Image.alpha_composite(image.convert("RGBA"), layer).convert("RGB")


def _ridge(
    width: int, base: float, amplitude: float, roughness: float, rng: random.Random
) -> list[tuple[float, float]]:
    """Return a ridge line by midpoint displacement; roughness near 1.5 is jagged, near 0.5 rolling."""
    points = [base + rng.uniform(-amplitude, amplitude), base + rng.uniform(-amplitude, amplitude)]
    spread = amplitude
    while len(points) < 129:
        nxt = []
        for a, b in itertools.pairwise(points):
            nxt += [a, (a + b) / 2 + rng.uniform(-spread, spread)]
        points = [*nxt, points[-1]]
        spread *= 0.5 * roughness if roughness < 1.9 else 0.95
    step = width / (len(points) - 1)
    return [(i * step, y) for i, y in enumerate(points)]


def _mountains(
    draw: ImageDraw.ImageDraw,
    palette: Palette,
    width: int,
    height: int,
    horizon: int,
    bottom: int,
    rng: random.Random,
) -> None:
    layers = rng.randint(2, 4)
    for i in range(layers):
        depth = (i + 1) / (layers + 1)
        base = horizon - height * (0.18 - 0.12 * depth)
        ridge = _ridge(width, base, height * (0.14 - 0.06 * depth), 0.7 + palette.intensity * 0.8, rng)
        light = (0.42 - 0.25 * depth) if not palette.night else (0.26 - 0.14 * depth)
        colour = palette.colour(light, palette.saturation * (0.35 + 0.3 * depth), rng.uniform(-30, 30))
        draw.polygon([(0, bottom), *ridge, (width, bottom)], fill=colour)


def _trees(
    draw: ImageDraw.ImageDraw, palette: Palette, ridge: list[tuple[float, float]], rng: random.Random
) -> None:
    height = max(y for _, y in ridge) * 0.12
    colour = palette.colour(0.12 if palette.night else 0.2, 0.45, 100 - palette.hue * 0.2)
    for _ in range(rng.randint(14, 30)):
        x, y = ridge[rng.randrange(len(ridge))]
        h = height * rng.uniform(0.5, 1.2)
        w = h * rng.uniform(0.28, 0.4)
        draw.polygon([(x - w, y + 2), (x, y - h), (x + w, y + 2)], fill=colour)


def _towers(
    draw: ImageDraw.ImageDraw,
    palette: Palette,
    ridge: list[tuple[float, float]],
    height: int,
    rng: random.Random,
) -> None:
    body = palette.colour(0.14 if palette.night else 0.28, 0.25, 180)
    lit = palette.colour(0.75, 0.9, 30 - palette.hue)
    for _ in range(rng.randint(5, 11)):
        x, y = ridge[rng.randrange(8, len(ridge) - 8)]
        w, h = rng.uniform(0.02, 0.05) * height * 2, rng.uniform(0.08, 0.25) * height
        draw.rectangle([x, y - h, x + w, y + 4], fill=body)
        for wy in range(int(y - h + 6), int(y - 4), 9):
            for wx in range(int(x + 3), int(x + w - 3), 7):
                if rng.random() < (0.55 if palette.night else 0.2):
                    draw.rectangle([wx, wy, wx + 2, wy + 3], fill=lit)


def _crystals(
    draw: ImageDraw.ImageDraw,
    palette: Palette,
    ridge: list[tuple[float, float]],
    height: int,
    rng: random.Random,
) -> None:
    for _ in range(rng.randint(4, 9)):
        x, y = ridge[rng.randrange(len(ridge))]
        h = rng.uniform(0.05, 0.16) * height
        w = h * rng.uniform(0.2, 0.35)
        lean = rng.uniform(-0.3, 0.3) * w
        shift = rng.uniform(-40, 40)
        light = palette.colour(0.72, palette.saturation, shift)
        shade = palette.colour(0.45, palette.saturation, shift)
        tip = (x + lean, y - h)
        draw.polygon([(x - w, y + 3), (x - w * 0.8, y - h * 0.6), tip, (x, y + 3)], fill=(*light, 230))
        draw.polygon([(x, y + 3), tip, (x + w * 0.8, y - h * 0.6), (x + w, y + 3)], fill=(*shade, 230))


def _birds(draw: ImageDraw.ImageDraw, palette: Palette, width: int, horizon: int, rng: random.Random) -> None:
    colour = palette.colour(0.9 if palette.night else 0.15, 0.2)
    cx, cy = rng.uniform(0.2, 0.8) * width, horizon * rng.uniform(0.25, 0.5)
    for _ in range(rng.randint(4, 9)):
        x, y = cx + rng.uniform(-0.15, 0.15) * width, cy + rng.uniform(-0.1, 0.1) * horizon
        s = rng.uniform(4, 9) * width / 768
        draw.line(
            [(x - s, y - s * 0.4), (x, y), (x + s, y - s * 0.4)], fill=colour, width=max(1, round(s / 4))
        )


def _water(image: Image.Image, shore: int) -> Image.Image:
    """Mirror the scene above the shore into water below it, darkened and rippled."""
    width, height = image.size
    depth = height - shore
    if depth <= 0:
        return image
    above = np.asarray(image.crop((0, max(0, shore - depth), width, shore)))[::-1].astype(np.float32)
    rows = np.arange(above.shape[0])
    ripple = (np.sin(rows / 3.0) * 3).astype(int)
    for r, dx in zip(rows, ripple, strict=True):
        above[r] = np.roll(above[r], int(dx), axis=0)
    fade = np.linspace(0.75, 0.45, above.shape[0], dtype=np.float32)[:, None, None]
    pixels = np.asarray(image).copy()
    pixels[shore : shore + above.shape[0]] = np.clip(above * fade + 20 * (1 - fade), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def _vignette(image: Image.Image) -> Image.Image:
    width, height = image.size
    y, x = np.ogrid[0:height, 0:width]
    d = np.sqrt(((x - width / 2) / (width / 2)) ** 2 + ((y - height / 2) / (height / 2)) ** 2)
    shade = np.clip(1.0 - 0.35 * np.maximum(d - 0.55, 0), 0.6, 1.0).astype(np.float32)[..., None]
    return Image.fromarray((np.asarray(image).astype(np.float32) * shade).astype(np.uint8), "RGB")


def _hash_int(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


def colour_of(hue: float, lightness: float = 0.6, saturation: float = 0.75) -> RGB:
    """Return the RGB colour of a hue in degrees (for crystals on maps and in embeds)."""
    return Palette("neutral", hue, 0.0, 0.0).colour(lightness, saturation)
