"""Reflection end to end: the real openai client against the fake server, real storage, the real worker."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from bot.config import (
    LLMModelSettings,
    LLMSettings,
    PipelineSettings,
    ReflectionSettings,
    Settings,
)
from bot.llm import LLMRouter
from bot.pipeline.message import IncomingMessage, TurnInput
from bot.pipeline.pipeline import Pipeline
from bot.reflection import Reflection, register_reflection
from bot.reflection.budget import STATUS_NOTE, render_status
from bot.scheduler.jobs import reflection_sweep
from bot.worker import ProcessorRegistry, Worker
from storage.config import CacheSettings, EmbeddingSettings, QueueSettings, SQLSettings, StorageSettings
from storage.embedding import make_embedder
from storage.embedding.base import Embedder
from storage.queue import Job
from storage.records import TurnRecord
from storage.scope import Scope
from storage.service import StorageService
from storage.sql.models import Job as JobRow
from tests.fakes.openai_api import FakeOpenAI, RecordedRequest

REPO = Path(__file__).resolve().parents[2]
MODEL = "reflect-model"
BOB = Scope(user_id="200", guild_id="1", channel_id="10")
ALICE = Scope(user_id="100", guild_id="1", channel_id="10")
QUEUE = {
    "backend": "sql",
    "lease_s": 10.0,
    "backoff_base_s": 0.05,
    "backoff_cap_s": 0.2,
    "poll_interval_s": 0.05,
    "batch_max_wait_s": 0.05,
    "redrive_after_s": 1.0,
    "sweep_interval_s": 0.5,
    "stop_grace_s": 2.0,
    "max_attempts": 3,
}
NO_STYLE: dict[str, Any] = {"length": None, "tone": None, "avoid_topics": [], "allow_topics": []}


def fact(key: str, value: str, text: str, **extra: Any) -> dict[str, Any]:
    """Return one fact as the model would write it."""
    return {
        "subject": "self",
        "about": None,
        "key": key,
        "value": value,
        "text": text,
        "kind": "fact",
        "importance": 0.8,
        **extra,
    }


def extraction(*facts: dict[str, Any], style: dict[str, Any] | None = None) -> str:
    """Return an extraction reply holding these facts."""
    return json.dumps({"facts": list(facts), "style": style or NO_STYLE})


class Script:
    """Answers each kind of call the way a test programmed it; anything else gets a chat reply."""

    def __init__(self) -> None:
        self.extractions: dict[str, list[str]] = {}
        self.repairs: list[str] = []
        self.summary = "Bob talked about his move to Lisbon and his new job."

    def on(self, needle: str, *replies: str) -> None:
        """Answer extraction calls whose message contains ``needle`` with these replies, the last repeated."""
        self.extractions[needle] = list(replies)

    def __call__(self, request: RecordedRequest) -> str:
        system = str(request.messages[0]["content"])
        if system.startswith("The text below"):
            return self.repairs.pop(0) if len(self.repairs) > 1 else self.repairs[0]
        if system.startswith("Summarise"):
            return self.summary
        if "worth remembering" not in system:
            return "Sure."
        message = str(request.messages[-1]["content"])
        for needle, replies in self.extractions.items():
            if needle in message:
                return replies.pop(0) if len(replies) > 1 else replies[0]
        return extraction()


def extraction_requests(server: FakeOpenAI) -> list[RecordedRequest]:
    return [r for r in server.requests_for(MODEL) if "worth remembering" in str(r.messages[0]["content"])]


def repair_requests(server: FakeOpenAI) -> list[RecordedRequest]:
    return [r for r in server.requests_for(MODEL) if str(r.messages[0]["content"]).startswith("The text")]


@pytest.fixture(scope="module")
def real_embedder() -> Embedder:
    """Load the shipped embedding model once for the module."""
    return make_embedder(EmbeddingSettings())


def storage_settings(tmp_path: Path, url: str) -> StorageSettings:
    return StorageSettings(
        data_dir=tmp_path / "data",
        sql=SQLSettings(url=url, connect_retries=0),
        cache=CacheSettings(redis_url="redis://127.0.0.1:1/0"),
        queue=QueueSettings(**QUEUE),  # type: ignore[arg-type]
    )


@asynccontextmanager
async def open_storage(tmp_path: Path, url: str, embedder: Embedder) -> AsyncIterator[StorageService]:
    service = await StorageService.open(storage_settings(tmp_path, url), embedder=embedder)
    try:
        yield service
    finally:
        await service.close()


@pytest.fixture
async def storage(tmp_path: Path, real_embedder: Embedder) -> AsyncIterator[StorageService]:
    """Yield embedded storage: SQLite, the in-process cache, the SQL outbox and local Chroma."""
    async with open_storage(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'k.db'}", real_embedder) as s:
        yield s


@pytest.fixture
async def any_storage(sql_url: str, tmp_path: Path, real_embedder: Embedder) -> AsyncIterator[StorageService]:
    """Yield storage on SQLite and on PostgreSQL."""
    async with open_storage(tmp_path, sql_url, real_embedder) as s:
        yield s


@pytest.fixture
def script(openai_server: FakeOpenAI) -> Script:
    answers = Script()
    openai_server.configure(MODEL, reply=answers)
    return answers


@pytest.fixture
async def router(openai_server: FakeOpenAI) -> AsyncIterator[LLMRouter]:
    """Yield a router over the fake server whose breaker never opens (outage tests count every call)."""
    settings = LLMSettings(
        models=[
            LLMModelSettings(
                name="reflect", base_url=openai_server.base_url, model=MODEL, api_key=SecretStr("t")
            )
        ],
        breaker_failure_threshold=1000,
        breaker_min_calls=1000,
    )
    llm = LLMRouter.from_settings(settings)
    try:
        yield llm
    finally:
        await llm.close()


class Harness:
    """Storage, the reflection feature and a worker, with helpers to say things and let reflection run."""

    def __init__(self, storage: StorageService, llm: LLMRouter | None, settings: ReflectionSettings) -> None:
        self.storage = storage
        self.registry = ProcessorRegistry()
        self.reflection: Reflection = register_reflection(self.registry, storage, llm, settings)
        self.messages = 0

    async def say(
        self, scope: Scope, author: str, text: str, at: datetime | None = None
    ) -> tuple[TurnRecord, TurnRecord]:
        """Record a turn and its reply as the pipeline does, then run the after-turn hook."""
        self.messages += 1
        message_id = f"msg{self.messages}"
        when = at or datetime.now(UTC)
        user = await self.storage.record_turn(
            scope, "user", text, speaker=author, message_id=message_id, created_at=when
        )
        reply = await self.storage.record_turn(
            scope, "assistant", "Sure.", speaker="Kindred", message_id=f"{message_id}:reply", created_at=when
        )
        turn = TurnInput(scope=scope, author=author, text=text, message_ids=[message_id], created_at=when)
        await self.reflection.enqueue_reflection(turn, user.id, reply.id)
        return user, reply

    def worker(self) -> Worker:
        worker = Worker(self.storage.jobs, self.registry, self.storage.settings.queue)
        worker.start()
        return worker

    async def settle(self) -> None:
        """Run the worker until no job is waiting or running."""
        worker = self.worker()
        try:
            await until(lambda: self.unsettled(), "every job to finish")
        finally:
            await worker.stop()

    async def unsettled(self) -> bool:
        return not await job_rows(self.storage, statuses=("pending", "running"))


async def until(check: Callable[[], Awaitable[bool]], what: str, within_s: float = 30.0) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def job_rows(
    storage: StorageService, job_type: str | None = None, statuses: tuple[str, ...] | None = None
) -> list[Any]:
    async with storage.engine.connect() as conn:
        query = select(JobRow)
        if job_type is not None:
            query = query.where(JobRow.job_type == job_type)
        if statuses is not None:
            query = query.where(JobRow.status.in_(statuses))
        return list((await conn.execute(query)).all())


def settings(**changes: Any) -> ReflectionSettings:
    return ReflectionSettings(**changes)


# ---------------------------------------------------------------- semantic facts


async def test_a_stated_fact_becomes_the_speakers_memory(
    any_storage: StorageService, router: LLMRouter, script: Script
) -> None:
    script.on("Lisbon", extraction(fact("lives_in", "Lisbon", "Bob lives in Lisbon.")))
    harness = Harness(any_storage, router, settings())
    turn, _ = await harness.say(BOB, "Bob", "I just moved to Lisbon")
    await harness.settle()
    [memory] = await any_storage.list_memories(BOB)
    assert (memory.kind, memory.text, memory.speaker, memory.source_turn_ids) == (
        "fact",
        "Bob lives in Lisbon.",
        "Bob",
        [turn.id],
    )
    assert (memory.meta["key"], memory.meta["value"]) == ("lives_in", "Lisbon")


async def test_a_fact_reported_about_someone_else_is_not_stored_for_them(
    storage: StorageService, router: LLMRouter, script: Script
) -> None:
    reported = fact("likes:sushi", "yes", "Alice likes sushi.", subject="other", about="Alice")
    script.on("Alice", extraction(reported))
    harness = Harness(storage, router, settings())
    await harness.say(BOB, "Bob", "remember that Alice likes sushi")
    await harness.settle()
    assert await storage.list_memories(ALICE) == []


async def test_a_fact_reported_about_someone_else_is_kept_as_the_speakers_report(
    storage: StorageService, router: LLMRouter, script: Script
) -> None:
    reported = fact("likes:sushi", "yes", "Alice likes sushi.", subject="other", about="Alice")
    script.on("Alice", extraction(reported))
    harness = Harness(storage, router, settings())
    await harness.say(BOB, "Bob", "remember that Alice likes sushi")
    await harness.settle()
    [memory] = await storage.list_memories(BOB)
    assert (memory.text, memory.meta["about"], memory.meta["key"]) == (
        "Bob said: Alice likes sushi.",
        "Alice",
        "about:alice:likes:sushi",
    )


async def test_a_new_value_supersedes_the_old_fact_and_keeps_its_history(
    any_storage: StorageService, router: LLMRouter, script: Script
) -> None:
    script.on("Lisbon", extraction(fact("lives_in", "Lisbon", "Bob lives in Lisbon.")))
    script.on("Porto", extraction(fact("lives_in", "Porto", "Bob lives in Porto.")))
    harness = Harness(any_storage, router, settings())
    await harness.say(BOB, "Bob", "I just moved to Lisbon", at=datetime.now(UTC) - timedelta(days=30))
    await harness.settle()
    await harness.say(BOB, "Bob", "I moved to Porto")
    await harness.settle()
    current = await any_storage.list_memories(BOB)
    history = await any_storage.list_memories(BOB, current_only=False)
    porto = current[0]
    lisbon = next(m for m in history if m.meta["value"] == "Lisbon")
    assert [m.text for m in current] == ["Bob lives in Porto."]
    assert (lisbon.valid_to, lisbon.superseded_by) == (porto.valid_from, porto.id)


async def test_recall_returns_the_current_fact_not_the_superseded_one(
    storage: StorageService, router: LLMRouter, script: Script
) -> None:
    script.on("Lisbon", extraction(fact("lives_in", "Lisbon", "Bob lives in Lisbon.")))
    script.on("Porto", extraction(fact("lives_in", "Porto", "Bob lives in Porto.")))
    harness = Harness(storage, router, settings())
    await harness.say(BOB, "Bob", "I just moved to Lisbon")
    await harness.settle()
    await harness.say(BOB, "Bob", "I moved to Porto")
    await harness.settle()
    recalled = await storage.search(BOB, "Bob lives in Lisbon", k=10, kinds=("memory",))
    assert [r.text for r in recalled] == ["Bob lives in Porto."]


async def test_the_extraction_asks_for_schema_checked_json(
    storage: StorageService, router: LLMRouter, script: Script, openai_server: FakeOpenAI
) -> None:
    harness = Harness(storage, router, settings())
    await harness.say(BOB, "Bob", "I just moved to Lisbon")
    await harness.settle()
    [request] = extraction_requests(openai_server)
    assert request.body["response_format"]["type"] == "json_schema"


async def test_an_endpoint_without_structured_outputs_is_asked_for_json_mode(
    storage: StorageService, router: LLMRouter, script: Script, openai_server: FakeOpenAI
) -> None:
    def reject_schemas(request: RecordedRequest) -> int | None:
        return 400 if (request.body.get("response_format") or {}).get("type") == "json_schema" else None

    openai_server.configure(MODEL, status_for=reject_schemas)
    script.on("Lisbon", extraction(fact("lives_in", "Lisbon", "Bob lives in Lisbon.")))
    harness = Harness(storage, router, settings())
    await harness.say(BOB, "Bob", "I just moved to Lisbon")
    await harness.settle()
    assert [m.text for m in await storage.list_memories(BOB)] == ["Bob lives in Lisbon."]


async def test_sloppy_json_is_mended_locally_without_a_repair_call(
    storage: StorageService, router: LLMRouter, script: Script, openai_server: FakeOpenAI
) -> None:
    sloppy = "Here you go:\n```json\n" + extraction(fact("job", "nurse", "Bob is a nurse."))[:-1] + ",}\n```"
    script.on("nurse", sloppy)
    harness = Harness(storage, router, settings())
    await harness.say(BOB, "Bob", "I work as a nurse")
    await harness.settle()
    assert [m.text for m in await storage.list_memories(BOB)] == ["Bob is a nurse."]
    assert repair_requests(openai_server) == []


async def test_malformed_json_is_repaired_by_a_second_call(
    storage: StorageService, router: LLMRouter, script: Script
) -> None:
    script.on("nurse", "{facts: [{key: job, value: nurse")
    script.repairs = [extraction(fact("job", "nurse", "Bob is a nurse."))]
    harness = Harness(storage, router, settings())
    await harness.say(BOB, "Bob", "I work as a nurse")
    await harness.settle()
    assert [m.text for m in await storage.list_memories(BOB)] == ["Bob is a nurse."]


async def test_malformed_json_twice_stores_no_memory(
    storage: StorageService, router: LLMRouter, script: Script
) -> None:
    script.on("nurse", "{facts: [{key: job")
    script.repairs = ["still not json"]
    harness = Harness(storage, router, settings())
    await harness.say(BOB, "Bob", "I work as a nurse")
    await harness.settle()
    assert await storage.list_memories(BOB) == []


async def test_malformed_json_twice_records_a_failure_and_finishes_the_job(
    storage: StorageService, router: LLMRouter, script: Script
) -> None:
    script.on("nurse", "{facts: [{key: job")
    script.repairs = ["still not json"]
    harness = Harness(storage, router, settings())
    await harness.say(BOB, "Bob", "I work as a nurse")
    await harness.settle()
    note = await storage.status_note(STATUS_NOTE)
    assert note is not None and note["extraction_failures"] == 1
    assert [j.status for j in await job_rows(storage, "semantic")] == ["done"]


async def test_malformed_json_twice_keeps_the_turn_searchable(
    storage: StorageService, router: LLMRouter, script: Script
) -> None:
    script.on("nurse", "{facts: [{key: job")
    script.repairs = ["still not json"]
    harness = Harness(storage, router, settings())
    turn, _ = await harness.say(BOB, "Bob", "I work as a nurse at the children's hospital")
    await harness.settle()
    hits = await storage.search(BOB, "nurse at the hospital", kinds=("turn",))
    assert [h.id for h in hits] == [turn.id]


async def test_an_llm_outage_holds_the_job_back_until_the_model_returns(
    storage: StorageService, router: LLMRouter, script: Script, openai_server: FakeOpenAI
) -> None:
    openai_server.configure(MODEL, fail_times=10**6, fail_status=500)
    script.on("nurse", extraction(fact("job", "nurse", "Bob is a nurse.")))
    harness = Harness(storage, router, settings())
    await harness.say(BOB, "Bob", "I work as a nurse")
    worker = harness.worker()
    try:
        await until(lambda: _held_back(storage, openai_server), "the job to be held back and retried")
        openai_server.configure(MODEL, fail_times=0)
        await until(harness.unsettled, "the job to run once the model is back")
    finally:
        await worker.stop()
    assert [m.text for m in await storage.list_memories(BOB)] == ["Bob is a nurse."]
    assert [j.status for j in await job_rows(storage, "semantic")] == ["done"]


async def _held_back(storage: StorageService, server: FakeOpenAI) -> bool:
    rows = await job_rows(storage, "semantic", statuses=("pending",))
    return bool(rows) and rows[0].last_error is not None and len(extraction_requests(server)) >= 2


async def test_a_poison_job_ends_in_the_dead_letters(storage: StorageService, router: LLMRouter) -> None:
    harness = Harness(storage, router, settings())
    await storage.enqueue_job("semantic", "poison", {"no": "scope"})
    await harness.settle()
    [dead] = await storage.jobs.dead_letters()
    assert (dead.job_type, dead.attempts) == ("semantic", 3)


async def test_the_same_message_enqueues_its_reflection_once(
    storage: StorageService, router: LLMRouter
) -> None:
    harness = Harness(storage, router, settings())
    user, reply = await harness.say(BOB, "Bob", "I just moved to Lisbon")
    turn = TurnInput(scope=BOB, author="Bob", text="", message_ids=["msg1"], created_at=user.created_at)
    await harness.reflection.enqueue_reflection(turn, user.id, reply.id)
    assert len(await job_rows(storage, "semantic")) == 1


# ---------------------------------------------------------------- budgets


async def test_a_spent_budget_makes_reflection_index_only(
    storage: StorageService, router: LLMRouter, script: Script, openai_server: FakeOpenAI
) -> None:
    harness = Harness(storage, router, settings(budget_calls_per_day=1))
    await harness.say(BOB, "Bob", "I just moved to Lisbon")
    await harness.settle()
    turn, _ = await harness.say(BOB, "Bob", "my dog is called Pixel")
    await harness.settle()
    hits = await storage.search(BOB, "dog called Pixel", k=1, kinds=("turn",))
    assert (len(extraction_requests(openai_server)), [h.id for h in hits]) == (1, [turn.id])


async def test_a_spent_budget_is_noted_for_operators(
    storage: StorageService, router: LLMRouter, script: Script
) -> None:
    harness = Harness(storage, router, settings(budget_tokens_per_day=1))
    await harness.say(BOB, "Bob", "I just moved to Lisbon")
    await harness.say(BOB, "Bob", "my dog is called Pixel")
    await harness.settle()
    assert "g1 (tokens)" in render_status(await storage.status_note(STATUS_NOTE))[0]


async def test_direct_messages_spend_each_persons_own_budget(
    storage: StorageService, router: LLMRouter, script: Script, openai_server: FakeOpenAI
) -> None:
    harness = Harness(storage, router, settings(budget_calls_per_day=1))
    await harness.say(Scope(user_id="200"), "Bob", "I just moved to Lisbon")
    await harness.say(Scope(user_id="100"), "Alice", "I just moved to Porto")
    await harness.settle()
    assert len(extraction_requests(openai_server)) == 2


def kindred(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("KINDRED")}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=REPO,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def spent_budget_db(tmp_path: Path, real_embedder: Embedder) -> Iterator[dict[str, str]]:
    """Yield the environment of a CLI pointed at a database whose guild 1 budget is spent today."""

    async def prepare() -> None:
        async with open_storage(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'k.db'}", real_embedder) as s:
            await Harness(s, None, settings()).reflection.status.index_only(BOB, "calls")

    asyncio.run(prepare())
    yield {
        "KINDRED__STORAGE__DATA_DIR": str(tmp_path / "data"),
        "KINDRED__STORAGE__SQL__URL": f"sqlite+aiosqlite:///{tmp_path / 'k.db'}",
        "HF_HUB_OFFLINE": "1",
    }


def test_jobs_status_says_where_reflection_is_index_only(spent_budget_db: dict[str, str]) -> None:
    result = kindred("jobs", "status", env=spent_budget_db)
    assert result.returncode == 0, result.stderr
    assert "index-only until 00:00 UTC, budget spent in 1 place(s): g1 (calls)" in result.stdout


def test_jobs_status_json_carries_the_reflection_budgets(spent_budget_db: dict[str, str]) -> None:
    result = kindred("jobs", "status", "--json", env=spent_budget_db)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["reflection"]["index_only"] == {"g1": "calls"}


# ---------------------------------------------------------------- episodic


async def close_session(harness: Harness, storage: StorageService) -> None:
    """Let the scheduler's sweep close the idle session and the worker summarise it."""
    await reflection_sweep(storage, 3600)
    await harness.settle()


async def test_an_idle_session_is_summarised_by_the_llm_with_its_time_span(
    any_storage: StorageService, router: LLMRouter, script: Script
) -> None:
    harness = Harness(any_storage, router, settings(semantic_enabled=False))
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    await harness.say(BOB, "Bob", "I just moved to Lisbon", at=start)
    await harness.say(BOB, "Bob", "and I start my new job on Monday", at=start + timedelta(minutes=5))
    await close_session(harness, any_storage)
    [memory] = await any_storage.list_memories(BOB)
    assert (memory.kind, memory.text, memory.valid_from, memory.meta["until"]) == (
        "episodic",
        script.summary,
        start,
        (start + timedelta(minutes=5)).isoformat(),
    )


async def test_without_an_llm_a_session_gets_an_extractive_summary(storage: StorageService) -> None:
    harness = Harness(storage, None, settings())
    start = datetime.now(UTC) - timedelta(hours=3)
    await harness.say(BOB, "Bob", "hi", at=start)
    await harness.say(BOB, "Bob", "I adopted a grey cat called Miso from the shelter.", at=start)
    await harness.say(BOB, "Bob", "what do you think?", at=start)
    await close_session(harness, storage)
    [memory] = await storage.list_memories(BOB)
    assert memory.text.endswith("Bob said: I adopted a grey cat called Miso from the shelter.")


async def test_a_session_is_summarised_once_however_often_its_job_runs(
    storage: StorageService, router: LLMRouter, script: Script
) -> None:
    harness = Harness(storage, router, settings(semantic_enabled=False))
    start = datetime.now(UTC) - timedelta(hours=3)
    await harness.say(BOB, "Bob", "I just moved to Lisbon", at=start)
    await harness.say(BOB, "Bob", "and I start my new job on Monday", at=start)
    await close_session(harness, storage)
    [job] = await job_rows(storage, "episodic")
    await harness.reflection.episodic.run(_claimed(job))
    assert len(await storage.list_memories(BOB)) == 1


def _claimed(row: Any) -> Job:
    return Job(row.id, row.job_type, row.job_key, row.payload, 0, False, row.user_id, row.created_at)


# ---------------------------------------------------------------- procedural


async def test_an_explicit_style_request_is_stored_without_a_model(storage: StorageService) -> None:
    harness = Harness(storage, None, settings())
    await harness.say(BOB, "Bob", "please keep your answers short")
    await harness.settle()
    assert (await storage.user_settings(BOB))["style"]["length"] == "short"


async def test_the_extraction_call_also_carries_style_requests(
    storage: StorageService, router: LLMRouter, script: Script, openai_server: FakeOpenAI
) -> None:
    style = {"length": None, "tone": "playful", "avoid_topics": ["politics"], "allow_topics": []}
    script.on("politics", extraction(style=style))
    harness = Harness(storage, router, settings())
    await harness.say(BOB, "Bob", "ugh, enough of politics from you, and lighten up")
    await harness.settle()
    stored = (await storage.user_settings(BOB))["style"]
    assert (stored["tone"], stored["avoid_topics"], len(extraction_requests(openai_server))) == (
        "playful",
        ["politics"],
        1,
    )


class Sink:
    """A reply sink that keeps what it was given."""

    def __init__(self) -> None:
        self.replies: list[str] = []

    async def typing(self) -> None:
        return None

    async def stream(self, chunks: AsyncIterator[str]) -> str:
        text = "".join([c async for c in chunks])
        self.replies.append(text)
        return text

    async def notice(self, text: str) -> None:
        return None


async def test_a_stored_style_shows_up_in_the_next_prompt(
    storage: StorageService, router: LLMRouter, script: Script, openai_server: FakeOpenAI
) -> None:
    harness = Harness(storage, router, settings())
    app_settings = Settings(pipeline=PipelineSettings(coalesce_window_s=0))
    pipeline = Pipeline(storage, router, app_settings)
    pipeline.after_turn.append(harness.reflection.enqueue_reflection)
    worker = harness.worker()

    async def send(message_id: str, text: str) -> None:
        message = IncomingMessage(message_id, BOB, "Bob", text, datetime.now(UTC))
        await pipeline.handle(message, Sink())

    async def styled() -> bool:
        return "style" in await storage.user_settings(BOB)

    try:
        await send("m1", "please keep your answers short")
        await until(styled, "the style to be stored")
        await send("m2", "how was your day?")
    finally:
        await worker.stop()
        await pipeline.drain(5)
    chats = [r for r in openai_server.requests_for(MODEL) if r.stream]
    assert "Keep your replies short" in chats[-1].messages[0]["content"]
