"""BigQuery ``write_table``: Parquet parts on GCS, ``LOAD DATA`` into a staging table, then
one multi-statement transaction.

BigQuery transactions take DML (``INSERT``, ``DELETE``, ``MERGE``, ``TRUNCATE``) but no DDL
on permanent tables, and ``LOAD DATA`` cannot run inside one. So a write is three jobs:

1. ``LOAD DATA OVERWRITE <stage> FROM FILES(format = 'PARQUET', uris = ['<dir>/part-*.parquet'],
   enable_list_inference = true)`` loads the staged parts into a staging table in the target's
   dataset (lists load as ``ARRAY``, not as ``list.element`` records).
2. One script: the DDL that must precede the transaction (an expiry on the staging table, so
   a crashed client leaves nothing for more than a day; the target created empty from the
   staging table's schema if missing; the lineage table), then::

       BEGIN TRANSACTION;
       TRUNCATE TABLE t; INSERT INTO t (...) SELECT ... FROM stage;        -- replace
       INSERT INTO t (...) SELECT ... FROM stage;                          -- append
       DELETE FROM t AS target WHERE EXISTS (SELECT 1 FROM stage AS stage
         WHERE stage.k IS NOT DISTINCT FROM target.k); INSERT ...;        -- merge
       <lineage: guard or delete, then insert>
       COMMIT TRANSACTION;

   A failing statement ends the script and BigQuery rolls the transaction back.
3. ``DROP TABLE IF EXISTS <stage>`` (always).

A ``replace`` whose data has other columns than the table cannot be a DML transaction; it
becomes ``CREATE OR REPLACE TABLE t COPY stage`` (atomic on its own) and the lineage row
follows in the transaction right after it. A crash between the two leaves the new table
without its lineage row, and a rerun replaces it again with the same rows: harmless.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlglot import exp
from sqlglot.errors import ParseError

from tasuki.errors import WarehouseError
from tasuki.warehouse._write import already_appended, lineage_sql
from tasuki.warehouse.base import LINEAGE_TABLE

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tasuki.warehouse.base import Lineage

__all__ = [
    "APPEND_GUARD",
    "bigquery_table",
    "guard_error",
    "load_sql",
    "schema_of",
    "write_script",
]

APPEND_GUARD = "tasuki: lineage row exists"
"""Text of the ``ERROR()`` a repeated append raises inside the transaction."""

STAGE_HOURS = 24
"""A staging table left by a crashed client expires after this many hours."""


def bigquery_table(name: str, project: str, dataset: str | None) -> exp.Table:
    """``name`` (``table``, ``dataset.table`` or ``project.dataset.table``) fully qualified.

    Raises:
        WarehouseError: Not a table name, or no dataset in the name nor the URL.
    """
    try:
        table = exp.to_table(name, dialect="bigquery")
    except (ParseError, ValueError) as exc:
        raise _not_a_name(name) from exc
    extra = {k for k, v in table.args.items() if v and k not in ("this", "db", "catalog")}
    if not isinstance(table.this, exp.Identifier) or extra or not table.name:
        raise _not_a_name(name)
    if not table.db:
        if not dataset:
            raise WarehouseError(
                f"table {name!r} names no dataset and the warehouse URL has none; write to "
                "dataset.table or connect to bigquery://project/dataset",
                table=name,
            )
        table.set("db", exp.to_identifier(dataset))
    if not table.catalog:
        table.set("catalog", exp.to_identifier(project))
    return table


def _not_a_name(name: str) -> WarehouseError:
    return WarehouseError(
        f"{name!r} is not a table name; expected table, dataset.table or project.dataset.table",
        table=name,
    )


def _sql(table: exp.Table) -> str:
    return table.sql("bigquery", identify=True)


def create_dataset_sql(table: exp.Table, location: str | None) -> str:
    """``CREATE SCHEMA IF NOT EXISTS `project`.`dataset```, for a target's missing dataset."""
    dataset = exp.Table(this=table.args["db"].copy(), db=table.args["catalog"].copy())
    options = (
        f" OPTIONS (location={exp.Literal.string(location).sql('bigquery')})" if location else ""
    )
    return f"CREATE SCHEMA IF NOT EXISTS {_sql(dataset)}{options}"


def dataset_exists(client: Any, table: exp.Table) -> bool:
    """Whether the target's dataset exists (the client's ``get_dataset``).

    Raises:
        Exception: What the client raised for anything but a missing dataset.
    """
    ref = f"{table.args['catalog'].name}.{table.args['db'].name}"
    try:
        client.get_dataset(ref)
    except Exception as exc:
        if type(exc).__name__ == "NotFound":
            return False
        raise
    return True


def load_sql(stage: exp.Table, uri: str) -> str:
    """The ``LOAD DATA OVERWRITE`` job for the staged parts matching ``uri``."""
    return (
        f"LOAD DATA OVERWRITE {_sql(stage)} FROM FILES(format = 'PARQUET', uris = "
        f"[{exp.Literal.string(uri).sql('bigquery')}], enable_list_inference = true)"
    )


def write_script(
    *,
    target: exp.Table,
    stage: exp.Table,
    columns: Sequence[str],
    mode: str,
    keys: Sequence[str],
    target_exists: bool,
    same_columns: bool,
    lineage: Lineage | None,
    rows: int,
    now: dt.datetime | None = None,
) -> str:
    """The script of step 2 (see the module docstring).

    Args:
        target: The table written (qualified).
        stage: The loaded staging table.
        columns: The data's columns.
        mode: ``replace``, ``append`` or ``merge``.
        keys: Key columns for ``merge``.
        target_exists: Whether the target exists now.
        same_columns: Whether it has the staging table's column names and types.
        lineage: The lineage row to write in the transaction.
        rows: Rows loaded (for the lineage row).
        now: The client's time, for the staging table's expiry.
    """
    t, s = _sql(target), _sql(stage)
    names = ", ".join(exp.to_identifier(c, quoted=True).sql("bigquery") for c in columns)
    expires = (now or dt.datetime.now(dt.UTC)) + dt.timedelta(hours=STAGE_HOURS)
    stamp = exp.Literal.string(expires.strftime("%Y-%m-%d %H:%M:%S+00")).sql("bigquery")
    ddl = [f"ALTER TABLE {s} SET OPTIONS (expiration_timestamp = TIMESTAMP {stamp})"]
    body: list[str] = []
    if mode == "replace" and target_exists and not same_columns:
        ddl.append(f"CREATE OR REPLACE TABLE {t} COPY {s}")
    else:
        if not target_exists:
            ddl.append(f"CREATE TABLE IF NOT EXISTS {t} AS SELECT * FROM {s} LIMIT 0")
        if mode == "replace":
            body.append(f"TRUNCATE TABLE {t}")
        elif mode == "merge":
            match = " AND ".join(
                f"stage.{c} IS NOT DISTINCT FROM target.{c}"
                for c in (exp.to_identifier(k, quoted=True).sql("bigquery") for k in keys)
            )
            body.append(
                f"DELETE FROM {t} AS target WHERE EXISTS (SELECT 1 FROM {s} AS stage WHERE {match})"
            )
        body.append(f"INSERT INTO {t} ({names}) SELECT {names} FROM {s}")
    if lineage is not None:
        lineage_table = target.copy()
        lineage_table.set("this", exp.to_identifier(LINEAGE_TABLE))
        statements = lineage_sql(lineage, rows, "bigquery", None, table=_sql(lineage_table))
        ddl.append(statements.create)
        if statements.upgrade:
            ddl.append(statements.upgrade)
        if mode == "append":
            # No client round trip inside a script: the transaction itself refuses to go on.
            found = statements.find[0].replace("SELECT count(*) FROM", "SELECT 1 FROM", 1)
            guard = exp.Literal.string(APPEND_GUARD).sql("bigquery")
            body.insert(0, f"SELECT IF(EXISTS({found}), ERROR({guard}), NULL)")
        elif mode == "replace":  # every earlier write's rows are gone: so are their rows here
            body.append(statements.clear[0])
        else:
            body.append(statements.delete[0])
        body.append(statements.insert[0])
    script = [*ddl]
    if body:
        script += ["BEGIN TRANSACTION", *body, "COMMIT TRANSACTION"]
    return ";\n".join(script) + ";"


def guard_error(exc: Exception, lineage: Lineage | None) -> WarehouseError | None:
    """The tasuki error for a script stopped by the append guard, else None."""
    if lineage is not None and APPEND_GUARD in str(exc):
        return already_appended(lineage)
    return None


def schema_of(client: Any, table: exp.Table) -> list[tuple[str, str]] | None:
    """``[(column, type), ...]`` of ``table`` from the client's ``get_table``; None if missing.

    Raises:
        Exception: What the client raised for anything but a missing table.
    """
    ref = ".".join(part.name for part in (table.args["catalog"], table.args["db"], table.this))
    try:
        found = client.get_table(ref)
    except Exception as exc:
        if type(exc).__name__ == "NotFound":
            return None
        raise
    return [(str(f.name), str(f.field_type)) for f in found.schema]
