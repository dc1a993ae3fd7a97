"""Normalisation leaves later checks the words a person sees; length bounds cut cleanly and say so."""

from __future__ import annotations

import pytest

from bot.safety import Bounded, bound_length, normalize_text
from bot.safety.normalize import grapheme_safe_cut, is_invisible

FAMILY = "👩\u200d👩\u200d👧\u200d👦"
TECHNOLOGIST = "👩\u200d💻"
RAINBOW_FLAG = "🏳\ufe0f\u200d🌈"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("k\u200bill myself", "kill myself", id="zero-width-space"),
        pytest.param("k\u200cill my\u200bself", "kill myself", id="zero-width-non-joiner"),
        pytest.param("k\u200dill myself", "kill myself", id="zero-width-joiner-between-letters"),
        pytest.param("ki\u2060ll myself", "kill myself", id="word-joiner"),
        pytest.param("\ufeffkill myself", "kill myself", id="byte-order-mark"),
        pytest.param("ki\u00adll myself", "kill myself", id="soft-hyphen"),
        pytest.param("ki\u180ell myself", "kill myself", id="mongolian-vowel-separator"),
        pytest.param("ki\u034fll myself", "kill myself", id="combining-grapheme-joiner"),
        pytest.param("ki\u3164ll myself", "kill myself", id="hangul-filler"),
        pytest.param("ki\u2062ll myself", "kill myself", id="invisible-times"),
        pytest.param("k\ufe0fill myself", "kill myself", id="variation-selector-after-letter"),
        pytest.param("kill\U000e0020\U000e0069\U000e0067myself", "killmyself", id="tag-characters"),
        pytest.param("k\x00i\x07l\x1bl myself", "kill myself", id="c0-controls"),
        pytest.param("k\x7fi\x9bll myself", "kill myself", id="del-and-c1-controls"),
    ],
)
def test_invisible_characters_inside_words_are_removed(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("\u202ekill myself\u202c", "kill myself", id="right-to-left-override"),
        pytest.param("\u202akill\u202b myself\u202c", "kill myself", id="embeddings"),
        pytest.param("\u2066kill\u2067 my\u2068self\u2069", "kill myself", id="isolates"),
        pytest.param("k\u200eill my\u200fself", "kill myself", id="directional-marks"),
        pytest.param("kill\u061c myself", "kill myself", id="arabic-letter-mark"),
    ],
)
def test_bidi_controls_are_removed(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("@every\u200bone", "@everyone", id="zwsp-inside-everyone"),
        pytest.param("@\u2060here", "@here", id="word-joiner-after-at"),
        pytest.param("<@\u200d123>", "<@123>", id="zwj-inside-user-mention"),
        pytest.param("\u202e@everyone\u202c", "@everyone", id="override-around-everyone"),
        pytest.param("＠ｅｖｅｒｙｏｎｅ", "@everyone", id="fullwidth-everyone"),
    ],
)
def test_disguised_mentions_normalise_to_plain_mentions(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("ｋｉｌｌ ｍｙｓｅｌｆ", "kill myself", id="fullwidth-letters"),
        pytest.param("ﬁnd", "find", id="ligature"),
        pytest.param("kill\u00a0myself", "kill myself", id="no-break-space"),
        pytest.param("e\u200b\u0301", "é", id="composes-what-an-invisible-separated"),
    ],
)
def test_nfkc_folds_compatibility_forms(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("a\r\nb", "a\nb", id="crlf"),
        pytest.param("a\rb", "a\nb", id="lone-cr"),
        pytest.param("a\r\n\r\nb", "a\n\nb", id="blank-line-in-crlf"),
        pytest.param("a\x0bb\x0cc", "a\nb\nc", id="vertical-tab-and-form-feed"),
        pytest.param("a\x85b\u2028c\u2029d", "a\nb\nc\nd", id="nel-and-unicode-separators"),
    ],
)
def test_line_breaks_become_newlines(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("a\n\n\n\n\n\nb", "a\n\n\nb", id="five-blank-lines"),
        pytest.param("a\n \n\t\n  \n\nb", "a\n\n\nb", id="whitespace-only-lines-count-as-blank"),
        pytest.param("\n\n\n\nb", "\n\nb", id="at-the-start"),
    ],
)
def test_runs_of_blank_lines_collapse_to_two(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


def test_two_blank_lines_are_kept() -> None:
    assert normalize_text("a\n\n\nb") == "a\n\n\nb"


def test_tabs_and_indentation_are_kept() -> None:
    assert normalize_text("def f():\n\treturn 1\n    pass") == "def f():\n\treturn 1\n    pass"


@pytest.mark.parametrize(
    "emoji",
    [
        pytest.param(FAMILY, id="family"),
        pytest.param(TECHNOLOGIST, id="technologist"),
        pytest.param(RAINBOW_FLAG, id="flag-with-variation-selector"),
        pytest.param("👋🏽", id="skin-tone"),
        pytest.param("❤\ufe0f", id="emoji-presentation"),
        pytest.param("1\ufe0f\u20e3", id="keycap"),
        pytest.param("🇫🇷", id="regional-indicator-flag"),
    ],
)
def test_emoji_sequences_survive(emoji: str) -> None:
    assert normalize_text(f"hi {emoji} there") == f"hi {emoji} there"


def test_a_run_of_variation_selectors_keeps_only_the_first() -> None:
    assert normalize_text("😀" + "\ufe0f\ufe0e\U000e0101" * 5 + "!") == "😀\ufe0f!"


def test_zwj_is_removed_when_nfkc_turns_its_neighbour_into_letters() -> None:
    assert normalize_text("™\u200d😀") == "TM😀"


def test_visible_arabic_number_sign_is_kept() -> None:
    assert normalize_text("\u0600١٢") == "\u0600١٢"


def test_surrogate_pair_is_joined_into_its_character() -> None:
    assert normalize_text("\ud83d\ude00") == "😀"


def test_lone_surrogate_becomes_a_replacement_character() -> None:
    assert normalize_text("a\ud800b") == "a\ufffdb"


def test_plain_text_is_unchanged() -> None:
    text = "Hello there! How are you today?\n\nI'm fine — thanks. 🙂"
    assert normalize_text(text) == text


@pytest.mark.parametrize("char", ["\u200b", "\u200d", "\ufe0f", "\u202e", "\U000e0041", "\x00"])
def test_is_invisible_flags_characters_that_draw_nothing(char: str) -> None:
    assert is_invisible(char)


@pytest.mark.parametrize("char", ["a", " ", "\n", "😀", "\u0600"])
def test_is_invisible_leaves_visible_characters(char: str) -> None:
    assert not is_invisible(char)


def test_twenty_thousand_characters_are_bounded_with_a_notice() -> None:
    bounded = bound_length("x" * 20_000, 4_000)

    assert bounded == Bounded(text="x" * 4_000, cut_chars=16_000, original_chars=20_000)
    assert bounded.notice == "Your message was 20,000 characters; I read the first 4,000."


def test_text_within_the_bound_is_untouched_and_has_no_notice() -> None:
    bounded = bound_length("short message", 4_000)

    assert bounded == Bounded(text="short message", cut_chars=0, original_chars=13)
    assert bounded.notice is None


def test_text_exactly_at_the_bound_is_not_cut() -> None:
    assert bound_length("abcde", 5).cut_chars == 0


def test_cut_falls_on_a_word_boundary_near_the_limit() -> None:
    text = "hello world " * 2_000

    bounded = bound_length(text, 4_000)

    assert bounded.text.endswith(("hello", "world"))
    assert 3_600 <= len(bounded.text) <= 4_000
    assert bounded.notice == f"Your message was 24,000 characters; I read the first {len(bounded.text):,}."


def test_cut_prefers_a_line_break_in_the_last_tenth() -> None:
    text = "a" * 95 + "\n" + "b c d e f g h i j k l m n o p"

    assert bound_length(text, 100).text == "a" * 95


def test_boundary_further_back_than_a_tenth_is_ignored() -> None:
    text = "a" * 50 + " " + "b" * 200

    assert bound_length(text, 100).text == "a" * 50 + " " + "b" * 49


def test_cut_does_not_split_a_zwj_emoji_sequence() -> None:
    text = "a" * 95 + FAMILY + "b" * 50

    assert bound_length(text, 98).text == "a" * 95


def test_cut_does_not_separate_a_combining_accent() -> None:
    text = "a" * 99 + "e\u0301" + "b" * 50

    assert bound_length(text, 101).text == "a" * 99 + "e\u0301"
    assert bound_length(text, 100).text == "a" * 99


def test_cut_does_not_split_a_flag() -> None:
    text = "a" * 97 + "🇫🇷🇩🇪" + "b" * 10

    assert bound_length(text, 100).text == "a" * 97 + "🇫🇷"


def test_cut_does_not_split_a_surrogate_pair() -> None:
    text = "a" * 99 + "\ud83d\ude00" + "b"

    assert bound_length(text, 100).text == "a" * 99


def test_cut_chars_include_trailing_whitespace_dropped_at_the_cut() -> None:
    bounded = bound_length("abc   " + "d" * 10, 5)

    assert (bounded.text, bounded.cut_chars) == ("abc", 13)


def test_nothing_kept_has_its_own_notice() -> None:
    bounded = bound_length("hello", 0)

    assert bounded.notice == "Your message was 5 characters, too long for me to read."


def test_negative_bound_is_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        bound_length("hello", -1)


def test_grapheme_safe_cut_falls_back_to_the_index_when_the_cluster_is_too_long() -> None:
    text = "a" + "\u0301" * 50

    assert grapheme_safe_cut(text, 30, lower=20) == 30
