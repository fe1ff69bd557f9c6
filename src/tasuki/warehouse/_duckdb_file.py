"""Whether a DuckDB database file was written since a query pulled from it.

The embedded warehouse is a file on the user's disk, and people write it by hand (rows
inserted from the DuckDB shell or a notebook). Such a write leaves no lineage row, so a
query's result would be kept until its freshness bucket ends. But a file says when it is
written: a commit appends to its write-ahead log (``<file>.wal``), a checkpoint rewrites the
file, and reading (even over a read-write connection) changes neither (checked with DuckDB
2.0). So a query task on a DuckDB file keeps, in its run record:

- the file's stamp and its log's (size, modification and change times, inode), taken before
  it reads anything (a write while it pulls moves the stamp: the next build pulls again);
- tasuki's own writes to the whole file: its newest lineage row and the newest load
  ``tasuki migrate`` recorded (their times, which the database's clock gives).

A later build checks the stamp first: unchanged, nothing wrote the file, and the lineage
rows need not be read at all. Moved, the tables the query reads are checked as on any
warehouse (their lineage rows and migrations); if none of them moved, the result is out of
date unless tasuki wrote the file meanwhile (a write-back of another table of the same file:
a pipeline that reads one table and writes another must stay cached); then the record takes
the file's new stamp, so that a write by hand after it is told apart. Left unseen: a
hand-made write and a tasuki write to another table between two builds (the stamp cannot
tell them apart); the freshness bucket bounds that, as on other warehouses.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tasuki.warehouse._lineage import _Conn

__all__ = ["database_path", "file_state", "grew", "tasuki_writes"]


def database_path(url: str) -> str | None:
    """The file of a ``duckdb://`` URL, made absolute; None for another warehouse or an
    in-memory database."""
    scheme, _, path = url.partition("://")
    if scheme.lower() != "duckdb" or path in ("", ":memory:"):
        return None
    return os.path.abspath(path)


def _stamp(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def file_state(path: str) -> list[list[int] | None]:
    """The stamps of the database file and of its write-ahead log (None where absent)."""
    return [_stamp(path), _stamp(f"{path}.wal")]


def tasuki_writes(conn: _Conn) -> list[str]:
    """``[newest written_at, newest migration load]`` of the whole database: when tasuki last
    wrote any of its tables (text; "" where it never did). Times, not counts: a replace
    clears the table's older lineage rows, so their number need not grow."""
    from tasuki.warehouse._migrated import MIGRATE_STATE_TABLE
    from tasuki.warehouse.base import LINEAGE_TABLE

    newest, loaded = "", ""
    tables = conn.execute(
        "SELECT table_schema, table_name FROM information_schema.tables WHERE table_name IN (?, ?)",
        (LINEAGE_TABLE, MIGRATE_STATE_TABLE),
    )
    for schema, table in tables:
        name = f'"{str(schema).replace(chr(34), chr(34) * 2)}"."{table}"'
        column = "written_at" if table == LINEAGE_TABLE else "loaded_at"
        (last,) = conn.execute(f"SELECT max({column}) FROM {name}")[0]
        if last is None:
            continue
        if table == LINEAGE_TABLE:
            newest = max(newest, str(last))
        else:
            loaded = max(loaded, str(last))
    return [newest, loaded]


def grew(before: list[Any], now: list[Any]) -> bool:
    """Whether tasuki wrote the database between ``before`` and ``now``
    (:func:`tasuki_writes`): a later lineage row or migration load, and neither earlier than
    before (an earlier newest: rows were removed, or the file replaced, not written by
    tasuki)."""
    if len(before) != 2 or len(now) != 2:
        return False  # kept by another version of this check: cannot be compared
    (newest, loaded), (newest_now, loaded_now) = before, now
    if newest_now < newest or loaded_now < loaded:
        return False
    return bool(newest_now > newest or loaded_now > loaded)
