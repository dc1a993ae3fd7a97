"""Tables of emotional support: profiles, strategies and their history.

Migrations own the schema; these classes map it."""

from __future__ import annotations
