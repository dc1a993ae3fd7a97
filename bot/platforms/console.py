"""The console adapter: ``kindred chat`` talks with Kindred in a terminal, same pipeline and storage."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TextIO

from bot.app import Kindred
from bot.config import Settings
from bot.errors import EXIT_OK
from bot.pipeline.message import IncomingMessage
from storage.scope import Scope

# Control characters other than newline and tab: a reply carrying "\x1b[2J" or an OSC title sequence would
# otherwise drive the person's terminal (clear it, retitle it, hide text) instead of being read.
_TERMINAL_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Return text without the control characters a terminal would act on."""
    return _TERMINAL_CONTROLS.sub("", text)


BUILTIN_HELP = [
    ("/reset", "start a fresh conversation (what Kindred remembers stays)"),
    ("/help", "this list"),
    ("/quit", "leave (Ctrl-D works too)"),
]


def help_text(app: Kindred) -> str:
    """Return the console's command list: the built-ins and every feature's commands."""
    rows = BUILTIN_HELP[:1] + [(cmd.usage, cmd.summary) for cmd in app.features.console.values()]
    rows += BUILTIN_HELP[1:]
    width = max(len(usage) for usage, _ in rows) + 2
    return "Commands:\n" + "\n".join(f"  {usage.ljust(width)}{what}" for usage, what in rows)


class ConsoleSink:
    """Print a reply as it streams in."""

    def __init__(self, out: TextIO, name: str) -> None:
        self.out = out
        self.name = name

    async def typing(self) -> None:
        """Nothing to show: the reply starts streaming right away."""

    async def stream(self, chunks: AsyncIterator[str]) -> str:
        """Print each chunk as it arrives; return the whole reply."""
        self.out.write(f"{self.name}: ")
        parts = []
        async for chunk in chunks:
            parts.append(chunk)
            self.out.write(printable(chunk))
            self.out.flush()
        self.out.write("\n")
        self.out.flush()
        return "".join(parts)

    async def notice(self, text: str) -> None:
        """Print a notice on its own line."""
        self.out.write(f"[{printable(text)}]\n")
        self.out.flush()


def console_scope(user: str) -> Scope:
    """Return the Scope of a console user: their own DM-like conversation."""
    safe = re.sub(r"[^A-Za-z0-9_.:-]", "_", user)[:64] or "you"
    return Scope(user_id=safe, guild_id=None, channel_id="console", platform="console")


async def run_console(
    settings: Settings, user: str, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout
) -> int:
    """Chat in the terminal until /quit or end of input; return the exit code."""
    app = await Kindred.start(settings, ops=False)
    app.pipeline.crisis.warm_soon()  # while the person types their first line
    scope = console_scope(user)
    sink = ConsoleSink(out, settings.persona.name)
    interactive = stdin.isatty()
    if interactive:
        out.write(f"Talking with {settings.persona.name} as {user}. /help for commands.\n")
    counter = 0
    try:
        while True:
            if interactive:
                out.write("> ")
                out.flush()
            line = await asyncio.to_thread(stdin.readline)
            if not line:
                break
            text = line.rstrip("\n")
            if not text.strip():
                continue
            if text.startswith("/"):
                if not await _command(app, scope, text, out):
                    break
                continue
            counter += 1
            message_id = f"console-{datetime.now(UTC).timestamp():.6f}-{counter}"
            incoming = IncomingMessage(message_id, scope, user, text, datetime.now(UTC))
            await app.pipeline.handle(incoming, sink)
    finally:
        await app.close()
    return EXIT_OK


async def _command(app: Kindred, scope: Scope, text: str, out: TextIO) -> bool:
    """Run a slash-style command; return False to leave."""
    name, _, arg = text[1:].partition(" ")
    if name in ("quit", "exit"):
        return False
    command = app.features.console.get(name)
    if name == "help":
        out.write(help_text(app) + "\n")
    elif name == "reset":
        await app.storage.end_session(scope)
        out.write("[started a fresh conversation; what I remember about you stays]\n")
    elif command is not None:
        await command.handler(app.features, scope, arg.strip(), out)
    else:
        out.write(f"[unknown command /{name}; /help lists them]\n")
    out.flush()
    return True
