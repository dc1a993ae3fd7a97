"""Logging: JSON lines that parse, secrets masked even in tracebacks, errors counted by component."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from bot import metrics
from bot.config import DiscordSettings, LLMModelSettings, LLMSettings, Settings
from bot.logs import MASK, ErrorCounter, JsonFormatter, TextFormatter, configure_logging, secret_values
from bot.metrics import counter_total

TOKEN = "MTA1.discord-token-value.xyz"
API_KEY = "sk-proj-abcdef123456"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield
    root.handlers[:], level = saved
    root.setLevel(level)


def emit(formatter: logging.Formatter, msg: str, *args: object, exc: BaseException | None = None) -> str:
    record = logging.LogRecord("bot.test", logging.INFO, __file__, 1, msg, args, None)
    if exc is not None:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    return formatter.format(record)


def test_json_lines_parse_with_their_fields() -> None:
    line = emit(JsonFormatter(), "turn %s answered in %d ms", "abc", 42)
    data = json.loads(line)
    assert data["msg"] == "turn abc answered in 42 ms"
    assert (data["level"], data["logger"]) == ("INFO", "bot.test")
    assert data["ts"].endswith("+00:00")


def test_json_carries_the_traceback() -> None:
    try:
        raise ValueError("bad thing")
    except ValueError as exc:
        line = emit(JsonFormatter(), "failed", exc=exc)
    assert "ValueError: bad thing" in json.loads(line)["exc"]


@pytest.mark.parametrize("formatter", [JsonFormatter([TOKEN]), TextFormatter([TOKEN])], ids=["json", "text"])
def test_a_secret_is_masked_in_message_and_traceback(formatter: logging.Formatter) -> None:
    try:
        raise RuntimeError(f"login failed with {TOKEN}")
    except RuntimeError as exc:
        line = emit(formatter, "connecting with %s", TOKEN, exc=exc)
    assert TOKEN not in line
    assert line.count(MASK) >= 2


def test_short_values_are_not_masked_everywhere() -> None:
    assert emit(TextFormatter(["test"]), "a test message").endswith("a test message")


def test_secret_values_finds_every_secret_in_the_settings_tree() -> None:
    settings = Settings(
        discord=DiscordSettings(token=SecretStr(TOKEN)),
        llm=LLMSettings(models=[LLMModelSettings(name="a", model="m", api_key=API_KEY)]),
    )
    assert {TOKEN, API_KEY} <= set(secret_values(settings))


def test_error_records_are_counted_by_component() -> None:
    before = counter_total(metrics.ERRORS, kind="logged_storage")
    logger = logging.getLogger("storage.sql.counted")
    handler = ErrorCounter()
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.error("the pool is exhausted")
        logger.warning("a slow query")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    assert counter_total(metrics.ERRORS, kind="logged_storage") == before + 1


def test_configure_logging_json_writes_parseable_masked_lines(
    restore_logging: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    configure_logging("INFO", "json", [API_KEY])
    logging.getLogger("bot.x").info("key is %s", API_KEY)
    logging.getLogger("bot.x").debug("not shown")
    lines = stream.getvalue().splitlines()
    assert [json.loads(line)["msg"] for line in lines] == [f"key is {MASK}"]
