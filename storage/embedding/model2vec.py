"""Local static embeddings with model2vec: no GPU, no network, a few milliseconds per batch."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from storage.embedding.base import EmbeddingError, Vectors

if TYPE_CHECKING:
    from model2vec import StaticModel

log = logging.getLogger(__name__)

BUILTIN = "builtin"
# The static model shipped inside the package (distilled from all-MiniLM-L6-v2).
BUILTIN_DIR = Path(__file__).resolve().parent / "model"
_WEIGHTS_FILE = "model.safetensors"
_MANIFEST_FILE = "manifest.json"
# The files that decide which vector a text gets.
_IDENTITY_FILES = (_WEIGHTS_FILE, "tokenizer.json")


class _StaticEncoder(Protocol):
    """What the embedder uses of a model: ``StaticModel`` or, for the shipped one, ``PlainStaticModel``."""

    @property
    def dim(self) -> int: ...

    def encode(
        self, sentences: Sequence[str], *, use_multiprocessing: bool = ..., normalize: bool = ...
    ) -> np.ndarray: ...


# Input this short is encoded on the event loop: a recall query takes about 0.1 ms (at most about 0.5 ms at
# this length), while the hand-off to a thread and back cost 2 ms a query on the reply benchmark, waiting for
# the interpreter lock behind the bot's other threads.
INLINE_MAX_CHARS = 2_000


class Model2VecEmbedder:
    """Embeds texts with a model2vec ``StaticModel``: the shipped one, a hub id, or a local directory."""

    def __init__(self, model: str = BUILTIN) -> None:
        """Load the model now (blocking; use ``await Model2VecEmbedder.open(...)`` from async code)."""
        if not model or not model.strip():
            raise EmbeddingError("embedding.model is empty; use 'builtin', a model2vec id or a local path")
        if model == BUILTIN:
            static = _load_static(BUILTIN_DIR, builtin=True)
            model_id = f"model2vec:{BUILTIN}/{builtin_fingerprint(BUILTIN_DIR)}"
        else:
            static = _load_static(model, builtin=False)
            model_id = f"model2vec:{model}"
        self._model = static
        self.model_id = model_id
        self.dimension = int(static.dim)
        log.info("loaded embedding model %s (%d dimensions)", self.model_id, self.dimension)

    @classmethod
    async def open(cls, model: str = BUILTIN) -> Model2VecEmbedder:
        """Load the model in a worker thread, so the event loop keeps serving while it reads the weights."""
        return await asyncio.to_thread(cls, model)

    @classmethod
    def from_static_model(cls, static: StaticModel | _StaticEncoder, model_id: str) -> Model2VecEmbedder:
        """Wrap an already loaded ``StaticModel`` (tests, custom distillations) under a given space id."""
        embedder = cls.__new__(cls)
        embedder._model = static
        embedder.model_id = model_id
        embedder.dimension = int(static.dim)
        return embedder

    async def probe(self) -> int:
        """Return the dimension (known since loading; here for parity with remote providers)."""
        return self.dimension

    async def close(self) -> None:
        """Release nothing: the model is plain memory. Here so every embedder can be closed alike."""

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """Return one L2-normalised float32 row per text: short input on the event loop, the rest off it."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        batch = list(texts)
        if sum(len(text) for text in batch) <= INLINE_MAX_CHARS:
            return self._encode(batch)
        return await asyncio.to_thread(self._encode, batch)

    def _encode(self, texts: list[str]) -> Vectors:
        try:
            # Multiprocessing would fork the whole bot for a large batch; threads are what we want here.
            raw = self._model.encode(texts, use_multiprocessing=False, normalize=False)
        except Exception as exc:
            raise EmbeddingError(f"model2vec failed to encode {len(texts)} texts: {exc}") from exc
        matrix = np.asarray(raw, dtype=np.float32).reshape(len(texts), self.dimension)
        return _normalise_rows(matrix)


def builtin_fingerprint(directory: Path = BUILTIN_DIR) -> str:
    """Return a short hash identifying the shipped weights, so a rebuilt model means a new vector space."""
    recorded = _manifest_hashes(directory / _MANIFEST_FILE)
    combined = hashlib.sha256()
    for name in _IDENTITY_FILES:
        path = directory / name
        file_hash = recorded.get(name) or (_sha256_file(path) if path.is_file() else None)
        if file_hash is None:
            raise EmbeddingError(f"the built-in embedding model is incomplete: {path} is missing")
        combined.update(f"{name}:{file_hash}\n".encode())
    return combined.hexdigest()[:12]


def _manifest_hashes(manifest: Path) -> dict[str, str]:
    # The manifest already records each file's sha256; reading it saves hashing the weights at every start.
    # It also records tool versions, which is why the manifest file itself is not what we hash.
    try:
        files = json.loads(manifest.read_text(encoding="utf-8")).get("files", {})
    except (OSError, ValueError, AttributeError):
        return {}
    if not isinstance(files, dict):
        return {}
    return {
        name: entry["sha256"]
        for name, entry in files.items()
        if isinstance(entry, dict) and isinstance(entry.get("sha256"), str)
    }


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _load_static(model: str | Path, *, builtin: bool) -> _StaticEncoder:
    if builtin and not (Path(model) / _WEIGHTS_FILE).is_file():
        raise EmbeddingError(
            f"the built-in embedding model is missing from {model}; reinstall kindred or set "
            "embedding.model to a model2vec id or local path"
        )
    if builtin:
        # The shipped model is plain: read without model2vec's loader (storage/embedding/plain_static.py).
        from storage.embedding.plain_static import PlainStaticModel

        try:
            plain = PlainStaticModel.load(Path(model))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise EmbeddingError(f"could not load the built-in embedding model from {model}: {exc}") from exc
        if plain is not None:
            return plain
    from model2vec import StaticModel

    try:
        # force_download=False reuses a model already in the Hugging Face cache, so restarts need no network.
        return StaticModel.from_pretrained(model, force_download=False)
    except Exception as exc:
        raise EmbeddingError(f"could not load model2vec model {str(model)!r}: {exc}") from exc


def _normalise_rows(matrix: Vectors) -> Vectors:
    # A text with no known tokens embeds to zeros; it stays zero (cosine distance 1 to everything)
    # instead of becoming NaN.
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    np.maximum(norms, np.float32(1e-12), out=norms)
    return np.ascontiguousarray(matrix / norms, dtype=np.float32)
