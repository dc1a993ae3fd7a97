"""The shipped embedding model read without model2vec's loader: the same vectors, bit for bit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from model2vec import StaticModel
from safetensors.numpy import load_file, save_file
from tokenizers import Tokenizer
from tokenizers.models import Unigram, WordLevel
from tokenizers.normalizers import Lowercase
from tokenizers.pre_tokenizers import Whitespace

from storage.embedding.model2vec import BUILTIN_DIR
from storage.embedding.plain_static import PlainStaticModel

TEXTS = [
    "I adopted a puppy last spring and she chews everything.",
    "my sister's wedding is in June; I'm the maid of honour!",
    "",
    "   ",
    "été, café, naïve, Ångström",
    "日本語のテキストと中文",
    "emoji only 🙂🙂🐶",
    "[UNK] [PAD] [CLS] [SEP]",
    "MiXeD CaSe and UPPER CASE words",
    "control\x00characters\x07here",
    "word " * 800,  # past 512 tokens: truncated by the tokenizer
    "x" * 5000,  # past 512 times the median token length: cut before tokenising
    "tax forms are due",
]


def tiny_words_model() -> StaticModel:
    words = ["i", "adopted", "a", "puppy", "tax", "forms", "are", "due"]
    vocab = {"[UNK]": 0, **{word: i + 1 for i, word in enumerate(words)}}
    tokenizer = Tokenizer(WordLevel(vocab=vocab, unk_token="[UNK]"))
    tokenizer.normalizer = Lowercase()
    tokenizer.pre_tokenizer = Whitespace()
    vectors = np.random.default_rng(5).standard_normal((len(vocab), 8)).astype(np.float32)
    return StaticModel(vectors=vectors, tokenizer=tokenizer, normalize=False)


@pytest.mark.parametrize("normalize", [False, True])
def test_the_shipped_model_gives_model2vecs_vectors_bit_for_bit(normalize: bool) -> None:
    reference = StaticModel.from_pretrained(BUILTIN_DIR, force_download=False)
    plain = PlainStaticModel.load(BUILTIN_DIR)
    assert plain is not None
    expected = reference.encode(TEXTS, use_multiprocessing=False, normalize=normalize)
    got = plain.encode(TEXTS, use_multiprocessing=False, normalize=normalize)
    assert got.dtype == expected.dtype
    assert np.array_equal(got, expected)


def test_a_saved_float32_word_level_model_gives_model2vecs_vectors(tmp_path: Path) -> None:
    tiny_words_model().save_pretrained(tmp_path)
    plain = PlainStaticModel.load(tmp_path)
    assert plain is not None
    expected = StaticModel.from_pretrained(tmp_path, force_download=False).encode(
        TEXTS, use_multiprocessing=False, normalize=False
    )
    assert np.array_equal(plain.encode(TEXTS), expected)


def test_a_model_with_per_token_weights_is_left_to_model2vec(tmp_path: Path) -> None:
    tiny_words_model().save_pretrained(tmp_path)
    tensors = load_file(tmp_path / "model.safetensors")
    tensors["weights"] = np.ones(len(tensors["embeddings"]), dtype=np.float32)
    save_file(tensors, tmp_path / "model.safetensors")
    assert PlainStaticModel.load(tmp_path) is None


def test_a_unigram_tokenizer_is_left_to_model2vec(tmp_path: Path) -> None:
    tiny_words_model().save_pretrained(tmp_path)
    rows = len(load_file(tmp_path / "model.safetensors")["embeddings"])
    pieces = [("[UNK]", 0.0)] + [(f"w{i}", -1.0) for i in range(1, rows)]
    Tokenizer(Unigram(pieces, unk_id=0)).save(str(tmp_path / "tokenizer.json"))
    assert PlainStaticModel.load(tmp_path) is None


def test_the_builtin_embedder_loads_without_model2vec_or_the_hub() -> None:
    script = (
        "import asyncio, sys\n"
        "from storage.embedding import Model2VecEmbedder\n"
        "vectors = asyncio.run(Model2VecEmbedder().embed(['hello there']))\n"
        "assert vectors.shape == (1, 256)\n"
        "print(sorted(m for m in ('model2vec', 'huggingface_hub', 'joblib', 'tqdm') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout.strip().replace("'", '"')) == []
