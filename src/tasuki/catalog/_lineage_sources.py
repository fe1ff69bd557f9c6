"""Lineage merged into the catalog from what tasuki already keeps.

:func:`refresh_lineage` reads, for every configured warehouse, the rows
:class:`~tasuki.warehouse.WriteTableTask` leaves in ``tasuki_lineage`` (task -[wrote]->
table); the workspace's run records (tasks with their family, parameters, status and
timings; -[requires]-> edges; the tables a query task's SQL reads, -[read]-> the task); the
registry's dataset versions and zoo models through :func:`tasuki.lineage.lineage` (tasks
-[built split]-> dataset, dataset -[trained on]-> model, ...). All of it is written in one
transaction, so a refresh that fails leaves the catalog as it was; a warehouse that cannot
be read is skipped with a warning and the others still count.

:func:`record_query_read` adds the tables one query reads (parsed with sqlglot) as
table -[read]-> reader edges: the query service calls it for its clients' queries.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tasuki._redact import redact, redact_json
from tasuki.catalog._lineage import Batch, table_key, write_batch
from tasuki.errors import CatalogError
from tasuki.warehouse._sources import DEFAULT_SCHEMA, dialect_of, written_name
from tasuki.warehouse._sources import tables_read as _tables_read
from tasuki.warehouse._write import UNTRACKED

if TYPE_CHECKING:
    from sqlglot import exp

    from tasuki.catalog._store import Catalog
    from tasuki.config import Settings
    from tasuki.core.records import RunRecord
    from tasuki.storage.base import Store

__all__ = [
    "DEFAULT_SCHEMA",
    "LineageReport",
    "dialect_of",
    "record_query_read",
    "refresh_lineage",
    "tables_read",
]

logger = logging.getLogger(__name__)


def tables_read(sql: str | exp.Expression, *, dialect: str) -> list[tuple[str, str]]:
    """``(schema, table)`` of every table ``sql`` reads (see
    :func:`tasuki.warehouse._sources.tables_read`).

    Raises:
        CatalogError: ``sql`` does not parse.
    """
    from sqlglot.errors import ParseError

    try:
        return _tables_read(sql, dialect=dialect)
    except ParseError as exc:
        first = " ".join(str(sql).split())[:80]
        raise CatalogError(
            f"cannot read the tables of the query {first!r} ({dialect}): {exc}",
            dialect=dialect,
        ) from exc


def _reader_kind(reader: str) -> str:
    kind, sep, _ = reader.partition(":")
    if not sep or not kind:
        raise CatalogError(
            f"a reader is a lineage key such as client:<name> or task:<unique id>, got {reader!r}",
            reader=reader,
        )
    return kind


def record_query_read(
    catalog: Catalog,
    sql: str | exp.Expression,
    *,
    warehouse: str,
    dialect: str,
    reader: str,
) -> list[str]:
    """Record that ``reader`` (``client:<name>``, ``task:<uid>``...) read the tables of
    ``sql`` on ``warehouse`` (its configured name): table -[read]-> reader. Returns the
    table keys.

    Raises:
        CatalogError: ``sql`` does not parse, ``reader`` is not a key.
    """
    kind = _reader_kind(reader)
    keys = [table_key(warehouse, s, n) for s, n in tables_read(sql, dialect=dialect)]
    if not keys:
        return []
    batch = Batch()
    batch.placeholder(reader, kind, reader.partition(":")[2])
    for key in keys:
        batch.placeholder(key, "table", key.removeprefix("table:"))
        batch.edge(key, reader, "read")
    with catalog.engine.begin() as conn:
        write_batch(conn, batch)
    return keys


@dataclass
class LineageReport:
    """What a refresh merged, and what it had to skip."""

    nodes: int = 0
    edges: int = 0
    writes: dict[str, int] = field(default_factory=dict)
    """Write-back lineage rows read, by warehouse name."""
    records: int = 0
    datasets: int = 0
    models: int = 0
    warnings: list[str] = field(default_factory=list)
    """Sources skipped (a warehouse that is down, an unreadable registry, a query that does
    not parse), one line each."""

    def __str__(self) -> str:
        writes = ", ".join(f"{n} {w}" for w, n in sorted(self.writes.items())) or "none"
        head = (
            f"lineage: {self.nodes} nodes, {self.edges} edges (write-back rows: {writes}; "
            f"{self.records} run records, {self.datasets} dataset versions, "
            f"{self.models} model versions)"
        )
        return "\n".join([head, *(f"warning: {w}" for w in self.warnings)])


class _Merge:
    """Collects one refresh's nodes and edges."""

    def __init__(self, settings: Settings, report: LineageReport) -> None:
        self.settings = settings
        self.report = report
        self.batch = Batch()
        self.by_url = {url: name for name, url in settings.warehouses.items()}

    def warn(self, text: str) -> None:
        text = " ".join(text.split())  # a driver's message spans lines: one line each
        logger.warning("lineage refresh: %s", text)
        self.report.warnings.append(text)

    def warehouse_name(self, value: str) -> str | None:
        """The configured name of a warehouse given by name or URL (None: not configured).
        A URL with other credentials (a reader role on the same database) counts as the
        configured warehouse at that host, port and database."""
        if value in self.settings.warehouses:
            return value
        if value in self.by_url:
            return self.by_url[value]
        where = _location(value)
        names = [n for n, url in self.settings.warehouses.items() if _location(url) == where]
        return names[0] if where is not None and len(names) == 1 else None

    def task_placeholder(self, uid: str) -> str:
        key = f"task:{uid}"
        self.batch.placeholder(key, "task", f"task [{uid[:10]}]")
        return key

    def table(self, warehouse: str, schema: str, name: str) -> str:
        key = table_key(warehouse, schema, name)
        self.batch.node(key, "table", f"{warehouse}/{schema}/{name}", {
            "warehouse": warehouse, "schema": schema, "table": name,
        })  # fmt: skip
        return key

    # -- write-back rows

    def warehouses(self) -> None:
        from tasuki.warehouse._lineage import read_lineage

        for name, url in sorted(self.settings.warehouses.items()):
            try:
                rows = read_lineage(_with_connect_timeout(url))
            except Exception as exc:  # a warehouse that is down: the others still count
                self.warn(f"warehouse {name!r} skipped: {type(exc).__name__}: {redact(str(exc))}")
                continue
            self.report.writes[name] = len(rows)
            dialect = dialect_of(url)
            for row in reversed(rows):  # oldest first: the newest write's facts win
                self.write_row(name, dialect, row)
            self.views(name, url)

    def views(self, warehouse: str, url: str) -> None:
        """``table -[read]-> view`` for the views of a warehouse, so a view leads back to
        the tables under it and the tasks that wrote them."""
        from tasuki.warehouse._views import view_edges

        try:
            edges = view_edges(_with_connect_timeout(url))
        except Exception as exc:  # the lineage rows were read: only the views are missing
            self.warn(f"views of warehouse {warehouse!r} skipped: {type(exc).__name__}: {exc}")
            return
        for (vs, v), (ts, t) in edges:
            self.batch.edge(self.table(warehouse, ts, t), self.table(warehouse, vs, v), "read")

    def write_row(self, warehouse: str, dialect: str, row: dict[str, Any]) -> None:
        from sqlglot.errors import SqlglotError

        # The name as write_table was given it (``table`` or ``schema.table``), read the
        # way the warehouse reads it.
        try:
            name = written_name(row["table_name"], dialect)
        except SqlglotError as exc:
            self.warn(f"write-back row for {row['table_name']!r} skipped: {exc}")
            return
        if name is None:
            self.warn(f"write-back row for {row['table_name']!r} names no schema; skipped")
            return
        schema = name[0]
        key = self.table(warehouse, schema, name[1])
        uid = str(row["unique_id"])
        if uid.startswith(UNTRACKED):  # written by write_table with no task: no edge
            return
        detail = {
            "id": uid,
            "task": row["task"],
            "family": row["task"],
            # As run records keep them: a warehouse URL's password is never shown.
            "params": redact_json(row["params"]),
            "row_count": row["row_count"],
            "written_at": row["written_at"],
            "code_key": row["code_key"],
        }
        self.batch.node(f"task:{uid}", "task", f"{row['task']} [{uid[:10]}]", detail)
        self.batch.edge(f"task:{uid}", key, "wrote")

    # -- run records

    def records(self, store: Store) -> None:
        from tasuki.core.records import read_records

        for rec in read_records(store):
            self.report.records += 1
            self.record(rec)

    def record(self, rec: RunRecord) -> None:
        key = f"task:{rec.unique_id}"
        detail: dict[str, Any] = {
            "id": rec.unique_id,
            "task": rec.task,
            "family": rec.task,
            "status": rec.status,
            "params": {k: rec.params[k] for k in rec.significant if k in rec.params},
            "started_at": rec.started_at,
            "finished_at": rec.finished_at,
            "duration_s": rec.duration_s,
        }
        if rec.build_id:
            detail["build_id"] = rec.build_id
        self.batch.node(key, "task", f"{rec.task} [{rec.unique_id[:10]}]", detail)
        for dep in rec.requires:
            self.batch.edge(self.task_placeholder(dep), key, "requires")
        params = rec.params
        sql, where = params.get("sql"), params.get("warehouse")
        if isinstance(sql, str) and sql.strip() and isinstance(where, str):
            # A query task's record names the tables as the warehouse found them (its role's
            # search path); older records have only the SQL.
            found = rec.task_log.get("tables_read") if isinstance(rec.task_log, dict) else None
            self.query_reads(sql, where, key, found if isinstance(found, list) else None)
        # A DatasetInput names the version it read, as tasuki.lineage reads it.
        if rec.task.endswith(":DatasetInput") and isinstance(params.get("resolved"), str):
            version = f"dataset:{params['resolved'].replace('#default:', ':')}"
            self.batch.placeholder(version, "dataset", version.removeprefix("dataset:"))
            self.batch.edge(version, key, "read")

    def query_reads(
        self, sql: str, where: str, reader: str, tables: list[Any] | None = None
    ) -> None:
        """table -[read]-> ``reader`` for each table ``sql`` reads (``tables``, ``[schema,
        table]`` as the warehouse found them, where the run kept them); a query node
        when the warehouse is not a configured one (its tables have no key)."""
        name = self.warehouse_name(where)
        dialect = dialect_of(self.settings.warehouses.get(where, where))
        if name is not None:
            try:
                read = (
                    [(str(t[0]), str(t[1])) for t in tables if isinstance(t, list) and len(t) == 2]
                    if tables is not None
                    else tables_read(sql, dialect=dialect)
                )
                for schema, table in read:
                    self.batch.edge(self.table(name, schema, table), reader, "read")
                return
            except CatalogError as exc:
                self.warn(f"{reader}: {exc}")
        digest = hashlib.sha256(f"{where}\0{sql}".encode()).hexdigest()[:16]
        flat = " ".join(sql.split())
        label = flat[:60] + "..." if len(flat) > 60 else flat
        detail = {"sql": sql, "warehouse": redact(where)}
        self.batch.node(f"query:{digest}", "query", label, detail)
        self.batch.edge(f"query:{digest}", reader, "reads")

    # -- datasets and models

    def registry(self, store: Store | None) -> None:
        from tasuki.lineage import lineage

        registry = self.settings.registry
        try:
            from tasuki.datasets import list_datasets

            summaries = list_datasets(registry)
        except Exception as exc:  # no registry here: tables and runs still count
            self.warn(f"dataset registry {redact(registry)!r} skipped: {exc}")
            summaries = []
        for s in summaries:
            for version in s.versions:
                ref = f"dataset:{s.name}#{s.config}:{version}"
                try:
                    found = lineage(ref, store=store, registry=registry, depth=1, downstream=False)
                except Exception as exc:  # one unreadable version: the others still count
                    self.warn(f"{ref} skipped: {exc}")
                    continue
                self.report.datasets += 1
                self.batch.add_lineage(found)
                self.dataset_sources(found)
        self.models(store, registry)

    def dataset_sources(self, found: Any) -> None:
        """The tables a dataset's source queries read -[read]-> their query node."""
        for n in list(found.nodes.values()):
            sql, where = n.detail.get("sql"), n.detail.get("warehouse")
            name = self.warehouse_name(where) if isinstance(where, str) else None
            if n.kind != "query" or not isinstance(sql, str) or name is None:
                continue
            try:
                tables = tables_read(sql, dialect=dialect_of(self.settings.warehouses[name]))
            except CatalogError as exc:
                self.warn(f"{n.key}: {exc}")
                continue
            for schema, table in tables:
                self.batch.edge(self.table(name, schema, table), n.key, "read")

    def models(self, store: Store | None, registry: str) -> None:
        from tasuki.lineage import lineage
        from tasuki.zoo import Zoo

        try:
            zoo = Zoo(registry=registry, tracking_uri="", settings=self.settings)
            names = zoo.models()
        except Exception as exc:  # no zoo in this registry
            self.warn(f"model zoo in {redact(registry)!r} skipped: {exc}")
            return
        for name in names:
            for number in zoo.versions(name):
                ref = f"model:{name}/{number}"
                try:
                    found = lineage(ref, store=store, registry=registry, depth=1, downstream=False)
                except Exception as exc:  # one unreadable version: the others still count
                    self.warn(f"{ref} skipped: {exc}")
                    continue
                self.report.models += 1
                self.batch.add_lineage(found)


def _location(url: str) -> tuple[str, str, int | None, str] | None:
    """``(scheme, host, port, database path)`` of a warehouse URL: what is left when the
    role and its options are taken away (None: not a URL)."""
    from urllib.parse import urlsplit

    if "://" not in url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = "postgresql" if parts.scheme == "postgres" else parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), port, parts.path


def _with_connect_timeout(url: str, seconds: int = 10) -> str:
    """A PostgreSQL URL that gives up connecting after ``seconds`` (not the OS's minutes)."""
    scheme = url.split("://", 1)[0].lower()
    if scheme not in ("postgresql", "postgres") or "connect_timeout=" in url:
        return url
    return f"{url}{'&' if '?' in url else '?'}connect_timeout={seconds}"


def refresh_lineage(catalog: Catalog, *, settings: Settings | None = None) -> LineageReport:
    """Merge tasuki's own records into the catalog's lineage (see the module docstring).

    Idempotent: a second refresh with nothing new writes the same nodes and edges again
    (only their ``updated_at`` / ``seen_at`` move). Nothing is deleted: lineage a warehouse
    or workspace no longer shows stays, as history.

    Raises:
        CatalogError: the catalog cannot be written (nothing of this refresh is kept).
    """
    if settings is None:
        from tasuki.config import load_settings

        settings = load_settings()
    report = LineageReport()
    merge = _Merge(settings, report)
    merge.warehouses()
    store: Store | None = None
    # A local workspace that does not exist has no records; opening it would make one.
    local = settings.workspace.removeprefix("file://")
    try:
        if "://" in local or os.path.isdir(local):
            from tasuki.core.runner import open_workspace

            store = open_workspace(settings, writes=False)
            merge.records(store)
    except Exception as exc:  # an unreachable workspace: warehouses and registry still count
        merge.warn(f"workspace {redact(settings.workspace)!r} skipped: {exc}")
    merge.registry(store)
    batch = merge.batch
    try:
        with catalog.engine.begin() as conn:
            report.edges = write_batch(conn, batch)
    except CatalogError:
        raise
    except Exception as exc:
        raise CatalogError(
            f"cannot write lineage into the catalog at {redact(catalog.url)}: {exc}",
            url=redact(catalog.url),
        ) from exc
    report.nodes = len(batch.nodes) + len(batch.placeholders)
    return report
