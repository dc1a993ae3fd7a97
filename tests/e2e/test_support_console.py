"""Emotional support in `kindred chat`: consent, style and the mood chart, kept across runs."""

from __future__ import annotations

import asyncio
from pathlib import Path

from PIL import Image

from bot.errors import EXIT_OK
from tests.e2e.test_console import chat, model_env
from tests.fakes.openai_api import FakeOpenAI

STRATEGY = "Support approach for them now: grounding"


def streamed_prompts(server: FakeOpenAI) -> list[str]:
    return [
        "\n".join(str(m.get("content")) for m in r.messages)
        for r in server.requests
        if r.path.endswith("/chat/completions") and r.stream
    ]


async def test_support_commands_shape_replies_and_persist_between_runs(
    tmp_path: Path, openai_server: FakeOpenAI
) -> None:
    openai_server.configure("chat-a", reply="I'm here with you.")
    first = await asyncio.to_thread(
        chat,
        tmp_path,
        "/support optin\n/support style grounding\nI feel really low and sad today\n/quit\n",
        model_env(openai_server),
    )
    assert first.returncode == EXIT_OK, first.stderr
    assert "[Emotional support is on" in first.stdout and "go for grounding first" in first.stdout
    assert STRATEGY in streamed_prompts(openai_server)[-1]

    second = await asyncio.to_thread(
        chat,
        tmp_path,
        "/support show\nstill feeling so low and sad\n/support feedback helped\n/mood 7\n/mood 90\n"
        "/support reset confirm\n/support show\n/quit\n",
        model_env(openai_server),
    )
    assert second.returncode == EXIT_OK, second.stderr
    assert "Preferred style: grounding." in second.stdout and "Last reading: sadness" in second.stdout
    assert STRATEGY in streamed_prompts(openai_server)[-1]
    assert "grounding helped" in second.stdout
    assert "[usage: /mood [7|30]]" in second.stdout
    chart = tmp_path / "data" / "mood" / "console.sam-7d.png"
    assert f"[your mood over the last 7 days: {chart}]" in second.stdout
    assert (
        second.stdout.count("Preferred style: grounding.") == 1
    )  # the second /support show came after reset
    assert "Emotional support: off (your choice)." in second.stdout
    with Image.open(chart) as image:
        assert image.format == "PNG" and image.size == (900, 460)


async def test_bad_support_commands_get_the_usage_and_change_nothing(
    tmp_path: Path, openai_server: FakeOpenAI
) -> None:
    result = await asyncio.to_thread(
        chat,
        tmp_path,
        "/support style hugs\n/support dance\n/support optin\n/support reset\n/support show\n/quit\n",
        model_env(openai_server),
    )
    assert result.returncode == EXIT_OK, result.stderr
    assert "Unknown style 'hugs'" in result.stdout
    assert "usage: /support optin|optout" in result.stdout
    assert "Type `/support reset confirm` to delete it." in result.stdout
    assert "Preferred style: none" in result.stdout and "Emotional support: on (your choice)" in result.stdout
