"""Token counting: exact with tiktoken for OpenAI models whose encoding is on disk, else a safe overestimate.

tiktoken downloads its encodings on first use. A bot must not block a reply on a download (or fail
offline), so an encoding is only used when its file is already in tiktoken's cache; to get exact counts,
warm the cache at build time (``TIKTOKEN_CACHE_DIR`` plus one ``tiktoken.get_encoding(...)`` call).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import tiktoken

log = logging.getLogger(__name__)

# Three characters per token overestimates English (about four) and most code, so a budget built on it
# leaves room rather than overflowing the context window.
CHARS_PER_TOKEN_ESTIMATE = 3
# The chat format wraps each message in a few tokens of framing (role, separators).
MESSAGE_OVERHEAD_TOKENS = 4
REPLY_PRIMING_TOKENS = 3

_ENCODING_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
# Encodings stored as a single .tiktoken file; others (gpt2's two-file format) are never loaded.
_SINGLE_FILE_ENCODINGS = {"r50k_base", "p50k_base", "p50k_edit", "cl100k_base", "o200k_base", "o200k_harmony"}
_FILE_FOR_ENCODING = {"p50k_edit": "p50k_base", "o200k_harmony": "o200k_base"}


def estimate_tokens(text: str) -> int:
    """Return a conservative token estimate for text without any tokenizer."""
    return math.ceil(len(text) / CHARS_PER_TOKEN_ESTIMATE)


def _cache_dir() -> Path | None:
    # Mirrors where tiktoken looks for cached encodings; an empty setting disables its cache entirely.
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if var in os.environ:
            value = os.environ[var]
            return Path(value) if value else None
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def _encoding_cached(name: str) -> bool:
    if name not in _SINGLE_FILE_ENCODINGS:
        return False
    cache = _cache_dir()
    if cache is None:
        return False
    url = _ENCODING_URL.format(name=_FILE_FOR_ENCODING.get(name, name))
    return (cache / hashlib.sha1(url.encode()).hexdigest()).is_file()


@functools.cache
def _encoding_for(model: str) -> tiktoken.Encoding | None:
    try:
        name = tiktoken.encoding_name_for_model(model)
    except KeyError:
        return None  # not an OpenAI model name: a local model with its own tokenizer
    if not _encoding_cached(name):
        log.debug("tiktoken encoding %s is not cached; estimating tokens for %s", name, model)
        return None
    try:
        return tiktoken.get_encoding(name)
    except (OSError, ValueError) as exc:
        log.warning("cannot load tiktoken encoding %s (%s); estimating tokens", name, type(exc).__name__)
        return None


def count_tokens(text: str, model: str) -> int:
    """Count the tokens of text for a model: exact when possible, otherwise a generous estimate."""
    if not text:
        return 0
    encoding = _encoding_for(model)
    if encoding is None:
        return estimate_tokens(text)
    # User text may contain strings like "<|endoftext|>"; count them as plain text instead of raising.
    return len(encoding.encode(text, disallowed_special=()))


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Iterable):
        parts = [p.get("text", "") for p in content if isinstance(p, Mapping) and p.get("type") == "text"]
        return "\n".join(str(p) for p in parts)
    return ""


def count_message_tokens(messages: Iterable[Mapping[str, Any]], model: str) -> int:
    """Count the prompt tokens of chat messages, including the per-message framing."""
    total = REPLY_PRIMING_TOKENS
    for message in messages:
        total += MESSAGE_OVERHEAD_TOKENS + count_tokens(_content_text(message.get("content")), model)
        name = message.get("name")
        if isinstance(name, str):
            total += count_tokens(name, model)
    return total
