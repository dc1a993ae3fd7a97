"""The plain logic of crystals and reality: clustering, matching, linking, naming, picture requests."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from cogs.crystals.formation import absorb, brightness, cluster, match
from cogs.crystals.linking import link
from cogs.crystals.naming import clean_name, key_terms, name_from_terms, unique
from cogs.crystals.reality import asks_for_picture
from storage.crystals import CrystalRecord, SourceMemory

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def blobs(sizes: list[int], dim: int = 12, spread: float = 0.08, seed: int = 1) -> np.ndarray:
    """Return unit vectors in tight groups around random directions, group after group."""
    rng = np.random.default_rng(seed)
    rows = []
    for size in sizes:
        centre = rng.normal(size=dim)
        for _ in range(size):
            v = centre / np.linalg.norm(centre) + rng.normal(scale=spread, size=dim)
            rows.append(v / np.linalg.norm(v))
    return np.array(rows, dtype=np.float32)


def crystal(crystal_id: int, facets: list[int], centroid: list[float] | None = None) -> CrystalRecord:
    return CrystalRecord(
        crystal_id, f"c{crystal_id}", "terms", [], 0.5, 0.0, "neutral", centroid or [], False, False, False,
        len(facets), NOW, facet_ids=facets,
    )  # fmt: skip


def memories(n: int) -> list[SourceMemory]:
    return [SourceMemory(100 + i, f"memory {i}", 0.5, False, NOW) for i in range(n)]


def test_clusters_follow_the_groups_in_the_data() -> None:
    found = cluster(blobs([6, 5, 4]), min_size=3, max_clusters=8, min_separation=0.05)
    assert sorted(sorted(c.members) for c in found) == [
        list(range(6)),
        list(range(6, 11)),
        list(range(11, 15)),
    ]
    assert all(min(c.similarities) > 0.8 for c in found)


def test_groups_smaller_than_the_minimum_form_no_cluster() -> None:
    found = cluster(blobs([5, 5, 2]), min_size=3, max_clusters=8, min_separation=0.05)
    assert sorted(len(c.members) for c in found) == [5, 5]


def test_memories_with_no_clear_split_are_one_theme() -> None:
    same = blobs([8], spread=0.02)
    [only] = cluster(same, min_size=3, max_clusters=8, min_separation=0.5)
    assert only.members == list(range(8))
    assert cluster(same[:2], min_size=3, max_clusters=8, min_separation=0.0) == []


def test_a_new_cluster_continues_the_crystal_it_overlaps_most() -> None:
    found = cluster(blobs([5, 5]), min_size=3, max_clusters=4, min_separation=0.05)
    mems = memories(10)
    first = next(c for c in found if 0 in c.members)
    old_first = crystal(7, [100, 101, 102, 103, 150])  # four of five shared
    unrelated = crystal(8, [100, 190, 191, 192, 193])  # one shared: a different theme
    match(found, mems, [unrelated, old_first])
    assert first.crystal is old_first
    assert next(c for c in found if c is not first).crystal is None


def test_absorb_places_close_vectors_and_leaves_far_ones() -> None:
    data = blobs([4, 4], seed=3)
    centre = data[:4].mean(axis=0)
    home = crystal(1, [1], centroid=(centre / np.linalg.norm(centre)).tolist())
    placed = absorb(data, [home], threshold=0.8)
    assert [row for row, _, _ in placed] == [0, 1, 2, 3]
    assert all(cid == 1 and sim >= 0.8 for _, cid, sim in placed)


def test_links_join_similar_crystals_and_keep_every_crystal_connected() -> None:
    a, b, c = [1.0, 0.0, 0.0], [0.9, 0.1, 0.0], [0.0, 0.0, 1.0]
    links = link([a, b, c], min_similarity=0.5, max_links=3)
    assert (0, 1) in {(i, j) for i, j, _ in links}
    assert any(2 in (i, j) for i, j, _ in links)  # its nearest neighbour, however far
    assert link([a], 0.5, 3) == []


def test_brightness_grows_with_importance_and_size() -> None:
    dim = brightness([0.2, 0.2, 0.2], [False] * 3, 3, 10)
    bright = brightness([0.9, 0.9, 0.9, 0.9], [True, False, False, False], 4, 4)
    assert 0 <= dim < bright <= 1


def test_key_terms_are_what_sets_a_group_apart() -> None:
    terms = key_terms(
        [
            ["I went climbing at the crag", "climbing shoes hurt", "bouldering with friends"],
            ["baking bread with friends", "the bread recipe needs salt"],
        ]
    )
    assert terms[0][0] == "climbing" and terms[1][0] == "bread"
    assert "friends" not in terms[0][:1]
    assert key_terms([["the and of", "123"]]) == [[]]
    assert name_from_terms(["climbing", "crag", "shoes"]) == "Climbing & Crag"


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ('"Stone and Sky"', "Stone and Sky"),
        ("Name: Morning Bread!\nBecause bread.", "Morning Bread"),
        ("   ", None),
        ("A" * 80, "A" * 40),
    ],
)
def test_model_names_are_cleaned(raw: str, name: str | None) -> None:
    assert clean_name(raw) == name


def test_names_are_made_unique_without_regard_to_case() -> None:
    assert unique(["Work", "work", "Play"], {"PLAY"}) == ["Work", "work 2", "Play 2"]


@pytest.mark.parametrize(
    "text",
    [
        "imagine a lighthouse in a storm",
        "can you picture my old house?",
        "Show me what a calm sea looks like",
        "what would my dream garden look like",
        "draw me a cat",
    ],
)
def test_picture_requests_are_recognised(text: str) -> None:
    assert asks_for_picture(text)


@pytest.mark.parametrize("text", ["how was your day", "the show was great", "I painted my room yesterday"])
def test_ordinary_messages_are_not_picture_requests(text: str) -> None:
    assert not asks_for_picture(text)
