"""Time expressions in recall queries become windows relative to a fixed reference time."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from storage.recall.fusion import closeness
from storage.recall.timeframe import find_timeframe, without_timeframe

# Thursday 17 August 2023, mid-afternoon.
NOW = datetime(2023, 8, 17, 15, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("query", "start", "end"),
    [
        ("what did we talk about yesterday?", date(2023, 8, 16), date(2023, 8, 17)),
        ("the day before yesterday", date(2023, 8, 15), date(2023, 8, 16)),
        ("anything today", date(2023, 8, 17), date(2023, 8, 18)),
        ("what happened last week", date(2023, 8, 7), date(2023, 8, 14)),
        ("this week", date(2023, 8, 14), date(2023, 8, 21)),
        ("the past week", date(2023, 8, 10), date(2023, 8, 17)),
        ("2 days ago", date(2023, 8, 15), date(2023, 8, 16)),
        ("two weeks ago", date(2023, 7, 31), date(2023, 8, 7)),
        ("a month ago", date(2023, 7, 1), date(2023, 8, 1)),
        ("three years ago", date(2020, 1, 1), date(2021, 1, 1)),
        ("what did she do in May?", date(2023, 5, 1), date(2023, 6, 1)),
        ("in September", date(2022, 9, 1), date(2022, 10, 1)),  # not begun this year yet: last year's
        ("last August", date(2022, 8, 1), date(2022, 9, 1)),
        ("since March", date(2023, 3, 1), date(2023, 8, 18)),
        ("May 2022", date(2022, 5, 1), date(2022, 6, 1)),
        ("on 8 May 2023", date(2023, 5, 8), date(2023, 5, 9)),
        ("the 8th of May", date(2023, 5, 8), date(2023, 5, 9)),
        ("on May 8", date(2023, 5, 8), date(2023, 5, 9)),
        ("May 8th, 2022", date(2022, 5, 8), date(2022, 5, 9)),
        ("on 25 December", date(2022, 12, 25), date(2022, 12, 26)),  # a date still ahead means last year's
        ("last summer", date(2022, 6, 1), date(2022, 9, 1)),  # this one is not over yet
        ("this summer", date(2023, 6, 1), date(2023, 9, 1)),
        ("in the spring", date(2023, 3, 1), date(2023, 6, 1)),
        ("winter 2022", date(2022, 12, 1), date(2023, 3, 1)),
        ("on Monday", date(2023, 8, 14), date(2023, 8, 15)),
        ("last Thursday", date(2023, 8, 10), date(2023, 8, 11)),  # said on a Thursday: a week ago
        ("on Thursday", date(2023, 8, 17), date(2023, 8, 18)),
        ("last weekend", date(2023, 8, 12), date(2023, 8, 14)),
        ("this weekend", date(2023, 8, 19), date(2023, 8, 21)),
        ("in 2021", date(2021, 1, 1), date(2022, 1, 1)),
        ("recently", date(2023, 7, 18), date(2023, 8, 18)),
    ],
)
def test_expression_becomes_its_window(query: str, start: date, end: date) -> None:
    frame = find_timeframe(query, NOW)
    assert frame is not None
    assert (frame.start.date(), frame.end.date()) == (start, end)
    assert frame.start.tzinfo is UTC


@pytest.mark.parametrize(
    "query",
    [
        "what is her favourite food",
        "I may 2 go",  # "may" the verb
        "the sun was out",  # "sun" is not Sunday
        "I had a fall",  # a bare "fall" is not autumn
        "she sat down",
        "the 31 February",  # no such day
        "summer camp memories",  # a bare season word
    ],
)
def test_no_time_expression_means_no_window(query: str) -> None:
    assert find_timeframe(query, NOW) is None


def test_the_first_expression_wins() -> None:
    frame = find_timeframe("yesterday, or maybe last week", NOW)
    assert frame is not None and frame.phrase == "yesterday"


@pytest.mark.parametrize(
    ("query", "day"),
    [
        ("what movie did Nate recently watch on October 6, 2022?", date(2022, 10, 6)),
        ("what did Joanna finish last Friday on 23 January, 2022?", date(2022, 1, 23)),
        ("the cake she made recently, on the 8th of May", date(2023, 5, 8)),
    ],
)
def test_a_calendar_date_wins_over_an_earlier_vaguer_expression(query: str, day: date) -> None:
    frame = find_timeframe(query, NOW)
    assert frame is not None and frame.start.date() == day and (frame.end - frame.start).days == 1
    # Only the date is cut from the lexical text; the vaguer words stay as words.
    left = without_timeframe(query, frame).lower()
    assert ("recently" in left or "friday" in left) and "2022" not in left and " may" not in left


def test_leap_day_without_a_year_goes_back_to_the_last_one_that_existed() -> None:
    assert find_timeframe("on 29 February", datetime(2024, 3, 1, tzinfo=UTC)) is not None
    assert find_timeframe("on 29 February", datetime(2023, 3, 1, tzinfo=UTC)) is None


def test_winter_in_january_is_the_one_that_began_in_december() -> None:
    frame = find_timeframe("this winter", datetime(2024, 1, 10, tzinfo=UTC))
    assert frame is not None and frame.start.date() == date(2023, 12, 1)


def test_the_expression_is_cut_from_the_lexical_text() -> None:
    query = "what did Caroline do last week at the park"
    frame = find_timeframe(query, NOW)
    assert "week" not in without_timeframe(query, frame) and "park" in without_timeframe(query, frame)
    assert without_timeframe(query, None) == query


def test_closeness_is_one_inside_and_halves_per_window_length_outside() -> None:
    frame = find_timeframe("last week", NOW)
    assert frame is not None
    assert closeness(frame, datetime(2023, 8, 9, tzinfo=UTC)) == 1.0
    assert closeness(frame, datetime(2023, 8, 21, tzinfo=UTC)) == pytest.approx(0.5)
    assert closeness(frame, datetime(2023, 7, 24, tzinfo=UTC)) == pytest.approx(0.25)
