"""Fit prioritised context sections into the model's window."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

ChatMessage = dict[str, str]


@dataclass(slots=True)
class Section:
    """A piece of context from a provider.

    ``units`` are droppable pieces, most important first (memories by relevance); a ``history`` section's
    units are chat messages, oldest first, and lose their oldest first. ``required`` sections are always
    kept whole (the persona, the person's message).
    """

    name: str
    priority: int
    kind: Literal["system", "history"] = "system"
    header: str = ""
    units: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)  # for history: the role of each unit
    required: bool = False


@dataclass(slots=True)
class Fitted:
    system: list[Section]
    history: Section | None
    dropped_units: int
    used_tokens: int


def fit(sections: list[Section], budget: int, count: Callable[[str], int]) -> Fitted:
    """Keep sections by priority, and units within each, until ``budget`` tokens are spent."""
    used = 0
    dropped = 0
    kept: dict[str, Section] = {}
    for section in sorted(sections, key=lambda s: (not s.required, -s.priority)):
        header_cost = count(section.header) if section.header else 0
        if section.required:
            used += header_cost + sum(count(u) for u in section.units)
            kept[section.name] = section
            continue
        if used + header_cost >= budget:
            dropped += len(section.units)
            continue
        order = list(range(len(section.units)))
        if section.kind == "history":
            order.reverse()  # newest history first, so the oldest goes when space runs out
        chosen: list[int] = []
        running = used + header_cost
        for index in order:
            cost = count(section.units[index]) + 4  # per-message overhead in chat formats
            if running + cost > budget:
                if section.kind == "history":
                    break  # an older turn past a gap would leave the model a conversation with a hole
                continue
            running += cost
            chosen.append(index)
        dropped += len(section.units) - len(chosen)
        if not chosen:
            continue
        chosen.sort()
        used = running
        kept[section.name] = Section(
            name=section.name,
            priority=section.priority,
            kind=section.kind,
            header=section.header,
            units=[section.units[i] for i in chosen],
            roles=[section.roles[i] for i in chosen] if section.roles else [],
        )
    ordered = [kept[s.name] for s in sections if s.name in kept]
    history = next((s for s in ordered if s.kind == "history"), None)
    return Fitted([s for s in ordered if s.kind == "system"], history, dropped, used)


def to_messages(fitted: Fitted, user_text: str) -> list[ChatMessage]:
    """Build the chat messages: one system message, then history, then the person's turn."""
    system_parts = []
    for section in fitted.system:
        body = "\n".join(section.units)
        system_parts.append(f"{section.header}\n{body}".strip() if section.header else body)
    messages: list[ChatMessage] = [{"role": "system", "content": "\n\n".join(p for p in system_parts if p)}]
    if fitted.history is not None:
        for role, text in zip(fitted.history.roles, fitted.history.units, strict=True):
            messages.append({"role": role, "content": text})
    messages.append({"role": "user", "content": user_text})
    return messages
