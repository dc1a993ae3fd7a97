"""Time expressions in a recall query: "yesterday", "last week", "2 days ago", "in May", "on 8 May 2023"...

``find_timeframe(text, now)`` returns the first expression it understands (a calendar date before any
other) as a half-open UTC window ``[start, end)`` relative to ``now`` (the moment the question is asked),
and where it was in the text so the lexical search can leave those words out. Calendar units are whole:
"2 weeks ago" is the Monday-to-Monday week that held that day, "in May" the most recent May that has
begun. Seasons are the northern meteorological ones (summer is June to August). Times are UTC: Kindred
records turns in UTC and knows no one's time zone, so a window can be off by the person's offset at its
edges.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sept", "sep"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
# Full names only: "sat", "wed" and "sun" are ordinary words far more often than weekdays.
WEEKDAYS = {
    name: number
    for number, name in enumerate(
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    )
}
# Month of the year each season starts in, and how many months it lasts.
SEASONS = {"spring": 3, "summer": 6, "autumn": 9, "fall": 9, "winter": 12}
NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "couple of": 2,
    "a couple of": 2,
    "three": 3,
    "few": 3,
    "a few": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}

_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_WEEKDAY = "|".join(sorted(WEEKDAYS, key=len, reverse=True))
_SEASON = "|".join(SEASONS)
_NUMBER = r"\d{1,3}|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))
_UNIT = r"day|week|month|year"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:19|20)\d{2})"

# Ordered: longer, more specific forms first, so "on 8 May 2023" is not read as "in May".
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "date",
        re.compile(rf"\b(?:on\s+)?(?:the\s+)?{_DAY}\s+(?:of\s+)?(?P<month>{_MONTH})\.?,?(?:\s+{_YEAR})?\b"),
    ),
    # Month first: "May 8" alone is too often "may" and a number, so it needs "on", an ordinal or a year.
    ("date", re.compile(rf"\bon\s+(?P<month>{_MONTH})\.?\s+{_DAY}(?:,?\s+{_YEAR})?\b")),
    ("date", re.compile(rf"\b(?P<month>{_MONTH})\.?\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)(?:,?\s+{_YEAR})?\b")),
    ("date", re.compile(rf"\b(?P<month>{_MONTH})\.?\s+(?P<day>\d{{1,2}}),?\s+{_YEAR}\b")),
    ("ago", re.compile(rf"\b(?P<n>{_NUMBER})\s+(?P<unit>{_UNIT})s?\s+ago\b")),
    ("day_before_yesterday", re.compile(r"\b(?:the\s+)?day\s+before\s+yesterday\b")),
    ("yesterday", re.compile(r"\byesterday\b|\blast\s+night\b")),
    ("today", re.compile(r"\btoday\b|\btonight\b|\bthis\s+(?:morning|afternoon|evening)\b")),
    ("weekend", re.compile(r"\b(?P<which>last|this|past)\s+weekend\b")),
    ("relative", re.compile(rf"\b(?P<which>last|this|past|previous)\s+(?P<unit>{_UNIT})\b")),
    # A bare "fall" or "spring" is usually not a season: a season needs a lead word or a year.
    (
        "season",
        re.compile(
            rf"\b(?:(?P<which>last|this|past)\s+|(?:in|during)\s+(?:the\s+)?)(?P<season>{_SEASON})\b"
            rf"(?:\s+(?:of\s+)?{_YEAR})?"
        ),
    ),
    ("season", re.compile(rf"\b(?P<season>{_SEASON})\s+(?:of\s+)?{_YEAR}\b")),
    ("weekday", re.compile(rf"\b(?:(?P<which>last|this|past|on)\s+)?(?P<weekday>{_WEEKDAY})\b")),
    (
        "month",
        re.compile(rf"\b(?:(?P<which>in|last|this|during|since)\s+)(?P<month>{_MONTH})\b(?:,?\s+{_YEAR})?"),
    ),
    ("month", re.compile(rf"\b(?P<month>{_MONTH})\s+{_YEAR}\b")),
    ("year", re.compile(rf"\b(?:in|during)\s+{_YEAR}\b")),
    ("recent", re.compile(r"\b(?:recently|lately|these\s+days)\b")),
]
RECENT_DAYS = 30


@dataclass(frozen=True, slots=True)
class Timeframe:
    """A UTC window ``[start, end)`` named in a query, and the span of text that named it."""

    start: datetime
    end: datetime
    phrase: str
    span: tuple[int, int]

    def contains(self, when: datetime) -> bool:
        """Return whether ``when`` falls inside the window."""
        return self.start <= when < self.end

    def distance_days(self, when: datetime) -> float:
        """Return how many days ``when`` lies outside the window (0 inside)."""
        if when < self.start:
            return (self.start - when).total_seconds() / 86_400
        if when >= self.end:
            return (when - self.end).total_seconds() / 86_400
        return 0.0


def find_timeframe(text: str, now: datetime | None = None) -> Timeframe | None:
    """Return the first time expression in ``text`` as a window relative to ``now`` (default: now); a
    calendar date ("on 8 May 2023") comes before any other expression, wherever it is."""
    ref = (now or datetime.now(UTC)).astimezone(UTC)
    lowered = text.lower()
    best: tuple[bool, int, Timeframe] | None = None
    for kind, pattern in _PATTERNS:
        for found in pattern.finditer(lowered):
            window = _window(kind, found, ref)
            if window is None:
                continue
            start, end = window
            frame = Timeframe(start, end, found.group(0).strip(), found.span())
            # A calendar date names one day whatever else is said: it wins over an earlier, vaguer
            # expression ("recently, on 8 May 2023"; "last Friday, on 23 January").
            key = (kind != "date", found.start())
            if best is None or key < best[:2]:
                best = (*key, frame)
            break
    return best[2] if best else None


def without_timeframe(text: str, frame: Timeframe | None) -> str:
    """Return ``text`` with the time expression cut out (its words would only add lexical noise)."""
    if frame is None:
        return text
    a, b = frame.span
    return f"{text[:a]} {text[b:]}"


def _day(ref: datetime) -> datetime:
    return ref.replace(hour=0, minute=0, second=0, microsecond=0)


def _month_start(year: int, month: int) -> datetime:
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    return datetime(year, month, 1, tzinfo=UTC)


def _months(year: int, month: int, count: int) -> tuple[datetime, datetime]:
    return _month_start(year, month), _month_start(year, month + count)


def _number(raw: str) -> int | None:
    raw = " ".join(raw.split())
    if raw.isdigit():
        return int(raw)
    return NUMBER_WORDS.get(raw)


def _window(kind: str, m: re.Match[str], ref: datetime) -> tuple[datetime, datetime] | None:
    today = _day(ref)
    groups = m.groupdict()
    if kind == "date":
        return _date_window(groups, ref)
    if kind == "ago":
        return _ago_window(groups, ref)
    if kind == "day_before_yesterday":
        return today - timedelta(days=2), today - timedelta(days=1)
    if kind == "yesterday":
        return today - timedelta(days=1), today
    if kind == "today":
        return today, today + timedelta(days=1)
    if kind == "weekend":
        monday = today - timedelta(days=today.weekday())
        # "this weekend" is the one of this Monday-to-Sunday week; "last weekend" the one before it.
        saturday = monday + timedelta(days=5 if groups["which"] == "this" else -2)
        return saturday, saturday + timedelta(days=2)
    if kind == "relative":
        return _relative_window(groups["which"], groups["unit"], ref)
    if kind == "season":
        return _season_window(groups, ref)
    if kind == "weekday":
        return _weekday_window(groups, ref)
    if kind == "month":
        return _month_window(groups, ref)
    if kind == "year":
        year = int(groups["year"])
        return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    if kind == "recent":
        return today - timedelta(days=RECENT_DAYS), today + timedelta(days=1)
    raise ValueError(f"unknown time expression kind {kind!r}")


def _date_window(groups: dict[str, str | None], ref: datetime) -> tuple[datetime, datetime] | None:
    month = MONTHS[str(groups["month"])]
    day = int(str(groups["day"]))
    year = int(str(groups["year"])) if groups.get("year") else ref.year
    try:
        start = datetime(year, month, day, tzinfo=UTC)
    except ValueError:
        return None  # "31 February" names no day
    if not groups.get("year") and start > ref:
        try:
            start = start.replace(year=year - 1)  # "on 8 May" said in March means last May
        except ValueError:
            return None
    return start, start + timedelta(days=1)


def _ago_window(groups: dict[str, str | None], ref: datetime) -> tuple[datetime, datetime] | None:
    n = _number(str(groups["n"]))
    if n is None:
        return None
    unit = str(groups["unit"])
    if unit == "day":
        day = _day(ref - timedelta(days=n))
        return day, day + timedelta(days=1)
    if unit == "week":
        day = _day(ref - timedelta(weeks=n))
        monday = day - timedelta(days=day.weekday())
        return monday, monday + timedelta(days=7)
    if unit == "month":
        return _months(ref.year, ref.month - n, 1)
    return _months(ref.year - n, 1, 12)


TRAILING = {"day": timedelta(days=1), "week": timedelta(weeks=1), "month": timedelta(days=31)}


def _relative_window(which: str, unit: str, ref: datetime) -> tuple[datetime, datetime]:
    if which == "past":
        # "the past week" is the trailing seven days, not the previous calendar week.
        return ref - TRAILING.get(unit, timedelta(days=366)), ref + timedelta(seconds=1)
    back = 0 if which == "this" else 1
    today = _day(ref)
    if unit == "day":
        return today - timedelta(days=back), today - timedelta(days=back - 1)
    if unit == "week":
        monday = today - timedelta(days=today.weekday()) - timedelta(weeks=back)
        return monday, monday + timedelta(days=7)
    if unit == "month":
        return _months(ref.year, ref.month - back, 1)
    return _months(ref.year - back, 1, 12)


def _season_window(groups: dict[str, str | None], ref: datetime) -> tuple[datetime, datetime]:
    first = SEASONS[str(groups["season"])]
    if groups.get("year"):
        # "summer 2022"; winter belongs to the year it starts in.
        return _months(int(str(groups["year"])), first, 3)
    # The season as it falls in the current year (winter is the one that began last December when now is
    # in January or February).
    year = ref.year - (1 if first == 12 and ref.month < 3 else 0)
    start, end = _months(year, first, 3)
    if groups.get("which") == "this":
        return start, end
    if groups.get("which") in ("last", "past"):
        # The most recent one that is over.
        return (start, end) if end <= ref else _months(year - 1, first, 3)
    # "in the summer": the most recent one that has begun.
    return (start, end) if start <= ref else _months(year - 1, first, 3)


def _weekday_window(groups: dict[str, str | None], ref: datetime) -> tuple[datetime, datetime]:
    today = _day(ref)
    wanted = WEEKDAYS[str(groups["weekday"])]
    back = (today.weekday() - wanted) % 7
    if groups.get("which") == "last" and back == 0:
        back = 7  # "last Monday" said on a Monday is a week ago
    day = today - timedelta(days=back)
    return day, day + timedelta(days=1)


def _month_window(groups: dict[str, str | None], ref: datetime) -> tuple[datetime, datetime]:
    month = MONTHS[str(groups["month"])]
    if groups.get("year"):
        return _months(int(str(groups["year"])), month, 1)
    year = ref.year if month <= ref.month else ref.year - 1
    if groups.get("which") == "last" and month == ref.month:
        year -= 1
    if groups.get("which") == "since":
        return _month_start(year, month), _day(ref) + timedelta(days=1)
    return _months(year, month, 1)
