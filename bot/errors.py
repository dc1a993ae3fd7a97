"""Errors the runtime raises, each with text that is safe to show a person, and the CLI's exit codes."""

from __future__ import annotations

# Exit codes follow sysexits(3) so scripts and supervisors can tell failures apart.
EXIT_OK = 0
EXIT_UNHEALTHY = 1
EXIT_USAGE = 64
EXIT_UNAVAILABLE = 69
EXIT_CONFIG = 78


class KindredError(Exception):
    """A failure whose message may be shown to a person as it is."""

    exit_code = EXIT_UNHEALTHY


class ConfigError(KindredError):
    """The configuration is missing, malformed or inconsistent."""

    exit_code = EXIT_CONFIG
