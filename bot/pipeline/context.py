"""Context providers: each feature contributes prioritised sections to the prompt."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Protocol

from bot.config import PersonaSettings
from bot.pipeline.budget import Section
from bot.pipeline.message import TurnInput
from storage.records import Recalled
from storage.scope import Scope
from storage.service import StorageService

# Priorities: higher survives a tight budget. Required sections are always kept.
PRIORITY_REPLY_CHAIN = 80
PRIORITY_ATTACHMENTS = 75
PRIORITY_RECALL = 70
PRIORITY_HISTORY = 60
# Turns either side of a recalled turn that come along with it.
RECALL_NEIGHBOURS = 1
# Recall use counts gather this long and are written in one batch (settle() writes them at shutdown).
RECALL_FLUSH_S = 2.0

log = logging.getLogger(__name__)


class ContextProvider(Protocol):
    """Something that adds context for a turn (recent turns, memories, emotional state, a crystal...)."""

    name: str

    async def provide(self, turn: TurnInput) -> list[Section]:
        """Return this provider's sections for ``turn`` (possibly none)."""
        ...


async def effective_persona(
    storage: StorageService, default: PersonaSettings, scope: Scope, parent_channel_id: str | None = None
) -> PersonaSettings:
    """Return the persona for a place: the configured one, overridden per guild then channel."""
    place = await storage.place_settings(scope.platform, scope.guild_id, scope.channel_id, parent_channel_id)
    override = place.get("persona") or {}
    return default.model_copy(update={k: v for k, v in override.items() if k in ("name", "prompt") and v})


class PersonaProvider:
    """The system prompt: who Kindred is here."""

    name = "persona"

    def __init__(self, storage: StorageService, persona: PersonaSettings) -> None:
        self.storage = storage
        self.persona = persona

    async def provide(self, turn: TurnInput) -> list[Section]:
        """Return the persona as a required section."""
        persona = await effective_persona(self.storage, self.persona, turn.scope, turn.parent_channel_id)
        prompt = persona.prompt.replace("{name}", persona.name)
        who = f"You are talking with {turn.author}" + (" in a direct message." if turn.scope.is_dm else ".")
        return [Section("persona", 100, units=[prompt, who], required=True)]


class RecentTurnsProvider:
    """The current session's recent turns, as chat history."""

    name = "recent"

    def __init__(self, storage: StorageService) -> None:
        self.storage = storage

    async def provide(self, turn: TurnInput) -> list[Section]:
        """Return the session so far, without the turn being answered."""
        turns = [
            t for t in await self.storage.recent_turns(turn.scope) if t.message_id not in turn.message_ids
        ]
        if not turns:
            return []
        return [
            Section(
                "recent",
                PRIORITY_HISTORY,
                kind="history",
                units=[t.text for t in turns],
                roles=[t.role for t in turns],
            )
        ]


class RecallProvider:
    """Memories and earlier turns relevant to what the person just said."""

    name = "recall"

    def __init__(self, storage: StorageService, k: int) -> None:
        self.storage = storage
        self.k = k
        # Use counts waiting for the next flush, per person and place (an id once per use).
        self._pending: dict[Scope, list[int]] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._flush_now = asyncio.Event()

    async def provide(self, turn: TurnInput) -> list[Section]:
        """Return recalled items, most relevant first, that are not already in the recent window."""
        if self.k == 0:
            return []
        recent = {t.id for t in await self.storage.recent_turns(turn.scope)}
        # A recalled turn brings the turn either side of it: the question it answered, the reply it got.
        recalled = await self.storage.search(
            turn.scope, turn.text, k=self.k + len(recent), neighbours=RECALL_NEIGHBOURS
        )
        fresh = [item for item in recalled if not (item.kind == "turn" and item.id in recent)][: self.k]
        units = [_recall_unit(item) for item in fresh]
        if not units:
            return []
        self._note_soon(turn.scope, [item.id for item in fresh if item.kind == "memory"])
        header = (
            f"What you remember about {turn.author} (from earlier conversations; use it naturally, "
            "only when relevant):"
        )
        return [Section("recall", PRIORITY_RECALL, header=header, units=units)]

    def _note_soon(self, scope: Scope, memory_ids: Sequence[int]) -> None:
        """Count the memories that went into the prompt as recalled (importance learns from it), later and
        in one batch: a write per turn would make the reply's own INSERT wait for SQLite's write lock."""
        if not memory_ids:
            return
        self._pending.setdefault(scope, []).extend(memory_ids)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        # Counts noted while a flush is writing wait for the next round of this loop.
        while self._pending:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flush_now.wait(), RECALL_FLUSH_S)
            await self._flush()

    async def _flush(self) -> None:
        pending, self._pending = self._pending, {}
        for scope, memory_ids in pending.items():
            try:
                await self.storage.memory.note_recalled(scope, memory_ids)
            except Exception:
                # A failure only costs these counts; the reply never depended on them.
                log.exception("counting %d recalled memories failed", len(memory_ids))

    async def settle(self) -> None:
        """Write the recall counts still waiting for their flush (shutdown and tests)."""
        self._flush_now.set()
        try:
            while self._flusher is not None and not self._flusher.done():
                await asyncio.gather(self._flusher, return_exceptions=True)
            await self._flush()
        finally:
            self._flush_now.clear()


def _recall_unit(item: Recalled) -> str:
    said = f"{item.speaker}: {item.text}" if item.kind == "turn" and item.speaker else item.text
    lines = [f"- ({item.created_at:%Y-%m-%d}) {said}"]
    lines += [
        f"    ({'before' if c.id < item.id else 'after'}) {c.speaker or 'someone'}: {c.text}"
        for c in item.context
    ]
    return "\n".join(lines)


class ReplyChainProvider:
    """The messages the person was replying to."""

    name = "reply_chain"

    async def provide(self, turn: TurnInput) -> list[Section]:
        """Return the reply chain, nearest message first."""
        if not turn.reply_chain:
            return []
        units = [f"{'you' if m.from_bot else m.author}: {m.text}" for m in turn.reply_chain]
        return [Section("reply_chain", PRIORITY_REPLY_CHAIN, header="They are replying to:", units=units)]


class AttachmentProvider:
    """Text read from attached files."""

    name = "attachments"

    async def provide(self, turn: TurnInput) -> list[Section]:
        """Return the text of each attached text file."""
        units = [f"[{a.filename}]\n{a.text}" for a in turn.attachments if a.text]
        if not units:
            return []
        return [Section("attachments", PRIORITY_ATTACHMENTS, header="Files they attached:", units=units)]
