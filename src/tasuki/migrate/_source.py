"""The MySQL / MariaDB side: table metadata through pymysql, rows through connectorx.

Metadata (columns, primary key, indexes, JSON checks) comes from ``information_schema`` over a
short pymysql connection. Rows come from connectorx's Arrow stream, so no value passes through
Python objects. A full read of a table with a single-column integer primary key goes in
keyset chunks (``WHERE pk > last ORDER BY pk LIMIT n``): connectorx buffers ahead of a slow
consumer, and a chunk bounds how far ahead it can get.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from tasuki._redact import redact
from tasuki.errors import MigrationError
from tasuki.migrate._types import ColumnPlan, Kind, SourceColumn, plan_column, quote_mysql

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pyarrow as pa

__all__ = ["Index", "SourceTable", "describe_table", "mysql_literal", "read_batches"]

logger = logging.getLogger(__name__)

# Target size of one Arrow batch; a chunk (what connectorx may buffer) is four of them.
BATCH_BYTES = 8 * 1024 * 1024
_INTEGER_TYPES = {"tinyint", "smallint", "mediumint", "int", "integer", "bigint"}
# Sessions read in UTC so TIMESTAMP columns arrive as exact instants.
_PRE_QUERIES = ["SET time_zone = '+00:00'"]


@dataclass(frozen=True)
class Index:
    """A secondary index on the source table, recreated on the target."""

    name: str
    columns: tuple[str, ...]
    unique: bool


@dataclass(frozen=True)
class SourceTable:
    """A source table: its columns (planned for the target), primary key and indexes."""

    database: str
    name: str
    columns: tuple[ColumnPlan, ...]
    primary_key: tuple[str, ...]
    indexes: tuple[Index, ...] = field(default=())
    integer_pk: bool = False
    avg_row_bytes: int | None = None

    def batch_sizes(self, batch_rows: int, chunk_rows: int | None) -> tuple[int, int | None]:
        """Rows per batch and per chunk, shrunk for wide rows so memory stays bounded in bytes.

        ``batch_rows`` and ``chunk_rows`` are upper bounds; with the table's average row
        length (``information_schema.TABLES.AVG_ROW_LENGTH``) a batch is cut to about
        ``BATCH_BYTES`` and a chunk to four batches.
        """
        if not self.avg_row_bytes:
            return batch_rows, chunk_rows
        batch = min(batch_rows, max(64, BATCH_BYTES // self.avg_row_bytes))
        chunk = None if chunk_rows is None else min(chunk_rows, 4 * batch)
        return batch, chunk

    def leads_an_index(self, column: str) -> bool:
        """Whether an index of the table (the primary key included) starts with ``column``:
        then the server can find rows by it without reading the whole table."""
        keys = (self.primary_key, *(index.columns for index in self.indexes))
        return any(cols and cols[0] == column for cols in keys)

    def column(self, name: str) -> ColumnPlan | None:
        """Return the plan of column ``name``, or None."""
        return next((c for c in self.columns if c.name == name), None)

    def select_sql(self, where: str = "", order_limit: str = "") -> str:
        """SELECT statement reading every planned column."""
        cols = ", ".join(c.select_sql for c in self.columns)
        sql = f"SELECT {cols} FROM {quote_mysql(self.database)}.{quote_mysql(self.name)}"
        if where:
            sql += f" WHERE {where}"
        if order_limit:
            sql += f" {order_limit}"
        return sql


def parse_mysql_url(url: str) -> dict[str, Any]:
    """Split ``mysql://user:pass@host:port/db`` into pymysql connect arguments.

    Raises:
        MigrationError: the URL is not a mysql:// or mariadb:// URL naming a database.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("mysql", "mariadb") or not parts.path.strip("/"):
        raise MigrationError(
            f"source URL {redact(url)!r} is not a MySQL URL with a database. Expected "
            "mysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE (mariadb:// also works).",
            url=redact(url),
        )
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 3306,
        "user": unquote(parts.username or "root"),
        "password": unquote(parts.password or ""),
        "database": unquote(parts.path.strip("/")),
    }


def connectorx_url(url: str) -> str:
    """connectorx spells the scheme ``mysql``."""
    return "mysql" + url[len("mariadb") :] if url.startswith("mariadb:") else url


def _connect(url: str) -> Any:
    import pymysql

    args = parse_mysql_url(url)
    try:
        return pymysql.connect(**args, connect_timeout=10, charset="utf8mb4", autocommit=True)
    except pymysql.err.MySQLError as exc:
        raise MigrationError(
            f"cannot connect to the source {redact(url)!r}: {redact(exc)}. Check host, port, user, "
            "password and that the database exists.",
            url=redact(url),
        ) from exc


def describe_table(url: str, table: str) -> SourceTable:
    """Read a source table's columns, primary key and indexes from ``information_schema``.

    Args:
        url: source URL (``mysql://...``).
        table: table name in the URL's database.

    Returns:
        The table description, with a target plan for every column.

    Raises:
        MigrationError: the source is unreachable, the table does not exist, or a column
            type has no mapping.
    """
    import pymysql

    conn = _connect(url)
    database = parse_mysql_url(url)["database"]
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, NUMERIC_PRECISION, "
                "NUMERIC_SCALE, CHARACTER_MAXIMUM_LENGTH, COLUMN_KEY "
                "FROM information_schema.COLUMNS "
                "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
                (database, table),
            )
            rows = cur.fetchall()
            if not rows:
                cur.execute(
                    "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                    "ORDER BY TABLE_NAME",
                    (database,),
                )
                known = [r[0] for r in cur.fetchall()]
                raise MigrationError(
                    f"source table {table!r} does not exist in database {database!r} "
                    f"(tables there: {', '.join(known[:20]) or 'none'}"
                    f"{', ...' if len(known) > 20 else ''}). Fix the [[tables]] name, or grant "
                    f"SELECT on it to {parse_mysql_url(url)['user']!r}: MySQL hides tables a "
                    "user may not read.",
                    table=table,
                    database=database,
                )
            json_columns = _json_columns(cur, database, table)
            cur.execute(
                "SELECT INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART, INDEX_TYPE "
                "FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s "
                "ORDER BY INDEX_NAME, SEQ_IN_INDEX",
                (database, table),
            )
            stats = cur.fetchall()
            cur.execute(
                "SELECT AVG_ROW_LENGTH FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
                (database, table),
            )
            found = cur.fetchone()
            avg_row_bytes = int(found[0]) if found and found[0] else None
    except pymysql.err.MySQLError as exc:
        raise MigrationError(
            f"reading the columns of source table {table!r} from {redact(url)!r} failed: "
            f"{redact(exc)}. Check that the user may read information_schema and the table.",
            table=table,
        ) from exc
    finally:
        conn.close()
    columns = tuple(
        plan_column(
            SourceColumn(
                name=r[0],
                data_type=str(r[1]).lower(),
                column_type=str(r[2]).lower(),
                nullable=r[3] == "YES",
                numeric_precision=int(r[4]) if r[4] is not None else None,
                numeric_scale=int(r[5]) if r[5] is not None else None,
                char_length=int(r[6]) if r[6] is not None else None,
                is_json=r[0] in json_columns,
            ),
            table=table,
        )
        for r in rows
    )
    primary_key, indexes = _indexes(stats)
    types = {r[0]: str(r[1]).lower() for r in rows}
    integer_pk = len(primary_key) == 1 and types[primary_key[0]] in _INTEGER_TYPES
    return SourceTable(database, table, columns, primary_key, indexes, integer_pk, avg_row_bytes)


def _json_columns(cur: Any, database: str, table: str) -> set[str]:
    # MariaDB's JSON is an alias for LONGTEXT plus a CHECK (json_valid(`col`)) constraint;
    # MySQL reports DATA_TYPE = 'json' and has no such check, so the query finds nothing there.
    try:
        cur.execute(
            "SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
            "WHERE CONSTRAINT_SCHEMA = %s AND TABLE_NAME = %s",
            (database, table),
        )
    except Exception:  # older servers lack the view; then no column is JSON-by-check
        logger.debug("information_schema.CHECK_CONSTRAINTS unavailable", exc_info=True)
        return set()
    found = set()
    for (clause,) in cur.fetchall():
        text = str(clause).strip()
        if text.lower().startswith("json_valid(`") and text.endswith("`)"):
            found.add(text[len("json_valid(`") : -2].replace("``", "`"))
    return found


def _indexes(stats: list[tuple[Any, ...]]) -> tuple[tuple[str, ...], tuple[Index, ...]]:
    grouped: dict[str, list[tuple[Any, ...]]] = {}
    for row in stats:
        grouped.setdefault(str(row[0]), []).append(row)
    primary: tuple[str, ...] = ()
    indexes = []
    for name, parts in grouped.items():
        cols = tuple(str(p[2]) for p in parts)
        if name == "PRIMARY":
            primary = cols
        elif any(p[3] is not None for p in parts) or parts[0][4] != "BTREE":
            # Prefix (col(10)), FULLTEXT and SPATIAL indexes have no plain btree equivalent.
            logger.debug("index %s skipped: prefix or non-btree index", name)
        else:
            indexes.append(Index(name, cols, unique=int(parts[0][1]) == 0))
    return primary, tuple(indexes)


def mysql_literal(value: Any) -> str:
    """Render a cursor or key value as a MySQL literal.

    Only values tasuki produced itself (integers, datetimes) pass through here; strings are
    refused because connectorx takes no bound parameters.
    """
    if isinstance(value, bool) or not isinstance(value, int | datetime):
        raise MigrationError(
            f"cannot use {value!r} ({type(value).__name__}) as a cursor or key bound; only "
            "integers and datetimes are supported",
            value=repr(value),
        )
    if isinstance(value, datetime):
        return "'" + value.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f") + "'"
    return str(int(value))


def read_batches(
    url: str,
    source: SourceTable,
    *,
    where: str = "",
    batch_rows: int = 32_768,
    chunk_rows: int | None = 131_072,
    cursor: str | None = None,
) -> Iterator[pa.RecordBatch]:
    """Stream the table's rows as Arrow record batches in the plan's column order.

    Args:
        url: source URL.
        source: the table description.
        where: optional SQL condition (built by tasuki, never from user text).
        batch_rows: rows per Arrow batch.
        chunk_rows: rows per keyset chunk when the primary key is one integer column;
            None reads everything with one query. With a ``where`` condition (an
            incremental read), the matching rows are counted first and read in one query
            when they fit in a chunk, so a small delta is read through the cursor's index
            rather than walked in key order.
        cursor: the column ``where`` bounds (an incremental read). When no index starts with
            it, counting the matching rows would read the whole table once more for nothing
            (every way of finding them reads it all), so they are read in key-order chunks
            straight away: one pass over the table instead of two.

    Yields:
        Record batches.

    Raises:
        MigrationError: the source query failed.
    """
    countable = cursor is None or source.leads_an_index(cursor)
    if not (chunk_rows and source.integer_pk) or (
        where and countable and _count(url, source, where) <= chunk_rows
    ):
        yield from _stream(url, source.select_sql(where), source, batch_rows)
        return
    pk = quote_mysql(source.primary_key[0])
    last: int | None = None
    while True:
        conds = [f"({where})"] if where else []
        if last is not None:
            conds.append(f"{pk} > {mysql_literal(last)}")
        sql = source.select_sql(" AND ".join(conds), f"ORDER BY {pk} LIMIT {int(chunk_rows)}")
        got = 0
        pk_index = next(i for i, c in enumerate(source.columns) if c.name == source.primary_key[0])
        for batch in _stream(url, sql, source, batch_rows):
            got += batch.num_rows
            last = batch.column(pk_index)[batch.num_rows - 1].as_py()
            yield batch
        if got < chunk_rows:
            return


def _count(url: str, source: SourceTable, where: str) -> int:
    sql = f"SELECT COUNT(*) FROM {quote_mysql(source.database)}.{quote_mysql(source.name)} "
    sql += f"WHERE {where}"
    logger.debug("source count: %s", sql)
    conn = _connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            row = cur.fetchone()
    except Exception as exc:
        raise MigrationError(
            f"counting new rows of source table {source.name!r} failed: {redact(exc)}",
            table=source.name,
        ) from exc
    finally:
        conn.close()
    return int(row[0]) if row else 0


def _stream(url: str, sql: str, source: SourceTable, batch_rows: int) -> Iterator[pa.RecordBatch]:
    import connectorx as cx

    logger.debug("source query: %s", sql)
    try:
        reader: pa.RecordBatchReader = cx.read_sql(
            connectorx_url(url),
            sql,
            return_type="arrow_stream",
            batch_size=batch_rows,
            pre_execution_query=_PRE_QUERIES,
        )
        # connectorx may end a stream with an empty batch; nothing downstream wants it.
        yield from (batch for batch in reader if batch.num_rows)
    except BaseException as exc:
        # connectorx reports failures as RuntimeError or, from its Rust worker, as a
        # PanicException that derives from BaseException; neither should escape unnamed.
        if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit | MigrationError):
            raise
        raise MigrationError(
            f"reading source table {source.name!r} from {redact(url)!r} failed: "
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
            table=source.name,
        ) from exc


def cursor_kind(plan: ColumnPlan) -> str:
    """'time' or 'int' for a usable incremental cursor column, else ''."""
    if plan.kind in (Kind.TIMESTAMP, Kind.TIMESTAMPTZ, Kind.DATE):
        return "time"
    if plan.kind in (Kind.INT2, Kind.INT4, Kind.INT8) or (
        plan.kind is Kind.NUMERIC and plan.scale == 0
    ):
        return "int"
    return ""
