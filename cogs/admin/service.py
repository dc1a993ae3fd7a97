"""What each admin command does, without Discord: check the caller's level, validate, act, audit.

The cog only turns Discord objects into ids and these results into replies; tests and other front ends can
drive this class directly. Every call is written to the audit log, refusals and failures included.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.config import Settings, load_settings
from bot.errors import KindredError
from bot.flags import Flags
from cogs.admin.backup import backup
from cogs.admin.limits import AccessGate
from cogs.admin.permissions import MODERATOR_ROLE_KEY, Caller, Level, PermissionDenied, level_of
from cogs.admin.reload import apply_reload
from cogs.admin.stats import collect_stats
from storage.admin import RULE_KINDS, AuditRecord
from storage.service import StorageService

if TYPE_CHECKING:
    from bot.llm import LLMRouter
    from bot.scheduler import KindredScheduler

log = logging.getLogger(__name__)

PLATFORM = "discord"
MAX_PERSONA_NAME = 80
MAX_PERSONA_PROMPT = 4000
MAX_MESSAGES_PER_MINUTE = 600.0
MAX_TOKENS_PER_DAY = 100_000_000


class AdminInputError(KindredError):
    """A command's input is invalid; the text says what is wrong. Nothing was changed."""


@dataclass(frozen=True, slots=True)
class ExportFile:
    """A file to hand back (a data export)."""

    filename: str
    data: bytes
    summary: str


class AdminService:
    """The administration actions behind ``/admin``."""

    def __init__(
        self,
        storage: StorageService,
        settings: Settings,
        flags: Flags,
        gate: AccessGate,
        llm: LLMRouter | None = None,
        scheduler: KindredScheduler | None = None,
        load_config: Callable[[], Settings] = load_settings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.storage = storage
        self.settings = settings
        self.flags = flags
        self.gate = gate
        self.llm = llm
        self.scheduler = scheduler
        self._load_config = load_config
        self._clock = clock

    # ------------------------------------------------------------------ levels and auditing

    async def level(self, caller: Caller) -> Level:
        """Return the caller's level where they are."""
        role = None
        if caller.guild_id is not None:
            place = await self.storage.place_settings(PLATFORM, caller.guild_id, None)
            role = place.get(MODERATOR_ROLE_KEY)
        return level_of(caller, self.settings.bot.owner_ids, role)

    async def _act(
        self,
        caller: Caller,
        needed: Level,
        action: str,
        work: Callable[[], Awaitable[Any]],
        *,
        target: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> Any:
        have = await self.level(caller)
        audit = dict(detail or {})
        if have < needed:
            audit["needed"] = needed.title
            await self._audit(caller, action, target, audit, "refused")
            raise PermissionDenied(needed, have)
        try:
            result = await work()
        except KindredError as exc:
            audit["error"] = str(exc)[:300]
            await self._audit(caller, action, target, audit, "failed")
            raise
        except Exception as exc:
            audit["error"] = type(exc).__name__
            await self._audit(caller, action, target, audit, "failed")
            raise
        await self._audit(caller, action, target, audit, "ok")
        return result

    async def _audit(
        self, caller: Caller, action: str, target: str | None, detail: dict[str, Any], result: str
    ) -> None:
        await self.storage.admin.audit(
            PLATFORM, caller.guild_id, caller.user_id, action, target=target, detail=detail, result=result
        )

    @staticmethod
    def _guild(caller: Caller) -> str:
        if caller.guild_id is None:
            raise AdminInputError("Use this in a server: it changes that server's settings.")
        return caller.guild_id

    # ------------------------------------------------------------------ moderator role

    async def set_moderator_role(self, caller: Caller, role_id: str | None) -> str:
        """Set (or with None, clear) the guild's moderator role."""

        async def work() -> str:
            guild = self._guild(caller)
            if role_id is not None and role_id == guild:
                raise AdminInputError(
                    "@everyone cannot be the moderator role; choose a role members are given."
                )
            await self.storage.update_place_settings(PLATFORM, guild, None, {MODERATOR_ROLE_KEY: role_id})
            return f"Moderator role set to <@&{role_id}>." if role_id else "Moderator role cleared."

        action = "moderator.set" if role_id else "moderator.clear"
        return str(await self._act(caller, Level.ADMIN, action, work, target=_role(role_id)))

    # ------------------------------------------------------------------ ambient channels

    async def set_ambient(self, caller: Caller, channel_id: str, enabled: bool) -> str:
        """Let Kindred chat in a channel without being mentioned (or stop)."""

        async def work() -> str:
            guild = self._guild(caller)
            # False rather than removing the key, so a channel can opt out of a guild-wide default.
            await self.storage.update_place_settings(PLATFORM, guild, channel_id, {"ambient": enabled})
            if enabled:
                return f"I'll chat in <#{channel_id}> (and its threads) without being mentioned."
            return f"In <#{channel_id}> I'll only answer mentions and replies now."

        action = "channel.enable" if enabled else "channel.disable"
        return str(await self._act(caller, Level.MODERATOR, action, work, target=_channel(channel_id)))

    async def ambient_channels(self, caller: Caller) -> str:
        """List the channels where ambient chat is on."""

        async def work() -> str:
            rows = await self.storage.channels_with(PLATFORM, self._guild(caller), "ambient")
            on = [c for c, value in rows if value and c]
            if not on:
                return "Ambient chat is off everywhere here: I answer mentions, replies and DMs."
            return "Ambient chat is on in: " + ", ".join(f"<#{c}>" for c in on)

        return str(await self._act(caller, Level.MODERATOR, "channel.list", work))

    # ------------------------------------------------------------------ personas

    async def set_persona(self, caller: Caller, channel_id: str | None, name: str, prompt: str | None) -> str:
        """Set the persona of the guild (channel None) or of one channel; threads inherit their channel's."""
        name = name.strip()
        prompt = prompt.strip() if prompt else None

        async def work() -> str:
            guild = self._guild(caller)
            if not name or len(name) > MAX_PERSONA_NAME:
                raise AdminInputError(f"The persona's name must be 1-{MAX_PERSONA_NAME} characters.")
            if prompt is not None and len(prompt) > MAX_PERSONA_PROMPT:
                raise AdminInputError(
                    f"The persona's prompt is {len(prompt):,} characters; the most is {MAX_PERSONA_PROMPT:,}."
                )
            persona = {"name": name, "prompt": prompt} if prompt else {"name": name}
            await self.storage.update_place_settings(PLATFORM, guild, channel_id, {"persona": persona})
            where = f"<#{channel_id}> and its threads" if channel_id else "this server"
            return f"In {where} I'm {name} now."

        detail = {"name": name, "prompt_chars": len(prompt or "")}
        target = _channel(channel_id) if channel_id else "guild"
        return str(
            await self._act(caller, Level.MODERATOR, "persona.set", work, target=target, detail=detail)
        )

    async def clear_persona(self, caller: Caller, channel_id: str | None) -> str:
        """Remove a guild's or channel's persona override."""

        async def work() -> str:
            await self.storage.update_place_settings(
                PLATFORM, self._guild(caller), channel_id, {"persona": None}
            )
            return "Persona override removed" + (
                f" from <#{channel_id}>." if channel_id else " from this server."
            )

        target = _channel(channel_id) if channel_id else "guild"
        return str(await self._act(caller, Level.MODERATOR, "persona.clear", work, target=target))

    async def show_persona(
        self, caller: Caller, channel_id: str | None, parent_id: str | None
    ) -> tuple[str, str]:
        """Return (name, prompt) of the persona in force in a channel (or guild-wide)."""
        from bot.pipeline.context import effective_persona
        from storage.scope import Scope

        async def work() -> tuple[str, str]:
            scope = Scope(user_id=caller.user_id, guild_id=self._guild(caller), channel_id=channel_id)
            persona = await effective_persona(self.storage, self.settings.persona, scope, parent_id)
            return persona.name, persona.prompt.replace("{name}", persona.name)

        result: tuple[str, str] = await self._act(caller, Level.MODERATOR, "persona.show", work)
        return result

    # ------------------------------------------------------------------ allow and block lists

    async def set_access(
        self, caller: Caller, mode: str, targets: list[tuple[str, str]], remove: bool
    ) -> str:
        """Allow or block one user, role or channel given as (kind, id) (or remove its entry)."""
        kind, target_id = targets[0] if len(targets) == 1 else ("", "")

        async def work() -> str:
            guild = self._guild(caller)
            if len(targets) != 1 or kind not in RULE_KINDS:
                raise AdminInputError(f"Choose exactly one user, role or channel to {mode}.")
            if target_id == guild:
                raise AdminInputError("Use a specific role, not @everyone.")
            if mode == "block" and kind == "user" and target_id == caller.user_id:
                raise AdminInputError("You can't block yourself.")
            label = _mention(kind, target_id)
            if remove:
                existed = await self.storage.admin.remove_access(PLATFORM, guild, kind, target_id)
                return f"Removed {label} from the lists." if existed else f"{label} was on neither list."
            await self.storage.admin.set_access(PLATFORM, guild, kind, target_id, mode, by=caller.user_id)
            if mode == "block":
                return f"Blocked {label}: I won't answer there or them."
            return (
                f"Allowed {label}. While an allow list of this kind exists, only what is on it is answered."
            )

        action = f"{mode}.{'remove' if remove else 'add'}"
        target = f"{kind}:{target_id}" if kind else None
        return str(await self._act(caller, Level.MODERATOR, action, work, target=target))

    async def access_lists(self, caller: Caller) -> str:
        """Show the guild's allow and block lists."""

        async def work() -> str:
            rules = await self.storage.admin.access_rules(PLATFORM, self._guild(caller))
            if not rules:
                return "No allow or block entries: everyone may talk with me everywhere I can see."
            lines = [f"{r.mode:5} {r.kind:7} {_mention(r.kind, r.target_id)}" for r in rules]
            return "Allow and block lists:\n" + "\n".join(lines)

        return str(await self._act(caller, Level.MODERATOR, "access.list", work))

    # ------------------------------------------------------------------ limits

    async def set_limits(
        self,
        caller: Caller,
        user_id: str | None,
        messages_per_minute: float | None,
        tokens_per_day: int | None,
        clear: bool,
    ) -> str:
        """Override (or clear, or show) a member's or the guild's limits."""
        target = f"user:{user_id}" if user_id else "guild"
        showing = not clear and messages_per_minute is None and tokens_per_day is None

        async def work() -> str:
            guild = self._guild(caller)
            if messages_per_minute is not None and not 0.1 <= messages_per_minute <= MAX_MESSAGES_PER_MINUTE:
                raise AdminInputError(
                    f"messages_per_minute must be between 0.1 and {MAX_MESSAGES_PER_MINUTE:g}; "
                    f"{messages_per_minute:g} is out of range."
                )
            if tokens_per_day is not None and not 1 <= tokens_per_day <= MAX_TOKENS_PER_DAY:
                raise AdminInputError(
                    f"tokens_per_day must be between 1 and {MAX_TOKENS_PER_DAY:,}; "
                    f"{tokens_per_day:,} is out of range."
                )
            who = f"<@{user_id}>" if user_id else "this server"
            if showing:
                return await self._describe_limits(guild, user_id, who)
            kind = "user" if user_id else "guild"
            await self.storage.admin.set_limit(
                PLATFORM,
                guild,
                kind,
                user_id,
                messages_per_minute=None if clear else messages_per_minute,
                tokens_per_day=None if clear else tokens_per_day,
                by=caller.user_id,
            )
            if clear:
                return f"Limits for {who} are back to the configured defaults."
            return await self._describe_limits(guild, user_id, who)

        needed = Level.MODERATOR if user_id or showing else Level.ADMIN
        detail = {
            "messages_per_minute": messages_per_minute,
            "tokens_per_day": tokens_per_day,
            "clear": clear,
        }
        action = "ratelimit.show" if showing else "ratelimit.set"
        return str(await self._act(caller, needed, action, work, target=target, detail=detail))

    async def _describe_limits(self, guild: str, user_id: str | None, who: str) -> str:
        from storage.scope import Scope

        scope = Scope(user_id=user_id or "0", guild_id=guild)
        limits = await self.gate.limits_for(scope)
        pipeline = self.settings.pipeline
        if user_id:
            rate = limits.user_messages_per_minute or pipeline.user_messages_per_minute
            tokens = limits.user_tokens_per_day
        else:
            rate = limits.guild_messages_per_minute or pipeline.guild_messages_per_minute
            tokens = limits.guild_tokens_per_day
        allowance = f"{tokens:,} tokens a day" if tokens else "no daily token limit"
        return f"Limits for {who}: {rate:g} messages a minute, {allowance}."

    # ------------------------------------------------------------------ audit log

    async def audit_page(self, caller: Caller, page: int, everywhere: bool) -> tuple[str, int]:
        """Return one page of the audit log as text, and the number of pages."""
        size = self.settings.admin.audit_page_size

        async def work() -> tuple[str, int]:
            if page < 1:
                raise AdminInputError("Pages start at 1.")
            guild = None if everywhere else self._guild(caller)
            entries, total = await self.storage.admin.audit_page(
                None if everywhere else PLATFORM, guild, page, size
            )
            pages = max(1, -(-total // size))
            if page > pages:
                raise AdminInputError(f"There are only {pages} page(s) of audit entries.")
            if not entries:
                return "The audit log is empty.", pages
            lines = "\n".join(_audit_line(e) for e in entries)
            return f"Audit log, page {page} of {pages} ({total} entries):\n{lines}", pages

        needed = Level.OWNER if everywhere else Level.MODERATOR
        result: tuple[str, int] = await self._act(caller, needed, "audit.view", work, detail={"page": page})
        return result

    # ------------------------------------------------------------------ flags

    async def list_flags(self, caller: Caller) -> str:
        """Show every flag: default, global value, this guild's value and the effective one."""

        async def work() -> str:
            lines = []
            for state in await self.flags.states(caller.guild_id):
                source = (
                    "this server"
                    if state.guild_value is not None
                    else "global"
                    if state.global_value is not None
                    else "default"
                )
                mark = "on " if state.effective else "off"
                lines.append(f"`{mark}` **{state.name}** ({source}): {state.description}")
            return "Feature flags:\n" + "\n".join(lines)

        return str(await self._act(caller, Level.MODERATOR, "flags.list", work))

    async def set_flag(self, caller: Caller, name: str, value: str, everywhere: bool) -> str:
        """Set a flag on, off, or back to its default, in this guild or (owners) everywhere."""
        choices = {"on": True, "off": False, "default": None}

        async def work() -> str:
            if name not in self.flags.names():
                raise AdminInputError(f"Unknown flag {name!r}. Known flags: {', '.join(self.flags.names())}.")
            if value not in choices:
                raise AdminInputError("Set a flag to on, off or default.")
            guild = None if everywhere else self._guild(caller)
            await self.flags.set(
                name, choices[value], guild_id=guild, by=caller.user_id, reason="set by an admin"
            )
            where = "everywhere" if everywhere else "in this server"
            state = "on" if await self.flags.enabled(name, guild) else "off"
            return f"Flag **{name}** set to {value} {where}; it is {state} now."

        needed = Level.OWNER if everywhere else Level.ADMIN
        detail = {"value": value, "scope": "global" if everywhere else "guild"}
        return str(await self._act(caller, needed, "flags.set", work, target=name, detail=detail))

    # ------------------------------------------------------------------ models

    async def model_health(self, caller: Caller) -> str:
        """Show each configured model's latency, errors and breaker state."""

        async def work() -> str:
            if self.llm is None:
                raise AdminInputError("No language model is configured in this process.")
            snap = self.llm.snapshot()
            lines = []
            for m in snap.models:
                p50 = "-" if m.first_token.p50_ms is None else f"{m.first_token.p50_ms:.0f}"
                p95 = "-" if m.first_token.p95_ms is None else f"{m.first_token.p95_ms:.0f}"
                lines.append(
                    f"{'*' if m.primary else ' '} **{m.name}** ({m.model}): breaker {m.state}, "
                    f"first token p50 {p50} ms / p95 {p95} ms, {m.calls} calls, "
                    f"{m.failures} failures ({m.error_rate:.1%}), {m.rate_limited} rate limited"
                )
            order = " > ".join(snap.order) or "none available"
            return "Models (* first choice):\n" + "\n".join(lines) + f"\nNext call tries: {order}"

        return str(await self._act(caller, Level.ADMIN, "model.show", work))

    async def set_primary(self, caller: Caller, name: str) -> str:
        """Prefer a model (or ``auto``: the configured order)."""

        async def work() -> str:
            if self.llm is None:
                raise AdminInputError("No language model is configured in this process.")
            names = [m.name for m in self.llm.snapshot().models]
            if name != "auto" and name not in names:
                raise AdminInputError(f"No model named {name!r}; configured: {', '.join(names)} (or auto).")
            self.llm.set_primary(None if name == "auto" else name)
            if name == "auto":
                return "Models are tried in the configured order again."
            return f"**{name}** is tried first now (while healthy). This lasts until a restart."

        return str(await self._act(caller, Level.OWNER, "model.primary", work, target=name))

    # ------------------------------------------------------------------ jobs and stats

    async def jobs_status(self, caller: Caller) -> str:
        """Show the queue's numbers and each scheduled job's last run."""

        async def work() -> str:
            stats = await self.storage.jobs.stats()
            oldest = "-" if stats.oldest_pending_age_s is None else f"{stats.oldest_pending_age_s:.0f} s"
            lines = [
                f"Queue ({stats.backend}): {stats.depth} waiting ({stats.retrying} retrying), "
                f"{stats.in_flight} running, {stats.dead} dead letters, oldest waiting {oldest}, "
                f"{stats.done_last_minute} done in the last minute, {stats.done_last_hour} in the last hour."
            ]
            if self.scheduler is None:
                lines.append("No scheduler runs in this process.")
            else:
                leader = "leads" if self.scheduler.is_leader else "does not lead"
                lines.append(f"Scheduled jobs (this process {leader} the scheduler):")
                for job in self.scheduler.status():
                    last = "never run" if job.last_ok is None else ("ok" if job.last_ok else "failed")
                    lines.append(
                        f"- **{job.id}** ({job.schedule}): {job.runs} runs, {job.failures} failures, {last}"
                    )
            return "\n".join(lines)

        return str(await self._act(caller, Level.ADMIN, "jobs.status", work))

    def job_ids(self) -> list[str]:
        """Return the scheduled jobs one may run now."""
        return [job.id for job in self.scheduler.status()] if self.scheduler is not None else []

    async def run_job(self, caller: Caller, job_id: str) -> str:
        """Run a scheduled job now, through the scheduler."""

        async def work() -> str:
            scheduler = self.scheduler
            if scheduler is None:
                raise AdminInputError("No scheduler runs in this process.")
            if job_id not in self.job_ids():
                raise AdminInputError(f"No scheduled job {job_id!r}; jobs: {', '.join(self.job_ids())}.")
            if not scheduler.is_leader:
                raise AdminInputError("Another Kindred process leads the scheduler; run it there.")
            status = await scheduler.run_now(job_id)
            took = f"{status.last_duration_s:.2f} s" if status.last_duration_s is not None else "?"
            if status.last_ok:
                return f"Ran **{job_id}** in {took}."
            return f"**{job_id}** failed after {took}: {status.last_error}"

        return str(await self._act(caller, Level.OWNER, "jobs.run", work, target=job_id))

    async def stats(self, caller: Caller) -> str:
        """Show messages, reply latency, cache hit rate, queue depth and tokens."""

        async def work() -> str:
            return (await collect_stats(self.storage, self.llm)).render()

        return str(await self._act(caller, Level.ADMIN, "stats.view", work))

    # ------------------------------------------------------------------ data requests

    async def export_user(self, caller: Caller, user_id: str) -> ExportFile:
        """Export everything held about a member (a data request made on their behalf)."""

        async def work() -> ExportFile:
            personal = getattr(self.storage, "personal", None)
            if personal is None:
                raise AdminInputError("Data export is not available in this version of Kindred.")
            document = await personal.export(PLATFORM, user_id)
            data = json.dumps(document, indent=2, default=str, ensure_ascii=False).encode()
            return ExportFile(
                f"kindred-export-{user_id}.json", data, f"Everything I hold about <@{user_id}>."
            )

        result: ExportFile = await self._act(
            caller, Level.ADMIN, "user.export", work, target=f"user:{user_id}"
        )
        return result

    async def forget_user(self, caller: Caller, user_id: str, confirm: bool) -> str:
        """Delete everything held about a member, everywhere (their forget-me, on their behalf)."""

        async def work() -> str:
            if not confirm:
                raise AdminInputError(
                    "This deletes everything I hold about them in every server and DM, for good. "
                    "Run it again with confirm: True to go ahead."
                )
            personal = getattr(self.storage, "personal", None)
            if personal is None:
                raise AdminInputError("Forgetting is not available in this version of Kindred.")
            report = await personal.forget(PLATFORM, user_id)
            rows = getattr(report, "sql_rows", None)
            pending = getattr(report, "queued", [])
            text = f"Forgot <@{user_id}>" + (f": {rows} rows removed" if rows is not None else "")
            return text + (f"; still to finish when back: {', '.join(pending)}." if pending else ".")

        return str(await self._act(caller, Level.ADMIN, "user.forget", work, target=f"user:{user_id}"))

    # ------------------------------------------------------------------ reload and backup

    async def reload(self, caller: Caller) -> str:
        """Re-read the config; apply what can change live and say what needs a restart."""

        async def work() -> str:
            fresh = self._load_config()
            report = apply_reload(self.settings, fresh)
            self.flags.reload_defaults(self.settings.flags)
            applied = ", ".join(report.applied) or "nothing changed"
            text = f"Config re-read. Applied: {applied}."
            if report.needs_restart:
                text += f" Changed but needing a restart: {', '.join(report.needs_restart)}."
            return (
                text + " (Live: persona, pipeline limits, reflection, flags defaults, admin, bot.owner_ids.)"
            )

        return str(await self._act(caller, Level.OWNER, "config.reload", work))

    async def backup(self, caller: Caller) -> str:
        """Back up the SQL database (SQLite) or say how (PostgreSQL)."""

        async def work() -> str:
            result = await backup(self.settings.storage, self.settings.admin.backup_dir, self._clock())
            if result.path is not None:
                return f"Backed up the database to `{result.path}` ({result.size_bytes:,} bytes)."
            return (
                "The database is PostgreSQL: back it up with pg_dump on a machine that reaches it "
                f"(the password from PGPASSWORD or ~/.pgpass):\n```\n{result.command}\n```"
            )

        return str(await self._act(caller, Level.OWNER, "backup", work))


def _audit_line(entry: AuditRecord) -> str:
    who = f"<@{entry.actor_id}>" if entry.actor_id.isdigit() else entry.actor_id
    line = f"`{entry.created_at:%Y-%m-%d %H:%M}` {who} **{entry.action}**"
    if entry.target:
        line += f" {entry.target}"
    return line if entry.result == "ok" else f"{line} ({entry.result})"


def _channel(channel_id: str | None) -> str | None:
    return None if channel_id is None else f"channel:{channel_id}"


def _role(role_id: str | None) -> str | None:
    return None if role_id is None else f"role:{role_id}"


def _mention(kind: str, target_id: str) -> str:
    return {"user": f"<@{target_id}>", "role": f"<@&{target_id}>", "channel": f"<#{target_id}>"}[kind]
