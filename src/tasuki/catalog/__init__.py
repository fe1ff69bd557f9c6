"""The catalog of warehouse tables: metadata, descriptions with history, search, lineage."""

from __future__ import annotations
