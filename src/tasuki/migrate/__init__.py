"""Copy MySQL / MariaDB tables into the warehouse (Cookpad's Pipelined-migrator, in Python).

Rows stream from the source through connectorx's Arrow stream and into the target through
binary COPY; no value passes through per-row Python. Full mode rebuilds a table beside the
live one and swaps it in; incremental mode merges rows changed since a stored cursor. Both
commit the data and the cursor in one transaction, so a failure leaves the target as it was.

Example:
    >>> from tasuki.migrate import load_config, run_migrations
    >>> results = run_migrations(load_config("migrations.toml"))  # doctest: +SKIP
    >>> [(r.table, r.rows_written) for r in results]  # doctest: +SKIP
    [('users', 1200), ('orders', 35)]

See ``docs/migrate.md`` for the type mapping and the config format.
"""

from __future__ import annotations

from tasuki.migrate._common import Progress
from tasuki.migrate._config import (
    MigrationConfig,
    SourceConfig,
    TableSpec,
    TargetConfig,
    load_config,
)
from tasuki.migrate._drift import ColumnDiff
from tasuki.migrate._run import TableResult, migrate_table, run_migrations
from tasuki.migrate._tasks import MigrateTable, MigrateTables, migration_tasks

__all__ = [
    "ColumnDiff",
    "MigrateTable",
    "MigrateTables",
    "MigrationConfig",
    "Progress",
    "SourceConfig",
    "TableResult",
    "TableSpec",
    "TargetConfig",
    "load_config",
    "migrate_table",
    "migration_tasks",
    "run_migrations",
]
