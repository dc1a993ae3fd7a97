"""The pictures of crystals and reality: the scene renderer, the constellation map and the rotating view."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from cogs.crystals.constellation import Star, explore_html, layout, render_map, render_rotation
from cogs.crystals.palette import EMOTION_HUES, Palette, palette_for
from cogs.crystals.renderer import motifs_for, png_bytes, render_scene

JOY = Palette("joy", EMOTION_HUES["joy"], 0.8, 0.6)
SADNESS = Palette("sadness", EMOTION_HUES["sadness"], -0.7, 0.5)


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def distinct_colours(image: Image.Image) -> int:
    return len(np.unique(np.asarray(image.convert("RGB")).reshape(-1, 3), axis=0))


def stars(n: int, seed: int = 0) -> list[Star]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        v = rng.normal(size=16)
        out.append(
            Star(
                i + 1,
                f"Theme {i + 1}",
                float(rng.uniform(0.2, 1.0)),
                float(i * 47 % 360),
                (v / np.linalg.norm(v)).tolist(),
            )
        )
    return out


def test_scene_decodes_as_a_png_of_the_stated_size_and_is_not_blank() -> None:
    image = decoded(png_bytes(render_scene(JOY, ["beach", "friends"], seed=3, width=320, height=200)))
    assert image.format == "PNG"
    assert image.size == (320, 200)
    assert distinct_colours(image) > 200


def test_scene_is_identical_for_the_same_seed() -> None:
    first = png_bytes(render_scene(SADNESS, ["city", "rain"], seed=11, width=256, height=160))
    second = png_bytes(render_scene(SADNESS, ["city", "rain"], seed=11, width=256, height=160))
    assert first == second


@pytest.mark.parametrize(
    ("palette", "themes", "seed"),
    [(SADNESS, ["city", "rain"], 11), (JOY, ["city", "rain"], 12), (SADNESS, ["forest", "birds"], 11)],
)
def test_scene_differs_when_the_seed_mood_or_themes_differ(
    palette: Palette, themes: list[str], seed: int
) -> None:
    base = np.asarray(render_scene(SADNESS, ["city", "rain"], seed=12, width=256, height=160), dtype=np.int16)
    other = np.asarray(render_scene(palette, themes, seed=seed, width=256, height=160), dtype=np.int16)
    assert np.abs(base - other).mean() > 3.0


def test_pleasant_moods_paint_day_and_unpleasant_ones_night() -> None:
    day = np.asarray(render_scene(JOY, ["hills"], seed=5, width=200, height=120)).mean()
    night = np.asarray(render_scene(SADNESS, ["hills"], seed=5, width=200, height=120)).mean()
    assert day > night + 30


def test_themes_choose_the_motifs() -> None:
    assert motifs_for(["ocean", "office"]) == ["water", "towers"]
    assert motifs_for([]) == ["crystals"]
    assert len(motifs_for(["a1", "b2", "c3", "d4", "e5"])) <= 3


def test_scene_refuses_a_size_too_small_to_paint() -> None:
    with pytest.raises(ValueError, match="16x16"):
        render_scene(JOY, [], seed=1, width=8, height=8)


def test_palette_takes_the_hue_of_the_dominant_feeling() -> None:
    assert palette_for(["I'm so happy, best day ever!"]).emotion == "joy"
    sad = palette_for(["I miss my grandmother, I cried all night"])
    assert sad.emotion == "sadness" and sad.night
    assert palette_for([]).emotion == "neutral"


def test_map_decodes_as_a_png_of_the_stated_size_and_is_not_blank() -> None:
    image = decoded(png_bytes(render_map(stars(5), [(1, 2, 0.5), (2, 3, 0.4)], 480, 320)))
    assert image.size == (480, 320)
    assert distinct_colours(image) > 50


def test_map_is_identical_for_the_same_crystals_and_differs_for_others() -> None:
    links = [(1, 2, 0.5)]
    first = png_bytes(render_map(stars(4, seed=1), links, 300, 200))
    assert first == png_bytes(render_map(stars(4, seed=1), links, 300, 200))
    other = np.asarray(render_map(stars(4, seed=2), links, 300, 200), dtype=np.int16)
    assert np.abs(np.asarray(decoded(first), dtype=np.int16) - other).mean() > 0.5


def test_map_of_no_crystals_is_an_empty_starfield() -> None:
    image = render_map([], [], 200, 100)
    assert image.size == (200, 100)


def test_layout_spreads_crystals_within_the_unit_box() -> None:
    for n in (1, 2, 3, 7):
        points = layout(stars(n), 3)
        assert points.shape == (n, 3)
        assert np.abs(points).max() <= 1.0 + 1e-9
    assert len({tuple(p) for p in layout(stars(6), 2).round(6)}) == 6


def test_rotation_is_an_animated_gif_of_the_stated_size() -> None:
    data = render_rotation(stars(5), [(1, 2, 0.5)], size=160, frames=8)
    image = decoded(data)
    assert image.format == "GIF"
    assert image.size == (160, 160)
    assert getattr(image, "n_frames", 1) == 8
    image.seek(0)
    first = np.asarray(image.convert("RGB"), dtype=np.int16)
    image.seek(4)
    half_turn = np.asarray(image.convert("RGB"), dtype=np.int16)
    assert np.abs(first - half_turn).mean() > 0.2  # it turns


def test_html_view_is_self_contained_and_escapes_names() -> None:
    sneaky = Star(9, "</script><script>alert(1)</script>", 0.5, 10.0, [1.0, 0.0, 0.0])
    html = explore_html([*stars(3), sneaky], [(1, 9, 0.3)], "Sam's <constellation>")
    assert "<canvas" in html and "<script>\n" in html
    assert "src=" not in html and "http" not in html
    assert "</script><script>alert" not in html
    assert "&lt;constellation&gt;" in html
