"""The person's memory controls as plain operations: Discord's /memory and the console's call the same code.

Every operation takes the person's Scope; a memory id that is not theirs (or not readable from here) raises
MemoryControlError with a message safe to show, and changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.config import Settings
from bot.errors import KindredError
from cogs.memory.importance import ImportanceScorer
from storage.personal_data import ForgetReport
from storage.records import MemoryRecord, Recalled
from storage.scope import Scope
from storage.service import StorageService

MAX_CORRECTION_CHARS = 1000
MAX_QUERY_CHARS = 300
SNIPPET_CHARS = 180


class MemoryControlError(KindredError):
    """A control could not be applied; the message says why and is safe to show the person."""


@dataclass(frozen=True, slots=True)
class Page:
    """One page of the person's memories (``number`` counts from 0)."""

    number: int
    memories: list[MemoryRecord]
    has_next: bool


class MemoryControls:
    """List, search, pin, forget, correct, export, forget-me, pause, privacy and about, for one person."""

    def __init__(self, storage: StorageService, settings: Settings, scorer: ImportanceScorer) -> None:
        self.storage = storage
        self.settings = settings
        self.scorer = scorer

    # ------------------------------------------------------------ reading

    async def page(self, scope: Scope, number: int = 0) -> Page:
        """Return page ``number`` of the person's current memories readable here, newest first."""
        if number < 0:
            raise MemoryControlError("Page numbers start at 1.")
        size = self.settings.memory.page_size
        rows = await self.storage.list_memories(scope, limit=size + 1, offset=number * size)
        return Page(number, rows[:size], len(rows) > size)

    async def search(self, scope: Scope, query: str) -> list[Recalled]:
        """Return what recall finds for ``query``, each with the parts of its score."""
        query = query.strip()
        if not query:
            raise MemoryControlError("Tell me what to look for, e.g. `/memory search birthday`.")
        if len(query) > MAX_QUERY_CHARS:
            raise MemoryControlError(f"A search can be at most {MAX_QUERY_CHARS} characters.")
        return await self.storage.search(scope, query, self.settings.memory.search_results)

    async def _mine(self, scope: Scope, memory_id: int) -> MemoryRecord:
        found = await self.storage.get_memory(scope, memory_id) if memory_id > 0 else None
        if found is None:
            raise MemoryControlError(f"You have no memory #{memory_id} that I can reach from here.")
        return found

    # ------------------------------------------------------------ changing

    async def pin(self, scope: Scope, memory_id: int) -> MemoryRecord:
        """Pin a memory (or unpin a pinned one); its importance and the person's pattern follow."""
        memory = await self._mine(scope, memory_id)
        if not memory.current:
            raise MemoryControlError(f"Memory #{memory_id} was replaced by a newer one; pin that instead.")
        pinned = not memory.pinned
        await self.storage.memory.set_pinned(scope, memory_id, pinned)
        await self.scorer.learn(scope, "pins" if pinned else "unpins", memory.text, memory.meta)
        await self.scorer.rescore(scope)
        refreshed = await self.storage.get_memory(scope, memory_id)
        assert refreshed is not None
        return refreshed

    async def forget(self, scope: Scope, memory_id: int) -> MemoryRecord:
        """Delete one memory from every tier; the person's pattern learns it did not matter."""
        memory = await self._mine(scope, memory_id)
        await self.scorer.learn(scope, "forgets", memory.text, memory.meta)
        await self.storage.delete_memory(scope, memory_id)
        await self.scorer.rescore(scope)
        return memory

    async def check_forget(self, scope: Scope, memory_id: int) -> MemoryRecord:
        """Return the memory ``forget`` would delete (to show before confirming), or raise."""
        return await self._mine(scope, memory_id)

    async def correct(self, scope: Scope, memory_id: int, text: str) -> tuple[MemoryRecord, MemoryRecord]:
        """Replace a memory's text: the old version gets an end of validity and stays as history."""
        text = " ".join(text.split())
        if not text:
            raise MemoryControlError(
                "Give the corrected text, e.g. `/memory correct 12 I live in Porto now`."
            )
        if len(text) > MAX_CORRECTION_CHARS:
            raise MemoryControlError(f"A memory can be at most {MAX_CORRECTION_CHARS} characters.")
        old = await self._mine(scope, memory_id)
        if not old.current:
            raise MemoryControlError(f"Memory #{memory_id} was already replaced; correct the newer one.")
        key = await self.storage.memory.ensure_key(scope, memory_id)
        assert key is not None
        new = await self.storage.add_memory(
            realm_scope(scope, old.realm),
            text,
            kind=old.kind,
            speaker=old.speaker,
            importance=old.importance,
            pinned=old.pinned,
            key=key,
            value=text,
            meta={"corrects": old.id, "explicit": True},
        )
        if new.id == old.id:
            raise MemoryControlError(f"Memory #{memory_id} already says that.")
        await self.scorer.learn(scope, "corrections", old.text, old.meta)
        await self.scorer.rescore(scope)
        return old, new

    # ------------------------------------------------------------ the person's data

    async def export(self, scope: Scope) -> bytes:
        """Return everything held about the person, from every tier, as a JSON document."""
        document = await self.storage.personal.export(scope.platform, scope.user_id)
        return json.dumps(document, indent=2, ensure_ascii=False, default=str).encode("utf-8")

    async def forget_me(self, scope: Scope) -> ForgetReport:
        """Delete everything about the person from every tier (safe to repeat)."""
        return await self.storage.personal.forget(scope.platform, scope.user_id)

    async def set_paused(self, scope: Scope, paused: bool) -> bool:
        """Pause or resume remembering; return whether it changed."""
        return await self.storage.memory.set_paused(scope, paused)

    async def privacy(self, scope: Scope, cross_server: bool | None) -> bool:
        """Set (or, with None, read) whether memories reach across servers and DMs; return the setting."""
        if cross_server is not None:
            await self.storage.set_cross_realm_recall(scope, cross_server)
            return cross_server
        return bool((await self.storage.user_settings(scope)).get("cross_realm_recall"))

    async def about(self, scope: Scope) -> str:
        """Describe what is stored about the person, why, and for how long."""
        memories = await self.storage.memory.current_memories(scope, self.settings.memory.rescore_limit)
        stats = await self.storage.memory.stats(scope)
        paused = await self.storage.memory.paused(scope)
        cross = await self.privacy(scope, None)
        compression = self.settings.storage.compression
        pinned = sum(1 for m in memories if m.pinned)
        lines = [
            f"**What I hold about you:** {len(memories)} current memories ({pinned} pinned), the turns of "
            "our conversations, your settings, and what you chose with these commands "
            f"(pinned {stats['pins']}, corrected {stats['corrections']}, forgot {stats['forgets']}).",
            "**Why:** to remember what matters to you between conversations. Each memory has an importance "
            "learned from what you pin, correct and forget; important ones stay within easy reach.",
            "**How long:** until you forget them (`/memory forget`, or `/forgetme` for everything). "
            f"Nothing is deleted by age: a memory's importance halves every {compression.half_life_days:g} "
            "days without use, and old, unimportant ones move to a compact tier that recall still reads. "
            "Cached copies expire within hours.",
            f"**Remembering:** {'paused (`/memory resume` restarts it)' if paused else 'on'}. "
            f"**Across servers:** {'on' if cross else 'off'} (`/memory privacy`).",
            "**Your copy:** `/memory export` sends you all of it as a JSON file.",
        ]
        return "\n".join(lines)


def realm_scope(scope: Scope, realm: str) -> Scope:
    """Return the person's scope in ``realm`` (their channel only when it is the realm they are in)."""
    if realm == scope.realm:
        return scope
    guild = realm[1:] if realm.startswith("g") else None
    return Scope(scope.user_id, guild, None, scope.platform)


def render_page(controls: MemoryControls, page: Page) -> str:
    """Return one page of memories as a message."""
    if not page.memories:
        return "No memories on that page." if page.number else "I hold no memories about you here yet."
    lines = [
        render_memory(m, controls.scorer.effective(m.importance, m.created_at, None)) for m in page.memories
    ]
    return f"**Your memories** (page {page.number + 1})\n" + "\n".join(lines)


def render_memory(memory: MemoryRecord, effective: float | None = None) -> str:
    """Return one line describing a memory: id, kind, text and importance."""
    text = memory.text if len(memory.text) <= SNIPPET_CHARS else memory.text[: SNIPPET_CHARS - 1] + "…"
    flags = " · pinned" if memory.pinned else ""
    now = (
        f", now {effective:.2f}"
        if effective is not None and abs(effective - memory.importance) >= 0.01
        else ""
    )
    return f"#{memory.id} [{memory.kind}] {text} (importance {memory.importance:.2f}{now}{flags})"


def render_recalled(item: Recalled) -> str:
    """Return one line for a search result with why it came back (its score parts)."""
    text = item.text if len(item.text) <= SNIPPET_CHARS else item.text[: SNIPPET_CHARS - 1] + "…"
    label = f"#{item.id}" if item.kind == "memory" else f"turn {item.created_at:%Y-%m-%d}"
    why = ", ".join(f"{name} {value:.2f}" for name, value in sorted(item.reasons.items(), key=_by_size))
    return f"{label} {text} — score {item.score:.2f} ({why or 'no parts'})"


def render_forget_report(report: ForgetReport) -> str:
    """Return what forget-me removed, per tier, without naming anything forgotten."""
    parts = [f"{report.sql_rows} database rows"]
    if report.cache_keys is not None:
        parts.append(f"{report.cache_keys} cached entries")
    if report.vector_collections is not None:
        parts.append(f"{report.vector_collections} search indexes")
    done = "Done: I deleted everything I held about you (" + ", ".join(parts) + ")."
    if report.queued:
        done += (
            f" The {' and '.join(report.queued)} could not be reached just now; their part is queued and "
            "finishes by itself when they are back."
        )
    return done


def _by_size(part: tuple[str, float]) -> Any:
    return -part[1]
