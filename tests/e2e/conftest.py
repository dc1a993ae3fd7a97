"""The end-to-end fixtures: ``start_bot`` runs Kindred as a bot on the fake Discord and OpenAI servers."""

from tests.e2e.harness import start_bot  # noqa: F401  (a fixture, registered by being here)
