"""Short text forms of crystals, shared by the Discord views and the console."""

from __future__ import annotations

from storage.crystals import CrystalRecord

MAX_FACET_CHARS = 180


def brightness_bar(brightness: float) -> str:
    """Return brightness as five small stars, e.g. "★★★☆☆"."""
    lit = max(0, min(5, round(brightness * 5)))
    return "★" * lit + "☆" * (5 - lit)


def crystal_line(crystal: CrystalRecord) -> str:
    """Return one line about a crystal: name, brightness, facets, feeling and its marks."""
    marks = ("📌 " if crystal.pinned else "") + ("🔮 " if crystal.entered else "")
    return (
        f"{marks}{crystal.name} {brightness_bar(crystal.brightness)} · {crystal.facet_count} "
        f"{'memory' if crystal.facet_count == 1 else 'memories'} · {crystal.emotion}"
    )


def facet_text(text: str) -> str:
    """Return a facet's text cut to a readable length."""
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_FACET_CHARS else flat[: MAX_FACET_CHARS - 1] + "…"
