"""What an adapter hands the pipeline, and what the pipeline hands back for delivery."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from storage.scope import Scope


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file on a message. ``text`` is filled by the adapter for text files (bounded); images keep a URL."""

    filename: str
    content_type: str
    size: int
    url: str | None = None
    text: str | None = None
    note: str | None = None  # why an attachment was skipped or cut, said back to the person

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


@dataclass(frozen=True, slots=True)
class ChainMessage:
    """A message earlier in the reply chain, given to the model as context."""

    author: str
    text: str
    from_bot: bool


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """One platform event, reduced to what the pipeline needs."""

    message_id: str
    scope: Scope
    author: str
    text: str
    created_at: datetime
    reply_chain: tuple[ChainMessage, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    parent_channel_id: str | None = None  # a thread's parent channel, whose settings it inherits
    role_ids: tuple[str, ...] = ()  # the author's roles in the guild, for allow and block lists


@dataclass(slots=True)
class TurnInput:
    """A person's turn after safety and coalescing: possibly several messages merged into one."""

    scope: Scope
    author: str
    text: str
    message_ids: list[str]
    created_at: datetime
    reply_chain: tuple[ChainMessage, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    notices: list[str] = field(default_factory=list)
    parent_channel_id: str | None = None
    # The crisis protocol ran for one of the messages: hooks and features should treat the text as private.
    crisis: bool = False

    @property
    def message_id(self) -> str:
        return self.message_ids[0]


class ReplySink(Protocol):
    """Where a reply goes: a Discord channel, a terminal. Adapters implement it."""

    async def typing(self) -> None:
        """Show that Kindred is composing (may be called repeatedly)."""
        ...

    async def stream(self, chunks: AsyncIterator[str]) -> str:
        """Deliver a streamed reply; return the full text that was delivered."""
        ...

    async def notice(self, text: str) -> None:
        """Deliver a short system notice (a cut message, a rate limit, an outage)."""
        ...
