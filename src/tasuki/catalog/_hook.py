"""The build hook behind ``catalog_lineage = true``: each build's run records go into the
catalog's lineage when the build ends, so a table's page names the task that just wrote it
without a ``tasuki catalog lineage-refresh``.

It merges what the build's records say (tasks, parameters, requires edges, the tables a
query task reads) and, for each write-back task that ran, task -[wrote]-> table from its
parameters; the warehouse's own lineage rows, datasets and the zoo are still merged by
:func:`~tasuki.catalog.refresh_lineage`. Lineage is a record of what happened, never a
reason for a build to fail: a catalog that cannot be written is logged as a warning.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from tasuki._redact import redact
from tasuki.catalog._lineage import write_batch
from tasuki.catalog._lineage_sources import LineageReport, _Merge, dialect_of

if TYPE_CHECKING:
    from tasuki.config import Settings
    from tasuki.core.records import RunRecord

__all__ = ["CatalogLineageHook"]

logger = logging.getLogger(__name__)

_WRITE_BACK = "tasuki.warehouse:WriteTableTask"


class CatalogLineageHook:
    """Collects the records of tasks that ran or were cached; writes them at build end."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._records: list[RunRecord] = []

    def on_task_end(self, *, record: RunRecord | None = None, **kwargs: Any) -> None:
        """Keep the record of a finished task (failed runs are lineage of nothing)."""
        if record is not None and record.done:
            self._records.append(record)

    def on_build_end(self, **kwargs: Any) -> None:
        """Merge the build's records into the catalog in one transaction."""
        records, self._records = self._records, []
        if not records:
            return
        from tasuki.catalog._store import Catalog

        merge = _Merge(self.settings, LineageReport())
        for rec in records:
            merge.record(rec)
            if rec.task == _WRITE_BACK:
                self._wrote(merge, rec)
        try:
            with Catalog.open(settings=self.settings) as catalog, catalog.engine.begin() as conn:
                write_batch(conn, merge.batch)
        except Exception as exc:  # lineage never fails a build
            logger.warning(
                "catalog lineage of this build not written to %s: %s",
                redact(self.settings.catalog),
                exc,
            )

    def _wrote(self, merge: _Merge, rec: RunRecord) -> None:
        where, table = rec.params.get("warehouse"), rec.params.get("table")
        if not isinstance(where, str) or not isinstance(table, str):
            return
        name = merge.warehouse_name(where)
        if name is None:  # a URL no [warehouses] name has: its tables have no catalog path
            return
        merge.write_row(
            name,
            dialect_of(self.settings.warehouses[name]),
            {
                "table_name": table,
                "unique_id": rec.unique_id,
                "task": rec.task,
                "params": rec.params,
                "row_count": None,
                "written_at": rec.finished_at,
                "code_key": None,
            },
        )
