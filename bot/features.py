"""Feature plugins: how a cog package adds its non-Discord parts to Kindred.

A cog package (``cogs.<name>``) has two faces. ``cog.py`` is its Discord surface, loaded by discord.py as an
extension. ``feature.py``, when present, holds everything that must also run without Discord: context
providers, reflection processors, scheduled jobs, after-turn hooks and console commands. Its
``register(host)`` is called once by the composition root for every cog listed in ``bot.cogs``, in the bot,
in ``kindred chat`` and in a standalone ``kindred worker`` (where there is no pipeline and no scheduler, so
the host's ``pipeline`` and ``scheduler`` are None and only processors matter).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from bot.config import Settings
from bot.errors import ConfigError
from storage.scope import Scope
from storage.service import StorageService

if TYPE_CHECKING:
    from bot.llm import LLMRouter
    from bot.pipeline.pipeline import Pipeline
    from bot.scheduler import KindredScheduler
    from bot.worker import ProcessorRegistry

log = logging.getLogger(__name__)

# A console command: (host, the person's scope, the text after the command name, output).
ConsoleHandler = Callable[["FeatureHost", Scope, str, TextIO], Awaitable[None]]


@dataclass(frozen=True)
class ConsoleCommand:
    """A ``/name`` command in ``kindred chat``; the console equivalent of a slash command."""

    name: str
    usage: str  # e.g. "/memory forget ID"
    summary: str  # one line for /help
    handler: ConsoleHandler


@dataclass
class FeatureHost:
    """What a feature may plug into. Built only by the composition root."""

    settings: Settings
    storage: StorageService
    llm: LLMRouter | None
    registry: ProcessorRegistry
    pipeline: Pipeline | None = None
    scheduler: KindredScheduler | None = None
    console: dict[str, ConsoleCommand] = field(default_factory=dict)
    # Features hand objects to each other by name (e.g. the memory feature's importance scorer).
    services: dict[str, Any] = field(default_factory=dict)

    def add_console_command(self, name: str, usage: str, summary: str, handler: ConsoleHandler) -> None:
        """Register ``/name`` in the console; a second registration of one name is a programming error."""
        if name in self.console or name in ("help", "reset", "quit", "exit"):
            raise ValueError(f"console command /{name} is registered twice")
        self.console[name] = ConsoleCommand(name, usage, summary, handler)


class Feature(Protocol):
    """The shape of a ``cogs.<name>.feature`` module."""

    def register(self, host: FeatureHost) -> None: ...


def load_features(host: FeatureHost) -> list[str]:
    """Call ``register(host)`` of every configured cog's ``feature`` module; return the ones loaded."""
    loaded = []
    for name in host.settings.bot.cogs:
        module_name = f"{name}.feature"
        try:
            spec = importlib.util.find_spec(module_name)
        except ModuleNotFoundError as exc:
            raise ConfigError(f"bot.cogs lists {name!r}, which cannot be imported: {exc}") from exc
        if spec is None:
            continue  # a cog with only a Discord surface
        module = importlib.import_module(module_name)
        register = getattr(module, "register", None)
        if not callable(register):
            raise ConfigError(f"{module_name} has no register(host) function")
        register(host)
        loaded.append(name)
        log.debug("feature %s registered", name)
    return loaded
