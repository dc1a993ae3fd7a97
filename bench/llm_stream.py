"""Benchmark the event-loop CPU the LLM router spends on streamed replies, by clients per model.

Rounds of 200 simultaneous streamed replies (a 22-message prompt) go through ``LLMRouter.stream`` to the
fake OpenAI-compatible server (its own thread, 1 s before the first token), alternating one client per
model and ``CLIENTS_PER_MODEL``, and print the median CPU time of the loop's thread per round and the
ratio. The server shares the interpreter lock, so compare the two columns of one run, never across runs.

Run::

    python bench/llm_stream.py --rounds 4
"""

# ruff: noqa: E402
# (the imports below must come after the sys.path fix)

from __future__ import annotations

import sys
from pathlib import Path

# bench/storage.py would shadow the ``storage`` package; the repository root holds the fake server in tests/.
_BENCH_DIR = Path(__file__).resolve().parent
if sys.path and Path(sys.path[0] or ".").resolve() == _BENCH_DIR:
    sys.path.pop(0)
if str(_BENCH_DIR.parent) not in sys.path:
    sys.path.insert(0, str(_BENCH_DIR.parent))

import argparse
import asyncio
import os
import statistics
import time
from typing import Any

from bot.config import LLMModelSettings, LLMSettings
from bot.llm import LLMRouter
from bot.llm.breaker import BreakerConfig
from bot.llm.client import CLIENTS_PER_MODEL, ModelEndpoint, build_clients
from tests.fakes.openai_api import FakeOpenAI

MODEL = "bench-llm"
REPLY = "That sounds lovely. How did it make you feel?"
CONVERSATIONS = 200
PROMPT: list[dict[str, Any]] = [
    {"role": "system", "content": "You are Kindred. " * 100},
    *({"role": "user" if i % 2 == 0 else "assistant", "content": "hello there " * 10} for i in range(20)),
    {"role": "user", "content": "hi"},
]


def router_with(clients: int, base_url: str) -> LLMRouter:
    """Return a router whose one model has ``clients`` clients."""
    settings = LLMSettings(models=[LLMModelSettings(name="a", base_url=base_url, model=MODEL, timeout_s=60)])
    endpoints = [
        ModelEndpoint(
            m, build_clients(m, clients), breaker=BreakerConfig(), stats_window_s=60, stats_max_samples=100
        )
        for m in settings.chain()
    ]
    return LLMRouter(endpoints, settings)


async def loop_cpu_ms(router: LLMRouter) -> float:
    """Return the loop thread's CPU milliseconds for one round of simultaneous streamed replies."""

    async def one() -> str:
        return "".join([text async for text in router.stream(PROMPT)])

    started = time.thread_time()
    replies = await asyncio.gather(*(one() for _ in range(CONVERSATIONS)))
    if any(reply != REPLY for reply in replies):
        raise RuntimeError("a streamed reply came back wrong")
    return (time.thread_time() - started) * 1000


async def run(rounds: int) -> None:
    fake = FakeOpenAI()
    await fake.start()
    fake.configure(MODEL, reply=REPLY, latency_s=1.0, chunk_delay_s=0.0)
    cpu: dict[int, list[float]] = {1: [], CLIENTS_PER_MODEL: []}
    try:
        routers = {n: router_with(n, fake.base_url) for n in cpu}
        for router in routers.values():
            await loop_cpu_ms(router)  # warm: connections open, code paths loaded
        for _ in range(rounds):
            for n, router in routers.items():
                cpu[n].append(await loop_cpu_ms(router))
        for router in routers.values():
            await router.close()
    finally:
        await fake.stop()
    one, many = statistics.median(cpu[1]), statistics.median(cpu[CLIENTS_PER_MODEL])
    print(
        f"{CONVERSATIONS} simultaneous streamed replies, {rounds} rounds each, load {os.getloadavg()[0]:.1f}"
    )
    print(f"loop CPU per round, median: 1 client {one:.0f} ms, {CLIENTS_PER_MODEL} clients {many:.0f} ms")
    print(f"ratio {many / one:.2f}; per reply {one / CONVERSATIONS:.2f} ms and {many / CONVERSATIONS:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=4, help="measured rounds per setting")
    asyncio.run(run(parser.parse_args().rounds))


if __name__ == "__main__":
    main()
