"""The LLM layer: a router over a fallback chain of OpenAI-compatible models, and token counting."""

from bot.llm.breaker import BreakerConfig, BreakerState, CircuitBreaker
from bot.llm.errors import LLMError, LLMRequestError, LLMUnavailable, StreamInterrupted
from bot.llm.router import Completion, LLMRouter, Usage
from bot.llm.stats import LatencySummary, ModelSnapshot, RouterSnapshot
from bot.llm.tokens import count_message_tokens, count_tokens, estimate_tokens

__all__ = [
    "BreakerConfig",
    "BreakerState",
    "CircuitBreaker",
    "Completion",
    "LLMError",
    "LLMRequestError",
    "LLMRouter",
    "LLMUnavailable",
    "LatencySummary",
    "ModelSnapshot",
    "RouterSnapshot",
    "StreamInterrupted",
    "Usage",
    "count_message_tokens",
    "count_tokens",
    "estimate_tokens",
]
