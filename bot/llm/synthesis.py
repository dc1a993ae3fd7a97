"""Synthesis mode: an analytical and an intuitive draft, blended into one reply by a third call."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

from bot.llm.errors import LLMError, LLMUnavailable

if TYPE_CHECKING:
    from bot.llm.router import Completion, LLMRouter

log = logging.getLogger(__name__)

Message = Mapping[str, Any]

ANALYTICAL_PROMPT = (
    "For this reply, think analytically: work out what is actually being asked, reason about the facts, "
    "causes and practical options, and be precise. Write only your reply."
)
INTUITIVE_PROMPT = (
    "For this reply, answer intuitively: attend to the feelings and tone behind the words and to what the "
    "person may need beyond what they asked, and answer warmly and naturally. Write only your reply."
)
BLEND_PROMPT = (
    "Two drafts of your next reply are below: an analytical one and an intuitive one. Write the one reply "
    "you will actually send by blending them, drawing about {analytical}% from the analytical draft and "
    "{intuitive}% from the intuitive draft. Keep your persona and the language of the conversation, do "
    "not mention the drafts, and write only the final reply."
)


def with_instruction(messages: Sequence[Message], instruction: str) -> list[Message]:
    """Return a copy of messages whose leading system prompt ends with the instruction."""
    out = [dict(m) for m in messages]
    if out and out[0].get("role") == "system" and isinstance(out[0].get("content"), str):
        # Appending keeps a single system prompt, which some local models require.
        out[0]["content"] = f"{out[0]['content']}\n\n{instruction}"
        return list(out)
    return [{"role": "system", "content": instruction}, *out]


def blend_instruction(analytical: str, intuitive: str, analytical_weight: float, template: str) -> str:
    """Return the blending instruction with both drafts and their weights."""
    share = round(analytical_weight * 100)
    # replace() rather than format(): an operator's template may contain other braces.
    header = template.replace("{analytical}", str(share)).replace("{intuitive}", str(100 - share))
    return (
        f"{header}\n\n<analytical_draft>\n{analytical}\n</analytical_draft>\n\n"
        f"<intuitive_draft>\n{intuitive}\n</intuitive_draft>"
    )


async def synthesize(
    router: LLMRouter,
    messages: Sequence[Message],
    *,
    max_tokens: int | None = None,
    temperature: float | None = None,
) -> AsyncGenerator[str, None]:
    """Yield a reply blended from two perspective drafts; a lone surviving draft is used as it is."""
    settings = router.settings
    analytical_prompt = settings.synthesis_analytical_prompt or ANALYTICAL_PROMPT
    intuitive_prompt = settings.synthesis_intuitive_prompt or INTUITIVE_PROMPT
    analytical_messages = with_instruction(messages, analytical_prompt)
    intuitive_messages = with_instruction(messages, intuitive_prompt)
    results = await asyncio.gather(
        router.complete(
            analytical_messages,
            max_tokens=max_tokens,
            temperature=temperature,
            prefer=settings.synthesis_analytical_model,
        ),
        router.complete(
            intuitive_messages,
            max_tokens=max_tokens,
            temperature=temperature,
            prefer=settings.synthesis_intuitive_model,
        ),
        return_exceptions=True,
    )
    drafts: list[Completion] = []
    for result in results:
        if isinstance(result, LLMUnavailable):
            continue
        if isinstance(result, BaseException):
            raise result  # a rejected request (or a bug) would fail the same way on any retry
        drafts.append(result)
    if not drafts:
        first = results[0]
        raise first if isinstance(first, LLMError) else LLMUnavailable()
    if len(drafts) == 1:
        log.warning("synthesis: one draft failed; sending the other unblended")
        yield drafts[0].text
        return
    analytical, intuitive = drafts
    instruction = blend_instruction(
        analytical.text,
        intuitive.text,
        settings.synthesis_analytical_weight,
        settings.synthesis_blend_prompt or BLEND_PROMPT,
    )
    blend = router.stream(
        with_instruction(messages, instruction),
        max_tokens=max_tokens,
        temperature=temperature,
        prefer=settings.synthesis_blend_model,
    )
    async with aclosing(blend) as chunks:
        async for text in chunks:
            yield text
