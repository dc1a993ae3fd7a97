"""Tables of the memory feature: importance statistics, patterns and preferences per person.

Migrations own the schema; these classes map it."""

from __future__ import annotations
