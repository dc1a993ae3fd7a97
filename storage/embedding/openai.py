"""Remote embeddings from any OpenAI-compatible ``/v1/embeddings`` (OpenAI, Ollama, vLLM, LM Studio)."""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import openai

from storage.embedding.base import EmbeddingError, Vectors

log = logging.getLogger(__name__)

# Local servers need no key, but the client insists on one. Passing our own placeholder also stops the
# client from reading OPENAI_API_KEY from the environment and sending it to a third-party base_url.
_NO_KEY = "not-needed"
_PROBE_TEXT = "dimension probe"
_MAX_DETAIL = 200


class OpenAIEmbedder:
    """Embeds texts through the official ``openai.AsyncOpenAI`` client, in batches."""

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        dimensions: int | None = None,
        batch_size: int = 64,
        *,
        timeout_s: float = 30.0,
        max_retries: int = 2,
    ) -> None:
        """Prepare a client; nothing is sent until the first ``embed`` or ``probe``."""
        if not model:
            raise EmbeddingError("embedding.model must name the remote embedding model")
        if dimensions is not None and dimensions < 1:
            raise EmbeddingError(f"embedding.dimensions must be positive, got {dimensions}")
        if batch_size < 1:
            raise EmbeddingError(f"embedding.batch_size must be positive, got {batch_size}")
        self.model = model
        self.model_id = f"openai:{model}"
        self.base_url = base_url
        self.batch_size = batch_size
        self._requested_dimensions = dimensions
        self._dimension: int | None = dimensions
        self._api_key = api_key or _NO_KEY
        self._client = openai.AsyncOpenAI(
            api_key=self._api_key, base_url=base_url, timeout=timeout_s, max_retries=max_retries
        )

    @property
    def dimension(self) -> int:
        """Return the vector size; known once configured, probed, or after the first embedding."""
        if self._dimension is None:
            raise EmbeddingError(
                f"the dimension of {self.model_id} is not known yet; call probe() or set embedding.dimensions"
            )
        return self._dimension

    @dimension.setter
    def dimension(self, value: int) -> None:
        if value < 1:
            raise EmbeddingError(f"an embedding dimension must be positive, got {value}")
        self._dimension = value

    async def probe(self) -> int:
        """Embed one short text to learn (or check) the dimension, and return it."""
        await self.embed([_PROBE_TEXT])
        return self.dimension

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """Return one L2-normalised float32 row per text, sending ``batch_size`` texts per request."""
        if not texts:
            return np.zeros((0, self._dimension or 0), dtype=np.float32)
        # The API rejects empty strings; a blank carries no meaning, so a single space stands in for it.
        cleaned = [text if text.strip() else " " for text in texts]
        blocks = [
            await self._embed_batch(cleaned[start : start + self.batch_size])
            for start in range(0, len(cleaned), self.batch_size)
        ]
        return _normalise_rows(np.concatenate(blocks, axis=0))

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self._client.close()

    async def _embed_batch(self, batch: list[str]) -> Vectors:
        kwargs: dict[str, Any] = {}
        if self._requested_dimensions is not None:
            kwargs["dimensions"] = self._requested_dimensions
        try:
            response = await self._client.embeddings.create(model=self.model, input=batch, **kwargs)
        except openai.APIStatusError as exc:
            raise EmbeddingError(self._describe_status(exc)) from exc
        except openai.APITimeoutError as exc:
            raise EmbeddingError(f"embedding request to {self._where()} timed out") from exc
        except openai.APIConnectionError as exc:
            raise EmbeddingError(f"could not reach the embedding server at {self._where()}") from exc
        except openai.OpenAIError as exc:
            raise EmbeddingError(
                f"embedding request to {self._where()} failed: {self._scrub(str(exc))}"
            ) from exc
        except (ValueError, TypeError, KeyError) as exc:
            # A body that is not JSON (or not the expected shape) escapes the client unwrapped.
            raise EmbeddingError(
                f"{self._where()} returned an unreadable response: {type(exc).__name__}"
            ) from exc
        return self._rows(response, len(batch))

    def _rows(self, response: Any, expected: int) -> Vectors:
        data = list(getattr(response, "data", None) or [])
        if len(data) != expected:
            raise EmbeddingError(
                f"{self._where()} returned {len(data)} embeddings for {expected} texts (model {self.model})"
            )
        # Servers may answer out of order; ``index`` says which input each vector belongs to.
        data.sort(key=lambda item: item.index)
        try:
            rows = [_decode(item.embedding) for item in data]
        except (TypeError, ValueError) as exc:
            raise EmbeddingError(f"{self._where()} returned an unreadable embedding: {exc}") from exc
        sizes = {row.shape[0] for row in rows}
        if len(sizes) != 1:
            raise EmbeddingError(f"{self._where()} returned embeddings of mixed sizes {sorted(sizes)}")
        size = sizes.pop()
        if size == 0:
            raise EmbeddingError(f"{self._where()} returned empty embeddings")
        if self._dimension is None:
            self._dimension = size
            log.info("embedding model %s has %d dimensions", self.model_id, size)
        elif size != self._dimension:
            raise EmbeddingError(
                f"{self._where()} returned {size}-dimensional embeddings, expected {self._dimension}"
            )
        matrix = np.stack(rows)
        if not np.isfinite(matrix).all():
            raise EmbeddingError(f"{self._where()} returned embeddings with NaN or infinite values")
        return matrix

    def _describe_status(self, exc: openai.APIStatusError) -> str:
        where = self._where()
        if exc.status_code in (401, 403):
            # The server's message may quote part of the key; say what to check instead.
            return (
                f"the embedding server at {where} refused the credentials (HTTP {exc.status_code}); "
                "check embedding.api_key"
            )
        detail = ""
        # The client unwraps {"error": {...}}, so ``body`` is the error object itself when there is one.
        message = exc.body.get("message") if isinstance(exc.body, dict) else None
        if isinstance(message, str) and message:
            detail = f": {self._scrub(message)[:_MAX_DETAIL]}"
        return f"embedding request to {where} failed with HTTP {exc.status_code} (model {self.model}){detail}"

    def _where(self) -> str:
        return self.base_url or "api.openai.com"

    def _scrub(self, text: str) -> str:
        if self._api_key != _NO_KEY and self._api_key in text:
            text = text.replace(self._api_key, "***")
        return text


def _decode(embedding: Any) -> Vectors:
    # The client asks for base64 and decodes it, but a server that ignores the request sends floats; a
    # client that skipped decoding would hand us the string. Accept all three.
    if isinstance(embedding, str):
        return np.frombuffer(base64.b64decode(embedding), dtype="<f4").astype(np.float32)
    return np.asarray(embedding, dtype=np.float32).reshape(-1)


def _normalise_rows(matrix: Vectors) -> Vectors:
    # Not every model returns unit vectors (many Ollama models do not); cosine search wants them.
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    np.maximum(norms, np.float32(1e-12), out=norms)
    return np.ascontiguousarray(matrix / norms, dtype=np.float32)
