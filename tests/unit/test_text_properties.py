"""Properties of the text pipeline that must hold for any input, checked with hypothesis."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.delivery import neutralize_mentions, split_message
from bot.safety import bound_length, normalize_text
from bot.safety.normalize import is_invisible

# Characters normalize_text must never leave behind, whatever surrounds them.
ALWAYS_STRIPPED = (
    [chr(cp) for cp in range(0x00, 0x20) if chr(cp) not in "\t\n"]
    + [chr(cp) for cp in range(0x7F, 0xA0)]
    + list("\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200e\u200f")
    + [chr(cp) for cp in range(0x202A, 0x202F)]
    + [chr(cp) for cp in range(0x2060, 0x2070)]
    + list("\u2028\u2029\u3164\ufeff\uffa0\ufff9\ufffa\ufffb")
    + [chr(cp) for cp in (0xE0001, 0xE0020, 0xE0041, 0xE007F, 0x1D173, 0x1BCA0)]
)
SELECTORS = "\ufe0e\ufe0f\ufe00\U000e0100\u180b"
TRICKY = (
    "".join(ALWAYS_STRIPPED)
    + SELECTORS
    + "\u200d\r\n\t  abcKILLé\u0301\u0308ｋｉｌＬ＠@™ﬁ²😀👩💻🌈🏳❤🇫🇷👋🏽1#*\u20e3\u0600漢ᠠ"
)
SETTINGS = settings(max_examples=100, deadline=None)

tricky_text = st.text(alphabet=TRICKY, max_size=80)
any_text = st.one_of(st.text(max_size=200), tricky_text)


def is_emoji_side(char: str) -> bool:
    return unicodedata.category(char) in ("So", "Sm") or 0x1F000 <= ord(char) <= 0x1FAFF


@SETTINGS
@given(any_text)
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize_text(text)

    assert normalize_text(once) == once


@SETTINGS
@given(any_text)
def test_normalized_text_has_no_stripped_characters(text: str) -> None:
    assert not set(normalize_text(text)) & set(ALWAYS_STRIPPED)


@SETTINGS
@given(any_text)
def test_normalized_text_is_nfkc(text: str) -> None:
    normalized = normalize_text(text)

    assert unicodedata.normalize("NFKC", normalized) == normalized


@SETTINGS
@given(any_text)
def test_a_remaining_zwj_joins_two_emoji(text: str) -> None:
    normalized = normalize_text(text)

    for i, char in enumerate(normalized):
        if char == "\u200d":
            assert 0 < i < len(normalized) - 1
            assert is_emoji_side(normalized[i + 1])
            assert is_emoji_side(normalized[i - 1]) or normalized[i - 1] in SELECTORS


@SETTINGS
@given(any_text)
def test_a_remaining_variation_selector_follows_a_base_that_takes_one(text: str) -> None:
    normalized = normalize_text(text)

    for i, char in enumerate(normalized):
        if char in SELECTORS:
            before = normalized[i - 1] if i else ""
            assert before and before not in SELECTORS
            assert (
                unicodedata.category(before)[0] not in "LZC"
                or "\u3400" <= before <= "\u9fff"
                or ("\u1800" <= before <= "\u18af")
            )


@SETTINGS
@given(any_text)
def test_normalized_text_has_at_most_two_blank_lines_in_a_row(text: str) -> None:
    assert not re.search(r"\n(?:[^\S\n]*\n){3}", normalize_text(text))


@SETTINGS
@given(st.text(max_size=300), st.integers(min_value=0, max_value=320))
def test_bound_length_never_exceeds_the_bound(text: str, max_chars: int) -> None:
    assert len(bound_length(text, max_chars).text) <= max_chars


@SETTINGS
@given(st.text(max_size=300), st.integers(min_value=0, max_value=320))
def test_bound_length_counts_what_it_cut(text: str, max_chars: int) -> None:
    bounded = bound_length(text, max_chars)

    assert bounded.original_chars == len(text)
    assert bounded.cut_chars == bounded.original_chars - len(bounded.text)
    assert (bounded.notice is None) == (bounded.cut_chars == 0)


@SETTINGS
@given(st.text(max_size=300), st.integers(min_value=0, max_value=320))
def test_bound_length_keeps_a_prefix(text: str, max_chars: int) -> None:
    assert text.startswith(bound_length(text, max_chars).text)


FENCE_LINE = re.compile(r"[ \t]*`{3,}[^`]*")
# Letters used only in language tags, so that content can be compared without the tags split_message adds.
TAG_LETTERS = "pyjs"
words = st.one_of(
    st.text(alphabet="abcdeé0123456789", min_size=1, max_size=12),
    st.text(alphabet="abcde", min_size=30, max_size=250),
    st.sampled_from(["`ab cd`", "``a ` b``", "👩\u200d💻", "e\u0301", "🇫🇷", "end.", "why?"]),
)
separators = st.sampled_from([" ", " ", " ", "\n", "\n\n", "\n\n\n", ". ", "! ", "\t", "\r\n"])
fences = st.sampled_from(["\n```\n", "\n```py\n", "\n  ```js\n", "\n````\n", "\n```py title\n"])
markdown = st.lists(st.one_of(words, separators, fences), max_size=60).map("".join)
limits = st.integers(min_value=16, max_value=200)


def content(text: str) -> str:
    return re.sub(rf"[\s`{TAG_LETTERS}]", "", text)


def balanced(chunk: str) -> bool:
    return sum(1 for line in chunk.split("\n") if FENCE_LINE.fullmatch(line)) % 2 == 0


def valid(chunk: str, limit: int) -> bool:
    return bool(chunk.strip()) and len(chunk) <= limit and balanced(chunk)


def is_subsequence(needle: str, haystack: str) -> bool:
    remaining = iter(haystack)
    return all(char in remaining for char in needle)


@SETTINGS
@given(markdown, limits)
def test_split_chunks_fit_the_limit(text: str, limit: int) -> None:
    assert all(len(chunk) <= limit for chunk in split_message(text, limit))


@SETTINGS
@given(markdown, limits)
def test_split_chunks_are_never_blank(text: str, limit: int) -> None:
    assert all(chunk.strip() for chunk in split_message(text, limit))


@SETTINGS
@given(markdown, limits)
def test_split_chunks_have_balanced_fences(text: str, limit: int) -> None:
    assert all(balanced(chunk) for chunk in split_message(text, limit))


@SETTINGS
@given(markdown, limits)
def test_split_keeps_all_content_in_order(text: str, limit: int) -> None:
    assert "".join(content(chunk) for chunk in split_message(text, limit)) == content(text)


@SETTINGS
@given(st.text(max_size=400), limits)
def test_split_of_arbitrary_text_gives_valid_chunks(text: str, limit: int) -> None:
    chunks = split_message(text, limit)

    assert all(valid(chunk, limit) for chunk in chunks)


@SETTINGS
@given(st.text(alphabet=st.characters(), max_size=400), limits)
def test_split_of_arbitrary_text_loses_no_content(text: str, limit: int) -> None:
    joined = "".join(split_message(text, limit))

    assert is_subsequence(re.sub(r"[\s`]", "", text), re.sub(r"[\s`]", "", joined))


@SETTINGS
@given(st.text(alphabet="`\n ab.", max_size=300), limits)
def test_split_of_backtick_soup_gives_valid_chunks(text: str, limit: int) -> None:
    chunks = split_message(text, limit)

    assert all(valid(chunk, limit) for chunk in chunks)
    assert is_subsequence(re.sub(r"[\s`]", "", text), re.sub(r"[\s`]", "", "".join(chunks)))


MENTION = re.compile(r"<@[!&]?[0-9]+>|@(?:everyone|here)", re.IGNORECASE)
mention_text = st.lists(
    st.one_of(
        st.sampled_from(["@everyone", "@here", "<@123>", "<@!45>", "<@&6>", "@", "<", ">", "＠", "ｅ"]),
        st.text(alphabet="everyonhr\u200b\u2060\u200d\ufe0f\x00 <>@!&0123", max_size=6),
    ),
    max_size=30,
).map("".join)


def read_past_invisibles(text: str) -> str:
    # How a reader that skipped every invisible character except the inserted ZWSP would see text.
    visible = "".join(char for char in text if char == "\u200b" or not is_invisible(char))
    return unicodedata.normalize("NFKC", visible)


@SETTINGS
@given(mention_text)
def test_no_mention_survives_neutralising(text: str) -> None:
    assert not MENTION.search(neutralize_mentions(text))


@SETTINGS
@given(mention_text)
def test_no_mention_hides_behind_invisible_characters_after_neutralising(text: str) -> None:
    assert not MENTION.search(read_past_invisibles(neutralize_mentions(text)))


@SETTINGS
@given(mention_text)
def test_neutralising_is_idempotent(text: str) -> None:
    once = neutralize_mentions(text)

    assert neutralize_mentions(once) == once
