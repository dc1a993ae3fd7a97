"""The command line: ``kindred <command>`` or ``python -m bot <command>``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import io
import json
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TextIO

from bot import doctor
from bot.config import CONFIG_ENV, Settings, load_settings
from bot.errors import EXIT_OK, EXIT_UNAVAILABLE, EXIT_UNHEALTHY, KindredError
from bot.logs import configure_logging, secret_values
from storage.service import SchemaOutdated, StorageService
from storage.sql import migrate
from storage.sql.engine import SQLUnavailable, make_engine, redacted, wait_until_ready

log = logging.getLogger(__name__)

Command = Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]


async def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    """Connect to Discord and serve until stopped."""
    from bot.app import run_discord  # imported here: discord.py is only needed for this command

    return await run_discord(settings)


async def cmd_chat(settings: Settings, args: argparse.Namespace) -> int:
    """Talk with Kindred in the terminal."""
    from bot.platforms.console import run_console

    return await run_console(settings, args.user)


async def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    """Upgrade the database schema to the newest revision."""
    url = settings.storage.sql_url()
    engine = make_engine(url, settings.storage.sql)
    try:
        await wait_until_ready(
            engine, settings.storage.sql.connect_retries, settings.storage.sql.connect_retry_delay_s
        )
        before = await migrate.current_revision(engine)
        await migrate.upgrade(engine, args.revision)
        after = await migrate.current_revision(engine)
    finally:
        await engine.dispose()
    print(f"{redacted(url)}: schema {before or 'empty'} -> {after}")
    return EXIT_OK


async def cmd_doctor(settings: Settings, args: argparse.Namespace) -> int:
    """Print each part's health; exit 0 only when every configured part is ok."""
    parts = await doctor.diagnose(settings)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "part": p.tier,
                        "backend": p.backend,
                        "status": p.status.value,
                        "latency_ms": p.latency_ms,
                        "detail": p.detail,
                        **p.extra,
                    }
                    for p in parts
                ],
                indent=2,
            )
        )
    else:
        print(doctor.render(parts))
    return EXIT_OK if doctor.healthy(parts) else EXIT_UNHEALTHY


async def cmd_reindex(settings: Settings, args: argparse.Namespace) -> int:
    """Rebuild the vector index from SQL, showing progress."""
    storage = await StorageService.open(settings.storage)
    try:
        report = await storage.reindex(progress=_progress_bar(sys.stderr))
    finally:
        await storage.close()
    print(
        f"\nreindexed {report.memories} memories and {report.turns} turns into space {report.space} "
        f"({report.model_id})"
        + (f"; dropped old space {', '.join(report.dropped_spaces)}" if report.dropped_spaces else "")
    )
    return EXIT_OK


async def cmd_healthcheck(settings: Settings, args: argparse.Namespace) -> int:
    """Ask the running bot's /healthz; exit 0 when it is ok or degraded (for container health checks)."""
    import aiohttp

    url = f"http://{settings.ops.http_host}:{settings.ops.http_port}/healthz"
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=args.timeout)) as http,
            http.get(url) as response,
        ):
            body = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        print(f"unhealthy: {url}: {exc or type(exc).__name__}", file=sys.stderr)
        return EXIT_UNHEALTHY
    status = body.get("status", "unknown") if isinstance(body, dict) else "unknown"
    print(status)
    return EXIT_OK if status in ("ok", "degraded") else EXIT_UNHEALTHY


async def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    """Run the reflection worker alone until SIGTERM/SIGINT, finishing or handing back its job."""
    from bot.app import worker_registry
    from bot.llm import LLMRouter
    from bot.worker import serve

    # Reflection that needs a model (facts, summaries) runs only when one is configured; indexing always.
    llm = LLMRouter.from_settings(settings.llm) if settings.llm.chain() else None
    try:
        return await serve(settings.storage, lambda storage: worker_registry(settings, storage, llm))
    finally:
        if llm is not None:
            await llm.close()


async def cmd_jobs(settings: Settings, args: argparse.Namespace) -> int:
    """Show the job queue's state and reflection's budgets, or send the dead letters back to the queue."""
    from bot.reflection.budget import load_status, render_status, status_document
    from bot.worker import queue_status

    if args.action != "status":
        return await queue_status(settings.storage, args.action, as_json=args.json, job_type=args.type)
    if not args.json:
        code = await queue_status(settings.storage, args.action, job_type=args.type)
        print("\n".join(["", *render_status(await load_status(settings.storage))]))
        return code
    # queue_status prints one JSON document; reflection joins it as a field so the output stays one.
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = await queue_status(settings.storage, args.action, as_json=True, job_type=args.type)
    body = json.loads(printed.getvalue())
    body["reflection"] = status_document(await load_status(settings.storage))
    print(json.dumps(body, indent=2, default=str))
    return code


async def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    """Write everything held about one person, from every tier, as JSON (a data request)."""
    storage = await StorageService.open(settings.storage)
    try:
        document = await storage.personal.export(args.platform, args.user)
    finally:
        await storage.close()
    text = json.dumps(document, indent=2, ensure_ascii=False, default=str)
    if args.out in (None, "-"):
        print(text)
    else:
        await asyncio.to_thread(Path(args.out).write_text, text + "\n", encoding="utf-8")
        print(f"wrote the export of {args.platform} user {args.user} to {args.out}", file=sys.stderr)
    return EXIT_OK


async def cmd_analyze(settings: Settings, args: argparse.Namespace) -> int:
    """Read messages one per line on stdin; print each one's emotions and crisis flag as a JSON line."""
    from bot.emotion.analyze import analyze_stream

    analyze_stream(sys.stdin, sys.stdout)
    return EXIT_OK


def _progress_bar(stream: TextIO) -> Callable[[int, int], None]:
    def show(done: int, total: int) -> None:
        width = 30
        filled = int(width * done / total) if total else width
        print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end="", file=stream, flush=True)

    return show


COMMANDS: dict[str, tuple[Command, str]] = {
    "run": (cmd_run, "connect to Discord and serve"),
    "chat": (cmd_chat, "talk with Kindred in this terminal"),
    "migrate": (cmd_migrate, "upgrade the database schema"),
    "doctor": (cmd_doctor, "check every configured part"),
    "reindex": (cmd_reindex, "rebuild the vector index from SQL"),
    "healthcheck": (cmd_healthcheck, "ask the running bot's /healthz (for container health checks)"),
    "worker": (cmd_worker, "run the reflection worker alone (several may share the queue)"),
    "jobs": (cmd_jobs, "show the job queue (status) or re-drive its dead letters (retry-dead)"),
    "export": (cmd_export, "export everything held about one person as JSON"),
    "analyze": (cmd_analyze, "read messages on stdin; print emotions and the crisis flag as JSON lines"),
}


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for every command."""
    parser = argparse.ArgumentParser(
        prog="kindred", description="Kindred, a Discord companion that remembers."
    )
    parser.add_argument(
        "--config", metavar="PATH", help="config file (default: $KINDRED_CONFIG or ./config.yaml)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        if name == "chat":
            cmd.add_argument(
                "--user", default=getpass.getuser(), help="who you are (default: your login name)"
            )
        if name == "migrate":
            cmd.add_argument("--revision", default="head", help="target revision (default: head)")
        if name == "doctor":
            cmd.add_argument("--json", action="store_true", help="print JSON instead of a table")
        if name == "healthcheck":
            cmd.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for an answer")
        if name == "export":
            cmd.add_argument("--user", required=True, help="the person's id on the platform")
            cmd.add_argument("--platform", default="discord", help="discord (default) or console")
            cmd.add_argument("--out", metavar="FILE", help="write here instead of standard output")
        if name == "jobs":
            cmd.add_argument("action", choices=["status", "retry-dead"], help="what to do")
            cmd.add_argument("--json", action="store_true", help="print JSON instead of a table")
            cmd.add_argument("--type", help="retry-dead: only jobs of this type")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, load settings and run one command; return the exit code."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except KindredError as exc:
        print(f"kindred: {exc}", file=sys.stderr)
        return exc.exit_code
    if args.config:
        os.environ[CONFIG_ENV] = os.path.abspath(args.config)  # so /admin reload re-reads this same file
    configure_logging(settings.bot.log_level, settings.bot.log_format, secret_values(settings))
    command, _ = COMMANDS[args.command]
    try:
        return asyncio.run(command(settings, args))
    except KindredError as exc:
        print(f"kindred: {exc}", file=sys.stderr)
        return exc.exit_code
    except SQLUnavailable as exc:
        print(f"kindred: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except SchemaOutdated as exc:
        print(f"kindred: {exc}", file=sys.stderr)
        return EXIT_UNHEALTHY
    except KeyboardInterrupt:
        return EXIT_OK
