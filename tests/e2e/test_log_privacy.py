"""A real turn through `kindred chat` with JSON logs: every line parses, and none carries what was said,
what was answered or a secret."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from bot.errors import EXIT_OK
from tests.e2e.test_console import chat
from tests.fakes.openai_api import FakeOpenAI

SAID = "my neighbour Ingrid keeps purple-elephant bees"
ANSWERED = "Purple-elephant bees sound like marmalade-zeppelin magic"
API_KEY = "sk-test-log-privacy-0123456789"


async def test_a_turn_logs_json_without_message_text_or_secrets(
    tmp_path: Path, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", reply=ANSWERED)
    env = {
        "OPENAI_BASE_URL": openai_server.base_url,
        "OPENAI_API_KEY": API_KEY,
        "KINDRED__LLM__MODEL": "chat-a",
        "KINDRED__BOT__LOG_FORMAT": "json",
        "KINDRED__BOT__LOG_LEVEL": "INFO",
        "KINDRED__BOT__COGS": '["cogs.conversation"]',
    }
    result = await asyncio.to_thread(chat, tmp_path, f"{SAID}\n/quit\n", env)
    assert result.returncode == EXIT_OK, result.stderr
    assert ANSWERED in result.stdout  # the turn really happened
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, "the run logged nothing, so the scan below proves nothing"
    records = [json.loads(line) for line in lines]
    assert all({"ts", "level", "logger", "msg"} <= set(record) for record in records)
    logged = result.stderr.lower()
    for fragment in ("ingrid", "purple-elephant", "marmalade-zeppelin", API_KEY.lower()):
        assert fragment not in logged, f"{fragment!r} reached the logs"
