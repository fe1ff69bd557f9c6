"""The catalog sync as a task, for a daily schedule (cron, an Argo ``CronWorkflow``).

    tasuki run tasuki.catalog:SyncCatalogTask --warehouse dwh --day 2024-06-01

``day`` is what makes each day's run a new task: the same day twice is cached (one sync a
day), the next day runs again. The output is the :class:`SyncReport` as JSON.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from tasuki.core.params import param
from tasuki.core.task import Task

__all__ = ["SyncCatalogTask"]


class SyncCatalogTask(Task):
    """Sync one warehouse's metadata into the catalog and keep the report.

    Example:
        >>> tasuki.build(SyncCatalogTask(warehouse="dwh", day=dt.date.today()))  # doctest: +SKIP
        {'warehouse': 'dwh', 'tables': 120, 'unchanged': 2410, ...}
    """

    warehouse: str = param(description="a name under [warehouses]")
    day: dt.date = param(description="the day this sync is for (one sync a day is cached)")
    catalog: str = param(
        default="",
        significant=False,
        description="catalog URL (default: the catalog setting)",
    )

    def output(self) -> Any:
        """The sync report, JSON."""
        return self.make_target("catalog_sync.json")

    def run(self) -> None:
        """Sync, log the counts, dump the report."""
        from tasuki.catalog._store import Catalog
        from tasuki.catalog._sync import sync
        from tasuki.config import active_settings, load_settings

        # The build's settings (a task is not handed them); read once when run outside one.
        settings = active_settings() or load_settings()
        with Catalog.open(self.catalog or None, settings=settings) as catalog:
            report = sync(catalog, self.warehouse, settings=settings)
        self.task_log.update(report.counts())
        self.dump(report.to_dict())
