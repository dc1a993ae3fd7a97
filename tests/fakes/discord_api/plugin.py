"""Pytest plugin with the ``fake_discord`` fixture.

Load it with ``pytest_plugins = ["tests.fakes.discord_api.plugin"]`` in the root conftest or a test module.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.discord_api.server import FakeDiscord


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """Yield a running FakeDiscord with discord.py pointed at it and the default scene in ``fake.scene``."""
    async with FakeDiscord() as fake:
        fake.populate()
        with fake.patch_discord():
            yield fake
