"""Hold every slash command's options to what the command declared, before the command runs.

Discord's client enforces ``min_value``/``max_value``, lengths, choices and channel types, but discord.py
passes whatever an interaction carries straight to the callback: a forged or stale interaction, or a client
that skips the checks, can send ``page=-5``, a 10,000-character name, ``days=8`` or a channel of another
server. ``check_options`` refuses those with a sentence naming the option, so each command only has to
judge values that are well-formed (does this memory or crystal exist, is this flag known).

It is added as a check to every command in the tree once the cogs are loaded, so a new command gets it
without doing anything.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import discord
from discord import app_commands
from discord.enums import AppCommandOptionType as Kind

from bot.safety.normalize import normalize_text

NOTHING_CHANGED = "Nothing was changed."


class InvalidOption(app_commands.CheckFailure):
    """An option value outside what its command declared; the text is safe to show the person."""


def _number(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) or not value.is_integer() else f"{int(value):,}"


def _choices(values: Iterable[Any]) -> str:
    return ", ".join(str(v) for v in values)


def _text_problem(param: app_commands.Parameter, value: str) -> str | None:
    low, high = param.min_value, param.max_value
    # Invisible characters count for nothing: a name of zero-width spaces would show as blank.
    if low is not None and len(normalize_text(value).strip()) < low:
        return f"must have at least {low:,} visible character{'s' if low != 1 else ''}"
    if high is not None and len(value) > high:
        return f"must be at most {high:,} characters (got {len(value):,})"
    return None


def _number_problem(param: app_commands.Parameter, value: float) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a number"
    low, high = param.min_value, param.max_value
    if (low is not None and value < low) or (high is not None and value > high):
        if low is not None and high is not None:
            bound = f"between {_number(low)} and {_number(high)}"
        else:
            bound = f"at least {_number(low)}" if low is not None else f"at most {_number(high or 0)}"
        return f"is out of range: it must be {bound} (got {_number(value)})"
    return None


def _channel_problem(
    param: app_commands.Parameter, value: Any, interaction: discord.Interaction
) -> str | None:
    if not isinstance(value, (app_commands.AppCommandChannel, app_commands.AppCommandThread)):
        return "is not a channel I can see"
    guild = interaction.guild
    if interaction.guild_id is None or (guild is not None and guild.get_channel_or_thread(value.id) is None):
        return "must be a channel of this server"
    if param.channel_types and value.type not in param.channel_types:
        kinds = " or ".join(sorted({t.name.replace("_", " ") for t in param.channel_types}))
        return f"must be a {kinds} channel"
    return None


def _role_problem(value: Any, interaction: discord.Interaction) -> str | None:
    guild = interaction.guild
    if not isinstance(value, discord.Role) or guild is None or guild.get_role(value.id) is None:
        return "must be a role of this server"
    return None


def problem(param: app_commands.Parameter, value: Any, interaction: discord.Interaction) -> str | None:
    """Return what is wrong with one option value (a phrase after its name), or None when it is fine."""
    if param.choices and value not in [choice.value for choice in param.choices]:
        return f"must be one of: {_choices(c.value for c in param.choices)}"
    if param.type is Kind.string and isinstance(value, str):
        return _text_problem(param, value)
    if param.type in (Kind.integer, Kind.number):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "must be a number"
        return _number_problem(param, value)
    if param.type is Kind.channel:
        return _channel_problem(param, value, interaction)
    if param.type is Kind.role:
        return _role_problem(value, interaction)
    if param.type in (Kind.user, Kind.mentionable) and isinstance(value, discord.Object):
        return "is not a user I can see"  # Discord sends resolved data for every real user or member
    return None


async def check_options(interaction: discord.Interaction) -> bool:
    """Raise InvalidOption for the first option that breaks its command's declaration."""
    command = interaction.command
    if not isinstance(command, app_commands.Command):
        return True
    given = dict(iter(interaction.namespace))
    for param in command.parameters:
        value = given.get(param.display_name)
        if value is None:
            continue
        found = problem(param, value, interaction)
        if found is not None:
            raise InvalidOption(f"`{param.display_name}` {found}. {NOTHING_CHANGED}")
    return True


def guard_tree(tree: app_commands.CommandTree[Any]) -> int:
    """Add check_options to every slash command in the tree that lacks it; return how many got it."""
    added = 0
    for command in tree.walk_commands():
        if isinstance(command, app_commands.Command) and check_options not in command.checks:
            command.add_check(check_options)
            added += 1
    return added
