"""The embedding providers: model2vec (a tiny fixture model and the shipped one) and OpenAI-style APIs."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp import web
from model2vec import StaticModel
from pydantic import SecretStr
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.normalizers import Lowercase
from tokenizers.pre_tokenizers import Whitespace

from storage.config import EmbeddingSettings
from storage.embedding import EmbeddingError, Model2VecEmbedder, OpenAIEmbedder, make_embedder
from storage.embedding.model2vec import BUILTIN_DIR, INLINE_MAX_CHARS, builtin_fingerprint
from tests.conftest import free_port
from tests.fakes.openai_api import FakeOpenAI, embed_text

TINY_WORDS = ["i", "adopted", "a", "puppy", "my", "new", "dog", "tax", "forms", "are", "due", "hello"]
TINY_DIM = 16


def tiny_static_model(seed: int = 3) -> StaticModel:
    """Return a model2vec StaticModel over a dozen words with random 16-d vectors."""
    vocab = {"[UNK]": 0, **{word: i + 1 for i, word in enumerate(TINY_WORDS)}}
    tokenizer = Tokenizer(WordLevel(vocab=vocab, unk_token="[UNK]"))
    tokenizer.normalizer = Lowercase()
    tokenizer.pre_tokenizer = Whitespace()
    vectors = np.random.default_rng(seed).standard_normal((len(vocab), TINY_DIM)).astype(np.float32)
    return StaticModel(vectors=vectors, tokenizer=tokenizer, normalize=False)


@pytest.fixture
def tiny() -> Model2VecEmbedder:
    """Return an embedder over the tiny fixture model."""
    return Model2VecEmbedder.from_static_model(tiny_static_model(), model_id="model2vec:tiny-test")


@pytest.fixture
def tiny_model_dir(tmp_path: Path) -> Path:
    """Return a directory holding the tiny fixture model saved in model2vec's format."""
    directory = tmp_path / "tiny-model"
    tiny_static_model().save_pretrained(directory)
    return directory


def norms(matrix: np.ndarray) -> np.ndarray:
    """Return the L2 norm of each row."""
    return np.asarray(np.linalg.norm(matrix, axis=1))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Return the cosine similarity of two unit vectors."""
    return float(np.dot(a, b))


# ---------------------------------------------------------------- model2vec, tiny fixture model


async def test_model2vec_returns_one_float32_row_of_the_model_dimension_per_text(
    tiny: Model2VecEmbedder,
) -> None:
    vectors = await tiny.embed(["hello", "my new dog", "tax forms are due"])

    assert vectors.shape == (3, TINY_DIM)
    assert vectors.dtype == np.float32
    assert tiny.dimension == TINY_DIM


async def test_model2vec_rows_are_unit_length(tiny: Model2VecEmbedder) -> None:
    vectors = await tiny.embed(["hello", "my new dog", "I adopted a puppy"])

    assert norms(vectors) == pytest.approx([1.0, 1.0, 1.0], abs=1e-5)


async def test_model2vec_is_deterministic(tiny: Model2VecEmbedder) -> None:
    first = await tiny.embed(["my new dog", "hello"])
    second = await tiny.embed(["hello", "my new dog"])

    np.testing.assert_array_equal(first[0], second[1])
    np.testing.assert_array_equal(first[1], second[0])


async def test_model2vec_gives_different_texts_different_vectors(tiny: Model2VecEmbedder) -> None:
    vectors = await tiny.embed(["my new dog", "tax forms are due"])

    assert not np.allclose(vectors[0], vectors[1])


async def test_model2vec_empty_input_gives_an_empty_matrix_of_the_right_width(
    tiny: Model2VecEmbedder,
) -> None:
    vectors = await tiny.embed([])

    assert vectors.shape == (0, TINY_DIM)
    assert vectors.dtype == np.float32


async def test_model2vec_text_without_known_words_gives_a_zero_row_not_nan(tiny: Model2VecEmbedder) -> None:
    vectors = await tiny.embed(["", "zzz qqq"])

    assert np.isfinite(vectors).all()
    assert norms(vectors) == pytest.approx([0.0, 0.0])


async def test_model2vec_loads_a_model_from_a_local_directory(tiny_model_dir: Path) -> None:
    embedder = await Model2VecEmbedder.open(str(tiny_model_dir))

    vectors = await embedder.embed(["hello"])

    assert embedder.model_id == f"model2vec:{tiny_model_dir}"
    assert vectors.shape == (1, TINY_DIM)


async def test_model2vec_from_a_directory_embeds_like_the_model_it_was_saved_from(
    tiny: Model2VecEmbedder, tiny_model_dir: Path
) -> None:
    loaded = Model2VecEmbedder(str(tiny_model_dir))

    np.testing.assert_allclose(
        await loaded.embed(["my new dog"]), await tiny.embed(["my new dog"]), atol=1e-6
    )


def test_model2vec_directory_without_a_model_raises_embedding_error(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingError, match="could not load"):
        Model2VecEmbedder(str(tmp_path))


def test_model2vec_empty_model_name_raises_embedding_error() -> None:
    with pytest.raises(EmbeddingError, match=r"embedding\.model"):
        Model2VecEmbedder("  ")


def test_builtin_fingerprint_is_the_same_from_the_manifest_or_the_files(tiny_model_dir: Path) -> None:
    from_files = builtin_fingerprint(tiny_model_dir)
    recorded = {
        name: {"sha256": hashlib.sha256((tiny_model_dir / name).read_bytes()).hexdigest()}
        for name in ("model.safetensors", "tokenizer.json")
    }
    (tiny_model_dir / "manifest.json").write_text(json.dumps({"files": recorded, "build": {"python": "x"}}))

    assert builtin_fingerprint(tiny_model_dir) == from_files


def test_builtin_fingerprint_changes_when_the_weights_change(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    tiny_static_model(seed=1).save_pretrained(first)
    tiny_static_model(seed=2).save_pretrained(second)

    assert builtin_fingerprint(first) != builtin_fingerprint(second)


def test_make_embedder_builds_model2vec_from_a_local_path(tiny_model_dir: Path) -> None:
    embedder = make_embedder(EmbeddingSettings(provider="model2vec", model=str(tiny_model_dir)))

    assert isinstance(embedder, Model2VecEmbedder)
    assert embedder.dimension == TINY_DIM


# ---------------------------------------------------------------- model2vec, the shipped model

needs_builtin = pytest.mark.skipif(
    not (BUILTIN_DIR / "model.safetensors").is_file(),
    reason=f"the built-in model is not built yet ({BUILTIN_DIR})",
)


@pytest.fixture(scope="module")
def builtin() -> Model2VecEmbedder:
    """Return the embedder over the shipped model (loaded once for the module)."""
    return Model2VecEmbedder("builtin")


@needs_builtin
def test_builtin_model_has_256_dimensions(builtin: Model2VecEmbedder) -> None:
    assert builtin.dimension == 256


@needs_builtin
def test_builtin_model_id_names_the_shipped_weights(builtin: Model2VecEmbedder) -> None:
    assert builtin.model_id == f"model2vec:builtin/{builtin_fingerprint()}"


@needs_builtin
async def test_builtin_model_rows_are_unit_length(builtin: Model2VecEmbedder) -> None:
    vectors = await builtin.embed(["I adopted a puppy", "tax forms are due"])

    assert norms(vectors) == pytest.approx([1.0, 1.0], abs=1e-5)


@needs_builtin
async def test_builtin_model_puts_a_puppy_nearer_a_dog_than_tax_forms(builtin: Model2VecEmbedder) -> None:
    puppy, dog, tax = await builtin.embed(["I adopted a puppy", "my new dog", "tax forms are due"])

    assert cosine(puppy, dog) > cosine(puppy, tax)


@needs_builtin
def test_make_embedder_defaults_to_the_builtin_model() -> None:
    embedder = make_embedder(EmbeddingSettings())

    assert embedder.model_id.startswith("model2vec:builtin/")


# ---------------------------------------------------------------- OpenAI-compatible servers


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    """Yield a started fake OpenAI-compatible server on loopback."""
    async with FakeOpenAI() as server:
        yield server


@pytest.fixture
async def remote(fake_openai: FakeOpenAI) -> AsyncIterator[OpenAIEmbedder]:
    """Yield an OpenAIEmbedder pointed at the fake server, without retries."""
    embedder = OpenAIEmbedder("embed-small", base_url=fake_openai.base_url, api_key="sk-test", max_retries=0)
    try:
        yield embedder
    finally:
        await embedder.close()


async def test_openai_returns_the_servers_vectors_in_input_order(remote: OpenAIEmbedder) -> None:
    texts = ["my new dog", "tax forms are due", "hello"]

    vectors = await remote.embed(texts)

    expected = np.array([embed_text(text) for text in texts], dtype=np.float32)
    np.testing.assert_allclose(vectors, expected, atol=1e-6)


async def test_openai_rows_are_unit_length_float32(remote: OpenAIEmbedder) -> None:
    vectors = await remote.embed(["my new dog", "tax forms are due"])

    assert vectors.dtype == np.float32
    assert norms(vectors) == pytest.approx([1.0, 1.0], abs=1e-5)


async def test_openai_dimension_is_unknown_until_probed(remote: OpenAIEmbedder) -> None:
    with pytest.raises(EmbeddingError, match="probe"):
        _ = remote.dimension


async def test_openai_probe_learns_the_dimension(remote: OpenAIEmbedder) -> None:
    assert await remote.probe() == 64
    assert remote.dimension == 64


async def test_openai_first_embedding_teaches_the_dimension(remote: OpenAIEmbedder) -> None:
    await remote.embed(["hello"])

    assert remote.dimension == 64


async def test_openai_sends_the_configured_dimensions(fake_openai: FakeOpenAI) -> None:
    embedder = OpenAIEmbedder("embed-small", base_url=fake_openai.base_url, api_key="k", dimensions=32)
    try:
        vectors = await embedder.embed(["hello"])
    finally:
        await embedder.close()

    assert fake_openai.requests_for("embed-small")[0].body["dimensions"] == 32
    assert vectors.shape == (1, 32)


async def test_openai_splits_the_input_into_batches(fake_openai: FakeOpenAI) -> None:
    embedder = OpenAIEmbedder("embed-small", base_url=fake_openai.base_url, api_key="k", batch_size=2)
    texts = [f"text number {i}" for i in range(5)]
    try:
        vectors = await embedder.embed(texts)
    finally:
        await embedder.close()

    sent = [request.body["input"] for request in fake_openai.requests_for("embed-small")]
    assert sent == [texts[0:2], texts[2:4], texts[4:5]]
    np.testing.assert_allclose(vectors, [embed_text(t) for t in texts], atol=1e-6)


async def test_openai_empty_input_sends_nothing(fake_openai: FakeOpenAI, remote: OpenAIEmbedder) -> None:
    vectors = await remote.embed([])

    assert vectors.shape[0] == 0
    assert fake_openai.requests == []


async def test_openai_blank_texts_are_sent_as_a_space(
    fake_openai: FakeOpenAI, remote: OpenAIEmbedder
) -> None:
    await remote.embed(["", "hello"])

    assert fake_openai.requests_for("embed-small")[0].body["input"] == [" ", "hello"]


async def test_openai_server_error_raises_embedding_error_naming_the_status(
    fake_openai: FakeOpenAI, remote: OpenAIEmbedder
) -> None:
    fake_openai.configure("embed-small", fail_times=1, fail_status=500, error_message="model exploded")

    with pytest.raises(EmbeddingError, match="HTTP 500") as caught:
        await remote.embed(["hello"])

    assert "model exploded" in str(caught.value)


async def test_openai_refused_credentials_do_not_leak_the_key(fake_openai: FakeOpenAI) -> None:
    secret = "sk-very-secret-key-123"
    fake_openai.configure("embed-small", fail_times=1, fail_status=401, error_message=f"bad key {secret}")
    embedder = OpenAIEmbedder("embed-small", base_url=fake_openai.base_url, api_key=secret, max_retries=0)
    try:
        with pytest.raises(EmbeddingError, match="api_key") as caught:
            await embedder.embed(["hello"])
    finally:
        await embedder.close()

    assert secret not in str(caught.value)


async def test_openai_unreachable_server_raises_embedding_error() -> None:
    embedder = OpenAIEmbedder("embed-small", base_url=f"http://127.0.0.1:{free_port()}/v1", max_retries=0)
    try:
        with pytest.raises(EmbeddingError, match="could not reach"):
            await embedder.embed(["hello"])
    finally:
        await embedder.close()


async def test_openai_slow_server_raises_embedding_error(fake_openai: FakeOpenAI) -> None:
    fake_openai.configure("embed-small", hang=True)
    embedder = OpenAIEmbedder(
        "embed-small", base_url=fake_openai.base_url, api_key="k", timeout_s=0.2, max_retries=0
    )
    try:
        with pytest.raises(EmbeddingError, match="timed out"):
            await embedder.embed(["hello"])
    finally:
        await embedder.close()


async def test_openai_malformed_response_raises_embedding_error(
    fake_openai: FakeOpenAI, remote: OpenAIEmbedder
) -> None:
    fake_openai.configure("embed-small", malformed_times=1)

    with pytest.raises(EmbeddingError):
        await remote.embed(["hello"])


async def test_openai_retries_a_transient_failure(fake_openai: FakeOpenAI) -> None:
    fake_openai.configure("embed-small", fail_times=1, fail_status=503)
    embedder = OpenAIEmbedder("embed-small", base_url=fake_openai.base_url, api_key="k", max_retries=1)
    try:
        vectors = await embedder.embed(["hello"])
    finally:
        await embedder.close()

    assert vectors.shape == (1, 64)


# A server that ignores encoding_format and always answers with plain floats (as some local servers do),
# in a scrambled order, with vectors that are not unit length.


async def _float_only_embeddings(request: web.Request) -> web.Response:
    body = await request.json()
    texts: list[str] = body["input"]
    data: list[dict[str, Any]] = [
        {"object": "embedding", "index": i, "embedding": [3.0 * v for v in embed_text(text, 8)]}
        for i, text in enumerate(texts)
    ]
    data.reverse()
    payload = {
        "object": "list",
        "data": data,
        "model": body["model"],
        "usage": {"prompt_tokens": 1, "total_tokens": 1},
    }
    return web.json_response(payload)


@pytest.fixture
async def float_only_server() -> AsyncIterator[str]:
    """Yield the base URL of a minimal server that answers /v1/embeddings with unnormalised floats."""
    app = web.Application()
    app.router.add_post("/v1/embeddings", _float_only_embeddings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        await runner.cleanup()


async def test_openai_reads_plain_float_answers_in_any_order_and_normalises_them(
    float_only_server: str,
) -> None:
    embedder = OpenAIEmbedder("local-model", base_url=float_only_server, max_retries=0)
    texts = ["my new dog", "tax forms are due"]
    try:
        vectors = await embedder.embed(texts)
    finally:
        await embedder.close()

    np.testing.assert_allclose(vectors, [embed_text(t, 8) for t in texts], atol=1e-6)


async def test_openai_a_dimension_change_mid_stream_raises_embedding_error(fake_openai: FakeOpenAI) -> None:
    embedder = OpenAIEmbedder("embed-small", base_url=fake_openai.base_url, api_key="k", max_retries=0)
    embedder.dimension = 32  # as if an earlier server had said so
    try:
        with pytest.raises(EmbeddingError, match="expected 32"):
            await embedder.embed(["hello"])
    finally:
        await embedder.close()


def test_make_embedder_builds_an_openai_embedder_from_settings() -> None:
    settings = EmbeddingSettings(
        provider="openai",
        model="nomic-embed-text",
        base_url="http://127.0.0.1:11434/v1",
        api_key=SecretStr("k"),
        dimensions=768,
    )

    embedder = make_embedder(settings)

    assert isinstance(embedder, OpenAIEmbedder)
    assert embedder.model_id == "openai:nomic-embed-text"
    assert embedder.dimension == 768


def test_make_embedder_refuses_openai_with_the_builtin_model_name() -> None:
    with pytest.raises(EmbeddingError, match=r"embedding\.model"):
        make_embedder(EmbeddingSettings(provider="openai"))


async def test_model2vec_encodes_short_input_on_the_loop_and_long_input_on_a_thread(
    tiny: Model2VecEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[int] = []
    encode = tiny._encode

    def recording(texts: list[str]) -> np.ndarray:
        threads.append(threading.get_ident())
        return encode(texts)

    monkeypatch.setattr(tiny, "_encode", recording)
    short = await tiny.embed(["hello world"])
    long = await tiny.embed(["hello world " * (INLINE_MAX_CHARS // 12 + 1)])

    assert threads[0] == threading.get_ident() != threads[1]
    assert short.shape == long.shape == (1, tiny.dimension)
    assert np.allclose(short, encode(["hello world"]))
