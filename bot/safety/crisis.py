"""The deterministic crisis check: does a message carry a signal of suicide or self-harm?

It runs on every message before anything else reads it, outside any model, so it answers the same way
every time and cannot be talked out of answering. The rules live in crisis_patterns.py (phrases, and the
table every rule is read from), crisis_compose.py (a first-person wish or intent near a death or
self-harm object, built per language from word lists) and crisis_indirect.py (passive wishes, plans,
method questions, slang, relapse; other people's deaths). This module prepares the text so that they see
through the usual disguises:

- invisible characters and lookalike letters (``normalize_text``), accents ("suicídio"), German ß;
- digits and symbols written for letters ("k1ll mys3lf", "$uicide", "k*ll");
- letters spaced or dotted apart ("k i l l myself", "s.u.i.c.i.d.e");
- stretched letters ("kiiill", "diieee") and doubled-letter typos, by squeezing every run of one letter;
- a few frequent misspellings and chat spellings ("myslef", "sucide", "thinkin bout", "kiero", "tn").

Figures of speech ("dying of laughter", "this homework is killing me"), wishes to die that are negated or
someone else's, and other people's deaths or the news are blanked out first. The result names the rules
that fired, never the text, so it can be logged and counted.

Beside the rules sits a small linear model (crisis_model.py, fixed weights, no language model): it may
fire alone when it is confident ("<locale>.model") and may clear a hit that only the bare word "suicide"
made when it finds the text very unlikely to be a crisis; ``check`` says exactly when.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from bot.safety.crisis_model import default_model
from bot.safety.crisis_patterns import STOPWORDS, all_blanks, all_rules
from bot.safety.normalize import normalize_text

LOCALES: tuple[str, ...] = tuple(STOPWORDS)

_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"}
)
_LEET_IN_WORD = re.compile(r"(?<=[a-z])[013457@$!*]+(?=[a-z])|(?<![a-z0-9])[@$](?=[a-z])|(?<=[a-z])[0134]+\b")
_SPACED_LETTERS = re.compile(r"\b(?:[a-z][ .\-_*]){2,}[a-z]\b")
_PUNCT = re.compile(r"[\"#%&()*+,\-./:;<=>?\[\\\]^_`{|}~!¡¿«»“”„…]+")
_SPACES = re.compile(r"\s+")
_RUNS = re.compile(r"([a-z])\1+")
_TYPOS = {
    "myslef": "myself",
    "mysefl": "myself",
    "mysef": "myself",
    "myselff": "myself",
    "myslf": "myself",
    "mysel": "myself",
    "mself": "myself",
    "meself": "myself",
    "sucide": "suicide",
    "suicde": "suicide",
    "suiside": "suicide",
    "suicie": "suicide",
    "wnat": "want",
    "wnt": "want",
    "wan": "want",
    "waana": "wanna",
    "wanan": "wanna",
    "ded": "dead",
    "lyf": "life",
    "dye": "die",
    "u": "you",
    "ur": "your",
    "iam": "i am",
    "imma": "i'm going to",
    "bout": "about",
    "thinkin": "thinking",
    "endin": "ending",
    "killin": "killing",
    "cuttin": "cutting",
    "dyin": "dying",
    "goin": "going",
    "tryin": "trying",
    "hurtin": "hurting",
    "livin": "living",
    "kiero": "quiero",
    "q": "que",
    "tn": "tonight",
    "tonite": "tonight",
    "2nite": "tonight",
    "qiero": "quiero",
    "qro": "quero",
    "kro": "quero",
}
_TYPO_RE = re.compile(r"\b(?:" + "|".join(map(re.escape, _TYPOS)) + r")\b")


@dataclass(frozen=True, slots=True)
class CrisisResult:
    """Whether a message carries a crisis signal, in which language, and which rules said so."""

    hit: bool
    locale: str | None  # en, es, fr, de, pt; None when the language could not be told
    signals: tuple[str, ...] = ()  # "<locale>.<rule>", never any of the message's text


_PATTERN_RUNS = re.compile(r"(?<!\\)([a-z])\1+")  # an escape such as \b before "better" is not a letter


def _squeeze(text: str) -> str:
    return _RUNS.sub(r"\1", text)


def _squeeze_pattern(pattern: str) -> str:
    return _PATTERN_RUNS.sub(r"\1", pattern)


Signals = list[tuple[str, str, re.Pattern[str]]]
# What would make one alternation of the rules mean more than "any rule matches": a backreference or a
# conditional group points at group numbers, which change when the rules are joined.
_GROUP_REFERENCES = re.compile(r"\\[1-9]|\(\?P=|\(\?\(")


@lru_cache(maxsize=1)
def _compiled() -> tuple[Signals, re.Pattern[str], re.Pattern[str]]:
    signals = [
        (lang, name, re.compile(_squeeze_pattern(pattern)))
        for lang, rules in all_rules().items()
        for name, pattern in rules
    ]
    figurative = re.compile("|".join(f"(?:{_squeeze_pattern(p)})" for p in all_blanks()))
    return signals, figurative, _any_of(signals)


def _any_of(signals: Signals) -> re.Pattern[str]:
    """Return one pattern that matches where any rule matches.

    Almost every message matches no rule, and one search of the joined rules costs a half to a third of
    searching them one by one; the rules are searched one by one only to name those that matched.
    """
    patterns = [pattern.pattern for _, _, pattern in signals]
    if any(_GROUP_REFERENCES.search(p) for p in patterns):
        raise ValueError(
            "a crisis rule refers to a group; rules joined into one pattern would change meaning"
        )
    return re.compile("|".join(f"(?:{p})" for p in patterns))


@lru_cache(maxsize=1)
def _stopwords() -> dict[str, frozenset[str]]:
    return {lang: frozenset(_squeeze(words).split()) for lang, words in STOPWORDS.items()}


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.replace("ß", "ss"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# Spanish puts the pronoun either side ("me voy a matar" = "voy a matarme"); the patterns know the second.
# First person only: "me va a matar" ("she'll kill me") is someone else's doing, usually a figure of speech.
_CLITIC_ES = re.compile(
    r"\bme (voy a|quiero|queria|quisiera|pienso|puedo|tengo que|gustaria) "
    r"(\w*(?:ar|er|ir))\b"
)


def _move_clitic(match: re.Match[str]) -> str:
    return f"{match.group(1)} {match.group(2)}me"


def prepare(text: str) -> str:
    """Return text the way the patterns read it (lower case, plain letters, squeezed runs)."""
    text = _strip_accents(normalize_text(text).lower().replace("\u2019", "'").replace("\u2018", "'"))
    text = _LEET_IN_WORD.sub(lambda m: m.group().translate(_LEET).replace("*", "i"), text)
    text = _SPACED_LETTERS.sub(lambda m: re.sub(r"[ .\-_*]", "", m.group()), text)
    text = _PUNCT.sub(" ", text)
    text = _TYPO_RE.sub(lambda m: _TYPOS[m.group()], text)
    text = _CLITIC_ES.sub(_move_clitic, _SPACES.sub(" ", text))
    return _squeeze(text).strip()


def detect_locale(prepared: str) -> str | None:
    """Return the language whose common words appear most in prepared text, or None if none appear."""
    words = prepared.split()
    counts = {lang: sum(w in common for w in words) for lang, common in _stopwords().items()}
    best = max(counts, key=lambda lang: counts[lang])
    return best if counts[best] > 0 else None


def rule_hits(prepared: str) -> list[tuple[str, str]]:
    """Return the (language, rule) pairs that match prepared text once figures of speech are blanked."""
    signals, figurative, any_signal = _compiled()
    literal = figurative.sub(" ", prepared)
    if not any_signal.search(literal):
        return []
    return [(lang, name) for lang, name, pattern in signals if pattern.search(literal)]


# The rules that fire on a bare word whoever it is about: "suicide", "Suizid" (suicide_word) and
# "self-harm", "overdose", "autolesión", "scarification", "Überdosis" (topic_word). News, school and
# third-person talk that no blank catches reach the check through them, so the model may clear them.
KEYWORD_RULE = "suicide_word"
TOPIC_RULES = frozenset({KEYWORD_RULE, "topic_word"})


def keyword_only(hits: Sequence[tuple[str, str]]) -> bool:
    """Return whether rules fired and every one of them was a bare-word rule (``TOPIC_RULES``)."""
    return bool(hits) and all(name in TOPIC_RULES for _, name in hits)


# A message of only a few words that names suicide or self-harm ("suicide", "s.u.i.c.i.d.e", "overdose
# tonight") has no context that would make it someone else's: the model may not clear it.
VETO_MIN_WORDS = 4


def vetoable(hits: Sequence[tuple[str, str]], prepared: str) -> bool:
    """Return whether the model may clear the rules' verdict: only bare-word rules fired, in a message
    long enough to be about something else."""
    return keyword_only(hits) and len(prepared.split()) >= VETO_MIN_WORDS


def combined_verdict(
    rules_hit: bool, only_keyword: bool, probability: float, fire_at: float, veto_below: float
) -> bool:
    """Decide from the rules and the model: the rules, unless only bare words fired (``vetoable``) on a
    text the model finds very unlikely; or the model alone when it is confident. Thresholds come with the
    model (``bench/train_crisis.py`` chose them by cross-validation)."""
    if rules_hit and not (only_keyword and probability < veto_below):
        return True
    return probability >= fire_at


def _rules_result(hits: list[tuple[str, str]], guessed: str | None) -> CrisisResult:
    hit_langs = [lang for lang, _ in hits]
    # The English bare words ("suicid...", "overdose") match in every language; the others name theirs.
    specific = [lang for lang, name in hits if name not in TOPIC_RULES or lang != "en"] or hit_langs
    locale = guessed if guessed in hit_langs else specific[0]
    return CrisisResult(
        hit=True, locale=locale, signals=tuple(dict.fromkeys(f"{lang}.{name}" for lang, name in hits))
    )


_WARMING = threading.Lock()


def warm() -> None:
    """Compile the rules and load the model now rather than in the first message's check.

    Compiling the rules' patterns takes a second or two of CPU; a bot calls this in a thread at startup
    (``CrisisProtocol.ready``) so that neither the first person to write nor the event loop waits for it.
    Safe from several threads: one compiles, the others wait for it.
    """
    with _WARMING:
        _compiled()
        _stopwords()
        default_model()


def check(text: str) -> CrisisResult:
    """Check one message for signals of suicide or self-harm, in any of the supported languages."""
    prepared = prepare(text)
    hits = rule_hits(prepared)
    guessed = detect_locale(prepared)
    only_keyword = vetoable(hits, prepared)
    if hits and not only_keyword:
        return _rules_result(hits, guessed)  # the model can neither add to nor take from this verdict
    model = default_model()
    if model is None:  # the weights could not be read (logged once): the rules alone decide
        return _rules_result(hits, guessed) if hits else CrisisResult(hit=False, locale=guessed)
    probability = model.probability(prepared)
    if not combined_verdict(bool(hits), only_keyword, probability, model.fire_at, model.veto_below):
        return CrisisResult(hit=False, locale=guessed)
    if hits:
        return _rules_result(hits, guessed)
    return CrisisResult(hit=True, locale=guessed, signals=(f"{guessed}.model" if guessed else "model",))
