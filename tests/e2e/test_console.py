"""`kindred chat` as a person uses it: a real subprocess, the real openai client, a fake model server."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from bot.errors import EXIT_CONFIG, EXIT_OK
from tests.fakes.openai_api import FakeOpenAI

REPO = Path(__file__).resolve().parents[2]


def chat(tmp_path: Path, lines: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("KINDRED") and k not in ("DISCORD_TOKEN", "OPENAI_API_KEY", "OPENAI_BASE_URL")
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--user", "sam"],
        cwd=REPO,
        env={
            **base,
            "KINDRED__STORAGE__DATA_DIR": str(tmp_path / "data"),
            "HF_HUB_OFFLINE": "1",
            "KINDRED__PIPELINE__COALESCE_WINDOW_S": "0",
            **env,
        },
        input=lines,
        capture_output=True,
        text=True,
        timeout=120,
    )


def model_env(server: FakeOpenAI) -> dict[str, str]:
    return {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "test", "KINDRED__LLM__MODEL": "chat-a"}


async def test_without_a_model_it_says_what_to_set(tmp_path: Path) -> None:
    result = await asyncio.to_thread(chat, tmp_path, "hello\n", {})
    assert result.returncode == EXIT_CONFIG
    assert "OPENAI_API_KEY" in result.stderr and "http://localhost:11434/v1" in result.stderr


async def test_reply_streams_to_the_terminal(tmp_path: Path, openai_server: FakeOpenAI) -> None:
    openai_server.configure("chat-a", reply="Hello Sam, good to meet you.")
    result = await asyncio.to_thread(chat, tmp_path, "hi there\n/quit\n", model_env(openai_server))
    assert result.returncode == EXIT_OK, result.stderr
    assert "Kindred: Hello Sam, good to meet you." in result.stdout


async def test_remembered_after_quitting_and_starting_again(
    tmp_path: Path, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", reply="That's lovely.")
    first = await asyncio.to_thread(
        chat,
        tmp_path,
        "My sister Maya just started studying marine biology\n/quit\n",
        model_env(openai_server),
    )
    assert first.returncode == EXIT_OK, first.stderr
    second = await asyncio.to_thread(
        chat, tmp_path, "/reset\nwhat is my sister studying?\n/quit\n", model_env(openai_server)
    )
    assert second.returncode == EXIT_OK, second.stderr
    # The reply is streamed; background reflection makes plain calls of its own.
    prompt = [r for r in openai_server.requests if r.path.endswith("/chat/completions") and r.stream][-1]
    system = str(prompt.messages[0]["content"])
    assert "marine biology" in system  # recalled from the first session, not in the fresh window
    assert all("marine" not in str(m["content"]) for m in prompt.messages[1:-1])


async def test_unknown_command_is_explained(tmp_path: Path, openai_server: FakeOpenAI) -> None:
    result = await asyncio.to_thread(chat, tmp_path, "/dance\n/quit\n", model_env(openai_server))
    assert "unknown command /dance" in result.stdout
