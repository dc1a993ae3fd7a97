"""Scale: recall latency, RSS and cold start as the embedded default fills with memories and people.

A bulk loader grows one embedded store (SQLite file, embedded Chroma) along a ladder of (people, memories
per person) steps, e.g. 100x10 -> 1,000x10 -> 10,000x10 (cost as people grow) -> 10,000x30 -> 10,000x100
(cost as each person's memories grow). People are created through ``StorageService.record_turn`` (their
first message); memories go in through the storage service's own SQL engine in multi-person batches of
ORM rows (the full-text triggers index them as usual) and through the vector tier's batch ``upsert`` into
each person's partition, with embeddings from ``storage.embedder``. Every memory is a distinct sentence.

At each step the loader closes the store and a fresh process measures what a restarted bot would see:
``Kindred.start`` to ready, then ``StorageService.search`` (the recall behind every reply) for random
people with a realistic message as the query, in rounds; then that process's RSS. The medians of the
rounds are reported. Separately it times ``python -m bot run`` from spawn to gateway ready against the
fake Discord API (tests/fakes/discord_api), repeatedly: first starts on fresh data directories and
restarts on one existing store, each with the CPU time the process had used by then.

Run::

    python bench/scale.py --out /tmp/scale.json                          # the ladder up to 1M memories
    python bench/scale.py --out /tmp/s.json --ladder 20x5,50x5 --queries 20 --rounds 1 --starts 1
    python bench/scale.py --out /tmp/cold.json --cold-start-only --starts 5   # only `bot run` starts

A step that would not finish on this machine in the time can be left off the ladder; nothing is
extrapolated. Numbers come from a shared machine: compare runs, never assert on them.
"""

# ruff: noqa: E402
# (the imports below must come after the sys.path fix)

from __future__ import annotations

import sys
from pathlib import Path

_BENCH_DIR = Path(__file__).resolve().parent
if sys.path and Path(sys.path[0] or ".").resolve() == _BENCH_DIR:
    sys.path.pop(0)  # bench/storage.py would shadow the storage package
if str(_BENCH_DIR.parent) not in sys.path:
    sys.path.insert(0, str(_BENCH_DIR.parent))

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from bench.charts import scale_charts
from bench.load import kindred_rss_mb, rss_mb
from bench.output import prepare, publish
from bench.reply_path import (
    MODEL,
    machine_info,
    make_settings,
    memory_sentences,
    percentile,
    progress,
    summary,
    user_message,
)
from storage.config import QueueSettings, StorageSettings
from storage.scope import Scope
from storage.service import StorageService
from storage.vectors.base import Partition, VectorItem

log = logging.getLogger("bench.scale")

SEED = 20_261_122
GUILD = "8000"
CHANNELS = 50
SQL_BATCH = 5_000
EMBED_BATCH = 4_096
UPSERT_CONCURRENCY = 8
K = 10
FULL_LADDER = "100x10,1000x10,10000x10,10000x30,10000x100"
TARGET_RECALL_P50_MS = 10.0
TARGET_RSS_MB = 300.0
TARGET_START_S = 3.0


@dataclass(frozen=True, slots=True)
class Step:
    """One rung of the ladder: how many people, each with how many memories."""

    people: int
    per_person: int

    @property
    def memories(self) -> int:
        return self.people * self.per_person

    def __str__(self) -> str:
        return f"{self.people}x{self.per_person}"


def parse_ladder(text: str) -> list[Step]:
    """Read ``PEOPLExPER,PEOPLExPER,...``; each step must keep or grow both numbers."""
    steps: list[Step] = []
    for part in text.split(","):
        people, sep, per = part.strip().partition("x")
        if not sep or not people.isdigit() or not per.isdigit() or int(people) < 1 or int(per) < 1:
            raise ValueError(f"ladder step {part!r}: write PEOPLExMEMORIES, e.g. 1000x10")
        step = Step(int(people), int(per))
        if steps and (step.people < steps[-1].people or step.per_person < steps[-1].per_person):
            raise ValueError(f"ladder step {step} shrinks after {steps[-1]}: the store only grows")
        steps.append(step)
    return steps


def scope_of(n: int) -> Scope:
    """Return person n's scope: one server, spread over its channels."""
    return Scope(user_id=f"p{n:06d}", guild_id=GUILD, channel_id=f"{GUILD}{n % CHANNELS:03d}")


def storage_settings(data_dir: Path) -> StorageSettings:
    """Return the embedded default's storage settings in ``data_dir``."""
    return StorageSettings(data_dir=data_dir, queue=QueueSettings(in_process=False))


# ---------------------------------------------------------------------------------------------- loader


async def add_people(storage: StorageService, start: int, end: int) -> None:
    """Create people start..end-1 through the service, the way their first message would."""
    for base in range(start, end, 50):
        await asyncio.gather(
            *(
                storage.record_turn(scope_of(n), "user", "hello!", speaker=f"person {n}", message_id=f"hi{n}")
                for n in range(base, min(base + 50, end))
            )
        )


async def owner_ids(storage: StorageService, people: Sequence[int]) -> dict[int, tuple[int, int]]:
    """Return person n -> (users.id, scopes.id) for the given people."""
    from sqlalchemy import select

    from storage.sql.models import ScopeRow, User

    users: dict[str, int] = {}
    names = [scope_of(n).user_id for n in people]
    async with storage.engine.connect() as conn:
        for start in range(0, len(names), 900):
            rows = await conn.execute(
                select(User.external_id, User.id).where(
                    User.platform == "discord", User.external_id.in_(names[start : start + 900])
                )
            )
            users.update({str(e): int(i) for e, i in rows})
        rows = await conn.execute(select(ScopeRow.channel_id, ScopeRow.id).where(ScopeRow.guild_id == GUILD))
        places = {str(c): int(i) for c, i in rows}
    out = {}
    for n in people:
        scope = scope_of(n)
        out[n] = (users[scope.user_id], places[cast(str, scope.channel_id)])
    return out


async def add_memories(
    storage: StorageService, wants: Sequence[tuple[int, int]], sentences: Sequence[str], rng: random.Random
) -> None:
    """Give each (person, count) ``count`` new memories: SQL rows in batches, then vectors per person."""
    from sqlalchemy import insert

    from storage.sql.models import Memory

    owners = await owner_ids(storage, [n for n, _ in wants])
    plan = [n for n, count in wants for _ in range(count)]
    if len(plan) > len(sentences):
        raise ValueError(f"{len(plan)} memories wanted but only {len(sentences)} sentences given")
    now = datetime.now(UTC)
    stmt = insert(Memory).returning(Memory.id, sort_by_parameter_order=True)
    for start in range(0, len(plan), SQL_BATCH):
        owners_here = plan[start : start + SQL_BATCH]
        texts = list(sentences[start : start + len(owners_here)])
        vectors = await storage.embedder.embed(texts)
        rows: list[dict[str, Any]] = []
        for n, text in zip(owners_here, texts, strict=True):
            at = now - timedelta(seconds=rng.randint(3600, 2 * 365 * 86_400))
            user_id, scope_id = owners[n]
            rows.append(
                {
                    "user_id": user_id,
                    "scope_id": scope_id,
                    "realm": scope_of(n).realm,
                    "kind": "fact" if rng.random() < 0.7 else "episodic",
                    "speaker": f"person {n}",
                    "text": text,
                    "importance": round(rng.uniform(0.2, 0.95), 2),
                    "pinned": False,
                    "created_at": at,
                    "valid_from": at,
                    "source_turn_ids": [],
                    "embedding_model": storage.embedder.model_id,
                    "meta": {},
                }
            )
        async with storage.engine.begin() as conn:
            ids = [int(i) for i in (await conn.execute(stmt, rows)).scalars()]
        by_person: dict[int, list[VectorItem]] = {}
        for j, (n, mid) in enumerate(zip(owners_here, ids, strict=True)):
            meta = {"kind": "memory", "at": rows[j]["created_at"].timestamp()}
            by_person.setdefault(n, []).append(VectorItem(f"m{mid}", list(map(float, vectors[j])), meta))
        people = list(by_person.items())
        for group in range(0, len(people), UPSERT_CONCURRENCY):
            await asyncio.gather(
                *(upsert(storage, n, items) for n, items in people[group : group + UPSERT_CONCURRENCY])
            )


async def upsert(storage: StorageService, n: int, items: list[VectorItem]) -> None:
    """Put one person's new vectors into their partition, in the service's embedding space."""
    scope = scope_of(n)
    await storage.vectors.upsert(storage.space, Partition(scope.user_key, scope.realm), items)


async def grow(
    data_dir: Path, before: Step | None, after: Step, sentences: Sequence[str], seed: int
) -> float:
    """Grow the store in ``data_dir`` from ``before`` to ``after``; return the seconds it took."""
    begun = time.perf_counter()
    storage = await StorageService.open(storage_settings(data_dir))
    try:
        old_people, old_per = (before.people, before.per_person) if before else (0, 0)
        await add_people(storage, old_people, after.people)
        wants = [(n, after.per_person - old_per) for n in range(old_people) if after.per_person > old_per]
        wants += [(n, after.per_person) for n in range(old_people, after.people)]
        await add_memories(storage, wants, sentences, random.Random(f"{seed}-{after}"))
    finally:
        await storage.close()
    return time.perf_counter() - begun


# ---------------------------------------------------------------------------------------------- measuring


async def measure(data_dir: Path, people: int, queries: int, rounds: int) -> dict[str, Any]:
    """In a fresh process: start Kindred on the store, time recall in rounds, report RSS (child side)."""
    from bot.app import Kindred

    settings = make_settings("http://127.0.0.1:9/v1", storage_settings(data_dir))
    begun = time.perf_counter()
    app = await Kindred.start(settings, ops=False)
    start_s = time.perf_counter() - begun
    try:
        rng = random.Random(SEED)
        # The first recall after a start loads what later ones reuse; a restarted bot's first reply pays it.
        started = time.perf_counter()
        await app.storage.search(scope_of(rng.randrange(people)), user_message(rng), k=K)
        first_ms = (time.perf_counter() - started) * 1000
        round_p50: list[float] = []
        every: list[float] = []
        semantic = 0
        for _ in range(rounds):
            times = []
            for _ in range(queries):
                scope = scope_of(rng.randrange(people))
                query = user_message(rng)
                started = time.perf_counter()
                found = await app.storage.search(scope, query, k=K)
                times.append((time.perf_counter() - started) * 1000)
                semantic += any("semantic" in f.reasons for f in found)
            round_p50.append(percentile(times, 50))
            every.extend(times)
        gc.collect()
        return {
            "start_to_ready_s": round(start_s, 3),
            "first_recall_ms": round(first_ms, 1),
            "recall_p50_ms_per_round": [round(v, 3) for v in round_p50],
            "recall": summary(every),
            "queries_with_semantic_hits": semantic,
            "queries": len(every),
            # The bot and its vector store's process together (Chroma lives in the latter).
            "rss_mb": round(kindred_rss_mb(), 1),
            "rss_bot_process_mb": round(rss_mb(), 1),
        }
    finally:
        await app.close(grace_s=5)


async def measure_in_child(data_dir: Path, people: int, queries: int, rounds: int) -> dict[str, Any]:
    """Run ``measure`` in a new interpreter, so its RSS and start time are a restarted bot's."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(_BENCH_DIR / "scale.py"),
        "--measure",
        str(data_dir),
        "--people",
        str(people),
        "--queries",
        str(queries),
        "--rounds",
        str(rounds),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"the measuring process failed ({proc.returncode}):\n{err.decode()[-3000:]}")
    return cast(dict[str, Any], json.loads(out.decode().strip().splitlines()[-1]))


# ---------------------------------------------------------------------------------------------- bot run


SITECUSTOMIZE = """\
import os
if os.environ.get("KINDRED_BENCH_DISCORD"):
    import discord.gateway, discord.http, yarl
    _base = os.environ["KINDRED_BENCH_DISCORD"]
    discord.http.Route.BASE = _base + "/api/v10"
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(_base.replace("http", "ws", 1) + "/ws")
"""


def process_cpu_s(pid: int) -> float:
    """Return the CPU time (user + system, all threads) a running process has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def time_bot_run(
    tmp: Path, times: int, *, existing: bool = False, cpu_s: list[float] | None = None
) -> list[float]:
    """Time ``python -m bot run`` from spawn to the gateway-ready log line, against the fake Discord API.

    Each start gets a fresh data directory (a first start: migrations run), or with ``existing`` all share
    one store that an untimed start has already made (a restart). ``cpu_s``, when given, receives the CPU
    time each process had used by then: on a shared machine it varies far less than the wall time.
    """
    from tests.fakes.discord_api import FakeDiscord
    from tests.fakes.openai_api import FakeOpenAI

    hook = tmp / "discord-hook"
    hook.mkdir(parents=True, exist_ok=True)
    # Only the bench's child sees this: it points discord.py at the fake, as the tests' patch does.
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    out: list[float] = []
    async with FakeOpenAI() as model, FakeDiscord() as fake:
        fake.populate()
        for n in range(times + existing):
            data_dir = tmp / ("bot-run-existing" if existing else f"bot-run-{n}")
            env = {
                **{
                    k: v
                    for k, v in os.environ.items()
                    if not k.startswith(("KINDRED", "OPENAI_", "DISCORD_"))
                },
                "PYTHONPATH": os.pathsep.join([str(hook), str(_BENCH_DIR.parent)]),
                "KINDRED_BENCH_DISCORD": fake.url,
                "DISCORD_TOKEN": fake.token,
                "OPENAI_BASE_URL": model.base_url,
                "OPENAI_API_KEY": "bench",
                "KINDRED__LLM__MODEL": MODEL,
                "KINDRED__STORAGE__DATA_DIR": str(data_dir),
                "KINDRED__OPS__HTTP_ENABLED": "false",
            }
            begun = time.perf_counter()
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                env=env,
                cwd=str(tmp),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            seen: list[str] = []
            try:
                assert proc.stderr is not None
                async with asyncio.timeout(120):
                    while True:
                        line = (await proc.stderr.readline()).decode(errors="replace")
                        if not line:
                            raise RuntimeError(
                                "python -m bot run exited before ready:\n" + "".join(seen[-30:])
                            )
                        seen.append(line)
                        if "connected to Discord" in line:
                            ready_s = time.perf_counter() - begun
                            ready_cpu_s = process_cpu_s(proc.pid)
                            break
            finally:
                if proc.returncode is None:
                    proc.terminate()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(proc.communicate(), 30)
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
            if existing and n == 0:
                continue  # the start that made the store is a first start, not a restart
            out.append(ready_s)
            if cpu_s is not None:
                cpu_s.append(ready_cpu_s)
            progress(
                f"python -m bot run ({'restart' if existing else 'first start'}): ready after {ready_s:.2f} s"
            )
    return out


# ---------------------------------------------------------------------------------------------- driver


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Grow the store along the ladder, measuring each step; then time bot start-up."""
    steps: list[Step] = args.ladder
    report: dict[str, Any] = {"machine": machine_info(), "ladder": [str(s) for s in steps], "steps": []}
    tmp = args.store or Path(tempfile.mkdtemp(prefix="kindred-scale-"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        if args.starts > 0:
            report["empty_start"] = await measure_in_child(tmp / "empty", 1, 1, 1) | {
                "note": "Kindred.start on an empty store (first start, migrations included)"
            }
            first_cpu: list[float] = []
            restart_cpu: list[float] = []
            first = await time_bot_run(tmp, args.starts, cpu_s=first_cpu)
            restart = await time_bot_run(tmp, args.starts, existing=True, cpu_s=restart_cpu)
            report["bot_run_ready_s"] = [round(s, 3) for s in first]
            report["bot_run_restart_ready_s"] = [round(s, 3) for s in restart]
            report["bot_run_ready_cpu_s"] = [round(s, 3) for s in first_cpu]
            report["bot_run_restart_ready_cpu_s"] = [round(s, 3) for s in restart_cpu]
            if args.cold_start_only:
                return finish(report)
        total = steps[-1].memories
        begun = time.perf_counter()
        sentences = memory_sentences(total, random.Random(SEED))
        progress(f"generated {total} distinct sentences in {time.perf_counter() - begun:.1f} s")
        data = tmp / "store"
        before: Step | None = None
        used = 0
        for step in steps:
            need = step.memories - (before.memories if before else 0)
            grow_s = await grow(data, before, step, sentences[used : used + need], SEED)
            used += need
            progress(f"{step}: {step.memories} memories stored in {grow_s:.1f} s")
            row = {"step": str(step), "people": step.people, "per_person": step.per_person}
            row["memories"] = step.memories
            row["load_s"] = round(grow_s, 1)
            row["disk_mb"] = round(sum(f.stat().st_size for f in data.rglob("*") if f.is_file()) / 2**20, 1)
            runs = [
                await measure_in_child(data, step.people, args.queries, args.rounds)
                for _ in range(max(1, args.starts))
            ]
            row["measured"] = runs
            row["recall_p50_ms"] = round(
                statistics.median(p for r in runs for p in r["recall_p50_ms_per_round"]), 3
            )
            row["recall_p99_ms"] = round(statistics.median(r["recall"]["p99_ms"] for r in runs), 3)
            row["rss_mb"] = round(statistics.median(r["rss_mb"] for r in runs), 1)
            row["rss_bot_process_mb"] = round(statistics.median(r["rss_bot_process_mb"] for r in runs), 1)
            row["start_to_ready_s"] = round(statistics.median(r["start_to_ready_s"] for r in runs), 3)
            progress(
                f"{step}: recall p50 {row['recall_p50_ms']} ms, p99 {row['recall_p99_ms']} ms, "
                f"RSS {row['rss_mb']} MB (bot process {row['rss_bot_process_mb']} MB), "
                f"start {row['start_to_ready_s']} s"
            )
            report["steps"].append(row)
            before = step
            # Saved after every step: the largest steps take long, and an interrupted run keeps the rest.
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    finally:
        if args.store is None:
            shutil.rmtree(tmp, ignore_errors=True)
    return finish(report)


def finish(report: dict[str, Any]) -> dict[str, Any]:
    """Note the load average at the end and judge the report against the issue's targets."""
    report["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    report["targets"] = judge(report)
    return report


def judge(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Compare with the issue's targets, only where the ladder reached the size a target names."""

    def check(name: str, value: float, target: float) -> dict[str, Any]:
        return {"name": name, "value": value, "target": target, "passed": value <= target}

    checks: list[dict[str, Any]] = []
    by_size = {r["memories"]: r for r in report["steps"]}
    if 1_000_000 in by_size:
        checks.append(
            check("recall p50 at 1M memories", by_size[1_000_000]["recall_p50_ms"], TARGET_RECALL_P50_MS)
        )
    if 100_000 in by_size:
        checks.append(check("embedded RSS at 100k memories (MB)", by_size[100_000]["rss_mb"], TARGET_RSS_MB))
    if report["steps"]:
        worst = max(r["start_to_ready_s"] for r in report["steps"])
        checks.append(check("Kindred.start to ready, worst step (s)", worst, TARGET_START_S))
    if report.get("bot_run_ready_s"):
        median = statistics.median(report["bot_run_ready_s"])
        checks.append(check("python -m bot run to gateway ready, median (s)", median, TARGET_START_S))
    if report.get("bot_run_restart_ready_s"):
        median = statistics.median(report["bot_run_restart_ready_s"])
        checks.append(
            check("python -m bot run to gateway ready on a restart, median (s)", median, TARGET_START_S)
        )
    return checks


def print_report(report: dict[str, Any]) -> None:
    """Print the table."""
    m = report["machine"]
    print()
    print(
        f"Kindred at scale, embedded default ({m['cpu']}, {m['cores']} cores, "
        f"load {m['loadavg_start']} -> {m['loadavg_end']})"
    )
    head = (
        f"{'step':>11}{'memories':>10}{'recall p50':>11}{'p99':>8}{'RSS MB':>8}{'start s':>8}"
        f"{'load s':>8}{'disk MB':>8}"
    )
    if report["steps"]:
        print(head)
        print("-" * len(head))
    for r in report["steps"]:
        print(
            f"{r['step']:>11}{r['memories']:>10}{r['recall_p50_ms']:>11.2f}{r['recall_p99_ms']:>8.2f}"
            f"{r['rss_mb']:>8.0f}{r['start_to_ready_s']:>8.2f}{r['load_s']:>8.0f}{r['disk_mb']:>8.0f}"
        )
    if "bot_run_ready_s" in report:
        for label, key in (("first starts", "bot_run_ready"), ("restarts", "bot_run_restart_ready")):
            walls, cpus = report[f"{key}_s"], report[f"{key}_cpu_s"]
            print(
                f"python -m bot run to gateway ready, {label}: median {statistics.median(walls):.2f} s "
                f"(CPU {statistics.median(cpus):.2f} s); each {walls}"
            )
    for c in report["targets"]:
        print(f"  {'PASS' if c['passed'] else 'MISS':<5} {c['name']}: {c['value']} (target {c['target']})")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, help="where to write the JSON report")
    parser.add_argument("--charts", type=Path, help="render PNG charts into this directory")
    parser.add_argument("--ladder", default=FULL_LADDER, help=f"PEOPLExPER steps (default {FULL_LADDER})")
    parser.add_argument("--queries", type=int, default=200, help="recall queries per round (default 200)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per measuring process (default 3)")
    parser.add_argument(
        "--starts",
        type=int,
        default=3,
        help="measuring processes per step and `bot run` starts (default 3; 0 skips bot run)",
    )
    parser.add_argument(
        "--cold-start-only",
        action="store_true",
        help="time only `bot run` starts (first starts and restarts)",
    )
    parser.add_argument(
        "--store",
        type=Path,
        help="build the store here and keep it, to profile recall on it afterwards (default: a temporary "
        "directory, removed at the end)",
    )
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the child side
    parser.add_argument("--people", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure is None and args.out is None:
        parser.error("--out is required")
    if args.queries < 1 or args.rounds < 1 or args.starts < 0:
        parser.error("--queries and --rounds must be at least 1, --starts at least 0")
    try:
        args.ladder = parse_ladder(args.ladder)
    except ValueError as exc:
        parser.error(f"--ladder: {exc}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark (or, with --measure, one measuring child), print and write the JSON."""
    args = parse_args(argv)
    prepare()
    if args.measure is not None:
        print(json.dumps(asyncio.run(measure(args.measure, args.people, args.queries, args.rounds))))
        return 0
    report = asyncio.run(run(args))
    publish(report, args.out, print_report, args.charts, lambda where: scale_charts(report, where))
    return 0


if __name__ == "__main__":
    sys.exit(main())
