"""Crystal names: from the language model when one is configured, else from each crystal's key terms."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from bot.llm import LLMRouter
from bot.llm.errors import LLMError

log = logging.getLogger(__name__)

MAX_NAME_CHARS = 40
# Each memory is cut to this before it goes to the model: a name needs the gist, not the whole story.
FACET_CHARS = 200
FACETS_FOR_NAMING = 8
_NAME = re.compile(r"[^\w '&-]+", re.UNICODE)

NAMING_PROMPT = (
    "You name themes in a person's memories. Given some related memories, answer with a short, evocative "
    "name for their common theme: two to four words, title case, no quotes, no punctuation at the end, "
    "nothing else."
)


def key_terms(documents: Sequence[Sequence[str]], top: int = 5) -> list[list[str]]:
    """Return each group's most distinctive terms (TF-IDF over the groups, one document per group)."""
    joined = [" ".join(texts) for texts in documents]
    if not joined:
        return []
    # Imported here: scikit-learn takes about a second to import, which every bot start would pay.
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(
        stop_words="english", token_pattern=r"(?u)\b[^\W\d_]{3,}\b", sublinear_tf=True
    )
    try:
        matrix = vectorizer.fit_transform(joined)
    except ValueError:  # nothing but stop words and numbers
        return [[] for _ in joined]
    terms = vectorizer.get_feature_names_out()
    out = []
    for row in range(matrix.shape[0]):
        weights = matrix.getrow(row).toarray().ravel()
        order = sorted(range(len(terms)), key=lambda k: (-weights[k], terms[k]))
        out.append([str(terms[k]) for k in order[:top] if weights[k] > 0])
    return out


def name_from_terms(terms: Sequence[str]) -> str:
    """Return a name built from key terms, e.g. "Climbing & Mountains"."""
    words = [t.capitalize() for t in terms[:2]]
    return " & ".join(words) if words else "Unnamed Theme"


async def name_with_llm(llm: LLMRouter, texts: Sequence[str]) -> str | None:
    """Ask the model for a theme name; None when it fails or answers with something unusable."""
    facets = "\n".join(f"- {t[:FACET_CHARS]}" for t in texts[:FACETS_FOR_NAMING])
    try:
        completion = await llm.complete(
            [{"role": "system", "content": NAMING_PROMPT}, {"role": "user", "content": facets}],
            max_tokens=20,
            temperature=0.3,
        )
    except LLMError as exc:
        log.info("crystal naming fell back to key terms: %s", type(exc).__name__)
        return None
    return clean_name(completion.text)


def clean_name(raw: str) -> str | None:
    """Return a model's answer reduced to a usable name (first line, no quotes or odd symbols), or None."""
    line = raw.strip().splitlines()[0] if raw.strip() else ""
    name = " ".join(_NAME.sub(" ", line.replace("Name:", "")).split()).strip(" '&-")
    if not name:
        return None
    return name[:MAX_NAME_CHARS].rstrip()


def unique(names: Sequence[str], taken: set[str] | None = None) -> list[str]:
    """Return the names made unique (case-insensitively) by numbering repeats: "Work", "Work 2"."""
    seen = {n.casefold() for n in taken or set()}
    out = []
    for name in names:
        candidate, n = name, 2
        while candidate.casefold() in seen:
            candidate = f"{name} {n}"
            n += 1
        seen.add(candidate.casefold())
        out.append(candidate)
    return out
