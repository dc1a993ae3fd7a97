"""The full-text query builders: any user text gives a query the engine accepts, never an operator."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.recall.terms import (
    MAX_TERMS,
    content_words,
    fts5_match,
    search_tokens,
    tsquery_text,
    without_names,
)


@pytest.fixture(scope="module")
def fts() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE VIRTUAL TABLE docs USING fts5(speaker, text, tokenize='porter unicode61 remove_diacritics 2')"
    )
    db.executemany(
        "INSERT INTO docs(speaker, text) VALUES (?, ?)",
        [
            ("Caroline", "I went to the LGBTQ support group yesterday"),
            ("Melanie", "We went camping NEAR the lake, it was lovely"),
            ("Mélanie", "Café crème and adoption papers"),
            ("Bob", 'He said "AND OR NOT" at the meeting'),
        ],
    )
    return db


def matches(db: sqlite3.Connection, text: str) -> list[str]:
    match = fts5_match(search_tokens(text))
    if match is None:
        return []
    return [row[0] for row in db.execute("SELECT text FROM docs WHERE docs MATCH ? ORDER BY rank", (match,))]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_makes_a_query_fts5_accepts(fts: sqlite3.Connection, text: str) -> None:
    matches(fts, text)  # raises sqlite3.OperationalError on a syntax error


@pytest.mark.parametrize(
    "text",
    [
        'caroline" OR "x',
        "NEAR(a b, 3)",
        "AND OR NOT",
        "text:camping",
        "^camp* -lake +group",
        "(((",
        "'; DROP TABLE docs; --",
        '"""',
        "ŝtrange ünïcödé 漢字 😀",
        "\x00\x1f\u200b",
    ],
)
def test_operator_lookalikes_are_plain_words(fts: sqlite3.Connection, text: str) -> None:
    matches(fts, text)


def test_fts5_keywords_typed_by_the_user_match_as_words(fts: sqlite3.Connection) -> None:
    assert matches(fts, "what did he say, NOT and OR?") == []  # stop words and keywords alone find nothing
    assert matches(fts, "near") == ["We went camping NEAR the lake, it was lovely"]


def test_a_column_filter_typed_by_the_user_is_not_one(fts: sqlite3.Connection) -> None:
    # "speaker:Bob" would restrict to the speaker column; here it is two words, and "speaker" matches none.
    assert matches(fts, "speaker:Bob") == ['He said "AND OR NOT" at the meeting']


def test_stemming_finds_related_forms(fts: sqlite3.Connection) -> None:
    assert matches(fts, "adopting") == ["Café crème and adoption papers"]
    assert matches(fts, "adoptions") == ["Café crème and adoption papers"]
    assert matches(fts, "camps") == ["We went camping NEAR the lake, it was lovely"]


def test_no_word_is_a_prefix() -> None:
    # A prefix query merges the postings of every word it starts, over every person (terms.py says why).
    assert fts5_match(["care", "lovely"]) == '"care" OR "lovely"'
    assert tsquery_text(["care", "lovely"]) == "'care' | 'lovely'"


def test_accents_and_width_fold_away(fts: sqlite3.Connection) -> None:
    assert matches(fts, "CAFE") == ["Café crème and adoption papers"]
    assert matches(fts, "ｃａｆé") == ["Café crème and adoption papers"]


def test_content_words_drop_stop_words_and_single_letters() -> None:
    assert content_words("What did I say about the Lake, a?") == ["say", "lake"]


def test_tokens_are_distinct_bounded_and_first_seen_first() -> None:
    words = " ".join(f"word{i}" for i in range(MAX_TERMS + 10))
    assert len(search_tokens(words)) == MAX_TERMS
    assert search_tokens("lake Lake LAKE dog") == ["lake", "dog"]
    assert len(search_tokens("x" * 10_000)[0]) == 48


def test_names_leave_the_query_whatever_their_case_or_form() -> None:
    tokens = search_tokens("What did Caroline's friend ＭＥＬＡＮＩＥ Smith say about Bob's pottery class?")
    names = ["Caroline", "Melanie Smith", "Mélanie"]
    assert without_names(tokens, names) == ["friend", "say", "bob", "pottery", "class"]
    assert without_names(tokens, []) == tokens
    # Only whole words: a name is not a prefix of the words it starts.
    assert without_names(["carol", "caroline", "carolling"], ["Carol"]) == ["caroline", "carolling"]


def test_no_words_means_no_query() -> None:
    assert fts5_match(search_tokens("the and of ?!")) is None
    assert tsquery_text(search_tokens("  ")) is None


@given(st.text(max_size=200))
def test_tsquery_text_is_only_quoted_lexemes_joined_by_or(text: str) -> None:
    query = tsquery_text(search_tokens(text))
    if query is None:
        return
    for part in query.split(" | "):
        lexeme = part.removesuffix(":*")
        assert lexeme.startswith("'") and lexeme.endswith("'")
        assert "'" not in lexeme[1:-1] and all(ch.isalnum() or ch == "_" for ch in lexeme[1:-1])
