"""The public surface of tasuki.migrate is pinned: changing it is a deliberate act."""

from __future__ import annotations

import inspect

import tasuki.migrate as migrate


def test_public_names() -> None:
    assert migrate.__all__ == [
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
    for name in migrate.__all__:
        assert getattr(migrate, name).__doc__, name


def test_signatures() -> None:
    assert str(inspect.signature(migrate.load_config)) == (
        "(path: 'str | os.PathLike[str]') -> 'MigrationConfig'"
    )
    assert list(inspect.signature(migrate.migrate_table).parameters) == [
        "source_url",
        "target_url",
        "table_spec",
        "schema",
        "batch_rows",
        "chunk_rows",
        "progress",
    ]
    params = inspect.signature(migrate.run_migrations).parameters
    assert list(params) == ["config", "tables", "workers", "progress"]
    assert all(params[p].kind is inspect.Parameter.KEYWORD_ONLY for p in ("tables", "workers"))

    # The tasks keep their qualified name (it is in every recorded id and lineage row).
    assert migrate.MigrateTable.task_name() == "tasuki.migrate._tasks:MigrateTable"
