"""Errors the LLM router raises; their text is safe to show the person who is waiting for a reply."""

from __future__ import annotations

from bot.errors import EXIT_UNAVAILABLE, KindredError


class LLMError(KindredError):
    """A language-model call failed."""


class LLMUnavailable(LLMError):
    """Every model in the chain failed, is cooling down or is rate limited."""

    exit_code = EXIT_UNAVAILABLE

    def __init__(
        self,
        message: str = "I can't reach my language model right now. Please try again in a little while.",
        *,
        attempts: list[tuple[str, str]] | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        # (model name, reason) pairs for logs and admins; reasons never include prompt text.
        self.attempts = attempts or []
        self.retry_after_s = retry_after_s


class LLMRequestError(LLMError):
    """The model rejected the request itself (4xx), so another model would most likely reject it too."""

    def __init__(self, message: str, *, model: str, status: int, code: str | None = None) -> None:
        super().__init__(message)
        self.model = model
        self.status = status
        self.code = code


class StreamInterrupted(LLMError):
    """A reply stream broke after some text was already delivered; ``partial`` holds that text."""

    def __init__(self, *, model: str, partial: str) -> None:
        super().__init__("My reply was cut off partway. Please ask again if you need the rest.")
        self.model = model
        self.partial = partial
