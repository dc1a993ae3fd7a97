"""Embedding providers behind one ``Embedder`` interface, and the factory that picks one from settings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from storage.config import EmbeddingSettings
from storage.embedding.base import Embedder, EmbeddingError, Vectors, space_id
from storage.embedding.model2vec import Model2VecEmbedder

if TYPE_CHECKING:
    from storage.embedding.openai import OpenAIEmbedder

__all__ = [
    "Embedder",
    "EmbeddingError",
    "Model2VecEmbedder",
    "OpenAIEmbedder",
    "Vectors",
    "make_embedder",
    "space_id",
]


def __getattr__(name: str) -> Any:
    # The OpenAI client library takes most of a second to import; only an openai provider needs it.
    if name == "OpenAIEmbedder":
        from storage.embedding.openai import OpenAIEmbedder

        return OpenAIEmbedder
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def make_embedder(settings: EmbeddingSettings) -> Embedder:
    """Build the configured embedder (a model2vec model is loaded here, so call this at startup)."""
    if settings.provider == "model2vec":
        return Model2VecEmbedder(settings.model)
    if settings.provider == "openai":
        if settings.model == "builtin":
            raise EmbeddingError("embedding.provider is openai: set embedding.model to the remote model")
        from storage.embedding.openai import OpenAIEmbedder

        api_key = settings.api_key.get_secret_value() if settings.api_key is not None else None
        return OpenAIEmbedder(
            model=settings.model,
            base_url=settings.base_url,
            api_key=api_key,
            dimensions=settings.dimensions,
            batch_size=settings.batch_size,
        )
    raise EmbeddingError(f"unknown embedding provider {settings.provider!r}")
