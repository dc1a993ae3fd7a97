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

# Words between the wish and the object, and indirect phrasings: the compositional and indirect rules.
COMPOSED_AND_INDIRECT = [
    ("en", "i honestly just want to fucking die already"),
    ("en", "part of me wants to die"),
    ("en", "i'm thinking of taking all my meds at once"),
    ("en", "everyone would be happier if i just disappeared"),
    ("en", "whats the point of going on"),
    ("en", "i wont be around much longer"),
    ("en", "i gave away my cat and my games, i wont need them"),
    ("en", "how many tylenol would it take to kill me"),
    ("en", "relapsed on sh after 4 months"),
    ("en", "the sh urges are so bad tonight"),
    ("en", "i wanna yeet myself off a bridge"),
    ("en", "ngl i wanna unalive myself"),
    ("en", "thinkin bout endin it all"),
    ("en", "gonna end it tn"),
    ("en", "would anyone even care if i died"),
    ("es", "quiero de verdad morirme"),
    ("es", "nadie me extrañaría si me muero"),
    ("es", "cuántas pastillas necesito para morir"),
    ("es", "me kiero matar"),
    ("es", "siento que todos estarían mejor si me muero"),
    ("fr", "je veux vraiment crever"),
    ("fr", "à quoi bon vivre"),
    ("fr", "jveux crever"),
    ("fr", "ce serait plus simple si j'étais morte"),
    ("de", "ich will heute einfach nur sterben"),
    ("de", "ich werde mich heute umbringen"),
    ("de", "ich bin lebensmüde"),
    ("de", "ich könnte mir was antun"),
    ("de", "es wäre einfacher wenn ich tot wäre"),
    ("pt", "queria muito morrer"),
    ("pt", "vou me mata"),
    ("pt", "ninguém ia sentir minha falta se eu morresse"),
    ("pt", "seria mais fácil se eu estivesse morto"),
]

# A wish to die that is negated or someone else's, and talk about someone else's death or the news.
NOT_THIS_PERSON = [
    "i dont want to die",
    "they want to die",
    "no quiero morir sin ver el mar",
    "je ne veux pas mourir",
    "tu veux mourir ?",
    "ich will nicht sterben",
    "não quero morrer sem viajar",
    "a man killed himself in the film",
    "she committed suicide in the last episode",
    "my grandpa died by suicide when i was little",
    "the documentary about suicide prevention was good",
    "mi tío se suicidó hace años",
    "il s'est suicidé dans le film",
    "er hat sich das leben genommen",
    "ele se suicidou no filme",
    "wir haben in der schule über suizid gesprochen",
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
    "feeling pretty proud of myself rn",  # "off myself" squeezes to "of myself"
    "i want to take care of myself",
    "i'm dying my hair pink tomorrow",
    "i want to end it with my girlfriend",
    "i relapsed on my diet lol",
    "goodbye everyone, logging off for the night",
    "sometimes i think nobody would notice if i disappeared for a week",
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


@pytest.mark.parametrize(("locale", "text"), COMPOSED_AND_INDIRECT)
def test_words_in_between_and_indirect_phrasings_fire(locale: str, text: str) -> None:
    result = check(text)
    assert result.hit, text
    assert result.locale == locale


@pytest.mark.parametrize("text", NOT_THIS_PERSON)
def test_negated_wishes_and_other_peoples_deaths_do_not_fire(text: str) -> None:
    assert not check(text).hit


def test_a_negated_wish_to_die_does_not_hide_a_wish_not_to_live() -> None:
    assert check("i dont want to die but i dont want to live either").signals == ("en.no_live",)


def test_every_language_gets_compositional_rules() -> None:
    from bot.safety.crisis_patterns import all_rules

    for rules in all_rules().values():
        assert {"wish_death", "intent_self", "better_if_gone"} <= {name for name, _ in rules}


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
    assert result.signals == ("en.kill_self", "en.intent_self")  # the phrase rule and the composition
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

    from bot.safety.crisis_patterns import all_blanks, all_rules

    patterns = [p for rules in all_rules().values() for _, p in rules] + all_blanks()
    split = [
        group.group(0)
        for pattern in patterns
        for group in re.finditer(r"(?<!\\)([a-z])\(\?:([^)]*)\)", pattern)
        if any(alt.startswith(group.group(1)) for alt in group.group(2).split("|"))
    ]
    assert split == []


def test_the_joined_rules_match_exactly_where_some_rule_matches() -> None:
    # check() searches the rules one by one only when their join matched; a join that missed a rule's
    # match would hide a crisis.
    from bot.safety.crisis import _compiled

    signals, figurative, any_signal = _compiled()
    pairs = CRISIS + COMPOSED_AND_INDIRECT + FIGURATIVE
    texts = [t for _, t in pairs] + SLANG_AND_MISSPELLINGS + NOT_THIS_PERSON + ORDINARY
    for text in texts:
        literal = figurative.sub(" ", prepare(text))
        some_rule = any(pattern.search(literal) for _, _, pattern in signals)
        assert bool(any_signal.search(literal)) == some_rule, text


def test_rules_that_refer_to_groups_are_refused_rather_than_joined() -> None:
    import re

    from bot.safety.crisis import _any_of

    with pytest.raises(ValueError):
        _any_of([("en", "repeat", re.compile(r"(die)\s+\1"))])
