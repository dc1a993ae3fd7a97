"""The model server misbehaves while people talk: 500s, 429s with Retry-After, timeouts, and fact
extraction replies that are not JSON. People get a notice instead of a reply while no model answers,
their turns are kept, reflection waits for the model and then runs once, and `/healthz` shows the model
part degraded and then ok again."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.discord_api import FakeDiscord
from tests.fakes.openai_api import FakeOpenAI, RecordedRequest
from tests.faults.harness import (
    MODEL,
    Script,
    Stream,
    check_invariants,
    extraction_reply,
    is_extraction,
    make_settings,
    part,
    running,
    settled,
    wait_health,
)

NOTICE = "can't reach my language model"


def notice(text: str) -> bool:
    return NOTICE in text


def llm_degraded(body: dict[str, object]) -> bool:
    return body["status"] == "degraded" and part(body, "llm")["status"] == "degraded"


def all_ok(body: dict[str, object]) -> bool:
    return body["status"] == "ok"


async def run_outage(
    tmp_path: Path, fake: FakeDiscord, openai: FakeOpenAI, start: dict[str, object], stop: dict[str, object]
) -> str:
    """Talk, break the model with ``start``, talk through it, mend it with ``stop``, talk again; check."""
    script = Script()
    openai.configure(MODEL, reply=script)
    settings = make_settings(tmp_path / "data", openai, timeout_s=1.0)
    stream = Stream.of(fake)
    async with running(settings, fake):
        port = settings.ops.http_port
        await wait_health(port, all_ok, "ok at start")
        await stream.round()
        openai.configure(MODEL, **start)
        for user in stream.people:  # the bot keeps answering, with a notice instead of a reply
            await stream.say(user, expect=notice)
        body = await wait_health(port, llm_degraded, "the model part degraded")
        detail = str(part(body, "llm")["detail"])
        assert body["http"] == 200  # degraded, not down: orchestrators must not restart the bot for this
        openai.configure(MODEL, **stop)
        await wait_health(port, all_ok, "ok again after the model returned")
        # A recovering circuit lets one probe through: one person first, then everyone at once.
        await stream.say(stream.people[0])
        await stream.round()
        book = await settled(settings.storage.sql_url(), stream)
    check_invariants(book, stream)
    # Reflection was held back during the outage, not failed: each message's facts were extracted once.
    assert all(script.extractions[s.tag] == 1 for s in stream.sent), script.extractions
    assert all(attempts == 0 for _, attempts in book.jobs.values()), "an outage counted as a job failure"
    return detail


# (how the model breaks, how it is mended, what the health detail must say)
OUTAGES: dict[str, tuple[dict[str, object], dict[str, object], str]] = {
    "500s": ({"status_for": lambda _r: 500}, {"status_for": None}, "circuit"),
    # Retry-After is honoured: the model is skipped for the pause it asked for, not hammered.
    "429s with Retry-After": (
        {"rate_limit_times": 1000, "retry_after": "2"},
        {"rate_limit_times": 0},
        "rate limited for",
    ),
    "timeouts": ({"hang": True}, {"hang": False}, "circuit"),
}


@pytest.mark.parametrize("outage", list(OUTAGES))
async def test_a_model_outage_leaves_notices_and_delays_reflection_until_it_returns(
    tmp_path: Path, fake_discord: FakeDiscord, openai_server: FakeOpenAI, outage: str
) -> None:
    start, stop, expected = OUTAGES[outage]
    detail = await run_outage(tmp_path, fake_discord, openai_server, start, stop)
    assert f"{MODEL} {expected}" in detail


async def test_unreadable_extraction_json_is_repaired_or_dropped_without_failing_the_job(
    tmp_path: Path, fake_discord: FakeDiscord, openai_server: FakeOpenAI
) -> None:
    script = Script()
    broken: dict[str, list[str]] = {}  # tag -> replies still to give, first the extraction then the repair

    def answer(request: RecordedRequest) -> str:
        text = script(request)
        last = str(request.messages[-1].get("content"))
        if is_extraction(request):
            for tag, replies in broken.items():
                if tag in last and replies:
                    return replies.pop(0)
        return text

    openai_server.configure(MODEL, reply=answer)
    settings = make_settings(tmp_path / "data", openai_server)
    stream = Stream.of(fake_discord, size=2)
    # q0001: prose-wrapped JSON with a trailing comma, mended locally; q0002: broken, repaired by the
    # model; q0003: broken twice, dropped; q0004: a 200 whose HTTP body is cut off, once.
    broken["q0001"] = ["Sure! ```json\n" + extraction_reply("q0001")[:-1] + ",}\n```"]
    broken["q0002"] = ['{"facts": [{"key": "note:q0002"', extraction_reply("q0002")]
    async with running(settings, fake_discord):
        await wait_health(settings.ops.http_port, all_ok, "ok at start")
        first, second = stream.people
        await stream.say(first)
        await stream.say(second)
        # The repair request carries the broken text, not the tag's message: the tag is in it all the same.
        broken["q0003"] = ["{facts: [", "still {not json"]
        await stream.say(first)
        once = iter([True])  # one broken body: the job is held back, retried and stores its fact once
        openai_server.configure(
            MODEL,
            malformed_for=lambda r: is_extraction(r) and "q0004" in str(r.messages) and next(once, False),
        )
        await stream.say(second)
        book = await settled(settings.storage.sql_url(), stream)
        body = await wait_health(settings.ops.http_port, all_ok, "ok throughout")
    assert part(body, "llm")["status"] == "ok"
    dropped = {"q0003"}
    kept = [s for s in stream.sent if s.tag not in dropped]
    check_invariants(book, Stream(fake_discord, stream.people, kept))
    for sent in stream.sent:
        assert book.jobs[f"semantic:discord:{sent.user.id}:m{sent.message_id}"][0] == "done"
    assert not [key for (_, key) in book.memories if key == "note:q0003"]
    assert script.extractions["q0004"] == 2  # the cut-off reply, then the retry that stored the fact once
