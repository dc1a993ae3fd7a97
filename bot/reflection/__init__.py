"""Reflection: the background processors the worker runs after a reply went out."""

from __future__ import annotations

from bot.reflection.episodic import enqueue_episodic
from bot.reflection.index import INDEX, IndexProcessor, enqueue_index
from bot.reflection.procedural import StyleProvider
from bot.reflection.wiring import Reflection, register_reflection
from bot.worker import ProcessorRegistry
from storage.service import StorageService

__all__ = [
    "INDEX",
    "IndexProcessor",
    "Reflection",
    "StyleProvider",
    "default_registry",
    "enqueue_episodic",
    "enqueue_index",
    "register_reflection",
]


def default_registry(storage: StorageService) -> ProcessorRegistry:
    """Return a registry holding every built-in reflection processor."""
    registry = ProcessorRegistry()
    registry.register(INDEX, IndexProcessor(storage), batch=True)
    return registry
