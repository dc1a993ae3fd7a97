"""Logging set-up: human-readable lines by default, one JSON object per line when configured.

The rule is that message text, memory text and secrets never appear at INFO or above; code keeps it by
logging ids and counts. As a second line of defence, every configured secret's value is masked in the
output, tracebacks included, and every ERROR record is counted in the ``kindred_errors`` metric.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, SecretStr

from bot import metrics

MASK = "[redacted]"
# Shorter values are too likely to be ordinary words ("test") to mask everywhere they occur.
MIN_SECRET_CHARS = 6

_NOISY = ("discord.gateway", "httpx", "httpx2", "chromadb", "alembic.runtime.migration", "apscheduler")


class _Masker:
    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted({s for s in secrets if len(s) >= MIN_SECRET_CHARS}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message`` with secrets masked."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        self._mask = _Masker(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return self._mask(super().format(record))


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object (for log shippers), secrets masked."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._mask = _Masker(secrets)

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": self._mask(record.getMessage()),
        }
        if record.exc_info:
            data["exc"] = self._mask(self.formatException(record.exc_info))
        return json.dumps(data, ensure_ascii=False)


class ErrorCounter(logging.Handler):
    """Count ERROR records in ``kindred_errors`` by the top-level package that logged them."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)

    def emit(self, record: logging.LogRecord) -> None:
        metrics.ERRORS.labels(f"logged_{record.name.split('.', 1)[0]}").inc()


def secret_values(model: BaseModel) -> list[str]:
    """Return the value of every SecretStr set anywhere in a settings tree (to mask in the logs)."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, SecretStr):
            raw = value.get_secret_value()
            if raw:
                found.append(raw)
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)

    walk(model)
    return found


def configure_logging(level: str = "INFO", fmt: str = "text", secrets: Iterable[str] = ()) -> None:
    """Send log records to stderr in the chosen format, replacing earlier handlers."""
    secrets = list(secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(secrets) if fmt == "json" else TextFormatter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler, ErrorCounter()]
    root.setLevel(level)
    # Third-party chatter at INFO would bury ours.
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
