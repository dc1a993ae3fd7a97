"""The crisis protocol's message: fixed words per language, the configured helplines per locale."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.config import CrisisSettings
from bot.pipeline.message import IncomingMessage
from bot.safety import crisis, protocol
from bot.safety.crisis_response import RESPONSES
from bot.safety.protocol import CrisisProtocol
from storage.scope import Scope


def incoming(text: str) -> IncomingMessage:
    return IncomingMessage("m1", Scope(user_id="u1"), "sam", text, datetime(2026, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("locale", "helpline", "invitation"),
    [
        ("en", "988", "keep talking"),
        ("es", "024", "seguir hablando"),
        ("fr", "3114", "continuer à parler"),
        ("de", "0800 111 0 111", "weiter mit dir reden"),
        ("pt", "188", "continuar conversando"),
    ],
)
def test_each_locale_gets_its_words_and_its_helplines(locale: str, helpline: str, invitation: str) -> None:
    text = CrisisProtocol(CrisisSettings()).message_for(locale)
    assert helpline in text and invitation in text
    assert "{helplines}" not in text


def test_an_unknown_locale_gets_english_words_and_the_default_helplines() -> None:
    text = CrisisProtocol(CrisisSettings()).message_for(None)
    assert "findahelpline.com" in text and "emergency number" in text
    assert text.startswith(RESPONSES["en"][:20])


def test_configured_helplines_replace_the_defaults() -> None:
    settings = CrisisSettings(helplines={"en": ["Call the Lakeside line: 555 0100"], "default": ["x"]})
    text = CrisisProtocol(settings).message_for("en")
    assert "555 0100" in text and "988" not in text


def test_screen_reads_the_message_normalised_and_can_be_switched_off() -> None:
    assert CrisisProtocol(CrisisSettings()).screen(incoming("i want to k\u200bill myself")).hit
    assert not CrisisProtocol(CrisisSettings(enabled=False)).screen(incoming("i want to kill myself")).hit


async def test_the_check_is_compiled_once_in_a_thread_not_on_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads: list[int] = []

    def warm() -> None:
        threads.append(threading.get_ident())
        crisis.warm()

    monkeypatch.setattr(protocol, "warm", warm)
    on = CrisisProtocol(CrisisSettings())
    on.warm_soon()
    on.warm_soon()  # at startup and again: one compile
    await on.ready()
    await on.ready()
    assert len(threads) == 1 and threads[0] != threading.get_ident()
    assert on.screen(incoming("i want to kill myself")).hit
    off = CrisisProtocol(CrisisSettings(enabled=False))
    await off.ready()  # switched off: nothing to compile, and nothing waits
    assert len(threads) == 1


class _BrokenSink:
    """A sink whose every send fails, like a platform outage."""

    def __init__(self) -> None:
        self.tried = 0

    async def typing(self) -> None:
        return None

    async def stream(self, chunks: AsyncIterator[str]) -> str:
        return ""

    async def notice(self, text: str) -> None:
        self.tried += 1
        raise ConnectionError("platform down")


async def test_a_failed_delivery_is_counted_and_does_not_end_the_turn() -> None:
    from bot.metrics import REGISTRY

    before = REGISTRY.get_sample_value("kindred_errors_total", {"kind": "crisis_delivery"}) or 0.0
    sink = _BrokenSink()
    protocol = CrisisProtocol(CrisisSettings())
    message = incoming("i want to die")
    await protocol.respond(message, sink, protocol.screen(message))  # no exception escapes
    assert sink.tried == 1
    assert REGISTRY.get_sample_value("kindred_errors_total", {"kind": "crisis_delivery"}) == before + 1
