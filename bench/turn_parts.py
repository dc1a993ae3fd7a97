"""What each part of a turn costs, in CPU and wall time, each part called on its own many times.

``bench/reply_path.py`` times whole turns, and on a machine shared with other work its wall-clock figures
move by half between runs. This bench asks a narrower question that noise moves much less: how much CPU
each part of the reply path takes in this process (``time.process_time``, every thread: the reading
threads count, the vector store's own process does not). It seeds one person with ``--memories``
memories exactly as ``bench/reply_path.py`` does, answers a few warm-up turns, then calls each part alone
``--calls`` times with the person's messages: every context provider, the crisis check, recall alone, the
recent-turn window, claiming a message id, recording a turn, the after-turn hooks (the reflection enqueue,
emotional support), the whole context assembly and a whole turn (the model's time included, it is instant).

Run::

    python bench/turn_parts.py --out /tmp/parts.json
    python bench/turn_parts.py --out /tmp/parts.json --memories 10000 --backend server

Compare two trees by running each (``PYTHONPATH=<tree>``) alternately; the CPU column is the one to trust.
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
import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from bench.output import prepare, publish
from bench.reply_path import (
    AUTHOR,
    CHANNEL,
    GUILD,
    MODEL,
    REPLY,
    FakeOpenAI,
    Pool,
    embedded_backend,
    machine_info,
    make_settings,
    memory_sentences,
    message,
    seed_memories,
    server_backend,
    timed_turn,
    user_message,
)
from bot.app import Kindred
from bot.pipeline.message import TurnInput
from storage.scope import Scope

SEED = "turn-parts"
WARMUP_TURNS = 20


async def measure(call: Callable[[int], Awaitable[Any]], calls: int) -> dict[str, float]:
    """Call ``call(i)`` for i in range(calls); return wall p50/p95 and CPU per call, in ms."""
    walls = []
    cpu = time.process_time()
    for i in range(calls):
        started = time.perf_counter()
        await call(i)
        walls.append((time.perf_counter() - started) * 1000)
    return {
        "wall_p50_ms": round(statistics.median(walls), 3),
        "wall_p95_ms": round(sorted(walls)[int(0.95 * (len(walls) - 1))], 3),
        "cpu_ms": round((time.process_time() - cpu) / calls * 1000, 3),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Seed a person, then time each part of a turn alone."""
    rng = random.Random(SEED)
    tmp = Path(tempfile.mkdtemp(prefix="kindred-parts-"))
    parts: dict[str, dict[str, float]] = {}
    fake = FakeOpenAI()
    await fake.start()
    fake.configure(MODEL, reply=REPLY, latency_s=0.0, chunk_delay_s=0.0)
    factory = embedded_backend if args.backend == "embedded" else server_backend
    try:
        async with factory(tmp) as backend:
            app = await Kindred.start(make_settings(fake.base_url, backend.storage), ops=False)
            try:
                p, storage = app.pipeline, app.storage
                scope = Scope(user_id="parts", guild_id=GUILD, channel_id=CHANNEL)
                await timed_turn(p, message(scope, "hello", "hi, it's me"))
                texts = memory_sentences(args.memories, rng)
                vectors = await Pool(texts).embedded(storage)
                await seed_memories(storage, [scope], texts, vectors, rng)
                for i in range(WARMUP_TURNS):
                    await timed_turn(p, message(scope, f"w{i}", user_message(rng)))
                await asyncio.sleep(3)  # the warm-up's after-turn work and use counts are written
                said = [user_message(rng) for _ in range(args.calls)]

                def turn(i: int) -> TurnInput:
                    return TurnInput(
                        scope=scope,
                        author=AUTHOR,
                        text=said[i],
                        message_ids=[f"part{i}"],
                        created_at=datetime.now(UTC),
                    )

                async def crisis(i: int) -> None:
                    p.crisis.screen(message(scope, f"c{i}", said[i]))

                async def after_turn(i: int) -> None:
                    for hook in p.after_turn:
                        await hook(turn(i), user_turn.id, user_turn.id)

                user_turn = await storage.record_turn(scope, "user", said[0], speaker=AUTHOR, message_id="u0")
                steps: list[tuple[str, Callable[[int], Awaitable[Any]]]] = [
                    *(
                        (f"provider: {prov.name}", lambda i, prov=prov: prov.provide(turn(i)))
                        for prov in p.providers
                    ),
                    ("crisis check", crisis),
                    (
                        "recall alone (StorageService.search)",
                        lambda i: storage.search(scope, said[i], k=8, neighbours=1),
                    ),
                    ("recent turns (cache window)", lambda i: storage.recent_turns(scope)),
                    ("claim a message id", lambda i: storage.claim_message(scope, f"claim{i}")),
                    (
                        "record a turn",
                        lambda i: storage.record_turn(
                            scope, "user", said[i], speaker=AUTHOR, message_id=f"r{i}"
                        ),
                    ),
                    ("after-turn hooks", after_turn),
                    ("context assembly (every provider, budget)", lambda i: p._prompt(turn(i))),
                    ("whole turn (instant model)", lambda i: timed_turn(p, message(scope, f"t{i}", said[i]))),
                ]
                for name, call in steps:
                    parts[name] = await measure(call, args.calls)
                    await asyncio.sleep(0.5)  # what a step left in the background is not the next one's
                    print(
                        f"  {name:<44} wall p50 {parts[name]['wall_p50_ms']:7.2f} ms   "
                        f"cpu {parts[name]['cpu_ms']:7.2f} ms",
                        flush=True,
                    )
            finally:
                await app.close(grace_s=10)
    finally:
        await fake.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "machine": {**machine_info(), "loadavg_end": [round(x, 2) for x in os.getloadavg()]},
        "backend": args.backend,
        "memories": args.memories,
        "calls": args.calls,
        "parts": parts,
    }


def show(report: dict[str, Any]) -> None:
    """Print the parts, costliest CPU first."""
    print(f"\nTurn parts, {report['backend']}, {report['memories']} memories, {report['calls']} calls each")
    print(f"{'part':<46}{'cpu':>9}{'wall p50':>10}{'p95':>9}")
    for name, m in sorted(report["parts"].items(), key=lambda kv: -kv[1]["cpu_ms"]):
        print(f"{name:<46}{m['cpu_ms']:>9.2f}{m['wall_p50_ms']:>10.2f}{m['wall_p95_ms']:>9.2f}")
    print("(ms per call; cpu = this process's CPU time, every thread, over the calls)")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--out", required=True, type=Path, help="where to write the JSON report")
    parser.add_argument(
        "--memories", type=int, default=1000, help="the person's stored memories (default 1000)"
    )
    parser.add_argument("--calls", type=int, default=100, help="calls of each part (default 100)")
    parser.add_argument("--backend", choices=("embedded", "server"), default="embedded")
    args = parser.parse_args(argv)
    if args.memories < 10 or args.calls < 2:
        parser.error("--memories must be at least 10 and --calls at least 2")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench, print the table and write the JSON."""
    args = parse_args(argv)
    prepare()
    report = asyncio.run(run(args))
    publish(report, args.out, show, None, lambda _: [])
    return 0


if __name__ == "__main__":
    sys.exit(main())
