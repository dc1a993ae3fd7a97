"""Memory crystals on SQLite and PostgreSQL: formation, isolation, continuity, focus, export and forget-me."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

from bot.config import CrystalsSettings, LLMModelSettings, LLMSettings, Settings
from bot.features import FeatureHost
from bot.llm import LLMRouter
from bot.pipeline.message import TurnInput
from bot.worker import ProcessorRegistry
from cogs.crystals.feature import register
from cogs.crystals.focus import CrystalFocusProvider
from cogs.crystals.reality import RealityError, RealityService
from cogs.crystals.service import CrystalService
from storage.config import SQLSettings, StorageSettings
from storage.crystals import CrystalDraft, CrystalError
from storage.scope import Scope
from storage.service import StorageService
from tests.fakes.openai_api import FakeOpenAI

ALICE = Scope(user_id="100", guild_id="1", channel_id="10")
ALICE_DM = Scope(user_id="100", channel_id="dm100")
BOB = Scope(user_id="200", guild_id="1", channel_id="10")

THEMES = {
    "climbing": [
        "I went bouldering at the climbing gym on Saturday",
        "My climbing shoes are too tight for long routes",
        "I finally sent a hard climbing route at the crag",
        "Lead climbing outdoors scares me a little",
        "I want to climb in Fontainebleau next spring",
    ],
    "cooking": [
        "I baked sourdough bread this weekend",
        "My lasagna recipe needs more garlic",
        "Cooking curry for my family makes me happy",
        "I burned the pancakes again this morning",
    ],
    "music": [
        "I practise the piano every evening",
        "My guitar needs new strings",
        "I'm learning a Chopin nocturne on piano",
        "Our band plays a gig on Friday",
        "I love singing jazz standards",
    ],
}


@pytest.fixture
async def storage(sql_url: str, tmp_path: Path) -> AsyncIterator[StorageService]:
    settings = StorageSettings(data_dir=tmp_path / "data", sql=SQLSettings(url=sql_url, connect_retries=0))
    service = await StorageService.open(settings)
    try:
        yield service
    finally:
        await service.close()


async def remember(storage: StorageService, scope: Scope, themes: dict[str, list[str]]) -> dict[int, str]:
    """Store the memories; return each memory id's theme."""
    ids = {}
    for theme, texts in themes.items():
        for text in texts:
            ids[(await storage.add_memory(scope, text, importance=0.6)).id] = theme
    return ids


async def test_crystals_form_one_per_theme_from_a_seeded_memory_set(storage: StorageService) -> None:
    themes_of = await remember(storage, ALICE, THEMES)
    service = CrystalService(storage, None, CrystalsSettings())
    report = await service.form(ALICE)
    assert report.memories == len(themes_of) and report.crystals == 3
    grouped = []
    for crystal in await storage.crystals.list_crystals(ALICE):
        themes = {themes_of[m] for m in crystal.facet_ids}
        assert len(themes) == 1, f"{crystal.name} mixes {themes}"
        grouped.append((themes.pop(), len(crystal.facet_ids)))
    assert sorted(grouped) == [("climbing", 5), ("cooking", 4), ("music", 5)]
    climbing = await service.find(ALICE, "Climbing & Bouldering")
    assert "climbing" in climbing.key_terms and climbing.links


async def test_no_crystal_mixes_two_people_or_two_scopes(storage: StorageService) -> None:
    owned = {
        ALICE: set(await remember(storage, ALICE, {"c": THEMES["climbing"], "m": THEMES["music"]})),
        ALICE_DM: set(await remember(storage, ALICE_DM, {"k": THEMES["cooking"], "c": THEMES["climbing"]})),
        BOB: set(await remember(storage, BOB, {"m": THEMES["music"], "k": THEMES["cooking"]})),
    }
    service = CrystalService(storage, None, CrystalsSettings())
    for scope in owned:
        await service.form(scope)
    for scope, memory_ids in owned.items():
        crystals = await storage.crystals.list_crystals(scope)
        assert len(crystals) == 2
        for crystal in crystals:
            assert set(crystal.facet_ids) <= memory_ids
    bob_crystal = (await storage.crystals.list_crystals(BOB))[0]
    with pytest.raises(CrystalError):
        await storage.crystals.rename(ALICE, bob_crystal.id, "Mine now")
    assert await storage.crystals.get(ALICE, bob_crystal.id) is None


async def test_a_formation_naming_another_persons_memory_is_refused(storage: StorageService) -> None:
    await remember(storage, ALICE, {"c": THEMES["climbing"]})
    bobs = await remember(storage, BOB, {"m": THEMES["music"]})
    draft = CrystalDraft(
        None, "Stolen", "terms", [], 0.5, 0.0, "neutral", [1.0], False, False, [(min(bobs), 1.0)]
    )
    with pytest.raises(ValueError, match="not memories of this person"):
        await storage.crystals.save_formation(ALICE, [draft], [])
    assert await storage.crystals.list_crystals(ALICE) == []


async def test_names_pins_and_dissolving_survive_the_next_formation(storage: StorageService) -> None:
    await remember(storage, ALICE, THEMES)
    service = CrystalService(storage, None, CrystalsSettings())
    await service.form(ALICE)
    climbing = await service.find(ALICE, "Climbing & Bouldering")
    music = next(c for c in await storage.crystals.list_crystals(ALICE) if c.name.startswith("Piano"))
    cooking = next(
        c for c in await storage.crystals.list_crystals(ALICE) if c.id not in (climbing.id, music.id)
    )
    await storage.crystals.rename(ALICE, climbing.id, "Up the Wall")
    await storage.crystals.set_pinned(ALICE, music.id, True)
    await storage.crystals.dissolve(ALICE, cooking.id)
    await storage.add_memory(ALICE, "I bought a new chalk bag for climbing")
    await service.form(ALICE)
    after = {c.id: c for c in await storage.crystals.list_crystals(ALICE)}
    assert set(after) == {climbing.id, music.id}
    assert after[climbing.id].name == "Up the Wall" and after[climbing.id].facet_count == 6
    assert after[music.id].pinned
    with pytest.raises(CrystalError):
        await service.find(ALICE, cooking.name)


async def test_rename_refuses_a_name_already_taken(storage: StorageService) -> None:
    await remember(storage, ALICE, THEMES)
    service = CrystalService(storage, None, CrystalsSettings())
    await service.form(ALICE)
    first, second = (await storage.crystals.list_crystals(ALICE))[:2]
    with pytest.raises(CrystalError, match="already have"):
        await storage.crystals.rename(ALICE, first.id, second.name.upper())
    with pytest.raises(CrystalError, match="1 to 60"):
        await storage.crystals.rename(ALICE, first.id, "   ")


async def test_a_new_memory_joins_the_nearest_crystal_between_formations(storage: StorageService) -> None:
    await remember(storage, ALICE, THEMES)
    service = CrystalService(storage, None, CrystalsSettings(absorb_similarity=0.3))
    await service.form(ALICE)
    new = await storage.add_memory(ALICE, "I climbed my first outdoor bouldering problem at the crag")
    await storage.add_memory(ALICE, "Taxes are due in April")  # near no theme: stays out
    assert await service.update(ALICE) == 1
    climbing = await service.find(ALICE, "Climbing & Bouldering")
    assert new.id in {f.memory_id for f in climbing.facets}


async def test_the_daily_job_forms_only_where_memories_changed(storage: StorageService) -> None:
    await remember(storage, ALICE, THEMES)
    await remember(storage, BOB, {"m": THEMES["music"]})
    service = CrystalService(storage, None, CrystalsSettings())
    due = await storage.crystals.pending_formation(3)
    assert {(s.user_id, s.realm) for s in due} == {("100", "g1"), ("200", "g1")}
    assert await service.form_due() == {"formed": 2, "failed": 0}
    assert await storage.crystals.pending_formation(3) == []
    await storage.add_memory(BOB, "I tuned my violin today")
    assert [s.user_id for s in await storage.crystals.pending_formation(3)] == ["200"]


async def test_entering_a_crystal_brings_its_facets_into_the_prompt_until_leaving(
    storage: StorageService,
) -> None:
    await remember(storage, ALICE, THEMES)
    service = CrystalService(storage, None, CrystalsSettings())
    await service.form(ALICE)
    provider = CrystalFocusProvider(storage.crystals, facets=3)
    turn = TurnInput(ALICE, "Alice", "what should I do this weekend?", ["m1"], datetime.now(UTC))
    assert await provider.provide(turn) == []
    climbing = await service.find(ALICE, "Climbing & Bouldering")
    await storage.crystals.enter(ALICE, climbing.id)
    [section] = await provider.provide(turn)
    assert "Climbing & Bouldering" in section.header and len(section.units) == 3
    assert all("climb" in u.lower() or "boulder" in u.lower() or "crag" in u.lower() for u in section.units)
    other_place = TurnInput(ALICE_DM, "Alice", "hi", ["m2"], datetime.now(UTC))
    assert await provider.provide(other_place) == []
    assert await storage.crystals.leave(ALICE) == "Climbing & Bouldering"
    assert await provider.provide(turn) == []


async def test_export_holds_the_crystals_and_forget_me_removes_them(storage: StorageService) -> None:
    await remember(storage, ALICE, THEMES)
    await remember(storage, BOB, {"m": THEMES["music"]})
    service = CrystalService(storage, None, CrystalsSettings())
    await service.form(ALICE)
    await service.form(BOB)
    await storage.crystals.enter(ALICE, (await storage.crystals.list_crystals(ALICE))[0].id)
    await storage.crystals.entered(ALICE)  # caches the focus under Alice's key
    exported = await storage.personal.export("discord", "100")
    assert {c["name"] for c in exported["sql"]["crystals"]} == {
        c.name for c in await storage.crystals.list_crystals(ALICE)
    }
    assert len(exported["sql"]["crystal_facets"]) == 14 and exported["sql"]["crystal_links"]
    await storage.personal.forget("discord", "100")
    assert await storage.crystals.list_crystals(ALICE) == []
    assert await storage.crystals.entered(ALICE) is None
    assert len(await storage.crystals.list_crystals(BOB)) == 1
    after = await storage.personal.export("discord", "100")
    assert "crystals" not in after["sql"]


async def test_crystals_are_named_by_the_model_when_one_is_configured(
    storage: StorageService, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("namer", reply="Name: Stone and Sky!")
    llm = LLMRouter.from_settings(
        LLMSettings(models=[LLMModelSettings(name="namer", model="namer", base_url=openai_server.base_url)])
    )
    try:
        await remember(storage, ALICE, {"c": THEMES["climbing"]})
        await CrystalService(storage, llm, CrystalsSettings()).form(ALICE)
    finally:
        await llm.close()
    [crystal] = await storage.crystals.list_crystals(ALICE)
    assert crystal.name == "Stone and Sky" and crystal.name_source == "llm"
    prompt = openai_server.requests_for("namer")[0].messages[-1]["content"]
    assert "bouldering" in prompt


async def test_a_pinned_crystal_stays_when_most_of_its_memories_are_forgotten(
    storage: StorageService,
) -> None:
    ids = await remember(storage, ALICE, THEMES)
    service = CrystalService(storage, None, CrystalsSettings())
    await service.form(ALICE)
    climbing = await service.find(ALICE, "Climbing & Bouldering")
    await storage.crystals.set_pinned(ALICE, climbing.id, True)
    climbing_ids = sorted(m for m, theme in ids.items() if theme == "climbing")
    for memory_id in climbing_ids[:3]:
        assert await storage.delete_memory(ALICE, memory_id)
    await service.form(ALICE)
    kept = await service.find(ALICE, "Climbing & Bouldering")
    assert kept.id == climbing.id and kept.pinned
    assert set(climbing_ids[3:]) <= set(kept.facet_ids)


async def test_console_commands_list_view_rename_and_write_the_views(
    storage: StorageService, tmp_path: Path
) -> None:
    settings = Settings(storage=StorageSettings(data_dir=tmp_path / "console"))
    host = FeatureHost(settings, storage, None, ProcessorRegistry())
    register(host)
    assert {"crystal", "reality"} <= set(host.console)
    await remember(storage, ALICE_DM, THEMES)

    async def run(command: str, arg: str) -> str:
        out = io.StringIO()
        await host.console[command].handler(host, ALICE_DM, arg, out)
        return out.getvalue()

    assert run_lines(await run("crystal", "list")) == 3
    assert "Fontainebleau" in await run("crystal", "view climbing & bouldering")
    assert "Renamed to Walls." in await run("crystal", "rename climbing & bouldering = Walls")
    assert "no crystal called" in await run("crystal", "view climbing & bouldering")
    assert "constellation.png" in await run("crystal", "map")
    written = await run("crystal", "explore")
    assert "constellation.gif" in written and "constellation.html" in written
    folder = tmp_path / "console" / "crystals" / ALICE_DM.user_key
    assert (folder / "constellation.png").stat().st_size > 1000
    assert "Picture written" in await run("reality", "a lighthouse in a storm")
    assert any(p.name.startswith("reality-") for p in folder.iterdir())
    assert "Usage" in await run("crystal", "shatter everything")


def run_lines(text: str) -> int:
    return len([line for line in text.splitlines() if line.strip()])


async def test_reality_paints_the_scene_itself_when_the_images_endpoint_fails(
    storage: StorageService, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", reply="Waves break on black rocks.")
    openai_server.configure("paint-1", fail_times=1, fail_status=500)
    llm = LLMRouter.from_settings(
        LLMSettings(models=[LLMModelSettings(name="chat-a", model="chat-a", base_url=openai_server.base_url)])
    )
    reality = RealityService(
        storage, llm, CrystalsSettings(images_model="paint-1", render_width=96, render_height=64)
    )
    try:
        failed = await reality.scene(ALICE, "a stormy coast", seed=3)
        served = await reality.scene(ALICE, "a stormy coast", seed=3)
        with pytest.raises(RealityError, match="prompt was empty"):
            await reality.scene(ALICE, "   ")
    finally:
        await llm.close()
    assert failed.source == "renderer" and failed.narrative == "Waves break on black rocks."
    assert Image.open(io.BytesIO(failed.image)).size == (96, 64)
    assert served.source == "images-endpoint"
    assert Image.open(io.BytesIO(served.image)).size == (1024, 1024)
