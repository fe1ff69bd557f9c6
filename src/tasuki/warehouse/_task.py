"""Warehouse pulls as pipeline steps: :class:`QueryTask`.

The output is the unloaded result as a folder of Parquet parts in the workspace, cached under
an id made of the *normalised* SQL (whitespace, comments and keyword case do not matter), the
bound parameters, the warehouse, and a declared freshness: a time bucket (``freshness``, one
day by default, so the pull is repeated at most once a day) or an explicit ``as_of`` such as a
table version.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any, Literal

from tasuki._redact import redact
from tasuki.core._reads import made_from
from tasuki.core.params import param
from tasuki.core.task import Task
from tasuki.errors import ConfigError
from tasuki.warehouse._duckdb_file import database_path, file_state, grew, tasuki_writes
from tasuki.warehouse._safety import check_query
from tasuki.warehouse._search_path import UNQUALIFIED
from tasuki.warehouse._sources import dialect_of, reads_and_writes, table_key, tables_read

if TYPE_CHECKING:
    from collections.abc import Callable

    from tasuki.config import Settings
    from tasuki.core.records import RunRecord
    from tasuki.storage.base import Store

__all__ = ["QueryTask", "freshness_bucket"]

logger = logging.getLogger(__name__)

ParamValue = str | int | float | bool | None


def freshness_bucket(freshness: dt.timedelta, now: dt.datetime | None = None) -> str:
    """The start of the UTC time bucket ``now`` falls in, as ISO 8601."""
    now = now or dt.datetime.now(dt.UTC)
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    step = freshness.total_seconds()
    start = epoch + dt.timedelta(seconds=(now - epoch).total_seconds() // step * step)
    return start.isoformat()


def _resolve(warehouse: str, settings: Settings | None = None) -> str:
    """The URL of ``warehouse``: a URL as it is, or a name looked up in ``[warehouses]``.

    Names are looked up in ``settings``; by default in those of the build running this code
    (a task's ``output()`` and ``run()`` are not handed them, and reading them again here would
    be a second resolution that can disagree with the one the build was given). Only outside a
    build (``tasuki.load(task)`` or ``task.output()`` in a notebook) is this call itself the
    edge, and it reads the settings, once.
    """
    if "://" in warehouse:
        return warehouse
    if settings is None:
        from tasuki.config import active_settings, load_settings

        settings = active_settings() or load_settings()
    named = settings.warehouses
    if warehouse not in named:
        raise ConfigError(
            f"no warehouse named {warehouse!r} in settings; known: {', '.join(named) or 'none'}. "
            "Add it under [warehouses] in tasuki.toml or pass a URL.",
            key="warehouses",
            value=warehouse,
        )
    return named[warehouse]


class QueryTask(Task):
    """Run one read-only query and keep its result as Parquet parts in the workspace.

    Example:
        >>> recent = QueryTask(
        ...     sql="SELECT user_id, score FROM scores WHERE day >= $1",
        ...     params=["2024-01-01"],
        ...     warehouse="postgresql://dwh/analytics",
        ... )
        >>> tasuki.build(recent)  # a pyarrow Table (as_="pandas" for a DataFrame)
    """

    sql: str
    warehouse: str
    params: list[ParamValue] | dict[str, ParamValue] | None = None
    freshness: dt.timedelta | None = dt.timedelta(days=1)
    as_of: str = ""
    timeout: float | None = param(
        default=None, significant=False, description="statement timeout (s)"
    )
    as_: Literal["arrow", "pandas", "polars"] = param(default="arrow", significant=False)
    after: list[Task] = param(
        default=[],
        significant=False,
        description="tasks that write what the query reads (a WriteTableTask): built first, "
        "and a new output of one reruns the query",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        dialect = dialect_of(self.warehouse) if "://" in self.warehouse else "postgres"
        checked = check_query(self.sql, dialect=dialect)
        # The id is made of the normalised text (no comments, one spacing, one keyword case),
        # so reformatting a query keeps its cache.
        object.__setattr__(self, "sql", checked.expression.sql(dialect=dialect, comments=False))
        if not self.as_of and self.freshness is not None:
            object.__setattr__(self, "as_of", freshness_bucket(self.freshness))

    def requires(self) -> Any:
        """The tasks in ``after`` (nothing by default): they run first, and their ids are in
        this task's, so a query after another write is another result."""
        return list(self.after) or None

    def output(self) -> Any:
        """A folder of zstd Parquet parts."""
        return self.make_directory_target("result", as_=self.as_)

    def run(self) -> None:
        """Query, stream the parts into the workspace, and log rows and bytes, and the
        tasuki writes of the tables it reads (read first: a write between the two reruns the
        query once more, never the reverse)."""
        from tasuki.warehouse.registry import connect

        url = _resolve(self.warehouse)
        path = database_path(url)
        # A DuckDB file's stamp, before anything is read: a write from now on moves it.
        state = file_state(path) if path is not None else None
        found: list[list[Any]] = []  # tasuki's writes to a DuckDB file, over the same connection
        try:
            tables, self.task_log["table_writes"] = self._reads_and_writes(
                url, also=None if path is None else _writes_into(found)
            )
            # The tables as the warehouse found them (the role's search path): the catalog's
            # table -[read]-> task edges.
            self.task_log["tables_read"] = [[s, t] for s, t in tables]
        except Exception as exc:  # a role that may not read tasuki_lineage: no tracking
            self._unreadable(exc, "a rewrite of them will not rerun this query before its "
                             "freshness runs out")  # fmt: skip
            self.task_log["table_writes"] = None
        if path is not None and state is not None and state[0] is not None:
            self.task_log["database_file"] = {
                "stamp": state,
                "tasuki_writes": found[0] if found else _tasuki_writes_of(url)[0],
            }
        with connect(url) as wh:
            result = wh.query(self.sql, self.params, timeout=self.timeout)
            manifest = result.manifest
            self.task_log["rows"] = manifest.total_rows
            self.task_log["bytes"] = manifest.total_bytes
            self.task_log["parts"] = len(manifest.parts)
            self.dump(result.iter_batches())

    def _unreadable(self, exc: Exception, consequence: str) -> None:
        logger.warning(
            "%s: could not read the lineage rows of the tables it reads (%s: %s); %s",
            type(self).task_name(),
            type(exc).__name__,
            redact(str(exc)).strip(),
            consequence,
        )

    def _reads_and_writes(
        self, url: str, *, also: Callable[[Any], Any] | None = None
    ) -> tuple[list[tuple[str, str]], dict[str, dict[str, Any]]]:
        # Unqualified names stay so: reads_and_writes looks them up on the warehouse.
        read = tables_read(self.sql, dialect=dialect_of(url), default=UNQUALIFIED)
        return reads_and_writes(url, read, also=also)

    def _reads_outside(self) -> list[tuple[str, str | None]]:
        """The tables the query reads, named as a write-back task's output names the table
        it writes (``Target.touches()``), each with the view it is read through (None for
        a table the SQL names): a build refuses to run both in no order. Views are looked
        up in the warehouse; one that does not answer now leaves them out (the query
        would fail on it too)."""
        from sqlglot.errors import SqlglotError

        from tasuki.warehouse._search_path import default_schemas
        from tasuki.warehouse._views import views_read

        url = _resolve(self.warehouse)
        try:
            tables = tables_read(self.sql, dialect=dialect_of(url), default=UNQUALIFIED)
        except SqlglotError:  # checked with another dialect (a named warehouse): not told
            return []
        try:
            tables, under = views_read(url, tables)
        except Exception as exc:  # any driver error: the named tables are still checked
            logger.debug("views of %s not read: %s", type(self).task_name(), redact(str(exc)))
            tables, under = default_schemas(tables, dialect_of(url)), {}
        found: list[tuple[str, str | None]] = [
            (k, None) for t in tables if (k := table_key(url, t)) is not None
        ]
        for table, view in under.items():
            if (k := table_key(url, table)) is not None:
                found.append((k, f"{view[0]}.{view[1]}"))
        return found

    def _cache_note(self, record: RunRecord) -> str:
        """What ``tasuki why`` adds when the result is cached: how long it is kept, what
        reruns it sooner, and how to pull it again now."""
        try:
            on_file = database_path(_resolve(self.warehouse)) is not None
        except ConfigError:
            on_file = False
        sooner = (
            "a write to the DuckDB file, by hand or by tasuki, reruns it sooner (not one by "
            "hand made between the same two builds as a tasuki write-back of another table)"
            if on_file
            else "a tasuki write-back or `tasuki migrate` of a table it reads reruns it "
            "sooner; other writes to those tables are not seen"
        )
        again = "to pull it again now: --rerun QueryTask (rerun=[QueryTask] in tasuki.build)"
        if self.freshness is not None and self.as_of == freshness_bucket(self.freshness):
            until = dt.datetime.fromisoformat(self.as_of) + self.freshness
            kept = (
                f"kept until {until.isoformat()} (freshness {_duration(self.freshness)}, "
                f"pulled {record.finished_at})"
            )
        else:
            kept = f"kept for as_of={self.as_of!r}"
        return f"a query result, {kept}: {sooner}; {again}"

    def _stale_outside(self, record: RunRecord, store: Store) -> str | None:
        """Why the cached result is out of date although its record is complete: a table the
        query reads was written by a tasuki write-back since the query ran (its newest
        lineage row moved), or loaded by ``tasuki migrate`` (its state row moved). None when
        nothing moved, or when it cannot be told (a warehouse
        that does not answer is logged and trusted: the query could not run either).

        A write made from this very result (read, then write back the same table) moves it
        too: the table is not what the result holds, and another task reading the query
        must get the table as it is. Such a pipeline runs again at every build, on its own
        output; the reason says so, and how to stop it.

        On a DuckDB file, a write by anyone moves the result too (its stamp against the
        record's; see :mod:`tasuki.warehouse._duckdb_file`), and an untouched file answers
        None without being opened."""
        url = _resolve(self.warehouse)
        path = database_path(url)
        pulled = record.task_log.get("database_file")
        if path is None or not isinstance(pulled, dict):
            return self._tables_moved(record, store, url)
        state = file_state(path)
        if state == pulled.get("stamp"):
            return None  # nothing wrote the DuckDB file since the pull (see _duckdb_file)
        if state[0] is None:
            return f"the DuckDB file {path} it reads is gone since it ran"
        now, error = _tasuki_writes_of(url)
        if now is None:  # a writer holds it (a notebook's open connection), or it is damaged
            return (
                f"the DuckDB file {path} was written since it ran, and could not be read to "
                f"tell by whom ({error})"
            )
        reason = self._tables_moved(record, store, url)
        before = pulled.get("tasuki_writes")
        if reason is not None or not isinstance(before, list):
            return reason
        if grew(before, now):
            # Written by tasuki, elsewhere in the file: the result stands. The record takes
            # the file as it is now, so that a later write by hand is told from this one.
            _rebaseline(store, record, {"stamp": state, "tasuki_writes": now})
            return None
        return (
            f"the DuckDB file {path} was written since it ran, not by a tasuki write-back or "
            "`tasuki migrate`: the tables it reads may hold other rows"
        )

    def _tables_moved(self, record: RunRecord, store: Store, url: str) -> str | None:
        """Why the result is out of date by the lineage rows and migration loads of the
        tables it reads (see :meth:`_stale_outside`), or None."""
        kept = record.task_log.get("table_writes")
        if not isinstance(kept, dict):
            return None  # a record from before tasuki kept them: nothing to compare
        try:
            now = self._reads_and_writes(url)[1]
        except Exception as exc:  # any driver error: the check is skipped, loudly
            self._unreadable(exc, "using the cached result")
            return None
        for table in sorted(kept.keys() | now.keys()):
            before, after = kept.get(table), now.get(table)
            if before == after:
                continue
            view = (after or before or {}).get("through")
            reads = f"which it reads through {view}" if view else "which it reads"
            if _lineage_of(before) == _lineage_of(after) and after:  # only a migration moved
                return (
                    f"{table}, {reads}, was loaded by tasuki migrate since it ran: "
                    f"from {after.get('migrated_from')} at {after.get('migrated_at')}"
                )
            if after is None or "unique_id" not in after:
                what = (
                    "lineage rows of {} are"
                    if "unique_id" in (before or {})
                    else "migration state row of {} is"
                )
                return f"the {what.format(f'{table}, {reads},')} gone since it ran"
            if not after.get("task"):  # write_table without lineage: no task to name
                return (
                    f"{table}, {reads}, was written since it ran: by a write_table call with "
                    f"no task at {after['written_at']}"
                )
            reason = (
                f"{table}, {reads}, was written since it ran: by {after['task']} "
                f"[{str(after['unique_id'])[:10]}] at {after['written_at']}"
            )
            if made_from(store, str(after["unique_id"]), self.unique_id, record.state):
                reason += (
                    ", which was made from this query's result: a pipeline that writes back "
                    "a table it reads runs again at every build, on its own output. To have "
                    "it cached, write the result to another table"
                )
            return reason
        return None


def _tasuki_writes_of(url: str) -> tuple[list[Any] | None, str]:
    """:func:`~tasuki.warehouse._duckdb_file.tasuki_writes` over a read-only connection, or
    None with the reason when the file cannot be read."""
    from tasuki.warehouse._lineage import _Conn

    try:
        conn = _Conn(url, read_only=True)
    except Exception as exc:  # any driver error (a writer's lock): cannot be told
        return None, redact(f"{type(exc).__name__}: {exc}").strip()
    try:
        return tasuki_writes(conn), ""
    except Exception as exc:
        return None, redact(f"{type(exc).__name__}: {exc}").strip()
    finally:
        conn.close()


def _writes_into(found: list[list[Any]]) -> Callable[[Any], None]:
    """A hook that appends :func:`tasuki_writes` of a connection to ``found`` (nothing when
    it cannot be read: the caller reads it over a connection of its own)."""

    def read(conn: Any) -> None:
        try:
            found.append(tasuki_writes(conn))
        except Exception as exc:  # any driver error: never the lineage read's failure
            logger.debug("could not read tasuki's writes: %s", exc)

    return read


def _rebaseline(store: Store, record: RunRecord, pulled: dict[str, Any]) -> None:
    """Keep ``pulled`` as the DuckDB file the record's result stands for (see
    :func:`~tasuki.core.records.amend_record`)."""
    from tasuki.core.records import amend_record

    if not amend_record(store, record, task_log={**record.task_log, "database_file": pulled}):
        logger.debug("the record of %s was not given the file's new stamp", record.unique_id)


def _duration(delta: dt.timedelta) -> str:
    """``1 day``, ``6 hours``, ``90 s``: the largest whole unit."""
    seconds = int(delta.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds and seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{delta.total_seconds():g} s"


def _lineage_of(entry: dict[str, Any] | None) -> dict[str, Any]:
    """The write-back part of a table's entry in ``table_writes`` (without the migration's)."""
    return {k: v for k, v in (entry or {}).items() if not k.startswith("migrated_")}
