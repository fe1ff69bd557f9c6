"""The catalog of warehouse tables: metadata synced from every warehouse, descriptions
people write (every edit kept), full-text search, and lineage from tasuki's own records.

    from tasuki.catalog import Catalog

    with Catalog.open(settings=settings) as catalog:
        for hit in catalog.search("売上"):
            print(hit.object.path, hit.snippet)

Embedded SQLite by default (the ``catalog`` setting), PostgreSQL for a team. See
docs/catalog.md.
"""

from __future__ import annotations

from tasuki.catalog._objects import CatalogObject, Edit, Event, SearchHit
from tasuki.catalog._store import MAX_DESCRIPTION, Catalog

__all__ = ["MAX_DESCRIPTION", "Catalog", "CatalogObject", "Edit", "Event", "SearchHit"]
