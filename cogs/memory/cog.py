"""The Discord surface of memory: /memory (list, search, pin, forget, correct, export, pause, resume, privacy,
about) and /forgetme. Every reply is ephemeral; buttons answer only the person who opened them."""

from __future__ import annotations

import gzip
import io
import logging
from collections.abc import Awaitable, Callable

import discord
from discord import app_commands
from discord.ext import commands

from bot.platforms.discord import KindredBot
from bot.platforms.discord_views import OwnedView, interaction_scope
from cogs.memory.controls import (
    MAX_CORRECTION_CHARS,
    MAX_QUERY_CHARS,
    MemoryControls,
    Page,
    render_forget_report,
    render_memory,
    render_page,
    render_recalled,
)
from cogs.memory.feature import controls_of
from storage.scope import Scope

log = logging.getLogger(__name__)

MAX_ID = 2**53  # Discord's integer options stop here
MemoryId = app_commands.Range[int, 1, MAX_ID]


class ListView(OwnedView):
    """Previous/next buttons over the person's memories."""

    def __init__(self, controls: MemoryControls, scope: Scope, owner_id: int, page: Page) -> None:
        super().__init__(owner_id, controls.settings.memory.view_timeout_s)
        self.controls = controls
        self.scope = scope
        self.page = page
        self._sync_buttons()

    def _sync_buttons(self) -> None:
        self.previous.disabled = self.page.number == 0
        self.next.disabled = not self.page.has_next

    def render(self) -> str:
        """Return the page as text."""
        return render_page(self.controls, self.page)

    async def _turn(self, interaction: discord.Interaction, step: int) -> None:
        self.page = await self.controls.page(self.scope, max(0, self.page.number + step))
        self._sync_buttons()
        await interaction.response.edit_message(content=self.render(), view=self)

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary, custom_id="memory:list:prev")
    async def previous(self, interaction: discord.Interaction, button: discord.ui.Button[ListView]) -> None:
        """Show the page before."""
        await self._turn(interaction, -1)

    @discord.ui.button(label="Next", style=discord.ButtonStyle.secondary, custom_id="memory:list:next")
    async def next(self, interaction: discord.Interaction, button: discord.ui.Button[ListView]) -> None:
        """Show the page after."""
        await self._turn(interaction, 1)


class ConfirmView(OwnedView):
    """Confirm or cancel a destructive action; ``action`` returns the text that replaces the question."""

    def __init__(self, owner_id: int, timeout_s: float, action: Callable[[], Awaitable[str]]) -> None:
        super().__init__(owner_id, timeout_s)
        self.action = action

    @discord.ui.button(label="Yes, delete", style=discord.ButtonStyle.danger, custom_id="memory:confirm:yes")
    async def confirm(self, interaction: discord.Interaction, button: discord.ui.Button[ConfirmView]) -> None:
        """Do it, once."""
        self.stop()
        await interaction.response.edit_message(content=await self.action(), view=None)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary, custom_id="memory:confirm:no")
    async def cancel(self, interaction: discord.Interaction, button: discord.ui.Button[ConfirmView]) -> None:
        """Leave everything as it is."""
        self.stop()
        await interaction.response.edit_message(content="Cancelled; nothing was deleted.", view=None)


class MemoryCog(commands.Cog):
    """The person's controls over what Kindred remembers about them."""

    memory = app_commands.Group(name="memory", description="What Kindred remembers about you")

    def __init__(self, bot: KindredBot) -> None:
        self.bot = bot
        self.controls = controls_of(bot.kindred.features)

    async def _say(self, interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_message(
            text[:2000], ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )

    @memory.command(name="list", description="List what I remember about you")
    async def memory_list(self, interaction: discord.Interaction) -> None:
        """Show the first page, with buttons for the others."""
        scope = interaction_scope(interaction)
        page = await self.controls.page(scope, 0)
        view = ListView(self.controls, scope, interaction.user.id, page)
        await interaction.response.send_message(
            view.render()[:2000], view=view, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )

    @memory.command(name="search", description="Search your memories and see why each one came back")
    @app_commands.describe(query="what to look for")
    async def memory_search(
        self, interaction: discord.Interaction, query: app_commands.Range[str, 1, MAX_QUERY_CHARS]
    ) -> None:
        """Show what recall finds, with its score parts."""
        found = await self.controls.search(interaction_scope(interaction), query)
        text = "\n".join(render_recalled(r) for r in found) if found else "Nothing found."
        await self._say(interaction, text)

    @memory.command(name="pin", description="Pin a memory so it always counts (again to unpin)")
    @app_commands.describe(memory_id="the memory's number, from /memory list")
    async def memory_pin(self, interaction: discord.Interaction, memory_id: MemoryId) -> None:
        """Pin or unpin one memory."""
        memory = await self.controls.pin(interaction_scope(interaction), memory_id)
        await self._say(interaction, f"{'Pinned' if memory.pinned else 'Unpinned'}: {render_memory(memory)}")

    @memory.command(name="forget", description="Delete one memory (asks first)")
    @app_commands.describe(memory_id="the memory's number, from /memory list")
    async def memory_forget(self, interaction: discord.Interaction, memory_id: MemoryId) -> None:
        """Ask to confirm, then delete the memory everywhere."""
        scope = interaction_scope(interaction)
        memory = await self.controls.check_forget(scope, memory_id)

        async def forget() -> str:
            await self.controls.forget(scope, memory_id)
            return f"Forgot memory #{memory_id}."

        view = ConfirmView(interaction.user.id, self.controls.settings.memory.view_timeout_s, forget)
        await interaction.response.send_message(
            f"Delete this memory for good?\n{render_memory(memory)}"[:2000],
            view=view,
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )

    @memory.command(name="correct", description="Correct a memory (the old version is kept as history)")
    @app_commands.describe(memory_id="the memory's number, from /memory list", text="what it should say")
    async def memory_correct(
        self,
        interaction: discord.Interaction,
        memory_id: MemoryId,
        text: app_commands.Range[str, 1, MAX_CORRECTION_CHARS],
    ) -> None:
        """Supersede the memory with the corrected text."""
        old, new = await self.controls.correct(interaction_scope(interaction), memory_id, text)
        await self._say(interaction, f"Corrected #{old.id}. Now: {render_memory(new)}")

    @memory.command(name="export", description="Get everything I hold about you as a JSON file")
    async def memory_export(self, interaction: discord.Interaction) -> None:
        """Send the export privately as a file."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        scope = interaction_scope(interaction)
        data, name = await self.controls.export(scope), f"kindred-export-{scope.user_id}.json"
        if len(data) > interaction.filesize_limit:
            # Years of conversation outgrow the upload limit as plain JSON; it compresses about tenfold.
            data, name = gzip.compress(data), name + ".gz"
        if len(data) > interaction.filesize_limit:
            await interaction.followup.send(
                "Your export is larger than Discord lets me send. A server operator can produce it for you "
                "with `kindred export`.",
                ephemeral=True,
            )
            return
        await interaction.followup.send(
            "Everything I hold about you, from every store.",
            file=discord.File(io.BytesIO(data), filename=name),
            ephemeral=True,
        )

    @memory.command(name="pause", description="Stop remembering new things until /memory resume")
    async def memory_pause(self, interaction: discord.Interaction) -> None:
        """Pause remembering."""
        changed = await self.controls.set_paused(interaction_scope(interaction), True)
        await self._say(
            interaction,
            "Paused. I'll still talk with you, but from now on nothing you say becomes a memory or is "
            "kept after I reply, until `/memory resume`."
            if changed
            else "Remembering is already paused.",
        )

    @memory.command(name="resume", description="Start remembering again")
    async def memory_resume(self, interaction: discord.Interaction) -> None:
        """Resume remembering."""
        changed = await self.controls.set_paused(interaction_scope(interaction), False)
        await self._say(interaction, "Remembering again." if changed else "Remembering was not paused.")

    @memory.command(name="privacy", description="Let memories reach across servers and DMs (off by default)")
    @app_commands.describe(cross_server="on: what you tell me in one server can come up in others and in DMs")
    async def memory_privacy(
        self, interaction: discord.Interaction, cross_server: bool | None = None
    ) -> None:
        """Show or change the cross-server recall opt-in."""
        enabled = await self.controls.privacy(interaction_scope(interaction), cross_server)
        await self._say(
            interaction,
            f"Recall across servers and DMs is **{'on' if enabled else 'off'}**."
            + ("" if cross_server is not None else " Use `/memory privacy cross_server:True` to change it."),
        )

    @memory.command(name="about", description="What I store about you, why, and for how long")
    async def memory_about(self, interaction: discord.Interaction) -> None:
        """Explain what is kept."""
        await self._say(interaction, await self.controls.about(interaction_scope(interaction)))

    @app_commands.command(name="forgetme", description="Delete everything I hold about you (asks first)")
    async def forgetme(self, interaction: discord.Interaction) -> None:
        """Ask to confirm, then delete the person from every tier."""
        scope = interaction_scope(interaction)

        async def forget_all() -> str:
            return render_forget_report(await self.controls.forget_me(scope))

        view = ConfirmView(interaction.user.id, self.controls.settings.memory.view_timeout_s, forget_all)
        await interaction.response.send_message(
            "This deletes everything I hold about you (conversations, memories, settings, everything) in "
            "every server and in DMs. It cannot be undone. Go ahead?",
            view=view,
            ephemeral=True,
        )
