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

from tasuki.catalog._comments import push_comments
from tasuki.catalog._introspect import ColumnMeta, TableMeta, read_metadata
from tasuki.catalog._lineage import around, downstream, table_key, upstream
from tasuki.catalog._lineage_sources import LineageReport, record_query_read, refresh_lineage
from tasuki.catalog._objects import CatalogObject, Edit, Event, SearchHit
from tasuki.catalog._openlineage import export_openlineage, import_openlineage
from tasuki.catalog._store import MAX_DESCRIPTION, Catalog
from tasuki.catalog._sync import SyncReport, sync
from tasuki.catalog._sync_task import SyncCatalogTask

__all__ = [
    "MAX_DESCRIPTION",
    "Catalog",
    "CatalogObject",
    "ColumnMeta",
    "Edit",
    "Event",
    "LineageReport",
    "SearchHit",
    "SyncCatalogTask",
    "SyncReport",
    "TableMeta",
    "around",
    "downstream",
    "export_openlineage",
    "import_openlineage",
    "push_comments",
    "read_metadata",
    "record_query_read",
    "refresh_lineage",
    "sync",
    "table_key",
    "upstream",
]
