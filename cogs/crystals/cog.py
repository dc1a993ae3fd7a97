"""The Discord surface of crystals and reality: /crystal, /reality, /scenes and pictures in chat.

Every reply is ephemeral and every button or select answers only the person who opened it.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Awaitable, Callable

import discord
from discord import app_commands
from discord.ext import commands

from bot.pipeline.message import TurnInput
from bot.platforms.discord import KindredBot
from bot.platforms.discord_send import can_send
from bot.platforms.discord_views import OwnedView, interaction_scope
from cogs.crystals.describe import brightness_bar, crystal_line, facet_text
from cogs.crystals.feature import CRYSTALS, REALITY
from cogs.crystals.reality import (
    FLAG,
    MAX_PROMPT_CHARS,
    OPT_OUT_KEY,
    PLACE_KEY,
    RealityService,
    asks_for_picture,
    reality_in_chat_allowed,
    take_chat_image_allowance,
)
from cogs.crystals.renderer import colour_of
from cogs.crystals.service import CrystalService
from storage.crystals import CrystalError, CrystalRecord
from storage.scope import Scope

log = logging.getLogger(__name__)

VIEW_TIMEOUT_S = 900.0
MAX_LINK_BUTTONS = 3
FACETS_SHOWN = 10
NameArg = app_commands.Range[str, 1, 100]
NO_PINGS = discord.AllowedMentions.none()


def crystal_embed(crystal: CrystalRecord, facet: int = 0) -> discord.Embed:
    """Return a crystal's embed: its feeling and terms, its facets (the chosen one marked) and links."""
    embed = discord.Embed(
        title=f"💎 {crystal.name}"[:256],
        colour=discord.Colour.from_rgb(*colour_of(crystal.hue)),
        description=(
            f"{brightness_bar(crystal.brightness)} · {crystal.facet_count} memories · feels like "
            f"{crystal.emotion}"
            + (" · 📌 pinned" if crystal.pinned else "")
            + (" · 🔮 entered" if crystal.entered else "")
        ),
    )
    if crystal.key_terms:
        embed.add_field(name="Key terms", value=", ".join(crystal.key_terms)[:1024], inline=False)
    if crystal.facets:
        lines = [
            f"{'▸' if i == facet else '•'} {facet_text(f.text)}"
            for i, f in enumerate(crystal.facets[:FACETS_SHOWN])
        ]
        embed.add_field(name="Facets", value="\n".join(lines)[:1024], inline=False)
        chosen = crystal.facets[min(facet, len(crystal.facets) - 1)]
        embed.add_field(
            name=f"Memory {min(facet, len(crystal.facets) - 1) + 1} of {len(crystal.facets)} "
            f"({chosen.created_at:%Y-%m-%d})",
            value=chosen.text[:1024],
            inline=False,
        )
    if crystal.links:
        embed.add_field(name="Linked crystals", value=", ".join(link.name for link in crystal.links)[:1024])
    return embed


class CrystalWalk(OwnedView):
    """Step through a crystal's facets and on to linked crystals; Back returns along the way walked."""

    def __init__(self, service: CrystalService, scope: Scope, owner_id: int, crystal: CrystalRecord) -> None:
        super().__init__(owner_id, VIEW_TIMEOUT_S)
        self.service = service
        self.scope = scope
        self.crystal = crystal
        self.facet = 0
        self.trail: list[int] = []
        self.picker: discord.ui.Select[CrystalWalk] | None = None
        self._build()

    def embed(self) -> discord.Embed:
        """Return the embed for where the walk is now."""
        return crystal_embed(self.crystal, self.facet)

    def _build(self) -> None:
        self.clear_items()
        self.picker = None
        facets = self.crystal.facets
        if facets:
            select: discord.ui.Select[CrystalWalk] = discord.ui.Select(
                custom_id="crystal:facet",
                placeholder="Choose a memory in this crystal",
                options=[
                    discord.SelectOption(
                        label=facet_text(f.text)[:100], value=str(i), default=i == self.facet
                    )
                    for i, f in enumerate(facets[:25])
                ],
                row=0,
            )
            select.callback = self._chose  # type: ignore[method-assign]
            self.picker = select
            self.add_item(select)
        self._button("◀ Memory", "crystal:prev", self.facet == 0, self._previous, 1)
        self._button("Memory ▶", "crystal:next", self.facet >= len(facets) - 1, self._next, 1)
        self._button("↩ Back", "crystal:back", not self.trail, self._back, 1)
        for i, link in enumerate(self.crystal.links[:MAX_LINK_BUTTONS]):
            self._button(f"→ {link.name}"[:80], f"crystal:link:{i}", False, self._link(link.other_id), 2)

    def _button(self, label: str, custom_id: str, disabled: bool, callback: object, row: int) -> None:
        button: discord.ui.Button[CrystalWalk] = discord.ui.Button(
            label=label, custom_id=custom_id, disabled=disabled, row=row, style=discord.ButtonStyle.secondary
        )
        button.callback = callback  # type: ignore[assignment]
        self.add_item(button)

    async def _show(self, interaction: discord.Interaction) -> None:
        self._build()
        await interaction.response.edit_message(embed=self.embed(), view=self)

    async def _chose(self, interaction: discord.Interaction) -> None:
        values = self.picker.values if self.picker is not None else []
        self.facet = max(0, min(int(values[0]) if values else 0, len(self.crystal.facets) - 1))
        await self._show(interaction)

    async def _previous(self, interaction: discord.Interaction) -> None:
        self.facet = max(0, self.facet - 1)
        await self._show(interaction)

    async def _next(self, interaction: discord.Interaction) -> None:
        self.facet = min(len(self.crystal.facets) - 1, self.facet + 1)
        await self._show(interaction)

    async def _back(self, interaction: discord.Interaction) -> None:
        if self.trail:
            await self._go(interaction, self.trail.pop(), remember=False)

    def _link(self, crystal_id: int) -> object:
        async def step(interaction: discord.Interaction) -> None:
            await self._go(interaction, crystal_id, remember=True)

        return step

    async def _go(self, interaction: discord.Interaction, crystal_id: int, *, remember: bool) -> None:
        found = await self.service.store.get(self.scope, crystal_id)
        if found is None:
            await interaction.response.send_message("That crystal has dissolved.", ephemeral=True)
            return
        if remember:
            self.trail.append(self.crystal.id)
        self.crystal, self.facet = found, 0
        await self._show(interaction)


class CrystalsCog(commands.Cog):
    """Memory crystals and reality generation on Discord."""

    crystal = app_commands.Group(name="crystal", description="Your memory crystals: the themes of your story")
    scenes = app_commands.Group(name="scenes", description="Pictures in conversation")

    def __init__(self, bot: KindredBot) -> None:
        self.bot = bot
        self.kindred = bot.kindred
        self.service: CrystalService = bot.kindred.features.services[CRYSTALS]
        self.reality: RealityService = bot.kindred.features.services[REALITY]

    async def cog_load(self) -> None:
        """Start answering picture requests in chat (after each reply)."""
        self.kindred.pipeline.after_turn.append(self.picture_after_turn)

    async def cog_unload(self) -> None:
        """Stop answering picture requests in chat."""
        if self.picture_after_turn in self.kindred.pipeline.after_turn:
            self.kindred.pipeline.after_turn.remove(self.picture_after_turn)

    # ------------------------------------------------------------------ helpers

    async def _say(self, interaction: discord.Interaction, text: str) -> None:
        if interaction.response.is_done():
            await interaction.followup.send(text[:2000], ephemeral=True, allowed_mentions=NO_PINGS)
        else:
            await interaction.response.send_message(text[:2000], ephemeral=True, allowed_mentions=NO_PINGS)

    async def _on_crystal(
        self,
        interaction: discord.Interaction,
        name: str,
        act: Callable[[Scope, CrystalRecord], Awaitable[str | CrystalWalk]],
    ) -> None:
        """Find the person's crystal called ``name``, act on it, and answer with the text or walk returned."""
        # Looking a crystal up may form the person's crystals first (and ask the model for names): that can
        # take longer than Discord waits for a first answer, so the answer is deferred.
        await interaction.response.defer(ephemeral=True, thinking=True)
        scope = interaction_scope(interaction)
        try:
            result = await act(scope, await self.service.find(scope, name))
        except CrystalError as exc:
            result = str(exc)
        if isinstance(result, CrystalWalk):
            await interaction.followup.send(embed=result.embed(), view=result, ephemeral=True)
        else:
            await self._say(interaction, result)

    async def crystal_names(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Suggest the person's crystal names here."""
        crystals = await self.service.store.list_crystals(interaction_scope(interaction))
        typed = current.casefold()
        return [
            app_commands.Choice(name=c.name[:100], value=c.name[:100])
            for c in crystals
            if typed in c.name.casefold()
        ][:25]

    # ------------------------------------------------------------------ /crystal

    @crystal.command(name="list", description="List your crystals here")
    async def crystal_list(self, interaction: discord.Interaction) -> None:
        """List the person's crystals, forming them first if needed."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        crystals = await self.service.crystals(interaction_scope(interaction))
        if not crystals:
            text = "No crystals yet: they form once a few related memories of yours gather here."
        else:
            text = "**Your crystals**\n" + "\n".join(f"• {crystal_line(c)}" for c in crystals[:30])
        await interaction.followup.send(text[:2000], ephemeral=True, allowed_mentions=NO_PINGS)

    @crystal.command(name="view", description="Look inside one of your crystals")
    @app_commands.describe(name="The crystal's name")
    @app_commands.autocomplete(name=crystal_names)
    async def crystal_view(self, interaction: discord.Interaction, name: NameArg) -> None:
        """Show a crystal with its facets; buttons step to memories and linked crystals."""

        async def view(scope: Scope, found: CrystalRecord) -> CrystalWalk:
            return CrystalWalk(self.service, scope, interaction.user.id, found)

        await self._on_crystal(interaction, name, view)

    @crystal.command(name="map", description="See your crystals as a constellation")
    async def crystal_map(self, interaction: discord.Interaction) -> None:
        """Send the constellation map as a PNG."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        png = await self.service.map_png(interaction_scope(interaction))
        await interaction.followup.send(
            "Your constellation: each gem is a crystal, sized by brightness, coloured by feeling.",
            file=discord.File(io.BytesIO(png), filename="constellation.png"),
            ephemeral=True,
        )

    @crystal.command(name="explore", description="Walk through your crystals, with a 3D view")
    async def crystal_explore(self, interaction: discord.Interaction) -> None:
        """Start a walk at the brightest crystal, with the rotating image and the 3D HTML view attached."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        scope = interaction_scope(interaction)
        crystals = await self.service.crystals(scope)
        if not crystals:
            await interaction.followup.send("No crystals to explore yet.", ephemeral=True)
            return
        start = await self.service.store.get(scope, crystals[0].id)
        assert start is not None
        gif, html = await self.service.explore_files(
            scope, f"{interaction.user.display_name}'s constellation"
        )
        walk = CrystalWalk(self.service, scope, interaction.user.id, start)
        await interaction.followup.send(
            "Open the HTML file in a browser and drag to turn your constellation.",
            embed=walk.embed(),
            view=walk,
            files=[
                discord.File(io.BytesIO(gif), filename="constellation.gif"),
                discord.File(io.BytesIO(html.encode("utf-8")), filename="constellation.html"),
            ],
            ephemeral=True,
        )

    @crystal.command(name="pin", description="Pin a crystal so it stays (or unpin it)")
    @app_commands.autocomplete(name=crystal_names)
    async def crystal_pin(self, interaction: discord.Interaction, name: NameArg, pinned: bool = True) -> None:
        """Pin or unpin a crystal."""

        async def pin(scope: Scope, found: CrystalRecord) -> str:
            c = await self.service.store.set_pinned(scope, found.id, pinned)
            return f"{'Pinned' if c.pinned else 'Unpinned'} **{c.name}**."

        await self._on_crystal(interaction, name, pin)

    @crystal.command(name="rename", description="Give a crystal your own name")
    @app_commands.autocomplete(name=crystal_names)
    async def crystal_rename(
        self, interaction: discord.Interaction, name: NameArg, new_name: app_commands.Range[str, 1, 60]
    ) -> None:
        """Rename a crystal; formation keeps a name given by its person."""

        async def rename(scope: Scope, found: CrystalRecord) -> str:
            return f"Renamed to **{(await self.service.store.rename(scope, found.id, new_name)).name}**."

        await self._on_crystal(interaction, name, rename)

    @crystal.command(name="dissolve", description="Dissolve a crystal (your memories stay)")
    @app_commands.autocomplete(name=crystal_names)
    async def crystal_dissolve(self, interaction: discord.Interaction, name: NameArg) -> None:
        """Dissolve a crystal; the same theme does not form again."""

        async def dissolve(scope: Scope, found: CrystalRecord) -> str:
            gone = await self.service.store.dissolve(scope, found.id)
            return f"Dissolved **{gone}**. Your memories are untouched."

        await self._on_crystal(interaction, name, dissolve)

    @crystal.command(name="enter", description="Focus our conversation on one of your crystals")
    @app_commands.autocomplete(name=crystal_names)
    async def crystal_enter(self, interaction: discord.Interaction, name: NameArg) -> None:
        """Enter a crystal: its memories join the conversation until the person leaves."""

        async def enter(scope: Scope, found: CrystalRecord) -> str:
            c = await self.service.store.enter(scope, found.id)
            return f"🔮 You are inside **{c.name}**. `/crystal leave` steps back out."

        await self._on_crystal(interaction, name, enter)

    @crystal.command(name="leave", description="Step out of the crystal you entered")
    async def crystal_leave(self, interaction: discord.Interaction) -> None:
        """Leave the entered crystal."""
        name = await self.service.store.leave(interaction_scope(interaction))
        await self._say(interaction, f"You left **{name}**." if name else "You are not inside a crystal.")

    # ------------------------------------------------------------------ /reality and /scenes

    @app_commands.command(name="reality", description="Imagine a scene: a short story and a picture")
    @app_commands.describe(prompt="What to imagine", seed="Paint the same picture again with the same seed")
    async def reality_command(
        self,
        interaction: discord.Interaction,
        prompt: app_commands.Range[str, 1, MAX_PROMPT_CHARS],
        seed: app_commands.Range[int, 0, 2**32 - 1] | None = None,
    ) -> None:
        """Generate a scene privately: the model's narrative and an image."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        scene = await self.reality.scene(interaction_scope(interaction), prompt, seed)
        embed = discord.Embed(
            title=prompt[:256],
            description=scene.narrative[:4000]
            or "(The storyteller is quiet right now; here is the picture.)",
            colour=discord.Colour.from_rgb(*colour_of(scene.palette.hue)),
        )
        embed.set_image(url=f"attachment://{scene.filename}")
        embed.set_footer(text=f"seed {scene.seed} · {scene.palette.emotion}")
        await interaction.followup.send(
            embed=embed, file=discord.File(io.BytesIO(scene.image), filename=scene.filename), ephemeral=True
        )

    @scenes.command(name="me", description="Turn pictures in conversation on or off for yourself")
    async def scenes_me(self, interaction: discord.Interaction, enabled: bool) -> None:
        """Let a person opt out of (or back into) pictures in chat."""
        await self.kindred.storage.update_user_settings(
            interaction_scope(interaction), {OPT_OUT_KEY: not enabled}
        )
        await self._say(
            interaction,
            "I'll picture things for you when you ask, where pictures are on."
            if enabled
            else "I won't add pictures to my replies to you.",
        )

    @scenes.command(name="channel", description="Allow pictures in conversation in this channel (admins)")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    async def scenes_channel(self, interaction: discord.Interaction, enabled: bool) -> None:
        """Enable or disable reality in chat in this channel; needs Manage Server, checked here too."""
        owners = set(self.kindred.settings.bot.owner_ids)
        if not interaction.permissions.manage_guild and str(interaction.user.id) not in owners:
            await self._say(
                interaction, "Only server admins (Manage Server) can change this. Nothing changed."
            )
            return
        assert interaction.guild_id is not None
        await self.kindred.storage.update_place_settings(
            "discord",
            str(interaction.guild_id),
            str(interaction.channel_id),
            {PLACE_KEY: True if enabled else None},
        )
        await self._say(
            interaction,
            "Pictures are on here: ask me to imagine or show something."
            if enabled
            else "Pictures are off in this channel.",
        )

    # ------------------------------------------------------------------ reality in chat

    async def picture_after_turn(self, turn: TurnInput, user_turn_id: int, reply_turn_id: int | None) -> None:
        """After a reply, add a picture when the person asked for one where pictures are allowed."""
        if reply_turn_id is None or turn.scope.channel_id is None or not asks_for_picture(turn.text):
            return
        flags = self.kindred.features.services.get("flags")  # absent when cogs.admin is not loaded
        if not await reality_in_chat_allowed(self.kindred.storage, turn.scope, turn.parent_channel_id, flags):
            return
        channel = self.bot.get_channel(int(turn.scope.channel_id))
        if not isinstance(channel, discord.abc.Messageable) or not can_send(channel):
            return
        if not await take_chat_image_allowance(
            self.kindred.storage, turn.scope, self.kindred.settings.crystals
        ):
            log.info("reality in chat: hourly picture allowance spent")
            return
        try:
            scene = await self.reality.chat_picture(turn.scope, turn.text)
            reference = discord.MessageReference(
                message_id=int(turn.message_ids[-1]),
                channel_id=int(turn.scope.channel_id),
                fail_if_not_exists=False,
            )
            await channel.send(
                file=discord.File(io.BytesIO(scene.image), filename=scene.filename),
                reference=reference,
                allowed_mentions=NO_PINGS,
            )
        except Exception:
            # Failures count towards the flag's automatic rollback; the pipeline logs the traceback.
            if flags is not None:
                await flags.record(FLAG, False)
            raise
        if flags is not None:
            await flags.record(FLAG, True)
