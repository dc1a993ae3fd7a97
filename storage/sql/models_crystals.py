"""Tables of memory crystals: crystals, facets and links.

Migrations own the schema; these classes map it."""

from __future__ import annotations
