"""The crystals service: forms, updates and describes one person's crystals; used by the cog, the console
and the daily scheduled job alike."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bot.config import CrystalsSettings
from bot.llm import LLMRouter
from cogs.crystals import constellation, formation, linking, naming
from cogs.crystals.palette import palette_for
from storage.crystals import CrystalDraft, CrystalError, CrystalRecord, SourceMemory
from storage.embedding.base import Vectors
from storage.scope import Scope
from storage.service import StorageService

log = logging.getLogger(__name__)


@dataclass(slots=True)
class FormationReport:
    """What one formation did (counts only, never memory text)."""

    memories: int = 0
    crystals: int = 0
    new: int = 0
    continued: int = 0
    removed: int = 0


@dataclass(slots=True)
class Constellation:
    """A person's live crystals with their links, ready to draw."""

    stars: list[constellation.Star] = field(default_factory=list)
    links: list[tuple[int, int, float]] = field(default_factory=list)


class CrystalService:
    """Memory crystals for one deployment: formation, incremental updates, lookups and views."""

    def __init__(self, storage: StorageService, llm: LLMRouter | None, settings: CrystalsSettings) -> None:
        self.storage = storage
        self.store = storage.crystals
        self.llm = llm
        self.settings = settings

    # ------------------------------------------------------------------ formation

    async def form(self, scope: Scope) -> FormationReport:
        """Form the person's crystals in this scope's realm from their memories there, keeping continuity."""
        s = self.settings
        memories, vectors = await self.store.formation_input(scope, s.max_memories)
        existing = await self.store.list_crystals(scope, include_dissolved=True)
        clusters = formation.cluster(vectors, s.min_facets, s.max_crystals, s.min_separation)
        formation.match(clusters, memories, existing)
        report = FormationReport(memories=len(memories))
        texts = [[memories[i].text for i in c.members] for c in clusters]
        terms = naming.key_terms(texts)
        largest = max((len(c.members) for c in clusters), default=1)
        drafts: list[CrystalDraft] = []
        fresh: list[int] = []  # drafts that need a name
        for c, group, words in zip(clusters, texts, terms, strict=True):
            members = [memories[i] for i in c.members]
            palette = palette_for(group)
            old = c.crystal
            drafts.append(
                CrystalDraft(
                    crystal_id=old.id if old else None,
                    name=old.name if old else naming.name_from_terms(words),
                    name_source=old.name_source if old else "terms",
                    key_terms=words,
                    brightness=formation.brightness(
                        [m.importance for m in members], [m.pinned for m in members], len(members), largest
                    ),
                    hue=round(palette.hue, 2),
                    emotion=palette.emotion,
                    centroid=c.centroid.tolist(),
                    pinned=old.pinned if old else False,
                    dissolved=old.dissolved if old else False,
                    facets=[(memories[i].id, sim) for i, sim in zip(c.members, c.similarities, strict=True)],
                )
            )
            if old is None:
                fresh.append(len(drafts) - 1)
        matched = {c.crystal.id for c in clusters if c.crystal is not None}
        # A pinned crystal stays even when its memories no longer cluster; its facets are kept as they are.
        for old in existing:
            if old.pinned and not old.dissolved and old.id not in matched:
                drafts.append(_kept(old, memories, vectors))
                matched.add(old.id)
        await self._name(drafts, fresh, texts)
        report.new = len(fresh)
        report.continued = len(matched)
        report.removed = len([c for c in existing if c.id not in matched])
        live = [i for i, d in enumerate(drafts) if not d.dissolved]
        pairs = linking.link([drafts[i].centroid for i in live], s.link_similarity, s.max_links)
        links = [(live[a], live[b], sim) for a, b, sim in pairs]
        await self.store.save_formation(scope, drafts, links)
        report.crystals = len(live)
        return report

    async def _name(self, drafts: list[CrystalDraft], fresh: list[int], texts: list[list[str]]) -> None:
        taken = {d.name for i, d in enumerate(drafts) if i not in fresh}
        if self.llm is not None and self.settings.name_with_llm:
            for i in fresh:
                named = await naming.name_with_llm(self.llm, texts[i])
                if named:
                    drafts[i].name, drafts[i].name_source = named, "llm"
        names = naming.unique([drafts[i].name for i in fresh], taken)
        for i, name in zip(fresh, names, strict=True):
            drafts[i].name = name

    async def update(self, scope: Scope) -> int:
        """Bring the person's crystals up to date cheaply: new memories join the nearest crystal.

        Without crystals yet, forms them. Returns how many memories were placed (or crystals formed).
        """
        since = await self.store.last_formed(scope)
        if since is None:
            return (await self.form(scope)).crystals
        new = await self.store.unplaced_since(scope, since)
        if not new:
            return 0
        vectors = await self.store.embed([m.text for m in new])
        crystals = await self.store.list_crystals(scope)
        placed = formation.absorb(vectors, crystals, self.settings.absorb_similarity)
        return await self.store.add_facets(scope, [(cid, new[row].id, sim) for row, cid, sim in placed])

    async def form_due(self) -> dict[str, int]:
        """Form the crystals of every person and realm whose memories changed (the daily job)."""
        formed = failed = 0
        for scope in await self.store.pending_formation(self.settings.min_facets):
            try:
                await self.form(scope)
                formed += 1
            except Exception:
                # One person's failure must not stop everyone else's formation; the next run retries.
                failed += 1
                log.exception("crystal formation failed for one person")
        return {"formed": formed, "failed": failed}

    # ------------------------------------------------------------------ lookups and views

    async def crystals(self, scope: Scope) -> list[CrystalRecord]:
        """Return the person's live crystals here (formed or updated first), brightest first."""
        await self.update(scope)
        return await self.store.list_crystals(scope)

    async def find(self, scope: Scope, name: str) -> CrystalRecord:
        """Return the crystal called ``name`` (or a unique prefix of it), or raise CrystalError."""
        await self.update(scope)
        found = await self.store.find(scope, name)
        if found is None:
            raise CrystalError(f"You have no crystal called {name[:60]!r} here. `/crystal list` shows them.")
        return found

    async def constellation(self, scope: Scope) -> Constellation:
        """Return the person's live crystals and the links between them."""
        crystals = await self.crystals(scope)
        stars = [constellation.Star(c.id, c.name, c.brightness, c.hue, c.centroid) for c in crystals]
        ids = {c.id for c in crystals}
        links: dict[tuple[int, int], float] = {}
        for c in crystals:
            full = await self.store.get(scope, c.id)
            for link in full.links if full else []:
                if link.other_id in ids:
                    links[(min(c.id, link.other_id), max(c.id, link.other_id))] = link.similarity
        return Constellation(stars, [(a, b, s) for (a, b), s in sorted(links.items())])

    async def map_png(self, scope: Scope, width: int = 900, height: int = 640) -> bytes:
        """Return the constellation map as PNG."""
        view = await self.constellation(scope)
        return constellation.png_of(constellation.render_map(view.stars, view.links, width, height))

    async def explore_files(self, scope: Scope, title: str) -> tuple[bytes, str]:
        """Return the rotating 3D GIF and the self-contained HTML 3D view of the constellation."""
        view = await self.constellation(scope)
        gif = constellation.render_rotation(view.stars, view.links, 480)
        return gif, constellation.explore_html(view.stars, view.links, title)


def _kept(old: CrystalRecord, memories: Sequence[SourceMemory], vectors: Vectors) -> CrystalDraft:
    rows = {m.id: i for i, m in enumerate(memories)}
    centre = np.asarray(old.centroid, dtype=np.float32)
    comparable = centre.shape == (vectors.shape[1],)  # an older embedding model's centroid is not
    facets = [
        (m, float(vectors[rows[m]] @ centre) if comparable else 0.0) for m in old.facet_ids if m in rows
    ]
    return CrystalDraft(
        crystal_id=old.id,
        name=old.name,
        name_source=old.name_source,
        key_terms=old.key_terms,
        brightness=old.brightness,
        hue=old.hue,
        emotion=old.emotion,
        centroid=old.centroid,
        pinned=True,
        dissolved=False,
        facets=facets,
    )
