"""The turn pipeline: safety, limits, coalescing, record, context, reply, record, reflect.

The person never waits for reflection: the reply is delivered and recorded, then a job is enqueued.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from bot import metrics
from bot.config import Settings
from bot.llm import LLMRouter
from bot.llm.errors import LLMError, StreamInterrupted
from bot.llm.tokens import count_tokens
from bot.pipeline.budget import Section, fit, to_messages
from bot.pipeline.context import (
    AttachmentProvider,
    ContextProvider,
    PersonaProvider,
    RecallProvider,
    RecentTurnsProvider,
    ReplyChainProvider,
)
from bot.pipeline.inbox import HeldTurns
from bot.pipeline.message import Attachment, ChainMessage, IncomingMessage, ReplySink, TurnInput
from bot.reflection.procedural import StyleProvider
from bot.safety.crisis import CrisisResult
from bot.safety.disclosure import AIDisclosure
from bot.safety.normalize import bound_length, normalize_text
from bot.safety.protocol import CrisisProtocol
from storage.scope import Scope
from storage.service import StorageService
from storage.sql.engine import is_unavailable, retry_while_unavailable

log = logging.getLogger(__name__)

# How long a delivered reply waits for an unreachable database to be recorded (the person's next turn waits).
REPLY_RECORD_RETRY_S = 120.0

# Called after a turn is recorded (reply id None when no reply could be given), e.g. to enqueue reflection;
# never awaited by the person.
AfterTurn = Callable[[TurnInput, int, int | None], Awaitable[None]]
# Asked before a turn is taken (allow and block lists, daily allowances); False drops the message, and a gate
# that refuses tells the person itself if it should.
Gate = Callable[[IncomingMessage, ReplySink], Awaitable[bool]]
# Messages-per-minute overrides for a place: {"user": rate, "guild": rate}; a missing key keeps the config.
RateOverrides = Callable[[Scope], Awaitable[dict[str, float]]]


@dataclass(slots=True)
class Outcome:
    """What happened to one incoming message (for adapters, tests and metrics)."""

    status: str  # replied, duplicate, merged, rate_limited, refused, empty, held, failed
    reply: str = ""
    user_turn_id: int | None = None
    reply_turn_id: int | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class _Burst:
    messages: list[IncomingMessage]
    sink: ReplySink
    done: asyncio.Future[Outcome]
    crisis: bool = False  # the crisis check fired on one of the messages


class Pipeline:
    """Turns incoming messages into delivered, remembered replies."""

    def __init__(
        self,
        storage: StorageService,
        llm: LLMRouter,
        settings: Settings,
        providers: list[ContextProvider] | None = None,
    ) -> None:
        self.storage = storage
        self.llm = llm
        self.settings = settings
        self.limits = settings.pipeline
        self.providers: list[ContextProvider] = (
            providers
            if providers is not None
            else [
                PersonaProvider(storage, settings.persona),
                ReplyChainProvider(),
                AttachmentProvider(),
                RecallProvider(storage, settings.pipeline.recall_k),
                RecentTurnsProvider(storage),
                StyleProvider(storage),
            ]
        )
        self.after_turn: list[AfterTurn] = []
        self.gates: list[Gate] = []
        self.rate_overrides: RateOverrides | None = None
        # Whether after-turn work runs detached from the turn (the fast path, on when unset).
        self.fast_path: Callable[[Scope], Awaitable[bool]] | None = None
        # Safety: the crisis protocol runs before anything else reads a message; the AI disclosure opens
        # a person's first turn and recurs after every configured interval.
        self.crisis = CrisisProtocol(settings.safety.crisis, storage)
        self.disclosure = AIDisclosure(storage, settings.safety.disclosure, settings.persona.name)
        self._bursts: dict[str, _Burst] = {}
        self._user_locks: dict[str, asyncio.Lock] = {}
        self._preparing = asyncio.Semaphore(settings.pipeline.preparing_max)
        self._background: set[asyncio.Task[None]] = set()
        self._accepting = True
        # Messages that met an unreachable database wait here and are answered once it is back.
        self.held = HeldTurns(self._redrive, capacity=settings.pipeline.held_turns_max)
        self._crisis_answered: OrderedDict[str, None] = OrderedDict()

    def register_provider(self, provider: ContextProvider) -> None:
        """Add a feature's context provider."""
        self.providers.append(provider)

    # ------------------------------------------------------------------ entry

    async def handle(self, message: IncomingMessage, sink: ReplySink) -> Outcome:
        """Process one incoming message; returns when its turn has been answered (or merged into one)."""
        try:
            outcome = await self._handle(message, sink)
        except Exception as exc:
            if not is_unavailable(exc):
                metrics.ERRORS.labels("turn").inc()
                raise
            # SQL is down: the message is kept and answered when it is back, never dropped.
            metrics.ERRORS.labels("sql_unavailable").inc()
            await self._crisis_first(message, sink)
            outcome = Outcome("held" if await self.held.hold(message, sink) else "failed")
        metrics.observe_turn(outcome.status, outcome.timings_ms)
        return outcome

    async def _redrive(self, message: IncomingMessage, sink: ReplySink) -> Outcome:
        # A held message was claimed and admitted before the outage (or met it on the way): straight on.
        return await self._handle(message, sink, redrive=True)

    async def _handle(self, message: IncomingMessage, sink: ReplySink, redrive: bool = False) -> Outcome:
        if not self._accepting and not redrive:
            await self._crisis_first(message, sink)  # even while shutting down, a crisis gets its answer
            return Outcome("failed")
        if not redrive and not await self.storage.claim_message(message.scope, message.message_id):
            return Outcome("duplicate")  # a gateway replay of a message already handled
        crisis = await self._crisis_first(message, sink)
        if not redrive:
            for gate in self.gates:
                if not await gate(message, sink):
                    return Outcome("refused")
        # A crisis message is never held back by a rate limit: the person gets a reply every time.
        if not redrive and not crisis.hit and not await self._within_limits(message, sink):
            return Outcome("rate_limited")
        key = message.scope.conversation_key
        burst = self._bursts.get(key)
        if burst is not None:
            burst.crisis = burst.crisis or crisis.hit
            burst.messages.append(message)
            burst.sink = sink  # answer the newest message of the burst
            await burst.done
            return Outcome("merged")
        burst = _Burst([message], sink, asyncio.get_running_loop().create_future(), crisis.hit)
        self._bursts[key] = burst
        try:
            if self.limits.coalesce_window_s > 0:
                await asyncio.sleep(self.limits.coalesce_window_s)
        finally:
            self._bursts.pop(key, None)
        try:
            outcome = await self._answer(burst)
        except BaseException as exc:
            if not burst.done.done():
                burst.done.set_exception(exc)
                burst.done.exception()  # mark retrieved: merged callers may be gone
            raise
        burst.done.set_result(outcome)
        return outcome

    async def _crisis_first(self, message: IncomingMessage, sink: ReplySink) -> CrisisResult:
        await self.crisis.ready()
        result = self.crisis.screen(message)
        # Once per message, even when the message is held through an outage and handled again.
        if result.hit and message.message_id not in self._crisis_answered:
            self._crisis_answered[message.message_id] = None
            while len(self._crisis_answered) > 10_000:
                self._crisis_answered.popitem(last=False)
            await self.crisis.respond(message, sink, result)
        return result

    async def _within_limits(self, message: IncomingMessage, sink: ReplySink) -> bool:
        scope = message.scope
        overrides = await self.rate_overrides(scope) if self.rate_overrides is not None else {}
        checks = [
            (
                "user",
                scope.user_key,
                *_rate(self.limits.user_burst, self.limits.user_messages_per_minute, overrides.get("user")),
            )
        ]
        if scope.guild_id is not None:
            checks.append(
                (
                    "guild",
                    f"g{scope.guild_id}",
                    *_rate(
                        self.limits.guild_burst, self.limits.guild_messages_per_minute, overrides.get("guild")
                    ),
                )
            )
        for bucket, subject, burst, per_minute in checks:
            decision = await self.storage.take_rate_tokens(bucket, subject, burst, per_minute / 60.0)
            if decision.allowed:
                continue
            # Tell the person once per cool-down, briefly; more notices would be spam of our own.
            wait = max(1, round(decision.retry_after_s))
            if await self.storage.first_time("rl-notice", f"{bucket}:{scope.user_key}", ttl_s=wait):
                who = "you're" if bucket == "user" else "this server is"
                await sink.notice(
                    f"Slow down a little: {who} sending messages faster than I can keep up. "
                    f"Try again in about {wait} s."
                )
            return False
        return True

    # ------------------------------------------------------------------ one turn

    async def _answer(self, burst: _Burst) -> Outcome:
        first = burst.messages[0]
        scope = first.scope
        lock = self._user_locks.setdefault(scope.user_key, asyncio.Lock())
        async with lock:  # one reply in flight per person
            return await self._run_turn(self._merge(burst), burst.sink)

    def _merge(self, burst: _Burst) -> TurnInput:
        # Messages of a burst are handled concurrently and can join it out of order; read them as sent.
        burst.messages.sort(key=_sent_order)
        texts: list[str] = []
        notices: list[str] = []
        attachments: list[Attachment] = []
        chain: tuple[ChainMessage, ...] = ()
        for message in burst.messages:
            text = normalize_text(message.text)
            if text:
                texts.append(text)
            attachments.extend(message.attachments)
            notices.extend(a.note for a in message.attachments if a.note)
            chain = chain or message.reply_chain
        bounded = bound_length("\n".join(texts), self.limits.max_message_chars)
        if bounded.notice:
            notices.append(bounded.notice)
        return TurnInput(
            scope=burst.messages[0].scope,
            author=burst.messages[0].author,
            text=bounded.text,
            message_ids=[m.message_id for m in burst.messages],
            created_at=burst.messages[0].created_at,
            reply_chain=tuple(chain),
            attachments=tuple(attachments),
            notices=notices,
            parent_channel_id=burst.messages[0].parent_channel_id,
            crisis=burst.crisis,
        )

    async def _run_turn(self, turn: TurnInput, sink: ReplySink) -> Outcome:
        timings: dict[str, float] = {}
        start = time.perf_counter()
        for notice in turn.notices:
            await sink.notice(notice)
        if not turn.text and not any(a.text or a.is_image for a in turn.attachments):
            return Outcome("empty")
        meta: dict[str, Any] = {"message_ids": turn.message_ids} if len(turn.message_ids) > 1 else {}
        private = self._crisis_meta(turn)
        meta.update(private)
        async with self._preparing:  # waiting here counts in record_ms: it is the reply's overhead too
            user_turn = await self.storage.record_turn(
                turn.scope,
                "user",
                turn.text,
                speaker=turn.author,
                message_id=turn.message_id,
                created_at=turn.created_at,
                meta=meta,
            )
            timings["record_ms"] = _ms(start)
            messages, images = await self._prompt(turn)
            timings["context_ms"] = _ms(start) - timings["record_ms"]
        if await self.disclosure.due(turn.scope):
            await sink.notice(self.disclosure.text)
        await sink.typing()
        chain = self.llm.candidates(images=images)
        max_tokens = chain[0].settings.max_output_tokens if chain else None
        llm_start = time.perf_counter()
        try:
            delivered = await sink.stream(
                self._reply_stream(messages, max_tokens, images, timings, llm_start)
            )
        except StreamInterrupted as exc:
            delivered = exc.partial
            await sink.notice(str(exc))
        except LLMError as exc:
            log.warning("no reply for a turn: %s", type(exc).__name__)
            await sink.notice(str(exc))
            await self._after(turn, user_turn.id, None)
            return Outcome("failed", user_turn_id=user_turn.id, timings_ms=timings)
        timings["llm_ms"] = _ms(llm_start)
        # Delivered already: if the database went away meanwhile (a restart), wait for it rather than lose
        # the reply and the turn's reflection. Recording is idempotent by message id, so a retry is safe.
        try:
            reply_turn = await retry_while_unavailable(
                lambda: self.storage.record_turn(
                    turn.scope,
                    "assistant",
                    delivered,
                    speaker=self.settings.persona.name,
                    message_id=f"{turn.message_id}:reply",
                    meta=private or None,
                ),
                "record a delivered reply",
                for_s=REPLY_RECORD_RETRY_S,
            )
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            # Not an outage to hold the message through: it was answered already, and answering it again
            # would repeat the reply. The person's own turn is in SQL; the reply text is what is missing.
            raise ReplyNotRecorded(f"a delivered reply could not be recorded: {type(exc).__name__}") from None
        await self._after(turn, user_turn.id, reply_turn.id)
        timings["total_ms"] = _ms(start)
        return Outcome("replied", delivered, user_turn.id, reply_turn.id, timings)

    def _crisis_meta(self, turn: TurnInput) -> dict[str, Any]:
        """Return the turn markers for a crisis turn: kept in SQL and the window, but by default (``paused``,
        the flag indexing, recall and reflection skip) never turned into a memory."""
        if not turn.crisis:
            return {}
        return {"crisis": True} if self.crisis.settings.remember else {"crisis": True, "paused": True}

    async def _prompt(self, turn: TurnInput) -> tuple[list[dict[str, Any]], bool]:
        chain = self.llm.candidates()
        model = chain[0].settings if chain else None
        window = model.context_window if model else self.settings.llm.context_window
        output = model.max_output_tokens if model else 800
        model_name = model.model if model else self.settings.llm.model
        budget = max(256, window - output - self.limits.reserve_tokens - count_tokens(turn.text, model_name))
        sections = []
        for batch in await asyncio.gather(*(p.provide(turn) for p in self.providers)):
            sections.extend(batch)
        if turn.crisis:
            sections.append(Section("crisis", 100, units=[self.crisis.instruction], required=True))
        fitted = fit(sections, budget, lambda text: count_tokens(text, model_name))
        messages: list[dict[str, Any]] = list(to_messages(fitted, turn.text))
        images = [a for a in turn.attachments if a.is_image and a.url]
        if images and self.llm.candidates(images=True):
            messages[-1] = {
                "role": "user",
                "content": [{"type": "text", "text": turn.text or "(image)"}]
                + [{"type": "image_url", "image_url": {"url": a.url}} for a in images],
            }
            return messages, True
        return messages, False

    async def _reply_stream(
        self,
        messages: list[dict[str, Any]],
        max_tokens: int | None,
        images: bool,
        timings: dict[str, float],
        started: float,
    ) -> AsyncIterator[str]:
        async with aclosing(self.llm.reply(messages, max_tokens=max_tokens, images=images)) as chunks:
            first = True
            async for chunk in chunks:
                if first:
                    timings["first_token_ms"] = _ms(started)
                    first = False
                yield chunk

    # ------------------------------------------------------------------ background and shutdown

    async def _after(self, turn: TurnInput, user_turn_id: int, reply_turn_id: int | None) -> None:
        if self.fast_path is not None and not await self.fast_path(turn.scope):
            # Fast path switched off: the turn ends only once its after-turn work is done (the baseline).
            for hook in self.after_turn:
                try:
                    await hook(turn, user_turn_id, reply_turn_id)
                except Exception:
                    log.exception("after-turn hook failed")
            return
        for hook in self.after_turn:
            self._spawn(hook(turn, user_turn_id, reply_turn_id))

    def _spawn(self, coro: Awaitable[None]) -> None:
        async def run() -> None:
            try:
                await coro
            except Exception:
                metrics.ERRORS.labels("after_turn").inc()
                log.exception("after-turn hook failed")

        task = asyncio.get_running_loop().create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self, timeout_s: float) -> None:
        """Stop taking turns and wait (up to ``timeout_s``) for in-flight replies and hooks to finish."""
        self._accepting = False

        async def settle() -> None:
            while (
                self._bursts or self._background or any(lock.locked() for lock in self._user_locks.values())
            ):
                for lock in [lock for lock in self._user_locks.values() if lock.locked()]:
                    async with lock:  # acquired once the in-flight reply releases it
                        pass
                waiters = [b.done for b in self._bursts.values()] + list(self._background)
                if waiters:
                    await asyncio.wait(waiters)

        started = time.monotonic()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(settle(), timeout_s)
            # Providers may finish work of their own after a turn (the recall provider's use counts).
            await asyncio.wait_for(
                asyncio.gather(*(p.settle() for p in self.providers if isinstance(p, Settles))),
                max(0.0, timeout_s - (time.monotonic() - started)),
            )
        await self.held.drain(max(0.0, timeout_s - (time.monotonic() - started)))


@runtime_checkable
class Settles(Protocol):
    """A context provider with background work of its own to finish before shutdown."""

    async def settle(self) -> None: ...


class ReplyNotRecorded(RuntimeError):
    """A reply reached the person but SQL stayed unreachable past the retry window, so it is not in SQL."""


def _rate(burst: int, per_minute: float, override: float | None) -> tuple[int, float]:
    # An admin's rate replaces the configured one; the burst never exceeds a minute's worth, so a low
    # override holds from the first messages on.
    if override is None:
        return burst, per_minute
    return max(1, min(burst, int(override))), override


def _sent_order(message: IncomingMessage) -> tuple[datetime, int]:
    # Timestamps can tie within a millisecond; numeric ids (Discord's snowflakes) grow in sending order.
    return message.created_at, int(message.message_id) if message.message_id.isdigit() else 0


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000
