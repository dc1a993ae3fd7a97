"""The shipped model2vec model, read with ``tokenizers`` and numpy alone.

``model2vec.StaticModel.from_pretrained`` costs the bot about 47 MB of resident memory and 0.8 s for a
15 MB model: it imports huggingface_hub, joblib and tqdm, copies the tokenizer through its JSON form and
reads the weights into memory. This reads the same files the lean way: the tokenizer from its file and the
weights memory-mapped from the safetensors file (pages load as tokens are used, and stay clean, so the
kernel can drop them). ``encode`` computes what ``StaticModel.encode`` does for such a model, with the same
numpy operations on the same float16 matrix, so the vectors are bit for bit the same
(tests/unit/test_plain_static.py compares them).

Only a plain model qualifies: one float16 or float32 ``embeddings`` matrix with a row per token of a
WordPiece, BPE or word-level tokenizer, and no per-token weights or token mapping (what vocabulary
quantisation adds). Anything else is left to model2vec (``load`` returns None).
"""

from __future__ import annotations

import json
import struct
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

_WEIGHTS_FILE = "model.safetensors"
_TOKENIZER_FILE = "tokenizer.json"
_CONFIG_FILE = "config.json"
_TENSOR = "embeddings"
_DTYPES = {"F16": np.float16, "F32": np.float32}
# model2vec's default when a model's config names no maximum length.
_DEFAULT_MAX_LENGTH = 512
_BATCH = 1024


class PlainStaticModel:
    """A plain model2vec model: mean of its tokens' rows, computed as ``StaticModel.encode`` does."""

    def __init__(self, embedding: np.ndarray, tokenizer: Tokenizer, max_length: int | None) -> None:
        """Wrap a (tokens x dim) matrix and the tokenizer whose ids index its rows."""
        vocab = tokenizer.get_vocab()
        if len(vocab) != embedding.shape[0]:
            raise ValueError(f"{len(vocab)} tokens but {embedding.shape[0]} embedding rows")
        self.embedding = embedding
        self.tokenizer = tokenizer
        self.max_length = max_length
        # As model2vec: texts are cut to max_length times the median token length before tokenising.
        self._median_token_length = int(np.median([len(token) for token in vocab]))
        unk = getattr(tokenizer.model, "unk_token", None)
        self._unk_id = tokenizer.token_to_id(unk) if unk is not None else None
        # Padding would add rows to the mean; model2vec turns it off the same way.
        tokenizer.no_padding()
        if max_length is None:
            tokenizer.no_truncation()
        else:
            tokenizer.enable_truncation(max_length)

    @property
    def dim(self) -> int:
        """Return the vector length."""
        return int(self.embedding.shape[1])

    @classmethod
    def load(cls, directory: Path) -> PlainStaticModel | None:
        """Read the model in ``directory``, or return None when it is not a plain model (use model2vec)."""
        config = json.loads((directory / _CONFIG_FILE).read_text(encoding="utf-8"))
        embedding = _map_embeddings(directory / _WEIGHTS_FILE)
        if embedding is None:
            return None
        tokenizer = Tokenizer.from_file(str(directory / _TOKENIZER_FILE))
        max_length = config.get("max_length", _DEFAULT_MAX_LENGTH)
        # A unigram tokenizer names its unknown token differently; model2vec's own reading of it is kept.
        plain_vocab = hasattr(tokenizer.model, "unk_token")
        if not plain_vocab or tokenizer.get_vocab_size() != embedding.shape[0]:
            return None
        if max_length is not None and not isinstance(max_length, int):
            return None
        return cls(embedding, tokenizer, max_length)

    def encode(
        self, sentences: Sequence[str], *, use_multiprocessing: bool = False, normalize: bool = False
    ) -> np.ndarray:
        """Return one row per sentence: the mean of its tokens' rows (zeros when it has none).

        ``use_multiprocessing`` is accepted for parity with model2vec and ignored: this runs in the calling
        thread, as the embedder asks of model2vec.
        """
        texts = list(sentences)
        if self.max_length is not None:
            keep = self.max_length * self._median_token_length
            texts = [text[:keep] for text in texts]
        parts = [self._encode_batch(texts[i : i + _BATCH], normalize) for i in range(0, len(texts), _BATCH)]
        if not parts:
            return np.zeros((0, self.dim), dtype=self.embedding.dtype)
        return np.concatenate(parts, axis=0)

    def _encode_batch(self, texts: list[str], normalize: bool) -> np.ndarray:
        encodings = self.tokenizer.encode_batch_fast(texts, add_special_tokens=False)
        ids = [[i for i in e.ids if i != self._unk_id] for e in encodings]
        out = np.zeros((len(ids), self.dim), dtype=self.embedding.dtype)
        # Texts of one token count are averaged together: the same numpy calls, hence the same rounding,
        # as model2vec.
        by_length: dict[int, list[int]] = defaultdict(list)
        for row, token_ids in enumerate(ids):
            if token_ids:
                by_length[len(token_ids)].append(row)
        for rows in by_length.values():
            matrix = np.array([ids[row] for row in rows], dtype=np.int64)
            out[rows] = self.embedding[matrix].mean(axis=1)
        if normalize:
            wide = out.astype(np.float32)
            return (wide / (np.linalg.norm(wide, axis=1, keepdims=True) + 1e-32)).astype(out.dtype)
        return out


def _map_embeddings(path: Path) -> np.ndarray | None:
    """Memory-map the ``embeddings`` matrix of a safetensors file holding only that tensor, else None."""
    with path.open("rb") as handle:
        (header_size,) = struct.unpack("<Q", handle.read(8))
        header: dict[str, Any] = json.loads(handle.read(header_size))
    header.pop("__metadata__", None)
    entry = header.get(_TENSOR)
    if set(header) != {_TENSOR} or not isinstance(entry, dict) or entry.get("dtype") not in _DTYPES:
        return None
    shape = entry.get("shape")
    if not isinstance(shape, list) or len(shape) != 2:
        return None
    dtype = np.dtype(_DTYPES[entry["dtype"]])
    start, end = entry["data_offsets"]
    if end - start != shape[0] * shape[1] * dtype.itemsize:
        return None
    mapped = np.memmap(
        path, dtype=dtype, mode="r", offset=8 + header_size + start, shape=(shape[0], shape[1])
    )
    # A plain ndarray view of the mapping: indexing it gives ordinary arrays, as model2vec's matrix does.
    return np.asarray(mapped)
