"""What every fault test shares: Kindred on the fake Discord API and the fake model server, a stream of
conversations through it, `/healthz`, and the checks that must hold after any fault.

Each message carries a tag (``q0007``). The fake model answers a reply request with ``Reply q0007.`` and
a fact-extraction request with one fact keyed ``note:q0007``, so every effect can be traced back to the
message that caused it: its two turns in SQL, its index and semantic jobs in the outbox, its one memory.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from bot.app import Kindred
from bot.config import (
    DisclosureSettings,
    LLMModelSettings,
    LLMSettings,
    OpsSettings,
    PipelineSettings,
    SafetySettings,
    Settings,
)
from storage.config import QueueSettings, StorageSettings
from storage.sql.models import Job as JobRow
from storage.sql.models import Memory, Turn, User
from tests.conftest import free_port
from tests.e2e.harness import serve
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.discord_api.models import FakeChannel, FakeUser
from tests.fakes.openai_api import FakeOpenAI, RecordedRequest

MODEL = "chat-a"
TAG = re.compile(r"\bq\d{4}\b")
NO_STYLE: dict[str, Any] = {"length": None, "tone": None, "avoid_topics": [], "allow_topics": []}
# Short leases and polls, so a lost worker's jobs come back within seconds rather than a minute.
FAST_QUEUE: dict[str, Any] = {
    "lease_s": 3.0,
    "poll_interval_s": 0.1,
    "batch_max_wait_s": 0.05,
    "backoff_base_s": 0.2,
    "backoff_cap_s": 1.0,
    "redrive_after_s": 2.0,
    "sweep_interval_s": 0.5,
    "stop_grace_s": 2.0,
}
# Generous: a fault test waits on recoveries, and 2 shared cores are slow under load. Never a timed check.
DEADLINE_S = 60.0


def is_extraction(request: RecordedRequest) -> bool:
    """Return whether a model request is the semantic job's fact extraction (or its repair)."""
    system = str(request.messages[0].get("content")) if request.messages else ""
    return "worth remembering" in system or system.startswith("The text below")


def extraction_reply(tag: str | None) -> str:
    """Return the extraction JSON the fake model gives for a tagged message: one fact keyed by the tag."""
    facts = []
    if tag is not None:
        facts.append(
            {
                "subject": "self",
                "about": None,
                "key": f"note:{tag}",
                "value": tag,
                "text": f"The person mentioned {tag}.",
                "kind": "fact",
                "importance": 0.6,
            }
        )
    return json.dumps({"facts": facts, "style": NO_STYLE})


class Script:
    """The fake model's answers, counting each extraction it answered per tag."""

    def __init__(self) -> None:
        self.extractions: Counter[str] = Counter()

    def __call__(self, request: RecordedRequest) -> str:
        last = str(request.messages[-1].get("content")) if request.messages else ""
        found = TAG.search(last)
        tag = found.group(0) if found else None
        if is_extraction(request):
            if tag is not None:
                self.extractions[tag] += 1
            return extraction_reply(tag)
        return f"Reply {tag}." if tag else "Sure."


def make_settings(
    data_dir: Path,
    openai: FakeOpenAI,
    *,
    storage: dict[str, Any] | None = None,
    queue: dict[str, Any] | None = None,
    models: list[str] | None = None,
    timeout_s: float = 2.0,
) -> Settings:
    """Return settings for a fault test: fast queue, open rate limits, `/healthz` on a free port."""
    chain = [
        LLMModelSettings(
            name=name, base_url=openai.base_url, model=name, api_key=SecretStr("test"), timeout_s=timeout_s
        )
        for name in (models or [MODEL])
    ]
    return Settings(
        storage=StorageSettings(
            data_dir=data_dir,
            queue=QueueSettings(**{**FAST_QUEUE, **(queue or {})}),
            **(storage or {}),
        ),
        llm=LLMSettings(
            models=chain, breaker_failure_threshold=2, breaker_cooldown_s=1.0, breaker_max_cooldown_s=2.0
        ),
        ops=OpsSettings(http_enabled=True, http_port=free_port()),
        pipeline=PipelineSettings(
            coalesce_window_s=0.0,
            user_burst=1000,
            user_messages_per_minute=6000,
            guild_burst=1000,
            guild_messages_per_minute=6000,
        ),
        safety=SafetySettings(disclosure=DisclosureSettings(enabled=False)),
    )


def running(settings: Settings, fake: FakeDiscord) -> AbstractAsyncContextManager[Kindred]:
    """Run Kindred as a bot on the fake Discord API until the block ends (as the e2e tests do)."""
    return serve(settings, fake)


async def healthz(port: int) -> dict[str, Any]:
    """Return the body of `/healthz` (with the HTTP status under ``http``)."""
    timeout = aiohttp.ClientTimeout(total=15)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.get(f"http://127.0.0.1:{port}/healthz") as response,
    ):
        body: dict[str, Any] = json.loads(await response.text())
        body["http"] = response.status
        return body


def part(body: dict[str, Any], tier: str) -> dict[str, Any]:
    """Return one tier's part of a `/healthz` body."""
    return next(p for p in body["parts"] if p["tier"] == tier)


async def wait_health(
    port: int, condition: Callable[[dict[str, Any]], bool], what: str, deadline_s: float = DEADLINE_S
) -> dict[str, Any]:
    """Poll `/healthz` until ``condition`` holds for its body; fail the test with the last body if not."""
    give_up = time.monotonic() + deadline_s
    while True:
        body = await healthz(port)
        if condition(body):
            return body
        if time.monotonic() > give_up:
            pytest.fail(f"/healthz never showed {what}; last: {body}")
        await asyncio.sleep(0.1)


async def eventually(condition: Callable[[], Any], what: str, deadline_s: float = DEADLINE_S) -> Any:
    """Await ``condition()`` (sync or async) until it returns something truthy; fail the test if never."""
    give_up = time.monotonic() + deadline_s
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > give_up:
            pytest.fail(f"{what} did not happen within {deadline_s}s")
        await asyncio.sleep(0.1)


@dataclass
class Sent:
    """One message of the stream: who sent it where, its tag, and whether the bot answered it."""

    tag: str
    user: FakeUser
    channel: FakeChannel
    message_id: int
    answered: bool = False  # the bot answered (a reply, or a notice when that was expected)
    replied: bool = False  # the answer was the model's reply, so a reply turn must be in SQL


@dataclass
class Stream:
    """A stream of DM conversations from several people, each waiting for its reply before the next."""

    fake: FakeDiscord
    people: list[FakeUser]
    sent: list[Sent] = field(default_factory=list)
    _next: int = 0

    @classmethod
    def of(cls, fake: FakeDiscord, size: int = 4) -> Stream:
        scene = fake.scene
        people = [scene.alice, scene.bob]
        people += [fake.add_user(f"person{i}") for i in range(size - len(people))]
        return cls(fake, people[:size])

    def _tag(self) -> str:
        self._next += 1
        return f"q{self._next:04d}"

    async def send(self, user: FakeUser) -> Sent:
        """Send one tagged DM without waiting for the answer."""
        tag = self._tag()
        dm = self.fake.dm_channel(user)
        message = await self.fake.send_message(dm, user, f"{tag} today I watered the plants")
        sent = Sent(tag, user, dm, message.id)
        self.sent.append(sent)
        return sent

    async def say(self, user: FakeUser, *, expect: Callable[[str], bool] | None = None) -> Sent:
        """Send one tagged DM and wait for the bot's answer (``Reply <tag>.`` unless ``expect`` says)."""
        sent = await self.send(user)
        wanted = expect or (lambda text: text == f"Reply {sent.tag}.")
        await self.fake.wait_for_message(sent.channel, lambda m: wanted(m.content))
        sent.answered, sent.replied = True, expect is None
        return sent

    async def round(self, turns_each: int = 1) -> None:
        """Every person sends ``turns_each`` messages, people in parallel, each waiting for its reply."""

        async def person(user: FakeUser) -> None:
            for _ in range(turns_each):
                await self.say(user)

        await asyncio.gather(*(person(u) for u in self.people))


@dataclass
class Ledger:
    """What SQL holds for the stream: turns by message id, jobs by key, current memories by fact key."""

    user_turns: Counter[str]
    reply_turns: Counter[str]
    jobs: dict[str, tuple[str, int]]  # job key -> (status, failed attempts)
    memories: Counter[tuple[str, str]]  # (external user id, fact key) -> current memories


async def ledger(sql_url: str) -> Ledger:
    """Read the turns, the job outbox and the current memories straight from SQL."""
    engine = create_async_engine(sql_url)
    try:
        async with engine.connect() as conn:
            turns = (await conn.execute(select(Turn.role, Turn.message_id))).all()
            jobs = (await conn.execute(select(JobRow.job_key, JobRow.status, JobRow.attempts))).all()
            memories = (
                await conn.execute(
                    select(User.external_id, Memory.meta)
                    .join(User, User.id == Memory.user_id)
                    .where(Memory.valid_to.is_(None))
                )
            ).all()
    finally:
        await engine.dispose()
    return Ledger(
        user_turns=Counter(str(m) for role, m in turns if role == "user"),
        reply_turns=Counter(str(m) for role, m in turns if role == "assistant"),
        jobs={str(k): (str(s), int(a)) for k, s, a in jobs},
        memories=Counter((str(u), str((meta or {}).get("key"))) for u, meta in memories),
    )


def job_key(job_type: str, sent: Sent) -> str:
    """Return the outbox key of a message's job (``bot.reflection.jobs.message_key`` behind its type)."""
    return f"{job_type}:discord:{sent.user.id}:m{sent.message_id}"


async def settled(sql_url: str, stream: Stream, types: tuple[str, ...] = ("index", "semantic")) -> Ledger:
    """Wait until every message's jobs of these types are done, then return the ledger."""

    async def done() -> Ledger | None:
        book = await ledger(sql_url)
        wanted = [job_key(t, s) for s in stream.sent for t in types]
        return book if all(book.jobs.get(k, ("missing", 0))[0] == "done" for k in wanted) else None

    result: Ledger = await eventually(done, "every job of the stream finishing")
    return result


def check_invariants(book: Ledger, stream: Stream, *, replied: bool = True, memories: bool = True) -> None:
    """Every message and reply in SQL once, every job done once, one memory per stated fact."""
    for sent in stream.sent:
        key = str(sent.message_id)
        assert book.user_turns[key] == 1, f"{sent.tag}: the person's turn is not in SQL exactly once"
        if replied and sent.replied:
            assert book.reply_turns[f"{key}:reply"] == 1, f"{sent.tag}: the reply is not in SQL exactly once"
        for job_type in ("index", "semantic"):
            status, _ = book.jobs[job_key(job_type, sent)]
            assert status == "done", f"{sent.tag}: its {job_type} job is {status}"
        if memories:
            count = book.memories[(str(sent.user.id), f"note:{sent.tag}")]
            assert count == 1, f"{sent.tag}: {count} current memories of its fact, not one"
    assert not [k for k, n in book.memories.items() if n > 1], "duplicate memories"
    assert not [k for k, (s, _) in book.jobs.items() if s == "dead"], "dead-lettered jobs"
