"""Each configured table copy as a task, so the runner parallelises, records and reports them.

``tasuki migrate --config migrations.toml --workers 4`` builds one :class:`MigrateTables`
root that requires a :class:`MigrateTable` per table. Table copies always run (a daily copy
is not a cached computation: incremental mode makes a run with nothing new a no-op), and each
leaves a JSON summary and a run record in the workspace.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar

from tasuki._table_keys import table_key
from tasuki.core.task import Task
from tasuki.errors import MigrationError
from tasuki.migrate._config import MigrationConfig, TableSpec, load_config
from tasuki.migrate._run import migrate_table

__all__ = ["MigrateTable", "MigrateTables", "migration_tasks"]


class MigrateTable(Task):
    """Copy one table of a migration config into the warehouse."""

    config: Path
    table: str
    rerun: ClassVar[bool] = True

    def output(self) -> Any:
        """A JSON summary of the copy (rows, cursor, seconds)."""
        return self.make_target(f"migrate/{self.table}.json")

    def _spec(self) -> tuple[MigrationConfig, TableSpec]:
        config = load_config(self.config)
        specs = {s.name: s for s in config.tables}
        if self.table not in specs:
            raise MigrationError(
                f"table {self.table!r} is not in {self.config} "
                f"(configured: {', '.join(sorted(specs))})",
                table=self.table,
            )
        return config, specs[self.table]

    def _writes_outside(self) -> list[tuple[str, bool]]:
        """The target table, named as a query task reading it names it (``Target.touches()``),
        and whether the copy replaces it (a full load): a build refuses to run this and a
        query of the table, or a write-back replacing it, in no order."""
        config, spec = self._spec()
        url = config.target.url
        schema = config.target.schema_ or ("main" if url.startswith("duckdb") else "public")
        table = spec.target_name
        if url.startswith("duckdb"):  # names are quoted; DuckDB ignores their case anyway
            schema, table = schema.lower(), table.lower()
        key = table_key(url, (schema, table))
        return [] if key is None else [(key, spec.mode == "full")]

    def run(self) -> None:
        """Run the copy and keep its figures in the task log."""
        config, spec = self._spec()
        result = migrate_table(
            config.source.url, config.target.url, spec, schema=config.target.schema_
        )
        summary = dataclasses.asdict(result)
        summary["added_columns"] = list(result.added_columns)
        self.task_log.update(
            {k: summary[k] for k in ("rows_read", "rows_written", "seconds", "cursor_after")}
        )
        self.dump(summary)


class MigrateTables(Task):
    """Every table of a config (or a subset); its output lists the per-table summaries."""

    config: Path
    tables: tuple[str, ...]
    rerun: ClassVar[bool] = True

    def requires(self) -> Any:
        """One copy task per table."""
        return [MigrateTable(config=self.config, table=t) for t in self.tables]

    def output(self) -> Any:
        """All summaries as one JSON list."""
        return self.make_target("migrate/all.json")

    def run(self) -> None:
        """Gather the summaries."""
        self.dump(self.load())


def migration_tasks(config_path: str | Path, tables: list[str] | None = None) -> MigrateTables:
    """The root task for a config file, checking the table names against it.

    Raises:
        ConfigError / MigrationError: the file is invalid or names an unknown table.
    """
    path = Path(config_path).resolve()
    config = load_config(path)
    known = [s.name for s in config.tables]
    chosen = tables or known
    unknown = [t for t in chosen if t not in known]
    if unknown:
        raise MigrationError(
            f"tables {unknown} are not in {path} (configured: {', '.join(known)})",
            tables=unknown,
        )
    return MigrateTables(config=path, tables=tuple(chosen))
