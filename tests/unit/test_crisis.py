"""The deterministic crisis check: every language, slang, misspellings, disguises, and the figures of
speech that must not fire."""

from __future__ import annotations

import pytest

from bot.safety.crisis import LOCALES, check, prepare
from bot.safety.normalize import normalize_text

CRISIS = [
    ("en", "i want to kill myself"),
    ("en", "honestly i just wanna die"),
    ("en", "i've been having suicidal thoughts"),
    ("en", "everyone would be better off without me"),
    ("en", "i don't want to be alive anymore"),
    ("en", "i keep cutting myself"),
    ("en", "kms fr"),
    ("en", "thinking about unaliving myself"),
    ("en", "i want to end it all"),
    ("en", "this is my last message, goodbye everyone"),
    ("es", "me quiero morir"),
    ("es", "ya no quiero vivir"),
    ("es", "estoy pensando en suicidarme"),
    ("es", "todos estarían mejor sin mí"),
    ("fr", "je veux mourir"),
    ("fr", "j'ai envie de me suicider"),
    ("fr", "je pense à mettre fin à mes jours"),
    ("fr", "je me scarifie"),
    ("de", "ich will sterben"),
    ("de", "ich will mich umbringen"),
    ("de", "ich will nicht mehr leben"),
    ("de", "ich ritze mich wieder"),
    ("pt", "quero morrer"),
    ("pt", "não quero mais viver"),
    ("pt", "vou me matar"),
    ("pt", "todos estariam melhor sem mim"),
]

SLANG_AND_MISSPELLINGS = [
    "i want to kil myslef",
    "k1ll mys3lf",
    "i wanna d13",
    "$uicidal again",
    "sewerslide is all i think about",
    "i wnat to dieeee",
    "k i l l myself",
    "s.u.i.c.i.d.e",
    "im gonna kiiiill myselfff",
    "I WANT TO DIE",
]

FIGURATIVE = [
    ("en", "this homework is killing me"),
    ("en", "i could die of embarrassment"),
    ("en", "you're killing it!!"),
    ("en", "i was dying of laughter"),
    ("en", "lmaooo i'm dead 💀"),
    ("en", "my mom is going to kill me"),
    ("en", "i would kill for a pizza"),
    ("en", "the suicide squad soundtrack slaps"),
    ("en", "my phone is dying"),
    ("en", "i cut myself shaving"),
    ("es", "me muero de risa"),
    ("es", "este trabajo me está matando"),
    ("fr", "mort de rire"),
    ("fr", "ce boulot me tue"),
    ("de", "ich lach mich tot"),
    ("de", "die hausaufgaben bringen mich um"),
    ("pt", "morrendo de rir kkkk"),
    ("pt", "esse trabalho está me matando"),
]

ORDINARY = [
    "i feel really sad today",
    "i miss my grandma",
    "i'm so tired of this week",
    "i don't want to live in this city anymore",
    "i can't go on the trip tomorrow",
    "estoy muy triste",
    "je suis triste",
    "ich bin traurig",
    "estou triste",
    "what time is the meeting",
]


@pytest.mark.parametrize(("locale", "text"), CRISIS)
def test_crisis_signals_fire_in_every_language(locale: str, text: str) -> None:
    result = check(text)
    assert result.hit
    assert result.locale == locale
    assert result.signals and all(s.split(".")[0] in LOCALES for s in result.signals)


@pytest.mark.parametrize("text", SLANG_AND_MISSPELLINGS)
def test_slang_misspellings_and_disguises_fire(text: str) -> None:
    assert check(text).hit


@pytest.mark.parametrize(
    "text",
    [
        "i want to k\u200bill myself",  # zero-width space
        "i want to ki\u200dll myself",  # zero-width joiner
        "i want to \u202ekill\u202c myself",  # bidi override
        "i want to ｋｉｌｌ ｍｙｓｅｌｆ",  # fullwidth letters
        "i want to kil\u00adl myself",  # soft hyphen
        "sui\u2060cide",  # word joiner
    ],
)
def test_invisible_and_lookalike_tricks_do_not_hide_a_signal(text: str) -> None:
    assert check(normalize_text(text)).hit
    assert check(text).hit  # check normalises by itself too


@pytest.mark.parametrize(("locale", "text"), FIGURATIVE)
def test_figures_of_speech_do_not_fire(locale: str, text: str) -> None:
    assert not check(text).hit


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_sadness_and_chat_do_not_fire(text: str) -> None:
    assert not check(text).hit


def test_a_figure_of_speech_does_not_hide_a_real_signal_beside_it() -> None:
    assert check("this homework is killing me and honestly i want to die").hit


def test_signals_name_rules_never_the_text() -> None:
    result = check("i want to kill myself")
    assert result.signals == ("en.kill_self",)
    assert all("myself" not in s for s in result.signals)


def test_prepare_reads_through_accents_digits_and_stretched_letters() -> None:
    assert prepare("Suicídio") == "suicidio"
    assert prepare("K1LLL MY$ELF!!!") == "kil myself"


def test_locale_of_a_miss_is_guessed_from_common_words() -> None:
    assert check("je suis fatigué et le travail est long").locale == "fr"
    assert check("🙂").locale is None


def test_no_pattern_splits_a_double_letter_across_a_group() -> None:
    # Messages are squeezed ("cutting" -> "cuting"), so "cut(?:ting)?" could never match "cutting".
    import re

    from bot.safety.crisis_patterns import FIGURATIVE, SIGNALS

    patterns = [p for rules in SIGNALS.values() for _, p in rules] + FIGURATIVE
    split = [
        group.group(0)
        for pattern in patterns
        for group in re.finditer(r"(?<!\\)([a-z])\(\?:([^)]*)\)", pattern)
        if any(alt.startswith(group.group(1)) for alt in group.group(2).split("|"))
    ]
    assert split == []
