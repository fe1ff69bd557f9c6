"""Shared parts of ``write_table``: turning data into an Arrow stream, checking names, and
the lineage row every backend writes in the same transaction as the table."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp
from sqlglot.errors import ParseError

from tasuki.errors import WarehouseError
from tasuki.warehouse._fs import filesystem
from tasuki.warehouse._parts import PartWriter
from tasuki.warehouse._result import PartInfo, QueryResult
from tasuki.warehouse.base import LINEAGE_TABLE, Lineage

__all__ = [
    "MODES",
    "LineageSQL",
    "already_appended",
    "as_reader",
    "for_loading",
    "remove_staged",
    "stage_parts",
    "check_lineage",
    "check_mode",
    "lineage_sql",
    "record_lineage",
    "record_untracked",
    "staging_name",
    "table_name",
]

MODES = ("replace", "append", "merge")

logger = logging.getLogger(__name__)


def as_reader(data: Any) -> pa.RecordBatchReader:
    """An Arrow stream over ``data``.

    Accepts an Arrow Table, RecordBatch or RecordBatchReader, a pandas or polars DataFrame,
    a :class:`~tasuki.warehouse.QueryResult` (streamed part by part), or an iterable of
    record batches.

    Raises:
        WarehouseError: Anything else.
    """
    if isinstance(data, pa.RecordBatchReader):
        return data
    if isinstance(data, pa.Table):
        return data.to_reader()
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data]).to_reader()
    if isinstance(data, QueryResult):
        return pa.RecordBatchReader.from_batches(data.schema, data.iter_batches())
    module = type(data).__module__.split(".", 1)[0]
    if module == "pandas":
        return pa.Table.from_pandas(data, preserve_index=False).to_reader()
    if module == "polars":
        return data.to_arrow().to_reader()
    if isinstance(data, Iterable) and not isinstance(data, str | bytes):
        batches = iter(data)
        first = next(batches, None)
        if isinstance(first, pa.RecordBatch):

            def chain() -> Iterable[pa.RecordBatch]:
                yield first
                yield from batches

            return pa.RecordBatchReader.from_batches(first.schema, chain())
    raise WarehouseError(
        f"cannot write a {type(data).__name__}; pass an Arrow Table, RecordBatch or "
        "RecordBatchReader, a pandas or polars DataFrame, a QueryResult, or record batches",
        data_type=type(data).__name__,
    )


def _loadable(typ: pa.DataType) -> pa.DataType:
    """A type Redshift's and BigQuery's Parquet loaders read, holding the same values."""
    if pa.types.is_dictionary(typ):
        return _loadable(typ.value_type)
    if isinstance(typ, pa.BaseExtensionType):
        # arrow.uuid (from PostgreSQL uuid) is FIXED_LEN_BYTE_ARRAY(16) in Parquet, which
        # neither loader takes; the canonical text form is what both would show.
        return pa.string() if _is_uuid(typ) else _loadable(typ.storage_type)
    unsigned = {
        pa.uint8(): pa.int16(),
        pa.uint16(): pa.int32(),
        pa.uint32(): pa.int64(),
        pa.uint64(): pa.decimal128(20, 0),
    }
    if typ in unsigned:
        return unsigned[typ]
    if pa.types.is_null(typ):
        return pa.string()  # an all-NULL column needs some type; text takes any later value
    if typ == pa.float16():
        return pa.float32()
    if pa.types.is_date64(typ):
        return pa.date32()
    if pa.types.is_timestamp(typ) and typ.unit == "ns":
        return pa.timestamp("us", tz=typ.tz)  # both store microseconds
    if pa.types.is_time(typ) and typ.unit == "ns":
        return pa.time64("us")
    return typ


def _is_uuid(typ: pa.DataType) -> bool:
    return isinstance(typ, pa.BaseExtensionType) and typ.extension_name == "arrow.uuid"


def _uuid_text(array: pa.Array) -> pa.Array:
    values = array.storage if isinstance(array, pa.ExtensionArray) else array
    return pa.array(
        [None if b is None else str(uuid.UUID(bytes=b)) for b in values.to_pylist()],
        pa.string(),
    )


def for_loading(reader: pa.RecordBatchReader) -> pa.RecordBatchReader:
    """``reader`` with column types a cloud warehouse cannot load from Parquet converted.

    Unsigned integers widen (``uint64`` to ``decimal128(20, 0)``), dictionaries decode,
    ``float16`` becomes ``float32``, ``date64`` becomes ``date32``, nanosecond times and
    timestamps become microseconds (what Redshift and BigQuery keep; the extra digits are
    dropped), UUIDs become their text, and an all-NULL column becomes text. Other columns
    pass unchanged; nested types are left to the loader.
    """
    source = reader.schema
    target = pa.schema([f.with_type(_loadable(f.type)) for f in source], metadata=source.metadata)
    if target.equals(source, check_metadata=False):
        return reader

    def convert() -> Iterator[pa.RecordBatch]:
        for batch in reader:
            columns = []
            for column, src, dst in zip(batch.columns, source, target, strict=True):
                if src.type == dst.type:
                    columns.append(column)
                elif _is_uuid(src.type):
                    columns.append(_uuid_text(column))
                elif isinstance(column, pa.ExtensionArray):
                    columns.append(pc.cast(column.storage, dst.type, safe=False))
                elif pa.types.is_dictionary(src.type):
                    columns.append(pc.cast(column.dictionary_decode(), dst.type, safe=False))
                else:
                    columns.append(pc.cast(column, dst.type, safe=False))
            yield pa.RecordBatch.from_arrays(columns, schema=target)

    return pa.RecordBatchReader.from_batches(target, convert())


def stage_parts(
    reader: pa.RecordBatchReader,
    location: str,
    storage_options: Mapping[str, Any] | None,
    *,
    table: str,
    part_rows: int,
    part_bytes: int,
) -> tuple[list[PartInfo], pa.Schema]:
    """Write ``reader`` as zstd Parquet parts under ``location`` for a warehouse to load.

    Returns:
        The parts (none for no rows) and their schema.

    Raises:
        WarehouseError: The parts could not be written (what was written is removed).
    """

    def failed(exc: Exception) -> WarehouseError:
        return WarehouseError(
            f"staging the rows of {table!r} as Parquet parts at {location} failed: "
            f"{type(exc).__name__}: {exc}; check that the staging location is writable with "
            "the storage_options given",
            table=table,
            location=location,
        )

    try:
        writer = PartWriter(
            location,
            reader.schema,
            part_rows=part_rows,
            part_bytes=part_bytes,
            storage_options=storage_options,
        )
    except WarehouseError:
        raise
    except Exception as exc:
        raise failed(exc) from exc
    try:
        # Errors from reading the data pass as they are; errors from storing it are named.
        for batch in reader:
            try:
                writer.write(batch)
            except WarehouseError:
                raise
            except Exception as exc:
                raise failed(exc) from exc
        try:
            return writer.close(), writer.schema
        except WarehouseError:
            raise
        except Exception as exc:
            raise failed(exc) from exc
    except BaseException:
        writer.abort()
        raise


def remove_staged(location: str, storage_options: Mapping[str, Any] | None) -> None:
    """Delete the parts staged for a load (after it committed or failed)."""
    try:
        fs, path = filesystem(location, storage_options)
        fs.delete_dir(path)
    except (FileNotFoundError, OSError):
        logger.warning("could not remove the staged parts at %s", location, exc_info=True)


def table_name(name: str, dialect: str) -> exp.Table:
    """Parse ``name`` (``table`` or ``schema.table``) as a table reference.

    Raises:
        WarehouseError: Not a plain (optionally schema-qualified) table name.
    """
    try:
        table = exp.to_table(name, dialect=dialect)
    except (ParseError, ValueError) as exc:
        raise WarehouseError(
            f"{name!r} is not a table name; expected table or schema.table", table=name
        ) from exc
    extra = {k for k, v in table.args.items() if v and k not in ("this", "db")}
    if not isinstance(table.this, exp.Identifier) or extra or not table.name:
        raise WarehouseError(
            f"{name!r} is not a table name; expected table or schema.table", table=name
        )
    return table


def staging_name(table: exp.Table) -> exp.Table:
    """A fresh staging table next to ``table``."""
    stage = table.copy()
    stage.set("this", exp.to_identifier(f"_tasuki_stage_{table.name}_{uuid.uuid4().hex[:8]}"))
    return stage


def check_mode(mode: str, key: Sequence[str] | None, columns: Sequence[str]) -> list[str]:
    """Validate ``mode`` and ``key`` against the data's columns; the key columns.

    Raises:
        WarehouseError: Unknown mode, merge without a key, or key columns not in the data.
    """
    if mode not in MODES:
        raise WarehouseError(f"unknown write mode {mode!r}; allowed: {', '.join(MODES)}", mode=mode)
    keys = list(key or [])
    if mode == "merge" and not keys:
        raise WarehouseError(
            "mode='merge' needs key=[...] naming the columns that identify a row", mode=mode
        )
    missing = [k for k in keys if k not in columns]
    if missing:
        raise WarehouseError(
            f"key columns {missing} are not in the data; its columns are {list(columns)}",
            missing=missing,
        )
    return keys


# One DDL per dialect. Redshift's TEXT is VARCHAR(256), too short for parameters; BigQuery
# cannot enforce keys. written_at is always set by the INSERT, with the server's clock.
_LINEAGE_DDL = {
    "duckdb": "CREATE TABLE IF NOT EXISTS {t} (table_name TEXT NOT NULL, unique_id TEXT NOT NULL, "
    "task TEXT NOT NULL, params TEXT NOT NULL, row_count BIGINT, written_at TIMESTAMP NOT NULL "
    "DEFAULT CURRENT_TIMESTAMP, code_key TEXT, PRIMARY KEY (table_name, unique_id))",
    "redshift": "CREATE TABLE IF NOT EXISTS {t} (table_name VARCHAR(65535) NOT NULL, "
    "unique_id VARCHAR(256) NOT NULL, task VARCHAR(65535) NOT NULL, params VARCHAR(65535) "
    "NOT NULL, row_count BIGINT, written_at TIMESTAMP NOT NULL, code_key VARCHAR(64), "
    "PRIMARY KEY (table_name, unique_id))",
    "bigquery": "CREATE TABLE IF NOT EXISTS {t} (table_name STRING NOT NULL, unique_id STRING "
    "NOT NULL, task STRING NOT NULL, params STRING NOT NULL, row_count INT64, written_at "
    "TIMESTAMP NOT NULL, code_key STRING, PRIMARY KEY (table_name, unique_id) NOT ENFORCED)",
}
_LINEAGE_DDL["postgres"] = _LINEAGE_DDL["duckdb"]
# Lineage tables made before the code_key column get it on the next write. Redshift has no
# ADD COLUMN IF NOT EXISTS; a table from tasuki 0.1.0 there needs the ALTER once, by hand
# (docs/warehouse.md).
_LINEAGE_UPGRADE = {
    "duckdb": "ALTER TABLE {t} ADD COLUMN IF NOT EXISTS code_key TEXT",
    "postgres": "ALTER TABLE {t} ADD COLUMN IF NOT EXISTS code_key TEXT",
    "bigquery": "ALTER TABLE {t} ADD COLUMN IF NOT EXISTS code_key STRING",
}
_NOW = {
    "duckdb": "CURRENT_TIMESTAMP",
    "postgres": "CURRENT_TIMESTAMP",
    "redshift": "GETDATE()",
    "bigquery": "CURRENT_TIMESTAMP()",
}

Statement = tuple[str, tuple[Any, ...]]


@dataclass(frozen=True)
class LineageSQL:
    """The statements that record one lineage row, in one dialect.

    Attributes:
        create: ``CREATE TABLE IF NOT EXISTS`` for the lineage table.
        upgrade: Adds columns newer than the table (None where the dialect cannot say
            ``IF NOT EXISTS``).
        find: Counts the rows for this table and unique id.
        delete: Removes them.
        insert: Adds the row, with the row count and the server's time.
    """

    create: str
    upgrade: str | None
    find: Statement
    delete: Statement
    clear: Statement
    """Every lineage row of the table: what a replace leaves of the writes before it."""
    insert: Statement


def lineage_sql(
    lineage: Lineage,
    rows: int,
    dialect: str,
    mark: Callable[[int], str] | None,
    *,
    table: str = LINEAGE_TABLE,
) -> LineageSQL:
    """The statements recording ``lineage`` in ``dialect``.

    Args:
        lineage: The row.
        rows: Rows the write added.
        dialect: ``duckdb``, ``postgres``, ``redshift`` or ``bigquery``.
        mark: Placeholder for the n-th (1-based) bound value, e.g. ``lambda n: f"${n}"``;
            None renders the values as literals by the dialect's quoting rules (BigQuery
            scripts, which take no bound values here).
        table: The lineage table, already quoted for the dialect.
    """
    values = (
        lineage.table,
        lineage.unique_id,
        lineage.task,
        lineage.params_json(),
        int(rows),
        lineage.code_key,
    )

    def literal(a: Any) -> exp.Expression:
        if a is None:
            return exp.Null()
        return exp.Literal.number(a) if isinstance(a, int) else exp.Literal.string(a)

    def render(sql: str, args: tuple[Any, ...]) -> Statement:
        if mark is None:
            literals = [literal(a) for a in args]
            return sql.format(*(lit.sql(dialect) for lit in literals)), ()
        return sql.format(*(mark(i) for i in range(1, len(args) + 1))), args

    where = "WHERE table_name = {0} AND unique_id = {1}"
    upgrade = _LINEAGE_UPGRADE.get(dialect)
    return LineageSQL(
        create=_LINEAGE_DDL[dialect].format(t=table),
        upgrade=upgrade.format(t=table) if upgrade else None,
        find=render(f"SELECT count(*) FROM {table} {where}", values[:2]),
        delete=render(f"DELETE FROM {table} {where}", values[:2]),
        clear=render(f"DELETE FROM {table} WHERE table_name = {{0}}", values[:1]),
        insert=render(
            f"INSERT INTO {table} (table_name, unique_id, task, params, row_count, written_at, "
            f"code_key) VALUES ({{0}}, {{1}}, {{2}}, {{3}}, {{4}}, {_NOW[dialect]}, {{5}})",
            values,
        ),
    )


def check_lineage(lineage: Any, name: str) -> Lineage | None:
    """Validate the ``lineage=`` argument of ``write_table`` for table ``name``.

    Raises:
        WarehouseError: Not a :class:`Lineage`, or one naming another table.
    """
    if lineage is None:
        return None
    if not isinstance(lineage, Lineage):
        raise WarehouseError(
            f"lineage= takes a tasuki.warehouse.base.Lineage, got {type(lineage).__name__}",
            table=name,
        )
    if lineage.table != name:
        raise WarehouseError(
            f"the lineage row names table {lineage.table!r} but the write goes to {name!r}; "
            "pass the same name to both",
            table=name,
            lineage_table=lineage.table,
        )
    return lineage


def already_appended(lineage: Lineage) -> WarehouseError:
    """The error for an append whose lineage row is already there."""
    return WarehouseError(
        f"table {lineage.table!r} already holds the rows appended by {lineage.task} "
        f"{lineage.unique_id} (its row is in {LINEAGE_TABLE}); the append was not repeated and "
        "nothing changed: those rows are in already. Only to add the same rows a second time "
        "on purpose, delete that lineage row first (TableTarget.remove).",
        table=lineage.table,
        unique_id=lineage.unique_id,
    )


def record_lineage(
    execute: Callable[[str, tuple[Any, ...]], Sequence[Sequence[Any]]],
    lineage: Lineage,
    rows: int,
    *,
    mode: str,
    dialect: str,
    mark: Callable[[int], str],
) -> None:
    """Write the lineage row through ``execute`` (inside the caller's transaction).

    ``execute(sql, params)`` runs one statement and returns its rows (empty without any).

    Raises:
        WarehouseError: ``mode="append"`` and this lineage's row exists already.
    """
    sql = lineage_sql(lineage, rows, dialect, mark)
    execute(sql.create, ())
    if sql.upgrade:
        execute(sql.upgrade, ())
    if mode == "append":
        found = execute(*sql.find)
        if found and found[0][0]:
            raise already_appended(lineage)
    elif mode == "replace":
        # The rows of every earlier write are gone, and so is what their lineage rows
        # claimed: kept, they made an earlier writer complete over this one's rows.
        execute(*sql.clear)
    else:
        execute(*sql.delete)
    execute(*sql.insert)


#: ``unique_id`` prefix of the row a write without lineage leaves (no task made its rows).
UNTRACKED = "untracked-"


def record_untracked(
    execute: Callable[[str, tuple[Any, ...]], Sequence[Sequence[Any]]],
    name: str,
    rows: int,
    *,
    mode: str,
    dialect: str,
    mark: Callable[[int], str],
    lineage_table: bool,
) -> None:
    """Date a write made without a lineage row, where tasuki keeps lineage rows
    (``lineage_table``: the warehouse has one; nothing is created otherwise).

    A replace removes the rows that claimed the table (their task's rows are gone: it is
    no longer complete), and any write leaves a row with no task (``unique_id``
    ``untracked-<hex>``), so a query task reading the table finds it written since it
    ran. Appends and merges keep the other rows: what they claim is still there.
    """
    if not lineage_table:
        return
    row = Lineage(name, f"{UNTRACKED}{uuid.uuid4().hex}", "")
    sql = lineage_sql(row, rows, dialect, mark)
    if sql.upgrade:
        execute(sql.upgrade, ())
    if mode == "replace":
        execute(*sql.clear)
    execute(*sql.insert)
