"""``tasuki web``: serve the web app (filled in by the web work)."""

from __future__ import annotations
