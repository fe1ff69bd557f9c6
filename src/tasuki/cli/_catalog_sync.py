"""``tasuki catalog sync|search|show|describe|push-comments`` (filled in by the sync work)."""

from __future__ import annotations
