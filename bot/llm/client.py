"""One configured model: its OpenAI clients, circuit breaker, statistics and rate-limit pause."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Sequence
from itertools import cycle

import httpx2
import openai

from bot.config import LLMModelSettings
from bot.llm.breaker import BreakerConfig, CircuitBreaker
from bot.llm.stats import ModelStats

Clock = Callable[[], float]

# Local servers (Ollama, llama.cpp, vLLM) ignore the key, but the client refuses to start without one.
PLACEHOLDER_API_KEY = "kindred-no-key"
# The HTTP pool under a client checks each of its idle connections (system calls, on the event loop) every
# time one of its requests starts or ends. With one pool per model, the end of a round of 200 simultaneous
# replies walked up to 100 idle connections per reply (the stack seen most often while the loop was late on
# the reply benchmark); calls take a model's clients in turn, so each pool and each walk stays smaller.
CLIENTS_PER_MODEL = 8


def build_client(settings: LLMModelSettings, tls: ssl.SSLContext | None = None) -> openai.AsyncOpenAI:
    """Build the OpenAI client for one model; the router, not the client, retries and falls back.

    ``tls`` is a TLS context to share with other clients (each builds its own otherwise).
    """
    api_key = settings.api_key.get_secret_value() if settings.api_key is not None else ""
    timeout = openai.Timeout(settings.timeout_s, connect=min(settings.timeout_s, 10.0))
    http = openai.DefaultAsyncHttpxClient(verify=tls, timeout=timeout) if tls is not None else None
    return openai.AsyncOpenAI(
        api_key=api_key or PLACEHOLDER_API_KEY,
        base_url=settings.base_url,
        timeout=timeout,
        max_retries=0,
        http_client=http,
    )


def build_clients(settings: LLMModelSettings, count: int = CLIENTS_PER_MODEL) -> list[openai.AsyncOpenAI]:
    """Build the clients one model's calls take in turn, each with its own connection pool."""
    # Loading the CA bundle is most of a client's construction (about 20 ms): the clients share one context,
    # the one each would have built for itself.
    tls = httpx2.create_ssl_context()
    return [build_client(settings, tls) for _ in range(count)]


class ModelEndpoint:
    """Everything the router knows about one model in the chain."""

    def __init__(
        self,
        settings: LLMModelSettings,
        clients: Sequence[openai.AsyncOpenAI],
        *,
        breaker: BreakerConfig,
        stats_window_s: float,
        stats_max_samples: int,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        if not clients:
            raise ValueError("a model needs at least one client")
        self.clients = list(clients)
        self._rotation = cycle(self.clients)
        self._clock = clock or time.monotonic
        self.breaker = CircuitBreaker(settings.name, breaker, self._clock)
        self.stats = ModelStats(stats_window_s, stats_max_samples, self._clock, model=settings.name)
        self.rate_limited_until = 0.0

    @property
    def client(self) -> openai.AsyncOpenAI:
        """Return the client for the next call (each call takes the next one of the model's clients)."""
        return next(self._rotation)

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
        """Close every client's connection pool."""
        for client in self.clients:
            await client.close()
