"""Permission levels: owners by config, admins by Manage Server, moderators by the guild's role."""

from __future__ import annotations

import pytest

from cogs.admin.permissions import Caller, Level, PermissionDenied, level_of, require

OWNERS = ["900"]


def test_a_configured_owner_is_owner_everywhere_even_in_dms() -> None:
    assert level_of(Caller("900", None, False), OWNERS, None) is Level.OWNER
    assert level_of(Caller("900", "1", False), OWNERS, "55") is Level.OWNER


def test_manage_server_makes_a_guild_admin_but_not_in_dms() -> None:
    assert level_of(Caller("1", "1", True), OWNERS, None) is Level.ADMIN
    assert level_of(Caller("1", None, True), OWNERS, None) is Level.MEMBER


def test_the_moderator_role_makes_a_moderator_only_when_configured() -> None:
    caller = Caller("2", "1", False, frozenset({"55", "66"}))
    assert level_of(caller, OWNERS, "55") is Level.MODERATOR
    assert level_of(caller, OWNERS, "77") is Level.MEMBER
    assert level_of(caller, OWNERS, None) is Level.MEMBER


def test_require_refuses_a_lower_level_with_a_message_naming_both() -> None:
    require(Level.ADMIN, Level.MODERATOR)
    with pytest.raises(PermissionDenied) as info:
        require(Level.MODERATOR, Level.OWNER)
    assert "bot owner" in str(info.value) and "moderator" in str(info.value)
    assert "Nothing was changed" in str(info.value)
