"""The embedded default (in-process cache, SQL outbox queue) never imports the Redis client."""

from __future__ import annotations

import subprocess
import sys


def run(script: str) -> str:
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_the_app_and_storage_service_import_without_redis() -> None:
    script = "import sys, bot.app, storage.service\nprint('redis' in sys.modules)"
    assert run(script) == "False"


def test_the_redis_classes_are_still_importable_by_name() -> None:
    script = (
        "from storage.cache import RedisCache\n"
        "from storage.queue import StreamQueue\n"
        "print(RedisCache.__module__, StreamQueue.__module__)"
    )
    assert run(script) == "storage.cache.redis storage.queue.streams"
