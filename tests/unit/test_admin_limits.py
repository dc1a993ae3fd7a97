"""Allow and block lists and limit overrides, decided without Discord."""

from __future__ import annotations

from bot.config import AdminSettings
from bot.pipeline.pipeline import _rate
from cogs.admin.limits import admitted, resolve_limits
from storage.admin import AccessRuleRecord, LimitRecord


def rule(kind: str, target: str, mode: str) -> AccessRuleRecord:
    return AccessRuleRecord(kind, target, mode, None)


def test_a_blocked_user_role_or_channel_is_refused() -> None:
    assert not admitted([rule("user", "1", "block")], "1", set(), {"10"})
    assert not admitted([rule("role", "r", "block")], "1", {"r"}, {"10"})
    assert not admitted([rule("channel", "10", "block")], "1", set(), {"10"})
    assert admitted([rule("user", "2", "block")], "1", set(), {"10"})


def test_a_thread_follows_its_blocked_parent_channel() -> None:
    assert not admitted([rule("channel", "10", "block")], "1", set(), {"thread-5", "10"})


def test_a_channel_allow_list_limits_where_kindred_talks() -> None:
    rules = [rule("channel", "10", "allow")]
    assert admitted(rules, "1", set(), {"10"})
    assert not admitted(rules, "1", set(), {"11"})


def test_a_user_or_role_allow_list_limits_who_kindred_talks_with() -> None:
    rules = [rule("user", "1", "allow"), rule("role", "friends", "allow")]
    assert admitted(rules, "1", set(), {"10"})
    assert admitted(rules, "2", {"friends"}, {"10"})
    assert not admitted(rules, "3", {"others"}, {"10"})


def test_a_block_wins_over_an_allow() -> None:
    rules = [rule("user", "1", "allow"), rule("role", "muted", "block")]
    assert not admitted(rules, "1", {"muted"}, {"10"})


def test_overrides_replace_the_configured_limits_and_defaults_fill_the_rest() -> None:
    records = [
        LimitRecord("user", "1", 3.0, None),
        LimitRecord("guild", None, None, 50_000),
    ]
    limits = resolve_limits(records, "1", AdminSettings(user_tokens_per_day=1000))
    assert limits.user_messages_per_minute == 3.0
    assert limits.guild_messages_per_minute is None
    assert limits.user_tokens_per_day == 1000  # no override: the configured allowance
    assert limits.guild_tokens_per_day == 50_000
    other = resolve_limits(records, "2", AdminSettings())
    assert other.user_messages_per_minute is None and other.user_tokens_per_day is None


def test_a_low_rate_override_also_lowers_the_burst() -> None:
    assert _rate(6, 12.0, None) == (6, 12.0)
    assert _rate(6, 12.0, 2.0) == (2, 2.0)
    assert _rate(6, 12.0, 0.5) == (1, 0.5)
    assert _rate(6, 12.0, 60.0) == (6, 60.0)
