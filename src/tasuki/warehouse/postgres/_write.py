"""PostgreSQL ``write_table``: binary COPY into a staging table, then swap / append / merge.

Everything after the COPY, the lineage row included, runs in the same transaction as it, so
a failure (a dropped connection included) leaves the previous table as it was. Every statement
of it runs under ``statement_timeout`` (set for the transaction only), so a write waiting on
a lock another session holds ends instead of waiting for ever.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from tasuki.errors import WarehouseError
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

    import pyarrow as pa

    from tasuki.warehouse.base import Lineage

__all__ = ["write_table"]

logger = logging.getLogger(__name__)


def write_table(
    connection: Any,
    name: str,
    data: Any,
    *,
    mode: str,
    key: Sequence[str] | None,
    lineage: Lineage | None = None,
    timeout_ms: int,
) -> int:
    """Write ``data`` to ``name``, and ``lineage``'s row, in one transaction; rows written.

    ``timeout_ms`` (from :func:`tasuki.warehouse._common.timeout_ms`, so never 0) is each
    statement's limit, set with ``set_config(..., true)``: it ends with the transaction and
    never reaches the next user of a pooled connection.
    """
    lineage = check_lineage(lineage, name)
    reader = as_reader(data)
    keys = check_mode(mode, key, reader.schema.names)
    target = table_name(name, "postgres")
    stage = staging_name(target)
    t, s = target.sql("postgres"), stage.sql("postgres")
    cur = connection.cursor()
    try:
        cur.execute("SELECT set_config('statement_timeout', $1, true)", [str(timeout_ms)])
        cur.fetchall()
        if target.db:
            _ensure_schema(cur, target)
        exists = _exists(cur, target)
        # ADBC's bulk ingest creates the table from the Arrow schema and fills it with
        # binary COPY; autocommit is off, so it is part of the transaction below.
        if not exists:
            rows = cur.adbc_ingest(
                target.name, reader, mode="create", db_schema_name=target.db or None
            )
        elif mode == "merge":
            rows = cur.adbc_ingest(
                stage.name, reader, mode="create", db_schema_name=stage.db or None
            )
            match = " AND ".join(
                f"{t}.{c} IS NOT DISTINCT FROM {s}.{c}"
                for c in (exp.to_identifier(k).sql("postgres") for k in keys)
            )
            cur.execute(f"DELETE FROM {t} USING {s} WHERE {match}")
            _insert_staged(cur, target, stage, reader.schema.names)
        else:
            rows = _into_table(cur, target, stage, reader, name, mode)
        written = int(rows) if rows is not None and rows >= 0 else 0

        def execute(sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
            cur.execute(sql, list(params) if params else None)
            return list(cur.fetchall()) if cur.description else []

        if lineage is not None:
            record_lineage(
                execute, lineage, written, mode=mode, dialect="postgres", mark=lambda n: f"${n}"
            )
        else:
            record_untracked(
                execute,
                name,
                written,
                mode=mode,
                dialect="postgres",
                mark=lambda n: f"${n}",
                lineage_table=_exists(cur, exp.to_table(LINEAGE_TABLE)),
            )
        connection.commit()
    except BaseException:
        try:
            connection.rollback()
        except Exception:  # the connection is gone; the server rolled back already
            logger.debug("rollback after a failed write failed", exc_info=True)
        raise
    finally:
        cur.close()
    return written


def _into_table(
    cur: Any,
    target: exp.Table,
    stage: exp.Table,
    reader: pa.RecordBatchReader,
    name: str,
    mode: str,
) -> Any:
    """Replace or append to an existing table; what the ingest reports.

    When the data has the table's columns (names, order and the types ingest gives them),
    it is copied straight into the table (after a ``TRUNCATE`` for a replace): one copy of
    the rows, and a replaced table keeps itself, so the views over it, its grants,
    comments, indexes and owner stay (dropping it is refused under a view, and would take
    the rest with it). Otherwise the data goes to the staging table first: a replace puts
    it in the table's place (views on the table make that an error), an append inserts it
    cast to the table's column types (an all-NULL Arrow column arrives as text).

    Raises:
        WarehouseError: a replace with other columns than the table's, which views depend on.
    """
    import pyarrow as pa

    t, s = target.sql("postgres"), stage.sql("postgres")
    empty = pa.RecordBatchReader.from_batches(reader.schema, [])
    cur.adbc_ingest(stage.name, empty, mode="create", db_schema_name=stage.db or None)
    old, new = _column_types(cur, target), _column_types(cur, stage)
    if list(old.items()) == list(new.items()):
        cur.execute(f"DROP TABLE {s}")
        if mode == "replace":
            # TRUNCATE, like the DROP it replaces, waits for the table's readers; in this
            # transaction, a failure below leaves the old rows.
            cur.execute(f"TRUNCATE {t}")
        return cur.adbc_ingest(target.name, reader, mode="append", db_schema_name=target.db or None)
    if mode == "replace" and (views := _dependent_views(cur, target)):

        def listed(cols: dict[str, str]) -> str:
            return ", ".join(f"{c} {ty}" for c, ty in cols.items())

        raise WarehouseError(
            f"cannot replace {name}: the new data's columns ({listed(new)}) are not the "
            f"table's ({listed(old)}), and {', '.join(views)} depend on it, so the table "
            "cannot be made anew. Give the data the table's columns and types, or drop or "
            "change those views first (and create them again after the write); "
            "mode='replace' with the same columns keeps the views",
            table=name,
            views=views,
        )
    rows = cur.adbc_ingest(stage.name, reader, mode="append", db_schema_name=stage.db or None)
    if mode == "replace":
        cur.execute(f"DROP TABLE {t}")
        cur.execute(f"ALTER TABLE {s} RENAME TO {exp.to_identifier(target.name).sql('postgres')}")
    else:
        _insert_staged(cur, target, stage, reader.schema.names)
    return rows


def _insert_staged(cur: Any, target: exp.Table, stage: exp.Table, columns: list[str]) -> None:
    """Insert the staging table's rows into the table, cast to its column types, and drop
    the staging table."""
    t, s = target.sql("postgres"), stage.sql("postgres")
    names = [exp.to_identifier(c).sql("postgres") for c in columns]
    types = _column_types(cur, target)
    values = ", ".join(
        f"CAST({n} AS {types[c]})" if c in types else n for n, c in zip(names, columns, strict=True)
    )
    cur.execute(f"INSERT INTO {t} ({', '.join(names)}) SELECT {values} FROM {s}")
    cur.execute(f"DROP TABLE {s}")


def _dependent_views(cur: Any, table: exp.Table) -> list[str]:
    """``schema.view`` of every view (or materialised view) built on ``table``."""
    relation = table.copy()
    relation.set("alias", None)
    cur.execute(
        "SELECT DISTINCT n.nspname::text || '.' || v.relname::text FROM pg_depend d "
        "JOIN pg_rewrite r ON r.oid = d.objid AND d.classid = 'pg_rewrite'::regclass "
        "JOIN pg_class v ON v.oid = r.ev_class JOIN pg_namespace n ON n.oid = v.relnamespace "
        "WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = to_regclass($1) "
        "AND v.oid <> d.refobjid ORDER BY 1",
        [relation.sql("postgres")],
    )
    return [str(row[0]) for row in cur.fetchall()]


def _ensure_schema(cur: Any, table: exp.Table) -> None:
    """Create the table's schema when it is missing, as migrate does (in the transaction).

    Looked up first, so that a user who may write into an existing schema but not create
    schemas is not refused: ``CREATE SCHEMA IF NOT EXISTS`` checks the privilege first.
    """
    schema = table.args["db"].sql("postgres")
    cur.execute("SELECT to_regnamespace($1) IS NOT NULL", [schema])
    row = cur.fetchone()
    if not (row and row[0]):
        cur.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")


def _exists(cur: Any, table: exp.Table) -> bool:
    relation = table.copy()
    relation.set("alias", None)
    cur.execute("SELECT to_regclass($1) IS NOT NULL", [relation.sql("postgres")])
    row = cur.fetchone()
    return bool(row and row[0])


def _column_types(cur: Any, table: exp.Table) -> dict[str, str]:
    relation = table.copy()
    relation.set("alias", None)
    cur.execute(
        "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        [relation.sql("postgres")],
    )
    return {str(name): str(typ) for name, typ in cur.fetchall()}
