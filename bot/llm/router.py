"""The LLM router: send each call to the healthiest fast model of the fallback chain."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import openai

from bot.config import LLMSettings
from bot.errors import ConfigError
from bot.llm.breaker import BreakerConfig
from bot.llm.client import ModelEndpoint, build_clients
from bot.llm.errors import LLMError, LLMRequestError, LLMUnavailable, StreamInterrupted
from bot.llm.ratelimit import backoff_after_429, parse_retry_after
from bot.llm.stats import ModelSnapshot, RouterSnapshot
from bot.llm.tokens import count_message_tokens, count_tokens

if TYPE_CHECKING:
    from bot.flags import Flags

log = logging.getLogger(__name__)

Message = Mapping[str, Any]
Clock = Callable[[], float]

# A wrong key, a forbidden model or a model id the server does not know is this model's configuration
# problem, not the request's: the next model in the chain may well answer.
_MODEL_CONFIG_STATUSES = {401, 403, 404}


@dataclass(frozen=True)
class Usage:
    """Tokens a call consumed; ``estimated`` when the server did not report them."""

    prompt_tokens: int
    completion_tokens: int
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        """Return prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class Completion:
    """The result of a non-streamed call."""

    text: str
    model: str  # the chain name of the model that answered
    usage: Usage
    finish_reason: str | None = None


@dataclass
class _Attempts:
    """What happened to each model tried for one call (never the prompt or reply text)."""

    tried: list[tuple[str, str]] = field(default_factory=list)
    retry_after_s: float | None = None

    def add(self, name: str, reason: str) -> None:
        self.tried.append((name, reason))

    def unavailable(self, message: str | None = None) -> LLMUnavailable:
        if message is None:
            return LLMUnavailable(attempts=self.tried, retry_after_s=self.retry_after_s)
        return LLMUnavailable(message, attempts=self.tried, retry_after_s=self.retry_after_s)


class LLMRouter:
    """Route chat calls over the configured models with circuit breakers, 429 pauses and latency awareness."""

    def __init__(
        self,
        endpoints: Sequence[ModelEndpoint],
        settings: LLMSettings,
        *,
        clock: Clock | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._endpoints = list(endpoints)
        self._by_name = {e.name: e for e in self._endpoints}
        self.settings = settings
        self._clock = clock or time.monotonic
        self._rand = rand
        self._primary: str | None = None
        # The later model chosen because the preferred one was much slower; kept until that one recovers.
        self._speed_choice: str | None = None
        # Runtime feature flags (set by the admin feature): "synthesis_mode" then decides instead of settings.
        self.flags: Flags | None = None
        if settings.primary is not None:
            self.set_primary(settings.primary)

    @classmethod
    def from_settings(
        cls,
        settings: LLMSettings,
        *,
        clock: Clock | None = None,
        rand: Callable[[], float] = random.random,
    ) -> LLMRouter:
        """Build a router with one client, breaker and stats per model of the configured chain."""
        chain = settings.chain()
        if not chain:
            raise ConfigError("llm: no model is configured; set llm.base_url / llm.api_key or llm.models")
        names = [m.name for m in chain]
        if len(set(names)) != len(names):
            raise ConfigError("llm.models: every model needs a distinct name")
        if settings.recover_factor > settings.slow_factor:
            raise ConfigError("llm.recover_factor must not exceed llm.slow_factor")
        for field_name in (
            "primary",
            "synthesis_analytical_model",
            "synthesis_intuitive_model",
            "synthesis_blend_model",
        ):
            value = getattr(settings, field_name)
            if value is not None and value not in names:
                raise ConfigError(f"llm.{field_name} names a model that is not in the chain")
        breaker = BreakerConfig(
            failure_threshold=settings.breaker_failure_threshold,
            error_rate=settings.breaker_error_rate,
            window_s=settings.breaker_window_s,
            min_calls=settings.breaker_min_calls,
            cooldown_s=settings.breaker_cooldown_s,
            cooldown_multiplier=settings.breaker_cooldown_multiplier,
            max_cooldown_s=settings.breaker_max_cooldown_s,
        )
        endpoints = [
            ModelEndpoint(
                model,
                build_clients(model),
                breaker=breaker,
                stats_window_s=settings.stats_window_s,
                stats_max_samples=settings.stats_max_samples,
                clock=clock,
            )
            for model in chain
        ]
        return cls(endpoints, settings, clock=clock, rand=rand)

    # ------------------------------------------------------------ selection

    @property
    def primary(self) -> str | None:
        """Return the model chosen at run time to be tried first (None: the configured order)."""
        return self._primary

    def set_primary(self, name: str | None) -> None:
        """Try the named model first from now on; None restores the configured order."""
        if name is not None and name not in self._by_name:
            raise ValueError(f"no model named {name!r} in the chain")
        self._primary = name
        self._speed_choice = None
        log.info("primary model set to %s", name or "(configured order)")

    def endpoint(self, name: str) -> ModelEndpoint:
        """Return the endpoint of a model by its chain name."""
        return self._by_name[name]

    def _ordered(self) -> list[ModelEndpoint]:
        if self._primary is None:
            return list(self._endpoints)
        first = self._by_name[self._primary]
        return [first, *(e for e in self._endpoints if e is not first)]

    def _faster_alternative(
        self, preferred: ModelEndpoint, later: list[ModelEndpoint]
    ) -> ModelEndpoint | None:
        """Return a later model to use instead of a much slower preferred one, with hysteresis."""
        min_samples = self.settings.latency_min_samples
        preferred_p50 = preferred.stats.first_token_p50(min_samples)
        if preferred_p50 is None:
            # Too little recent evidence that the preferred model is slow; its samples also age out of the
            # window while it is bypassed, which is what brings traffic back to it for a fresh look.
            self._speed_choice = None
            return None
        # Look at the model already chosen for speed first, so two fast alternatives do not trade places.
        ordered = sorted(later, key=lambda e: e.name != self._speed_choice)
        for candidate in ordered:
            candidate_p50 = candidate.stats.first_token_p50(min_samples)
            if candidate_p50 is None or candidate_p50 <= 0:
                continue
            keeping = candidate.name == self._speed_choice
            factor = self.settings.recover_factor if keeping else self.settings.slow_factor
            if preferred_p50 > factor * candidate_p50:
                if not keeping:
                    log.info(
                        "model %s is much slower than %s (p50 %.0fms vs %.0fms); preferring %s",
                        preferred.name,
                        candidate.name,
                        preferred_p50 * 1000,
                        candidate_p50 * 1000,
                        candidate.name,
                    )
                self._speed_choice = candidate.name
                return candidate
        if self._speed_choice is not None:
            log.info("model %s is fast enough again; preferring it", preferred.name)
        self._speed_choice = None
        return None

    def candidates(self, *, images: bool = False) -> list[ModelEndpoint]:
        """Return the models the next call would try, best first (healthy ones only)."""
        pool = [e for e in self._ordered() if e.settings.vision or not images]
        usable = [e for e in pool if e.usable()]
        if len(usable) > 1:
            faster = self._faster_alternative(usable[0], usable[1:])
            if faster is not None:
                usable.remove(faster)
                usable.insert(0, faster)
        return usable

    def _plan(self, images: bool, prefer: str | None) -> tuple[list[ModelEndpoint], _Attempts]:
        attempts = _Attempts()
        pool = [e for e in self._endpoints if e.settings.vision or not images]
        if not pool:
            raise attempts.unavailable("I can't look at images right now: no image-capable model is set up.")
        plan = self.candidates(images=images)
        if prefer is not None and prefer in self._by_name:
            chosen = self._by_name[prefer]
            if chosen in plan:
                plan.remove(chosen)
                plan.insert(0, chosen)
        if not plan:
            waits = [e.rate_limited_for() or e.breaker.retry_in() for e in pool]
            attempts.retry_after_s = min(waits) if waits else None
            for e in pool:
                attempts.add(e.name, "rate limited" if e.rate_limited_for() else f"circuit {e.breaker.state}")
            log.warning("no model available: %s", ", ".join(f"{n} ({r})" for n, r in attempts.tried))
            raise attempts.unavailable()
        return plan, attempts

    @staticmethod
    def _admit(endpoint: ModelEndpoint, attempts: _Attempts) -> bool:
        # Re-checked per attempt: a concurrent call may have opened the circuit or hit a 429 meanwhile.
        if endpoint.rate_limited_for() > 0:
            attempts.add(endpoint.name, "rate limited")
            return False
        if not endpoint.breaker.try_acquire():
            attempts.add(endpoint.name, f"circuit {endpoint.breaker.state}")
            return False
        return True

    # ------------------------------------------------------------ failure handling

    def _handle_error(self, endpoint: ModelEndpoint, exc: BaseException, attempts: _Attempts) -> None:
        """Record a failed attempt; raise LLMRequestError when the request itself was at fault."""
        name = endpoint.name
        if isinstance(exc, openai.RateLimitError):
            requested = parse_retry_after(exc.response.headers)
            pause = backoff_after_429(
                requested,
                default_s=self.settings.rate_limit_default_s,
                cap_s=self.settings.retry_after_cap_s,
                jitter=self.settings.retry_after_jitter,
                rand=self._rand,
            )
            endpoint.pause_for_rate_limit(pause)
            endpoint.stats.record_rate_limited()
            # A rate limit is about quota, not health: the breaker stays as it is.
            endpoint.breaker.release()
            wait = endpoint.rate_limited_for()
            if attempts.retry_after_s is None or wait < attempts.retry_after_s:
                attempts.retry_after_s = wait
            attempts.add(name, "rate limited")
            log.warning("model %s rate limited; skipping it for %.1fs", name, pause)
            return
        if isinstance(exc, openai.APIStatusError) and exc.status_code < 500:
            if exc.status_code not in _MODEL_CONFIG_STATUSES:
                endpoint.breaker.release()
                code = _error_code(exc)
                log.warning("model %s rejected the request: status %s code %s", name, exc.status_code, code)
                raise LLMRequestError(
                    _request_error_text(exc.status_code, code), model=name, status=exc.status_code, code=code
                ) from exc
            log.error("model %s refused us with status %s; check its key and model id", name, exc.status_code)
            reason = f"status {exc.status_code}"
        elif isinstance(exc, openai.APITimeoutError):
            reason = "timeout"
        elif isinstance(exc, openai.APIStatusError):
            reason = f"status {exc.status_code}"
        elif isinstance(exc, openai.APIConnectionError):
            reason = "connection error"
        else:
            reason = f"bad response ({type(exc).__name__})"
        endpoint.breaker.record_failure()
        endpoint.stats.record_failure(timeout=isinstance(exc, openai.APITimeoutError))
        attempts.add(name, reason)
        log.warning("model %s failed (%s); trying the next model", name, reason)

    # ------------------------------------------------------------ calls

    def _params(
        self,
        endpoint: ModelEndpoint,
        messages: Sequence[Message],
        max_tokens: int | None,
        temperature: float | None,
    ) -> dict[str, Any]:
        settings = endpoint.settings
        params: dict[str, Any] = {
            "model": settings.model,
            "messages": cast(Any, list(messages)),
            settings.max_tokens_param: max_tokens or settings.max_output_tokens,
        }
        if temperature is not None:
            params["temperature"] = temperature
        return params

    async def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        images: bool = False,
        temperature: float | None = None,
        prefer: str | None = None,
    ) -> AsyncGenerator[str, None]:
        """Yield the reply's text as it arrives; fall back to the next model until the first text is out."""
        plan, attempts = self._plan(images, prefer)
        for endpoint in plan:
            if not self._admit(endpoint, attempts):
                continue
            params = self._params(endpoint, messages, max_tokens, temperature)
            if endpoint.settings.stream_usage:
                params["stream_options"] = {"include_usage": True}
            started = time.perf_counter()
            settled = False
            produced: list[str] = []
            usage: Any = None
            response: Any = None
            try:
                try:
                    response = await _open_stream(endpoint.client, params)
                    async for chunk in response:
                        text, chunk_usage = _chunk_parts(chunk)
                        if chunk_usage is not None:
                            usage = chunk_usage
                        if not text:
                            continue
                        if not produced:
                            endpoint.stats.record_first_token(time.perf_counter() - started)
                        produced.append(text)
                        yield text
                except (openai.OpenAIError, ValueError) as exc:
                    settled = True
                    if produced:
                        endpoint.breaker.record_failure()
                        endpoint.stats.record_failure(timeout=isinstance(exc, openai.APITimeoutError))
                        kind = type(exc).__name__
                        log.warning("model %s stream broke after it started (%s)", endpoint.name, kind)
                        raise StreamInterrupted(model=endpoint.name, partial="".join(produced)) from exc
                    self._handle_error(endpoint, exc, attempts)
                    continue
                settled = True
                reply = "".join(produced)
                tokens_in, tokens_out, _ = _usage_numbers(usage, messages, reply, endpoint.settings.model)
                endpoint.breaker.record_success()
                endpoint.stats.record_success(time.perf_counter() - started, tokens_in, tokens_out)
                return
            finally:
                if response is not None:
                    await response.close()
                if not settled:
                    # Cancelled, or the consumer stopped reading: no verdict on the model's health.
                    endpoint.breaker.release()
        raise attempts.unavailable()

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        response_format: Mapping[str, Any] | None = None,
        max_tokens: int | None = None,
        images: bool = False,
        temperature: float | None = None,
        prefer: str | None = None,
    ) -> Completion:
        """Return a whole reply from the first model that answers (for JSON and other non-streamed calls)."""
        plan, attempts = self._plan(images, prefer)
        for endpoint in plan:
            if not self._admit(endpoint, attempts):
                continue
            params = self._params(endpoint, messages, max_tokens, temperature)
            if response_format is not None:
                params["response_format"] = cast(Any, dict(response_format))
            started = time.perf_counter()
            try:
                result = await endpoint.client.chat.completions.create(**_untransformed(params))
                choice = result.choices[0] if result.choices else None
                text = (choice.message.content if choice is not None else None) or ""
            except (openai.OpenAIError, ValueError) as exc:
                self._handle_error(endpoint, exc, attempts)
                continue
            except BaseException:
                # Cancelled: no verdict on the model's health, so give back a probe slot if we held it.
                endpoint.breaker.release()
                raise
            elapsed = time.perf_counter() - started
            model_id = endpoint.settings.model
            tokens_in, tokens_out, estimated = _usage_numbers(result.usage, messages, text, model_id)
            endpoint.breaker.record_success()
            endpoint.stats.record_first_token(elapsed)
            endpoint.stats.record_success(elapsed, tokens_in, tokens_out)
            return Completion(
                text=text,
                model=endpoint.name,
                usage=Usage(tokens_in, tokens_out, estimated),
                finish_reason=choice.finish_reason if choice is not None else None,
            )
        raise attempts.unavailable()

    async def reply(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        images: bool = False,
        temperature: float | None = None,
    ) -> AsyncGenerator[str, None]:
        """Yield a chat reply: synthesised when synthesis is enabled (and no images), else streamed."""
        flags = self.flags
        if images:
            synthesis = False  # the drafts cannot see images
        elif flags is None:
            synthesis = self.settings.synthesis_enabled
        else:
            synthesis = await flags.enabled("synthesis_mode")
        if synthesis:
            replies = self.synthesize(messages, max_tokens=max_tokens, temperature=temperature)
        else:
            replies = self.stream(messages, max_tokens=max_tokens, images=images, temperature=temperature)
        try:
            async with aclosing(replies) as chunks:
                async for text in chunks:
                    yield text
        except LLMError:
            if synthesis and flags is not None:
                # Counted towards the flag's automatic rollback; a whole outage trips the breakers too.
                await flags.record("synthesis_mode", False)
            raise
        if synthesis and flags is not None:
            await flags.record("synthesis_mode", True)

    async def synthesize(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> AsyncGenerator[str, None]:
        """Yield a reply blended from an analytical and an intuitive draft (three calls)."""
        from bot.llm.synthesis import synthesize

        blended = synthesize(self, messages, max_tokens=max_tokens, temperature=temperature)
        async with aclosing(blended) as chunks:
            async for text in chunks:
                yield text

    # ------------------------------------------------------------ introspection and lifecycle

    def snapshot(self) -> RouterSnapshot:
        """Return each model's health, latency and token numbers, in the order the next call would try."""
        order = [e.name for e in self.candidates()]
        models = []
        for e in self._endpoints:
            stats = e.stats
            models.append(
                ModelSnapshot(
                    name=e.name,
                    model=e.settings.model,
                    vision=e.settings.vision,
                    primary=e.name == (self._primary or self._endpoints[0].name),
                    state=str(e.breaker.state),
                    available=e.usable(),
                    retry_in_s=round(e.breaker.retry_in(), 3),
                    rate_limited_for_s=round(e.rate_limited_for(), 3),
                    calls=stats.calls,
                    successes=stats.successes,
                    failures=stats.failures,
                    rate_limited=stats.rate_limited,
                    timeouts=stats.timeouts,
                    error_rate=round(stats.error_rate(), 4),
                    first_token=stats.first_token_summary(),
                    total=stats.total_summary(),
                    tokens_in=stats.tokens_in,
                    tokens_out=stats.tokens_out,
                )
            )
        return RouterSnapshot(primary=self._primary, order=order, models=models)

    async def close(self) -> None:
        """Close every model's client."""
        for endpoint in self._endpoints:
            await endpoint.close()


# Calls skip two pieces of the SDK's work that cost event-loop time and give the router nothing. Before
# sending, it walks every message through its TypedDict unions (3 ms for a 20-message prompt) and hands back
# the same dicts: ours are plain JSON already (a test checks the walk would leave them unchanged). While
# streaming, it builds a pydantic model of every chunk (0.25 ms each: 75 ms for a 300-token reply) of which
# the router reads three fields, so streamed chunks stay the JSON dicts they arrive as. The SDK still sends,
# decodes the event stream, raises its errors and drains the connection.
_RawChunks = openai.AsyncStream[dict[str, Any]]


async def _open_stream(client: openai.AsyncOpenAI, params: dict[str, Any]) -> _RawChunks:
    return await client.post(
        "/chat/completions",
        body={**params, "stream": True},
        cast_to=dict,
        options={"security": {"bearer_auth": True}},
        stream=True,
        stream_cls=_RawChunks,
    )


def _untransformed(params: dict[str, Any]) -> dict[str, Any]:
    # extra_body is merged into the request untouched and replaces the empty list the SDK walks instead.
    return {**params, "messages": [], "extra_body": {"messages": params["messages"]}}


def _chunk_parts(chunk: object) -> tuple[str | None, Mapping[str, Any] | None]:
    """Return a streamed chunk's text and usage; ValueError when it is not a chat chunk."""
    if not isinstance(chunk, Mapping):
        raise ValueError("a streamed chunk is not a JSON object")
    usage = chunk.get("usage")
    choices = chunk.get("choices")
    if not choices:
        return None, usage if isinstance(usage, Mapping) else None
    if not isinstance(choices, list) or not isinstance(choices[0], Mapping):
        raise ValueError("a streamed chunk's choices are not a list of objects")
    delta = choices[0].get("delta")  # a closing chunk may carry only its finish_reason
    text = delta.get("content") if isinstance(delta, Mapping) else None
    return (text if isinstance(text, str) else None), usage if isinstance(usage, Mapping) else None


def _usage_numbers(usage: Any, messages: Sequence[Message], reply: str, model: str) -> tuple[int, int, bool]:
    """Return (prompt, completion, estimated) tokens, counting ourselves when the server did not say."""
    if isinstance(usage, Mapping):
        return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0), False
    if usage is not None:
        return int(usage.prompt_tokens or 0), int(usage.completion_tokens or 0), False
    return count_message_tokens(messages, model), count_tokens(reply, model), True


def _error_code(exc: openai.APIStatusError) -> str | None:
    code = getattr(exc, "code", None)
    if isinstance(code, str):
        return code
    body = exc.body
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping) and isinstance(inner.get("code"), str):
            return str(inner["code"])
    return None


def _request_error_text(status: int, code: str | None) -> str:
    if code == "context_length_exceeded" or status == 413:
        return "That was too much for me to read at once. Could you try something shorter?"
    if code == "content_filter" or code == "content_policy_violation":
        return "My language model declined to answer that."
    return f"My language model could not handle that request (status {status})."
