"""The crisis protocol and the AI disclosure in `kindred chat` (a real subprocess, a fake model server),
and `kindred analyze`."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from bot.emotion import LABELS
from bot.errors import EXIT_OK
from tests.e2e.test_console import REPO, chat, model_env
from tests.fakes.openai_api import FakeOpenAI

REPLY = "I'm here with you."
HELPLINE = "call or text 988"


def console_env(server: FakeOpenAI) -> dict[str, str]:
    return {
        **model_env(server),
        "KINDRED__BOT__LOG_FORMAT": "json",
        "KINDRED__BOT__LOG_LEVEL": "INFO",
        "KINDRED__BOT__COGS": '["cogs.conversation"]',
        # Eighty turns in a few seconds: the rate limit is not what these tests are about.
        "KINDRED__PIPELINE__USER_BURST": "1000",
        "KINDRED__PIPELINE__USER_MESSAGES_PER_MINUTE": "100000",
    }


async def test_crisis_at_turn_one_prints_the_protocol_and_a_reply(
    tmp_path: Path, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", reply=REPLY)
    result = await asyncio.to_thread(
        chat, tmp_path, "i want to kill myself\n/quit\n", console_env(openai_server)
    )
    assert result.returncode == EXIT_OK, result.stderr
    out = result.stdout
    assert out.count(HELPLINE) == 1
    assert out.index(HELPLINE) < out.index(f"Kindred: {REPLY}")  # the protocol first, then Kindred stays
    assert "an AI, not a person" in out  # first contact
    assert "crisis protocol ran" in result.stderr  # the event is logged...
    assert "kill myself" not in result.stderr.lower()  # ...but never its text


async def test_crisis_at_turn_eighty_still_gets_the_protocol(
    tmp_path: Path, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", reply=REPLY)
    lines = "".join(f"tell me something nice, number {n}\n" for n in range(79))
    result = await asyncio.to_thread(
        chat, tmp_path, lines + "i don't want to live anymore\n/quit\n", console_env(openai_server)
    )
    assert result.returncode == EXIT_OK, result.stderr
    out = result.stdout
    assert out.count(f"Kindred: {REPLY}") == 80  # every turn answered, the crisis one included
    assert out.count(HELPLINE) == 1
    replies_before = out[: out.index(HELPLINE)].count(f"Kindred: {REPLY}")
    assert replies_before == 79
    assert out.count("an AI, not a person") == 1  # one conversation well within three hours


def analyze(lines: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "analyze"],
        cwd=REPO,
        input=lines,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_analyze_prints_one_json_object_per_message() -> None:
    result = await asyncio.to_thread(
        analyze, "im so happy today!!\n\nthis homework is killing me\nquiero morir\n"
    )
    assert result.returncode == EXIT_OK, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["text"] for r in rows] == ["im so happy today!!", "this homework is killing me", "quiero morir"]
    for row in rows:
        assert set(row) == {"text", "emotion", "emotions", "valence", "intensity", "crisis"}
        assert set(row["emotions"]) == set(LABELS)
        assert abs(sum(row["emotions"].values()) - 1) < 1e-3
    assert rows[0]["emotion"] == "joy" and rows[0]["valence"] > 0
    assert [r["crisis"] for r in rows] == [False, False, True]
