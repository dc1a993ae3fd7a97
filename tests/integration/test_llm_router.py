"""The LLM router against the fake OpenAI-compatible server, through the real openai client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bot.config import LLMModelSettings, LLMSettings
from bot.llm import (
    BreakerState,
    LLMRequestError,
    LLMRouter,
    LLMUnavailable,
    StreamInterrupted,
)
from bot.llm.client import CLIENTS_PER_MODEL, PLACEHOLDER_API_KEY
from bot.llm.stats import ModelStats
from tests.fakes.openai_api import FakeOpenAI, RecordedRequest
from tests.fakes.openai_api import openai_server as openai_server

MESSAGES = [
    {"role": "system", "content": "You are Kindred."},
    {"role": "user", "content": "How are you today?"},
]
CHAT = "/v1/chat/completions"


class FakeClock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


RouterFactory = Callable[..., LLMRouter]


@pytest.fixture
async def make_router(openai_server: FakeOpenAI, clock: FakeClock) -> AsyncIterator[RouterFactory]:
    """Build routers over models a, b (model ids model-a, model-b) on the fake server; closed afterwards."""
    routers: list[LLMRouter] = []

    def factory(
        names: tuple[str, ...] = ("a", "b"),
        *,
        vision: tuple[str, ...] = (),
        timeout_s: float = 10.0,
        timeouts: dict[str, float] | None = None,
        **overrides: Any,
    ) -> LLMRouter:
        models = [
            LLMModelSettings(
                name=name,
                base_url=openai_server.base_url,
                model=f"model-{name}",
                vision=name in vision,
                timeout_s=(timeouts or {}).get(name, timeout_s),
            )
            for name in names
        ]
        settings = LLMSettings(models=models, **overrides)
        # No jitter randomness: the pause after a 429 is exactly the maximum jittered wait.
        router = LLMRouter.from_settings(settings, clock=clock, rand=lambda: 1.0)
        routers.append(router)
        return router

    yield factory
    for router in routers:
        await router.close()


async def collect(chunks: AsyncIterator[str]) -> list[str]:
    return [chunk async for chunk in chunks]


def model_stats(router: LLMRouter, name: str) -> Any:
    return next(m for m in router.snapshot().models if m.name == name)


async def test_complete_returns_text_model_and_usage(
    openai_server: FakeOpenAI,
    make_router: RouterFactory,
) -> None:
    openai_server.configure("model-a", reply="Doing well.", usage_prompt_tokens=17, usage_completion_tokens=3)
    router = make_router()

    completion = await router.complete(MESSAGES)

    assert completion.text == "Doing well."
    assert completion.model == "a"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (17, 3)
    assert not completion.usage.estimated


async def test_complete_sends_the_messages_and_response_format(
    openai_server: FakeOpenAI,
    make_router: RouterFactory,
) -> None:
    router = make_router()
    schema = {"type": "json_schema", "json_schema": {"name": "facts", "schema": {"type": "object"}}}

    await router.complete(MESSAGES, response_format=schema)

    sent = openai_server.requests_for("model-a", CHAT)[0]
    assert sent.messages == MESSAGES
    assert sent.body["response_format"] == schema


# The shapes the pipeline sends: text turns of every role, and a turn with an image.
PROMPT_SHAPES = [
    {"role": "system", "content": "You are Kindred.\n\nWhat you remember:\n- a memory"},
    {"role": "user", "content": "earlier"},
    {"role": "assistant", "content": "a reply"},
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "look at this"},
            {"type": "image_url", "image_url": {"url": "https://example.invalid/cat.png"}},
        ],
    },
]


async def test_streamed_request_carries_the_messages_and_parameters_unchanged(
    openai_server: FakeOpenAI,
    make_router: RouterFactory,
) -> None:
    router = make_router(("a",), vision=("a",))

    await collect(router.stream(PROMPT_SHAPES, max_tokens=123, images=True, temperature=0.5))

    sent = openai_server.requests_for("model-a", CHAT)[0]
    assert sent.messages == PROMPT_SHAPES
    assert (sent.body["max_tokens"], sent.body["temperature"], sent.body["stream"]) == (123, 0.5, True)
    assert "extra_body" not in sent.body
    assert sent.headers["authorization"] == f"Bearer {PLACEHOLDER_API_KEY}"


async def test_the_sdk_transform_the_router_skips_would_not_change_its_messages() -> None:
    # The router sends messages past the SDK's request transform (streamed and whole calls); that is only
    # right while the transform would hand them back unchanged (no aliased keys, nothing to format).
    from openai._utils import async_maybe_transform
    from openai.types.chat import completion_create_params

    params = {"model": "m", "messages": PROMPT_SHAPES, "stream": True}
    streaming = completion_create_params.CompletionCreateParamsStreaming

    assert await async_maybe_transform(params, streaming) == params


async def test_stream_yields_the_reply_in_pieces(
    openai_server: FakeOpenAI,
    make_router: RouterFactory,
) -> None:
    openai_server.configure("model-a", reply="A streamed reply.", chunk_chars=3)
    router = make_router()

    chunks = await collect(router.stream(MESSAGES))

    assert len(chunks) > 1
    assert "".join(chunks) == "A streamed reply."


async def test_stream_records_usage_reported_at_the_end_of_the_stream(
    openai_server: FakeOpenAI,
    make_router: RouterFactory,
) -> None:
    openai_server.configure("model-a", usage_prompt_tokens=40, usage_completion_tokens=9)
    router = make_router()

    await collect(router.stream(MESSAGES))

    assert openai_server.requests_for("model-a")[0].body["stream_options"] == {"include_usage": True}
    stats = model_stats(router, "a")
    assert (stats.tokens_in, stats.tokens_out) == (40, 9)


async def test_server_error_on_first_model_falls_back_to_the_second(
    openai_server: FakeOpenAI,
    make_router: RouterFactory,
) -> None:
    openai_server.configure("model-a", fail_times=1, fail_status=500)
    router = make_router()

    completion = await router.complete(MESSAGES)

    assert completion.model == "b"
    assert model_stats(router, "a").failures == 1


async def test_stream_falls_back_when_the_first_model_is_unavailable(
    openai_server: FakeOpenAI,
    make_router: RouterFactory,
) -> None:
    openai_server.configure("model-a", fail_times=1, fail_status=503)
    router = make_router()

    reply = "".join(await collect(router.stream(MESSAGES)))

    assert reply == "Hello from model-b."


async def test_rate_limited_model_is_skipped_until_retry_after_passes(
    openai_server: FakeOpenAI,
    make_router: RouterFactory,
    clock: FakeClock,
) -> None:
    openai_server.configure("model-a", rate_limit_times=1, retry_after="1")
    router = make_router(retry_after_jitter=0.1)

    first = await router.complete(MESSAGES)
    assert first.model == "b"
    assert model_stats(router, "a").rate_limited_for_s == pytest.approx(1.1)

    clock.advance(1.0)
    assert (await router.complete(MESSAGES)).model == "b"
    assert len(openai_server.requests_for("model-a")) == 1

    clock.advance(0.2)
    assert (await router.complete(MESSAGES)).model == "a"


async def test_rate_limit_does_not_count_against_the_breaker(
    openai_server: FakeOpenAI,
    make_router: RouterFactory,
) -> None:
    openai_server.configure("model-a", rate_limit_times=1)
    router = make_router(breaker_failure_threshold=1)

    await router.complete(MESSAGES)

    assert model_stats(router, "a").state == BreakerState.CLOSED
    assert model_stats(router, "a").rate_limited == 1


async def test_retry_after_as_http_date_pauses_the_model(
    openai_server: FakeOpenAI,
    make_router: RouterFactory,
) -> None:
    openai_server.configure("model-a", rate_limit_times=1, retry_after="Fri, 01 Jan 2100 00:00:00 GMT")
    router = make_router(retry_after_cap_s=30, retry_after_jitter=0)

    await router.complete(MESSAGES)

    assert model_stats(router, "a").rate_limited_for_s == pytest.approx(30)


async def test_timeout_falls_back_and_leaves_nothing_pending(
    openai_server: FakeOpenAI,
    make_router: RouterFactory,
) -> None:
    openai_server.configure("model-a", hang=True)
    router = make_router(timeouts={"a": 0.3})

    reply = "".join(await collect(router.stream(MESSAGES)))

    assert reply == "Hello from model-b."
    assert model_stats(router, "a").timeouts == 1
    assert asyncio.all_tasks() == {asyncio.current_task()}
    # The server cancels a handler when its client hangs up, so this drops to 0 once the socket is closed.
    for _ in range(200):
        if openai_server.active_requests == 0:
            break
        await asyncio.sleep(0.05)
    assert openai_server.active_requests == 0


async def test_malformed_json_counts_as_a_failure_and_falls_back(
    openai_server: FakeOpenAI,
    make_router: RouterFactory,
) -> None:
    openai_server.configure("model-a", malformed_times=1)
    router = make_router()

    completion = await router.complete(MESSAGES)

    assert completion.model == "b"
    assert model_stats(router, "a").failures == 1


async def test_malformed_stream_falls_back(
    openai_server: FakeOpenAI,
    make_router: RouterFactory,
) -> None:
    openai_server.configure("model-a", malformed_times=1)
    router = make_router()

    reply = "".join(await collect(router.stream(MESSAGES)))

    assert reply == "Hello from model-b."
    assert model_stats(router, "a").failures == 1


async def test_breaker_opens_after_consecutive_failures_and_the_model_is_skipped(
    openai_server: FakeOpenAI,
    make_router: RouterFactory,
) -> None:
    openai_server.configure("model-a", fail_times=100, fail_status=500)
    router = make_router(breaker_failure_threshold=2)

    for _ in range(3):
        assert (await router.complete(MESSAGES)).model == "b"

    assert model_stats(router, "a").state == BreakerState.OPEN
    assert len(openai_server.requests_for("model-a")) == 2


async def test_half_open_probe_success_closes_the_breaker(
    openai_server: FakeOpenAI,
    make_router: RouterFactory,
    clock: FakeClock,
) -> None:
    openai_server.configure("model-a", fail_times=1, fail_status=500)
    router = make_router(breaker_failure_threshold=1, breaker_cooldown_s=0.5)
    await router.complete(MESSAGES)
    assert model_stats(router, "a").state == BreakerState.OPEN

    clock.advance(0.5)
    probe = await router.complete(MESSAGES)

    assert probe.model == "a"
    assert model_stats(router, "a").state == BreakerState.CLOSED


async def test_half_open_probe_failure_reopens_the_breaker(
    openai_server: FakeOpenAI,
    make_router: RouterFactory,
    clock: FakeClock,
) -> None:
    openai_server.configure("model-a", fail_times=2, fail_status=502)
    router = make_router(breaker_failure_threshold=1, breaker_cooldown_s=0.5)
    await router.complete(MESSAGES)

    clock.advance(0.5)
    answer = await router.complete(MESSAGES)

    assert answer.model == "b"
    snapshot = model_stats(router, "a")
    assert snapshot.state == BreakerState.OPEN
    assert snapshot.retry_in_s == pytest.approx(1.0)


async def test_all_models_failing_raises_llm_unavailable(
    openai_server: FakeOpenAI,
    make_router: RouterFactory,
) -> None:
    openai_server.configure("model-a", fail_times=1, fail_status=500)
    openai_server.configure("model-b", fail_times=1, fail_status=503)
    router = make_router()

    with pytest.raises(LLMUnavailable) as raised:
        await collect(router.stream(MESSAGES))

    assert [name for name, _ in raised.value.attempts] == ["a", "b"]
    assert "500" not in str(raised.value)


async def test_all_breakers_open_raises_llm_unavailable_without_calling(
    openai_server: FakeOpenAI,
    make_router: RouterFactory,
) -> None:
    openai_server.configure("model-a", fail_times=1, fail_status=500)
    openai_server.configure("model-b", fail_times=1, fail_status=500)
    router = make_router(breaker_failure_threshold=1, breaker_cooldown_s=30)
    with pytest.raises(LLMUnavailable):
        await router.complete(MESSAGES)
    sent = len(openai_server.requests)

    with pytest.raises(LLMUnavailable) as raised:
        await router.complete(MESSAGES)

    assert len(openai_server.requests) == sent
    assert raised.value.retry_after_s == pytest.approx(30)


async def test_bad_request_raises_request_error_without_fallback(
    openai_server: FakeOpenAI,
    make_router: RouterFactory,
) -> None:
    openai_server.configure("model-a", fail_times=1, fail_status=400)
    router = make_router(breaker_failure_threshold=1)

    with pytest.raises(LLMRequestError) as raised:
        await router.complete(MESSAGES)

    assert raised.value.status == 400
    assert openai_server.requests_for("model-b") == []
    assert model_stats(router, "a").state == BreakerState.CLOSED


async def test_unknown_model_id_falls_back_to_the_next_model(
    openai_server: FakeOpenAI,
    make_router: RouterFactory,
) -> None:
    openai_server.configure("model-a", fail_times=1, fail_status=404)
    router = make_router()

    assert (await router.complete(MESSAGES)).model == "b"


async def test_stream_broken_after_first_text_raises_with_what_was_streamed(
    openai_server: FakeOpenAI,
    make_router: RouterFactory,
) -> None:
    openai_server.configure("model-a", reply="abcdefghijkl", chunk_chars=4, disconnect_after_chunks=2)
    router = make_router()
    received: list[str] = []

    with pytest.raises(StreamInterrupted) as raised:
        async for chunk in router.stream(MESSAGES):
            received.append(chunk)

    assert raised.value.partial == "abcdefgh" == "".join(received)
    assert openai_server.requests_for("model-b") == []
    assert model_stats(router, "a").failures == 1


async def test_images_go_only_to_vision_models(
    openai_server: FakeOpenAI,
    make_router: RouterFactory,
) -> None:
    router = make_router(("a", "b"), vision=("b",))

    reply = "".join(await collect(router.stream(MESSAGES, images=True)))

    assert reply == "Hello from model-b."
    assert openai_server.requests_for("model-a") == []


async def test_images_without_a_vision_model_raise_llm_unavailable(make_router: RouterFactory) -> None:
    router = make_router(("a",))

    with pytest.raises(LLMUnavailable):
        await router.complete(MESSAGES, images=True)


async def test_set_primary_makes_that_model_answer_first(make_router: RouterFactory) -> None:
    router = make_router()

    router.set_primary("b")

    assert (await router.complete(MESSAGES)).model == "b"
    assert router.snapshot().order == ["b", "a"]


def test_set_primary_rejects_an_unknown_model(make_router: RouterFactory) -> None:
    router = make_router()

    with pytest.raises(ValueError):
        router.set_primary("nope")


def _with_first_token_latency(router: LLMRouter, name: str, seconds: float, samples: int = 3) -> None:
    stats = ModelStats()
    for _ in range(samples):
        stats.record_first_token(seconds)
    router.endpoint(name).stats = stats


def test_much_slower_preferred_model_gives_way_to_a_faster_one(make_router: RouterFactory) -> None:
    router = make_router(latency_min_samples=3, slow_factor=2.0, recover_factor=1.5)
    _with_first_token_latency(router, "a", 1.0)
    _with_first_token_latency(router, "b", 0.4)

    assert [e.name for e in router.candidates()] == ["b", "a"]


def test_moderately_slower_preferred_model_keeps_its_place(make_router: RouterFactory) -> None:
    router = make_router(latency_min_samples=3, slow_factor=2.0, recover_factor=1.5)
    _with_first_token_latency(router, "a", 0.7)
    _with_first_token_latency(router, "b", 0.4)

    assert [e.name for e in router.candidates()] == ["a", "b"]


def test_faster_model_keeps_its_place_until_the_preferred_one_recovers(make_router: RouterFactory) -> None:
    router = make_router(latency_min_samples=3, slow_factor=2.0, recover_factor=1.5)
    _with_first_token_latency(router, "a", 1.0)
    _with_first_token_latency(router, "b", 0.4)
    router.candidates()

    _with_first_token_latency(router, "a", 0.7)  # 1.75x: inside the hysteresis band
    assert router.candidates()[0].name == "b"

    _with_first_token_latency(router, "a", 0.5)  # 1.25x: recovered
    assert router.candidates()[0].name == "a"


async def test_snapshot_reports_latency_and_token_numbers(
    openai_server: FakeOpenAI,
    make_router: RouterFactory,
) -> None:
    openai_server.configure("model-a", usage_prompt_tokens=12, usage_completion_tokens=5)
    router = make_router()

    await collect(router.stream(MESSAGES))
    await router.complete(MESSAGES)

    stats = model_stats(router, "a")
    assert stats.calls == stats.successes == 2
    assert stats.first_token.samples == stats.total.samples == 2
    assert stats.first_token.p50_ms is not None and stats.first_token.p95_ms is not None
    assert stats.total.p50_ms is not None and stats.total.p95_ms is not None
    assert (stats.tokens_in, stats.tokens_out) == (24, 10)
    assert router.snapshot().as_dict()["models"][0]["name"] == "a"


async def test_usage_is_estimated_when_the_server_sends_none(
    openai_server: FakeOpenAI,
    make_router: RouterFactory,
) -> None:
    router = make_router()
    router.endpoint("a").settings.stream_usage = False

    await collect(router.stream(MESSAGES))

    stats = model_stats(router, "a")
    assert "stream_options" not in openai_server.requests_for("model-a")[0].body
    assert stats.tokens_in > 0 and stats.tokens_out > 0


async def test_abandoned_stream_releases_the_half_open_probe(
    openai_server: FakeOpenAI,
    make_router: RouterFactory,
    clock: FakeClock,
) -> None:
    openai_server.configure("model-a", fail_times=1, fail_status=500, reply="x" * 40)
    router = make_router(breaker_failure_threshold=1, breaker_cooldown_s=1)
    await router.complete(MESSAGES)
    clock.advance(1)

    chunks = router.stream(MESSAGES)
    assert await anext(chunks)
    await chunks.aclose()

    assert router.endpoint("a").breaker.state is BreakerState.HALF_OPEN
    assert router.endpoint("a").breaker.available()


def _synthesis_reply(request: RecordedRequest) -> str:
    system = request.messages[0]["content"]
    if "<analytical_draft>" in system:
        return "BLENDED"
    if "analytically" in system:
        return "ANALYTICAL DRAFT"
    if "intuitively" in system:
        return "INTUITIVE DRAFT"
    return "PLAIN"


async def test_synthesis_blends_an_analytical_and_an_intuitive_draft(
    openai_server: FakeOpenAI,
    make_router: RouterFactory,
) -> None:
    openai_server.configure("model-a", reply=_synthesis_reply)
    openai_server.configure("model-b", reply=_synthesis_reply)
    router = make_router(synthesis_enabled=True, synthesis_analytical_weight=0.7, synthesis_blend_model="b")

    reply = "".join(await collect(router.synthesize(MESSAGES)))

    assert reply == "BLENDED"
    blend = openai_server.requests_for("model-b")[-1]
    prompt = blend.messages[0]["content"]
    assert "ANALYTICAL DRAFT" in prompt and "INTUITIVE DRAFT" in prompt
    assert "70%" in prompt and "30%" in prompt
    assert blend.messages[1:] == MESSAGES[1:]


async def test_synthesis_sends_drafts_to_their_configured_models(
    openai_server: FakeOpenAI,
    make_router: RouterFactory,
) -> None:
    openai_server.configure("model-a", reply=_synthesis_reply)
    openai_server.configure("model-b", reply=_synthesis_reply)
    router = make_router(synthesis_analytical_model="a", synthesis_intuitive_model="b")

    await collect(router.synthesize(MESSAGES))

    drafts = [r for r in openai_server.requests if not r.stream]
    by_model = {r.model: r.messages[0]["content"] for r in drafts}
    assert len(drafts) == 2
    assert "analytically" in by_model["model-a"] and "intuitively" in by_model["model-b"]


async def test_synthesis_uses_the_surviving_draft_when_one_fails(
    openai_server: FakeOpenAI,
    make_router: RouterFactory,
) -> None:
    openai_server.configure(
        "model-a",
        reply=_synthesis_reply,
        status_for=lambda r: 500 if "intuitively" in r.messages[0]["content"] else None,
    )
    router = make_router(("a",))

    reply = "".join(await collect(router.synthesize(MESSAGES)))

    assert reply == "ANALYTICAL DRAFT"
    assert not any(r.stream for r in openai_server.requests)


async def test_reply_uses_plain_streaming_when_synthesis_is_off(
    openai_server: FakeOpenAI,
    make_router: RouterFactory,
) -> None:
    openai_server.configure("model-a", reply=_synthesis_reply)
    router = make_router()

    reply = "".join(await collect(router.reply(MESSAGES)))

    assert reply == "PLAIN"
    assert len(openai_server.requests) == 1


async def test_a_models_calls_take_its_clients_in_turn_and_close_closes_them_all(
    openai_server: FakeOpenAI,
    make_router: RouterFactory,
) -> None:
    router = make_router(("a",))
    endpoint = router.endpoint("a")

    taken = [endpoint.client for _ in range(2 * CLIENTS_PER_MODEL)]
    replies = await asyncio.gather(*(collect(router.stream(MESSAGES)) for _ in range(CLIENTS_PER_MODEL)))
    await router.close()

    assert len({id(client) for client in taken}) == CLIENTS_PER_MODEL
    assert taken[:CLIENTS_PER_MODEL] == taken[CLIENTS_PER_MODEL:]
    assert all("".join(reply) == "Hello from model-a." for reply in replies)
    assert all(client.is_closed() for client in endpoint.clients)
