"""Token counting never downloads an encoding and never undercounts when it has to estimate."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import tiktoken

from bot.llm import tokens
from bot.llm.tokens import count_message_tokens, count_tokens


@pytest.fixture(autouse=True)
def empty_tiktoken_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point tiktoken at an empty cache and forget encodings loaded by earlier tests."""
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    tokens._encoding_for.cache_clear()
    yield tmp_path
    tokens._encoding_for.cache_clear()


class _FakeEncoding:
    def encode(self, text: str, disallowed_special: object = ()) -> list[int]:
        return [0] * len(text.split())


def test_empty_text_has_no_tokens() -> None:
    assert count_tokens("", "gpt-4o") == 0


def test_non_openai_model_gets_a_three_characters_per_token_estimate() -> None:
    assert count_tokens("abcdefg", "llama3.1:8b") == 3


def test_openai_model_without_a_cached_encoding_is_estimated_without_loading_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(name: str) -> tiktoken.Encoding:
        raise AssertionError("tiktoken.get_encoding must not be called: it would download")

    monkeypatch.setattr(tiktoken, "get_encoding", refuse)

    assert count_tokens("hello there, friend", "gpt-4o-mini") == 7


def test_openai_model_with_a_cached_encoding_is_counted_by_tiktoken(
    empty_tiktoken_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
    (empty_tiktoken_cache / hashlib.sha1(url.encode()).hexdigest()).write_bytes(b"")
    monkeypatch.setattr(tiktoken, "get_encoding", lambda name: _FakeEncoding())

    assert count_tokens("hello there, friend", "gpt-4o-mini") == 3


def test_message_count_adds_framing_per_message_and_for_the_reply() -> None:
    messages = [{"role": "system", "content": "abc"}, {"role": "user", "content": "abcdef"}]

    assert count_message_tokens(messages, "local") == 3 + (4 + 1) + (4 + 2)


def test_message_count_reads_text_parts_of_multimodal_content() -> None:
    content = [{"type": "text", "text": "abcdef"}, {"type": "image_url", "image_url": {"url": "x" * 300}}]

    assert count_message_tokens([{"role": "user", "content": content}], "local") == 3 + 4 + 2
