"""Words for lexical recall: tokens, stop words, and full-text queries that survive any user text.

Both query builders keep only word characters (``\\w``, so any script, digits and underscores) from the user's
text and join them with the engine's OR operator. Nothing the user types can reach the query syntax: quotes,
``NEAR``, ``*``, ``:``, ``&``, ``!`` and parentheses are separators here, never operators.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_WORD = re.compile(r"[\w']+", re.UNICODE)
_TOKEN = re.compile(r"\w+", re.UNICODE)
# A query of more terms than this only adds noise and time; the first ones carry the question.
MAX_TERMS = 32
# Terms are cut to this length: a pasted blob must not make a query the engine chokes on.
MAX_TERM_CHARS = 48

STOP_WORDS = frozenset(
    """
    a about after again all also am an and any are as at be been before being but by can could did do does
    doing done during each else ever for from get gets got had has have having he her here hers herself him
    himself his how i if in into is it its itself just like me might more most much must my myself no nor
    not now of off on once only or other our ours out over own same shall she should so some such than that
    the their theirs them themselves then there these they this those through to too under until up upon us
    very was we were what whatever when where whether which while who whom whose why will with would you
    your yours yourself yourselves i'm i've i'd i'll you're you've it's that's what's let's don't didn't
    doesn't isn't wasn't aren't weren't can't couldn't won't wouldn't shouldn't
    """.split()  # noqa: SIM905 - a word list reads better as words
)


def fold(text: str) -> str:
    """Return ``text`` compatibility-normalised and case-folded, so "Ｃａｆé" and "café" compare equal."""
    return unicodedata.normalize("NFKC", text).casefold()


def content_words(text: str) -> list[str]:
    """Return the content words of ``text``: folded, without stop words or one-letter words."""
    words = (w.strip("'") for w in _WORD.findall(fold(text)))
    return [w for w in words if len(w) > 1 and w not in STOP_WORDS]


def search_tokens(text: str, limit: int = MAX_TERMS) -> list[str]:
    """Return the distinct content tokens of ``text`` (word characters only), first seen first."""
    out: dict[str, None] = {}
    for word in content_words(text):
        for token in _TOKEN.findall(word):
            token = token[:MAX_TERM_CHARS]
            if len(token) > 1 and token not in STOP_WORDS:
                out.setdefault(token, None)
        if len(out) >= limit:
            break
    return list(out)[:limit]


def without_names(tokens: list[str], names: Iterable[str]) -> list[str]:
    """Return ``tokens`` without the words of ``names`` (people's names, as ``search_tokens`` splits them).

    For the full-text query over turns: in a place where people talk, their names are said all the time
    ("thanks, Bob!"), so a name in a question matches greetings rather than what was asked about. Recall
    still knows the question named them (the speaker boost reads the whole question).
    """
    left_out = {token for name in names for token in search_tokens(name)}
    return [t for t in tokens if t not in left_out]


# No word is matched as a prefix (FTS5 ``"word"*``, PostgreSQL ``'word':*``): porter stemming already joins
# most forms of a word ("camps", "camping"; "adopting", "adoption"), and a prefix query cannot seek through
# the asking person's rows. FTS5 merges the postings of every indexed word with that prefix, over every
# person, before narrowing them to one: at 1M memories over 10,000 people a common long word made a tenth
# of searches take 45 to 60 ms. Without prefixes those fell to 9 to 17 ms (p90), for two
# LoCoMo questions of 1,345 (docs/memory.md, "Prefixes and scale").


def fts5_match(tokens: list[str]) -> str | None:
    """Return an FTS5 MATCH expression that matches any of ``tokens`` (None when there are none).

    Each token is a quoted string (a quote inside is doubled, though ``\\w`` tokens hold none), so FTS5's
    keywords and column filters are plain words here.
    """
    parts = ['"' + token.replace('"', '""') + '"' for token in tokens if token]
    return " OR ".join(parts) if parts else None


def tsquery_text(tokens: list[str]) -> str | None:
    """Return text for PostgreSQL's ``to_tsquery`` that matches any of ``tokens`` (None when none).

    ``\\w`` tokens carry no tsquery operator; each is still quoted as a lexeme so that it is read as one,
    as in the FTS5 query.
    """
    parts = ["'" + token.replace("'", "''") + "'" for token in tokens if token]
    return " | ".join(parts) if parts else None
