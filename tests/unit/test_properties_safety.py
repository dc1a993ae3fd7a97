"""Properties that tie the normaliser to what it protects: the crisis check and delivery, for any input."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.delivery import neutralize_mentions, split_message
from bot.safety import normalize_text
from bot.safety.crisis import check
from bot.safety.normalize import is_invisible

SETTINGS = settings(max_examples=100, deadline=None)

# Invisible and bidi characters a person can type or paste between letters; none of them maps to a newline.
HIDERS = (
    "\u200b\u200c\u200d\u2060\u2061\ufeff\u00ad\u034f\u180e"  # zero-width, joiners, soft hyphen
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"  # bidi embeddings, overrides, isolates
)
CRISIS_PHRASES = [
    "i want to kill myself",
    "i'm going to end my life tonight",
    "i don't want to live anymore",
    "thinking about suicide",
    "quiero suicidarme",
    "je veux mourir",
]
MENTION = re.compile(r"<@[!&]?[0-9]+>|@(?:everyone|here)", re.IGNORECASE)


@st.composite
def hidden(draw: st.DrawFn, text: str) -> str:
    """Return text with invisible characters slipped in at random places."""
    chars = list(text)
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        position = draw(st.integers(min_value=0, max_value=len(chars)))
        chars.insert(position, draw(st.sampled_from(HIDERS)))
    return "".join(chars)


def test_the_crisis_phrases_used_here_are_crisis_signals() -> None:
    assert all(check(phrase).hit for phrase in CRISIS_PHRASES)


@SETTINGS
@given(st.sampled_from(CRISIS_PHRASES).flatmap(hidden))
def test_crisis_words_are_caught_whatever_invisible_characters_hide_in_them(text: str) -> None:
    assert check(text).hit


@SETTINGS
@given(
    st.text(alphabet="abcdefghiklmnorstuvy '.!?", max_size=60).flatmap(
        lambda t: st.tuples(st.just(t), hidden(t))
    )
)
def test_invisible_characters_never_change_the_crisis_verdict(pair: tuple[str, str]) -> None:
    plain, disguised = pair
    assert check(disguised) == check(plain)


visible_or_invisible = st.text(alphabet="abcÉé\u0301ﬁ２ｋ " + HIDERS.replace("\u200d", ""), max_size=80)


@SETTINGS
@given(visible_or_invisible)
def test_normalising_removes_exactly_the_invisible_characters_and_folds_the_rest(text: str) -> None:
    # Documented: invisibles go (before NFKC, so what they separated composes), the rest is NFKC'd.
    expected = unicodedata.normalize("NFKC", "".join(c for c in text if not is_invisible(c)))
    assert normalize_text(text) == expected


@SETTINGS
@given(st.text(alphabet="abc .\n`", min_size=1, max_size=120), st.integers(min_value=16, max_value=200))
def test_a_message_that_fits_and_has_balanced_fences_is_sent_as_it_is(text: str, limit: int) -> None:
    fences = sum(1 for line in text.split("\n") if re.fullmatch(r"[ \t]*`{3,}[^`]*", line))
    if len(text) <= limit and fences % 2 == 0 and text.strip():
        assert split_message(text, limit) == [text.strip()]


@SETTINGS
@given(
    st.lists(
        st.sampled_from(
            ["@everyone", "@here", "<@123>", "<@&9>", "＠here", "@every\u200bone", "word ", "\n", "`"]
        ),
        max_size=400,
    ).map("".join),
    st.integers(min_value=16, max_value=2000),
)
def test_no_delivered_chunk_carries_a_mention_however_the_reply_is_split(text: str, limit: int) -> None:
    chunks = split_message(neutralize_mentions(text), limit)
    assert not any(MENTION.search(chunk) for chunk in chunks)
