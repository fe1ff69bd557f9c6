"""DuckDB ``write_table``: Arrow stream -> staging table -> swap / append / merge."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from tasuki.warehouse._write import (
    as_reader,
    check_lineage,
    check_mode,
    record_lineage,
    record_untracked,
    staging_name,
    table_name,
)
from tasuki.warehouse.base import LINEAGE_TABLE

if TYPE_CHECKING:
    from collections.abc import Sequence

    import duckdb

    from tasuki.warehouse.base import Lineage

__all__ = ["write_table"]


def write_table(
    connection: duckdb.DuckDBPyConnection,
    name: str,
    data: Any,
    *,
    mode: str,
    key: Sequence[str] | None,
    lineage: Lineage | None = None,
) -> int:
    """Write ``data`` to ``name``, and ``lineage``'s row, in one transaction; rows written."""
    lineage = check_lineage(lineage, name)
    reader = as_reader(data)
    keys = check_mode(mode, key, reader.schema.names)
    target = table_name(name, "duckdb")
    stage = staging_name(target)
    t = target.sql("duckdb")
    source = f"_tasuki_src_{uuid.uuid4().hex[:8]}"
    cur = connection.cursor()
    cur.register(source, reader)
    try:
        cur.begin()
        try:
            if target.db:  # a missing schema is created, as migrate does
                cur.execute(f"CREATE SCHEMA IF NOT EXISTS {target.args['db'].sql('duckdb')}")
            exists = _exists(cur, target)
            if exists and mode != "merge" and _same_columns(cur, t, source):
                # Straight into the table as it is: one copy of the rows, and a replaced
                # table keeps its COMMENTs (the catalog shows them) and constraints.
                if mode == "replace":
                    cur.execute(f"DELETE FROM {t}")
                row = cur.execute(f"INSERT INTO {t} SELECT * FROM {source}").fetchone()
                rows = int(row[0]) if row else 0
            else:
                rows = _staged_write(cur, target, stage, source, mode, keys, exists)

            def execute(sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
                return cur.execute(sql, list(params)).fetchall()

            if lineage is not None:
                record_lineage(execute, lineage, rows, mode=mode, dialect="duckdb", mark=_mark)
            else:
                there = _exists(cur, exp.to_table(LINEAGE_TABLE))
                record_untracked(
                    execute,
                    name,
                    rows,
                    mode=mode,
                    dialect="duckdb",
                    mark=_mark,
                    lineage_table=there,
                )
            cur.commit()
        except BaseException:
            cur.rollback()
            raise
    finally:
        cur.unregister(source)
        cur.close()
    return rows


def _mark(_n: int) -> str:
    return "?"


def _exists(cur: duckdb.DuckDBPyConnection, table: exp.Table) -> bool:
    schema = table.db or "main"
    row = cur.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [schema, table.name],
    ).fetchone()
    return bool(row and row[0])


def _same_columns(cur: duckdb.DuckDBPyConnection, table: str, source: str) -> bool:
    """Whether the data has the table's columns: names, order and types (read from the
    data's schema, nothing consumed)."""
    wanted = [tuple(r[:2]) for r in cur.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
    have = [tuple(r[:2]) for r in cur.execute(f"DESCRIBE {table}").fetchall()]
    return wanted == have


def _staged_write(
    cur: duckdb.DuckDBPyConnection,
    target: exp.Table,
    stage: exp.Table,
    source: str,
    mode: str,
    keys: Sequence[str],
    exists: bool,
) -> int:
    """Through a staging table: a new table, a replace with other columns (the staging
    table takes the old one's place), a merge, or an append cast by name."""
    t, s = target.sql("duckdb"), stage.sql("duckdb")
    cur.execute(f"CREATE TABLE {s} AS SELECT * FROM {source}")
    row = cur.execute(f"SELECT count(*) FROM {s}").fetchone()
    rows = int(row[0]) if row else 0
    if mode == "replace" or not exists:
        if exists:
            cur.execute(f"DROP TABLE {t}")
        cur.execute(f"ALTER TABLE {s} RENAME TO {exp.to_identifier(target.name).sql('duckdb')}")
        return rows
    if mode == "merge":
        match = " AND ".join(
            f"{t}.{c} IS NOT DISTINCT FROM {s}.{c}"
            for c in (exp.to_identifier(k).sql("duckdb") for k in keys)
        )
        cur.execute(f"DELETE FROM {t} USING {s} WHERE {match}")
    cur.execute(f"INSERT INTO {t} BY NAME SELECT * FROM {s}")
    cur.execute(f"DROP TABLE {s}")
    return rows
