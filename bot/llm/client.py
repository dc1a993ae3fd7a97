"""One configured model: its OpenAI client, circuit breaker, statistics and rate-limit pause."""

from __future__ import annotations

import time
from collections.abc import Callable

import openai

from bot.config import LLMModelSettings
from bot.llm.breaker import BreakerConfig, CircuitBreaker
from bot.llm.stats import ModelStats

Clock = Callable[[], float]

# Local servers (Ollama, llama.cpp, vLLM) ignore the key, but the client refuses to start without one.
PLACEHOLDER_API_KEY = "kindred-no-key"


def build_client(settings: LLMModelSettings) -> openai.AsyncOpenAI:
    """Build the OpenAI client for one model; the router, not the client, retries and falls back."""
    api_key = settings.api_key.get_secret_value() if settings.api_key is not None else ""
    return openai.AsyncOpenAI(
        api_key=api_key or PLACEHOLDER_API_KEY,
        base_url=settings.base_url,
        timeout=openai.Timeout(settings.timeout_s, connect=min(settings.timeout_s, 10.0)),
        max_retries=0,
    )


class ModelEndpoint:
    """Everything the router knows about one model in the chain."""

    def __init__(
        self,
        settings: LLMModelSettings,
        client: openai.AsyncOpenAI,
        *,
        breaker: BreakerConfig,
        stats_window_s: float,
        stats_max_samples: int,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.client = client
        self._clock = clock or time.monotonic
        self.breaker = CircuitBreaker(settings.name, breaker, self._clock)
        self.stats = ModelStats(stats_window_s, stats_max_samples, self._clock, model=settings.name)
        self.rate_limited_until = 0.0

    @property
    def name(self) -> str:
        """Return the model's name in the chain (not the provider's model id)."""
        return self.settings.name

    def rate_limited_for(self) -> float:
        """Return the seconds left of a 429 pause (0 when none)."""
        return max(0.0, self.rate_limited_until - self._clock())

    def pause_for_rate_limit(self, seconds: float) -> None:
        """Skip this model for the given seconds."""
        self.rate_limited_until = max(self.rate_limited_until, self._clock() + seconds)

    def usable(self) -> bool:
        """Return whether the model would be tried now (breaker admits calls and no 429 pause)."""
        return self.rate_limited_for() == 0.0 and self.breaker.available()

    async def close(self) -> None:
        """Close the client's connection pool."""
        await self.client.close()
