"""Sharding settings become discord.py's shard options, or a ConfigError that names both fields."""

from __future__ import annotations

import pytest

from bot.app import shard_options
from bot.config import DiscordSettings
from bot.errors import ConfigError


def test_no_sharding_by_default() -> None:
    assert shard_options(DiscordSettings()) == {}


def test_one_shard_of_several() -> None:
    assert shard_options(DiscordSettings(shard_count=4, shard_id=3)) == {"shard_id": 3, "shard_count": 4}


@pytest.mark.parametrize("given", [{"shard_count": 2}, {"shard_id": 0}])
def test_half_a_setting_is_refused(given: dict[str, int]) -> None:
    with pytest.raises(ConfigError, match=r"shard_count and discord\.shard_id must be set together"):
        shard_options(DiscordSettings(**given))


def test_a_shard_id_past_the_count_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"below discord\.shard_count"):
        shard_options(DiscordSettings(shard_count=2, shard_id=2))
