"""Re-reading the config without a restart: what can change live, and what needs one.

Live sections are updated in place, field by field, so every part holding them (the pipeline, the persona
provider, reflection, the access gate, the flags) sees the new values on its next use.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel

from bot.config import Settings

# Sections that take effect on the next message or job.
LIVE_SECTIONS = ("persona", "pipeline", "reflection", "flags", "admin")
# Fields of otherwise restart-only sections that are read on every use.
LIVE_FIELDS = {"bot": ("owner_ids",)}


@dataclass(slots=True)
class ReloadReport:
    """What a reload changed, and what differs but waits for a restart."""

    applied: list[str] = field(default_factory=list)  # "section" or "section.field"
    needs_restart: list[str] = field(default_factory=list)


def _copy_into(current: BaseModel, fresh: BaseModel, names: tuple[str, ...] | None = None) -> None:
    for name in names or tuple(type(current).model_fields):
        setattr(current, name, getattr(fresh, name))


def apply_reload(current: Settings, fresh: Settings) -> ReloadReport:
    """Copy the live parts of ``fresh`` into ``current``; report changes that need a restart."""
    report = ReloadReport()
    for name in type(current).model_fields:
        old: BaseModel = getattr(current, name)
        new: BaseModel = getattr(fresh, name)
        if old.model_dump() == new.model_dump():
            continue
        if name in LIVE_SECTIONS:
            _copy_into(old, new)
            report.applied.append(name)
            continue
        live = LIVE_FIELDS.get(name, ())
        for field_name in live:
            if getattr(old, field_name) != getattr(new, field_name):
                _copy_into(old, new, (field_name,))
                report.applied.append(f"{name}.{field_name}")
        rest = {k: v for k, v in new.model_dump().items() if k not in live}
        if rest != {k: v for k, v in old.model_dump().items() if k not in live}:
            report.needs_restart.append(name)
    return report
