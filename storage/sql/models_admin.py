"""Tables of administration: audit log, feature flags, allow and block lists, limits.

Migrations own the schema; these classes map it."""

from __future__ import annotations
