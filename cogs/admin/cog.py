"""The Discord surface of administration: ``/admin ...`` for owners, server admins and moderators.

``default_permissions`` (Manage Server) only hides the commands in Discord's client, and a server's admins
can change it; the real check is the level test in AdminService, run for every command.
"""

from __future__ import annotations

import io
import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.delivery.split import split_message
from bot.platforms.discord import KindredBot
from bot.platforms.discord_views import OwnedView
from cogs.admin.permissions import Caller
from cogs.admin.service import AdminService

log = logging.getLogger(__name__)

NO_PINGS = discord.AllowedMentions.none()
HINT = discord.Permissions(manage_guild=True)
FLAG_VALUES = [app_commands.Choice(name=v, value=v) for v in ("on", "off", "default")]


def caller_of(interaction: discord.Interaction) -> Caller:
    """Return who is asking, with their effective permissions where they ask."""
    guild_id = str(interaction.guild_id) if interaction.guild_id is not None else None
    perms = interaction.permissions
    roles = frozenset(str(r.id) for r in getattr(interaction.user, "roles", ()))
    manage = guild_id is not None and (perms.manage_guild or perms.administrator)
    return Caller(str(interaction.user.id), guild_id, bool(manage), roles)


async def reply(interaction: discord.Interaction, text: str) -> None:
    """Answer privately, split at Discord's limit, pinging no one."""
    chunks = split_message(text) or ["(nothing)"]
    for index, chunk in enumerate(chunks):
        if index == 0 and not interaction.response.is_done():
            await interaction.response.send_message(chunk, ephemeral=True, allowed_mentions=NO_PINGS)
        else:
            await interaction.followup.send(chunk, ephemeral=True, allowed_mentions=NO_PINGS)


class AuditPages(OwnedView):
    """Previous and next buttons over the audit log; only the person who asked may turn the pages."""

    def __init__(
        self, service: AdminService, caller: Caller, page: int, pages: int, everywhere: bool
    ) -> None:
        super().__init__(int(caller.user_id), 300, refusal="These pages belong to someone else.")
        self.service, self.caller, self.page, self.pages, self.everywhere = (
            service,
            caller,
            page,
            pages,
            everywhere,
        )
        self._sync()

    def _sync(self) -> None:
        self.previous.disabled = self.page <= 1
        self.next.disabled = self.page >= self.pages

    async def _show(self, interaction: discord.Interaction, page: int) -> None:
        text, self.pages = await self.service.audit_page(caller_of(interaction), page, self.everywhere)
        self.page = page
        self._sync()
        await interaction.response.edit_message(content=text[:2000], view=self, allowed_mentions=NO_PINGS)

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary, custom_id="admin:audit:prev")
    async def previous(
        self, interaction: discord.Interaction, _button: discord.ui.Button[AuditPages]
    ) -> None:
        await self._show(interaction, self.page - 1)

    @discord.ui.button(label="Next", style=discord.ButtonStyle.secondary, custom_id="admin:audit:next")
    async def next(self, interaction: discord.Interaction, _button: discord.ui.Button[AuditPages]) -> None:
        await self._show(interaction, self.page + 1)


class AdminCog(commands.Cog):
    """Moderation and operations commands."""

    admin = app_commands.Group(name="admin", description="Run Kindred here", default_permissions=HINT)
    channel = app_commands.Group(name="channel", description="Where I chat unprompted", parent=admin)
    persona = app_commands.Group(name="persona", description="Who I am here", parent=admin)
    flags = app_commands.Group(name="flags", description="Runtime feature flags", parent=admin)
    model = app_commands.Group(name="model", description="Language models", parent=admin)
    jobs = app_commands.Group(name="jobs", description="Background and scheduled jobs", parent=admin)
    user = app_commands.Group(name="user", description="Data requests for a member", parent=admin)
    moderator = app_commands.Group(name="moderator", description="The moderator role", parent=admin)

    def __init__(self, bot: KindredBot) -> None:
        self.bot = bot
        service = bot.kindred.features.services.get("admin")
        if not isinstance(service, AdminService):
            raise RuntimeError("cogs.admin.feature did not register; is cogs.admin in bot.cogs?")
        self.service = service

    # ------------------------------------------------------------------ moderator role

    @moderator.command(name="set", description="Members with this role may moderate Kindred")
    async def moderator_set(self, interaction: discord.Interaction, role: discord.Role) -> None:
        await reply(interaction, await self.service.set_moderator_role(caller_of(interaction), str(role.id)))

    @moderator.command(name="clear", description="Remove the moderator role")
    async def moderator_clear(self, interaction: discord.Interaction) -> None:
        await reply(interaction, await self.service.set_moderator_role(caller_of(interaction), None))

    # ------------------------------------------------------------------ ambient channels

    @channel.command(name="enable", description="Chat in a channel without being mentioned")
    async def channel_enable(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        target = str(channel.id if channel else interaction.channel_id)
        await reply(interaction, await self.service.set_ambient(caller_of(interaction), target, True))

    @channel.command(name="disable", description="Only answer mentions and replies in a channel")
    async def channel_disable(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        target = str(channel.id if channel else interaction.channel_id)
        await reply(interaction, await self.service.set_ambient(caller_of(interaction), target, False))

    @channel.command(name="list", description="Where ambient chat is on")
    async def channel_list(self, interaction: discord.Interaction) -> None:
        await reply(interaction, await self.service.ambient_channels(caller_of(interaction)))

    # ------------------------------------------------------------------ personas

    @persona.command(name="set", description="Set my name and prompt for this server or one channel")
    @app_commands.describe(prompt="The system prompt; {name} is replaced by the name", channel="Default: all")
    async def persona_set(
        self,
        interaction: discord.Interaction,
        name: app_commands.Range[str, 1, 80],
        prompt: app_commands.Range[str, 1, 4000] | None = None,
        channel: discord.TextChannel | None = None,
    ) -> None:
        target = str(channel.id) if channel else None
        await reply(interaction, await self.service.set_persona(caller_of(interaction), target, name, prompt))

    @persona.command(name="show", description="Show the persona in force here (or in a channel)")
    async def persona_show(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        place = channel or interaction.channel
        parent = str(place.parent_id) if isinstance(place, discord.Thread) and place.parent_id else None
        channel_id = str(place.id) if place is not None else None
        name, prompt = await self.service.show_persona(caller_of(interaction), channel_id, parent)
        await reply(interaction, f"**{name}**\n{prompt}")

    @persona.command(name="clear", description="Remove the persona override of this server or a channel")
    async def persona_clear(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        target = str(channel.id) if channel else None
        await reply(interaction, await self.service.clear_persona(caller_of(interaction), target))

    # ------------------------------------------------------------------ allow and block lists

    async def _access(
        self,
        interaction: discord.Interaction,
        mode: str,
        user: discord.User | discord.Member | None,
        role: discord.Role | None,
        channel: discord.TextChannel | None,
        remove: bool,
    ) -> None:
        targets = [
            (kind, str(obj.id)) for kind, obj in (("user", user), ("role", role), ("channel", channel)) if obj
        ]
        await reply(interaction, await self.service.set_access(caller_of(interaction), mode, targets, remove))

    @admin.command(name="allow", description="Allow a user, role or channel (an allow list limits me to it)")
    async def allow(
        self,
        interaction: discord.Interaction,
        user: discord.User | None = None,
        role: discord.Role | None = None,
        channel: discord.TextChannel | None = None,
        remove: bool = False,
    ) -> None:
        await self._access(interaction, "allow", user, role, channel, remove)

    @admin.command(name="block", description="Block a user, role or channel: I won't answer them or there")
    async def block(
        self,
        interaction: discord.Interaction,
        user: discord.User | None = None,
        role: discord.Role | None = None,
        channel: discord.TextChannel | None = None,
        remove: bool = False,
    ) -> None:
        await self._access(interaction, "block", user, role, channel, remove)

    @admin.command(name="lists", description="Show the allow and block lists")
    async def lists(self, interaction: discord.Interaction) -> None:
        await reply(interaction, await self.service.access_lists(caller_of(interaction)))

    @admin.command(name="ratelimit", description="Show or override a member's or this server's limits")
    async def ratelimit(
        self,
        interaction: discord.Interaction,
        member: discord.User | None = None,
        messages_per_minute: app_commands.Range[float, 0.1, 600.0] | None = None,
        tokens_per_day: app_commands.Range[int, 1, 100_000_000] | None = None,
        clear: bool = False,
    ) -> None:
        user_id = str(member.id) if member else None
        text = await self.service.set_limits(
            caller_of(interaction), user_id, messages_per_minute, tokens_per_day, clear
        )
        await reply(interaction, text)

    # ------------------------------------------------------------------ audit log

    @admin.command(name="audit", description="The audit log of admin actions")
    @app_commands.describe(everywhere="Owners: actions outside servers and Kindred's own (flag rollbacks)")
    async def audit(
        self,
        interaction: discord.Interaction,
        page: app_commands.Range[int, 1, 10_000] = 1,
        everywhere: bool = False,
    ) -> None:
        caller = caller_of(interaction)
        text, pages = await self.service.audit_page(caller, page, everywhere)
        view = AuditPages(self.service, caller, page, pages, everywhere)
        await interaction.response.send_message(
            text[:2000], ephemeral=True, view=view, allowed_mentions=NO_PINGS
        )

    # ------------------------------------------------------------------ flags

    @flags.command(name="list", description="Every feature flag and whether it is on here")
    async def flags_list(self, interaction: discord.Interaction) -> None:
        await reply(interaction, await self.service.list_flags(caller_of(interaction)))

    @flags.command(name="set", description="Switch a feature on or off here (owners: everywhere)")
    @app_commands.choices(value=FLAG_VALUES)
    async def flags_set(
        self, interaction: discord.Interaction, name: str, value: str, everywhere: bool = False
    ) -> None:
        await reply(interaction, await self.service.set_flag(caller_of(interaction), name, value, everywhere))

    @flags_set.autocomplete("name")
    async def _flag_names(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        names = [n for n in self.service.flags.names() if current.lower() in n]
        return [app_commands.Choice(name=n, value=n) for n in names[:25]]

    # ------------------------------------------------------------------ models, jobs, stats

    @model.command(name="show", description="Each model's latency, errors and breaker state")
    async def model_show(self, interaction: discord.Interaction) -> None:
        await reply(interaction, await self.service.model_health(caller_of(interaction)))

    @model.command(name="primary", description="Try this model first (auto: the configured order)")
    async def model_primary(self, interaction: discord.Interaction, name: str) -> None:
        await reply(interaction, await self.service.set_primary(caller_of(interaction), name))

    @jobs.command(name="status", description="Queue numbers and scheduled jobs")
    async def jobs_status(self, interaction: discord.Interaction) -> None:
        await reply(interaction, await self.service.jobs_status(caller_of(interaction)))

    @jobs.command(name="run", description="Run a scheduled job now")
    async def jobs_run(self, interaction: discord.Interaction, job: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await reply(interaction, await self.service.run_job(caller_of(interaction), job))

    @jobs_run.autocomplete("job")
    async def _job_names(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=j, value=j) for j in self.service.job_ids() if current in j][:25]

    @admin.command(name="stats", description="Messages, reply latency, cache hit rate, queue depth, tokens")
    async def stats(self, interaction: discord.Interaction) -> None:
        await reply(interaction, await self.service.stats(caller_of(interaction)))

    # ------------------------------------------------------------------ data requests

    @user.command(name="export", description="Export everything Kindred holds about a member")
    async def user_export(self, interaction: discord.Interaction, member: discord.User) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        export = await self.service.export_user(caller_of(interaction), str(member.id))
        file = discord.File(io.BytesIO(export.data), filename=export.filename)
        await interaction.followup.send(export.summary, file=file, ephemeral=True, allowed_mentions=NO_PINGS)

    @user.command(name="forget", description="Delete everything Kindred holds about a member")
    async def user_forget(
        self, interaction: discord.Interaction, member: discord.User, confirm: bool = False
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await reply(
            interaction, await self.service.forget_user(caller_of(interaction), str(member.id), confirm)
        )

    # ------------------------------------------------------------------ operations

    @admin.command(name="reload", description="Re-read the config file without a restart")
    async def reload(self, interaction: discord.Interaction) -> None:
        await reply(interaction, await self.service.reload(caller_of(interaction)))

    @admin.command(name="backup", description="Back up the database (SQLite) or show how (PostgreSQL)")
    async def backup(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await reply(interaction, await self.service.backup(caller_of(interaction)))
