"""``kindred analyze``: read messages one per line, print one JSON object per message.

Each object holds the message, its emotion reading and whether the crisis check fires:
``{"text", "emotion", "emotions": {label: p}, "valence", "intensity", "crisis": true|false}``. Lines are
normalised as the pipeline normalises messages; blank lines are skipped. Nothing is stored or logged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TextIO

from bot.emotion.detector import detect
from bot.safety.crisis import check
from bot.safety.normalize import normalize_text


def analyze_line(text: str) -> dict[str, object]:
    """Return the analysis of one message as a JSON-ready dict."""
    clean = normalize_text(text)
    return {"text": text, **detect(clean).as_dict(), "crisis": check(clean).hit}


def analyze_stream(lines: Iterable[str], out: TextIO) -> int:
    """Write one JSON line per non-blank input line; return how many were written."""
    written = 0
    for line in lines:
        text = line.rstrip("\r\n")
        if not text.strip():
            continue
        out.write(json.dumps(analyze_line(text), ensure_ascii=False) + "\n")
        out.flush()  # one answer per line as it comes, so the command works in a pipe
        written += 1
    return written
