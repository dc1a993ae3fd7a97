"""Reflection's pure parts: JSON mending and checking, style rules, extractive summaries, budget days."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.reflection.budget import budget_bucket, render_status, seconds_to_midnight
from bot.reflection.episodic import extractive_summary, transcript
from bot.reflection.extraction import (
    EXTRACTION_SCHEMA,
    ExtractionError,
    StyleUpdate,
    normalise_key,
    parse_json,
    validate,
)
from bot.reflection.procedural import detect_style, merge_style, render_style
from storage.records import TurnRecord
from storage.scope import Scope

GOOD: dict[str, object] = {"facts": [], "style": None}


def fact(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "subject": "self",
        "about": None,
        "key": "lives_in",
        "value": "Lisbon",
        "text": "Bob lives in Lisbon.",
        "kind": "fact",
        "importance": 0.8,
    }
    return {**base, **changes}


# ---------------------------------------------------------------- parse_json


def test_plain_json_parses() -> None:
    assert parse_json(json.dumps(GOOD)) == GOOD


def test_json_in_a_code_fence_with_prose_around_it_parses() -> None:
    assert parse_json(f"Sure! Here it is:\n```json\n{json.dumps(GOOD)}\n```\nAnything else?") == GOOD


def test_trailing_commas_are_mended() -> None:
    assert parse_json('{"facts": [1, 2,], "style": null,}') == {"facts": [1, 2], "style": None}


def test_typographic_quotes_are_mended() -> None:
    assert parse_json("{\u201cfacts\u201d: []}") == {"facts": []}


def test_a_reply_without_a_json_object_raises() -> None:
    with pytest.raises(ExtractionError):
        parse_json("{facts: [{key: job")


def test_a_json_list_is_not_taken_for_the_object() -> None:
    with pytest.raises(ExtractionError):
        parse_json("[1, 2]")


# ---------------------------------------------------------------- validate


def test_a_valid_fact_is_kept() -> None:
    [kept] = validate({"facts": [fact()]}, 5).facts
    assert (kept.key, kept.value, kept.about) == ("lives_in", "Lisbon", None)


def test_a_fact_without_a_value_is_dropped_and_counted() -> None:
    result = validate({"facts": [fact(value=""), fact(key="job", value="nurse")]}, 5)
    assert ([f.key for f in result.facts], result.dropped) == (["job"], 1)


def test_a_fact_about_an_unnamed_other_is_dropped() -> None:
    assert validate({"facts": [fact(subject="other", about=None)]}, 5).facts == []


def test_a_fact_about_another_person_names_them() -> None:
    [kept] = validate({"facts": [fact(subject="other", about="Alice")]}, 5).facts
    assert kept.about == "Alice"


def test_importance_is_clamped_to_the_unit_interval() -> None:
    facts = validate({"facts": [fact(importance=7), fact(key="job", importance=-1)]}, 5).facts
    assert [f.importance for f in facts] == [1.0, 0.0]


def test_only_the_most_important_facts_are_kept() -> None:
    raw = [fact(key=f"k{i}", importance=i / 10) for i in range(6)]
    assert [f.key for f in validate({"facts": raw}, 2).facts] == ["k5", "k4"]


def test_facts_that_are_not_a_list_raise() -> None:
    with pytest.raises(ExtractionError):
        validate({"facts": "Bob lives in Lisbon"}, 5)


def test_keys_are_normalised() -> None:
    assert normalise_key(" Pet: Dog Name ") == "pet:dog_name"


def test_an_unknown_style_length_is_ignored() -> None:
    style = validate({"facts": [], "style": {"length": "tiny", "tone": "warm"}}, 5).style
    assert (style.length, style.tone) == (None, "warm")


def test_the_schema_is_strict_at_every_level() -> None:
    item = EXTRACTION_SCHEMA["properties"]["facts"]["items"]
    style = EXTRACTION_SCHEMA["properties"]["style"]
    for node in (EXTRACTION_SCHEMA, item, style):
        assert node["additionalProperties"] is False
        assert set(node["required"]) == set(node["properties"])


# ---------------------------------------------------------------- style rules


@pytest.mark.parametrize(
    "text",
    [
        "please keep your answers short",
        "Can you keep it brief?",
        "ok. Be more concise",
        "shorter replies, please",
    ],
)
def test_requests_for_short_answers_are_recognised(text: str) -> None:
    assert detect_style(text).length == "short"


@pytest.mark.parametrize(
    "text",
    ["I'll keep it short: I got the job", "my essay was too long", "the talk was short"],
)
def test_statements_are_not_taken_for_style_requests(text: str) -> None:
    assert detect_style(text).empty


def test_a_request_for_detail_is_recognised() -> None:
    assert detect_style("could you go into more detail").length == "detailed"


def test_a_topic_to_avoid_is_read_back_in_the_third_person() -> None:
    assert detect_style("please don't bring up my ex again").avoid_topics == ("their ex",)


def test_a_pronoun_is_not_taken_for_a_topic() -> None:
    assert detect_style("Don't talk about it, it's fine.").empty


def test_a_person_saying_what_they_do_not_discuss_is_not_a_request() -> None:
    assert detect_style("I don't talk about work on weekends").empty


def test_a_topic_allowed_again_is_recognised() -> None:
    assert detect_style("you can talk about work again").allow_topics == ("work",)


def test_a_tone_request_is_recognised() -> None:
    assert detect_style("please be more casual").tone == "casual"


def test_merging_adds_topics_once_and_allows_them_again() -> None:
    style = merge_style({"avoid_topics": ["work"]}, StyleUpdate(avoid_topics=("Work", "politics")))
    style = merge_style(style, StyleUpdate(allow_topics=("work",)))
    assert style["avoid_topics"] == ["politics"]


def test_a_newer_length_replaces_the_older() -> None:
    assert merge_style({"length": "short"}, StyleUpdate(length="detailed"))["length"] == "detailed"


def test_an_empty_style_renders_nothing() -> None:
    assert render_style({"avoid_topics": []}) == []


# ---------------------------------------------------------------- summaries and budgets


def turn(n: int, text: str, role: str = "user") -> TurnRecord:
    return TurnRecord(n, 1, role, "Bob", text, datetime(2026, 1, 2, 10, n, tzinfo=UTC))


def test_the_extract_keeps_statements_and_leaves_out_small_talk_and_questions() -> None:
    turns = [
        turn(1, "hey there"),
        turn(2, "So, what do you think about cats?"),
        turn(3, "My sister Maya just got engaged to her partner Jo."),
        turn(4, "You should tell me more about the engagement.", role="assistant"),
    ]
    summary = extractive_summary(turns, "Bob")
    assert (
        summary == "Conversation on 2026-01-02: Bob said: My sister Maya just got engaged to her partner Jo."
    )


def test_the_transcript_keeps_the_newest_lines_within_its_bound() -> None:
    turns = [turn(1, "a" * 50), turn(2, "b" * 50)]
    assert transcript(turns, "Bob", "Kindred", 60) == "Bob: " + "b" * 50


def test_dms_spend_the_persons_budget_and_guilds_their_own() -> None:
    assert (budget_bucket(Scope("5")), budget_bucket(Scope("5", "9", "1"))) == ("dm:discord.5", "g9")


def test_budgets_last_until_the_next_utc_midnight() -> None:
    assert seconds_to_midnight(datetime(2026, 1, 2, 23, 59, 30, tzinfo=UTC)) == 30.0


def test_a_note_from_yesterday_reports_nothing_spent() -> None:
    note = {"day": "2026-01-01", "index_only": {"g9": "calls"}, "extraction_failures": 3}
    lines = render_status(note, datetime(2026, 1, 2, tzinfo=UTC))
    assert lines == ["reflection: every budget has room today; no extraction failures"]
