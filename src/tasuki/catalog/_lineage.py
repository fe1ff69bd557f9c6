"""Lineage kept in the catalog: nodes and edges written in bulk, walked fast.

The graph is stored in ``lineage_nodes`` / ``lineage_edges`` (one row per node key, one per
``(source, target, relation)``) with the keys :mod:`tasuki.lineage` uses (``task:<uid>``,
``dataset:...``, ``model:...``, ``query:<sha>``) plus ``table:<warehouse>/<schema>/<table>``
for warehouse tables, ``client:<name>`` for query-service clients, ``job:<ns>/<name>`` and
``ol:<ns>/<name>`` for what OpenLineage events from other tools name.

Writers collect a :class:`Batch` and call :func:`write_batch` inside one transaction: nodes
are upserted (a node only referenced by an edge is a *placeholder* and never overwrites what
a fuller source wrote), then edges (an edge seen again only has its ``seen_at`` moved).

Walks answer with a :class:`tasuki.lineage.Lineage`, so its renderers (text, Mermaid, JSON)
work unchanged. A full walk is one recursive query whose ``UNION`` keeps each node once (a
query that follows every path instead is exponential on a graph with many diamonds); a walk
limited to ``depth`` steps asks one deduplicated frontier per step.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from tasuki.catalog import _schema as t
from tasuki.errors import CatalogError, CatalogNotFoundError
from tasuki.lineage import Edge, Lineage, Node

if TYPE_CHECKING:
    from tasuki.catalog._store import Catalog

__all__ = [
    "Batch",
    "around",
    "downstream",
    "node",
    "resolve_key",
    "split_table_key",
    "table_key",
    "upstream",
    "write_batch",
]

#: Kinds of lineage node, by key prefix.
KINDS = ("task", "table", "dataset", "model", "query", "client", "job", "ol")

# Rows per multi-row statement: well under SQLite's and PostgreSQL's parameter limits.
_CHUNK = 500
# Nodes and edges in one batch from which PostgreSQL's statistics are refreshed at once.
_ANALYZE_AFTER = 10_000


def table_key(warehouse: str, schema: str, table: str) -> str:
    """The lineage key of a warehouse table: ``table:<warehouse>/<schema>/<table>``.

    Names are used as given: pass them as the catalog stores them (what the warehouse
    reports; SQL text is normalised by :func:`tasuki.catalog._lineage_sources.tables_read`).

    Raises:
        CatalogError: a part is empty or holds ``/`` (the key could not be read back).
    """
    for what, value in (("warehouse", warehouse), ("schema", schema), ("table", table)):
        if not value or "/" in value:
            raise CatalogError(
                f"a table's lineage key needs a {what} name without '/', got {value!r}; "
                "pass the names as the catalog lists them (warehouse, schema, table)",
                value=value,
            )
    return f"table:{warehouse}/{schema}/{table}"


def split_table_key(key: str) -> tuple[str, str, str]:
    """``(warehouse, schema, table)`` of a ``table:`` key.

    Raises:
        CatalogError: ``key`` is not a table key.
    """
    kind, _, rest = key.partition(":")
    parts = rest.split("/")
    if kind != "table" or len(parts) != 3 or not all(parts):
        raise CatalogError(
            f"{key!r} is not a table key; table keys read table:<warehouse>/<schema>/<table>",
            key=key,
        )
    return parts[0], parts[1], parts[2]


@dataclass
class Batch:
    """Nodes and edges to write in one transaction (see :func:`write_batch`)."""

    nodes: dict[str, tuple[str, str, dict[str, Any]]] = field(default_factory=dict)
    placeholders: dict[str, tuple[str, str]] = field(default_factory=dict)
    edges: set[tuple[str, str, str]] = field(default_factory=set)

    def node(self, key: str, kind: str, label: str, detail: dict[str, Any] | None = None) -> None:
        """A node with what a source knows of it; details of one key from several sources
        are merged, the later source winning on a shared field."""
        old = self.nodes.get(key)
        merged = {**(old[2] if old else {}), **(detail or {})}
        self.nodes[key] = (kind, label, merged)
        self.placeholders.pop(key, None)

    def placeholder(self, key: str, kind: str, label: str) -> None:
        """A node named only as an edge's end: written when absent, never over a fuller one."""
        if key not in self.nodes:
            self.placeholders.setdefault(key, (kind, label))

    def edge(self, source: str, target: str, relation: str) -> None:
        """``source`` went into ``target``; both must be added as nodes or placeholders."""
        self.edges.add((source, target, relation))

    def add_lineage(self, lin: Lineage) -> None:
        """Every node and edge of ``lin`` (a node :mod:`tasuki.lineage` could not read a
        record for is a placeholder)."""
        for n in lin.nodes.values():
            if n.label.endswith("(no record here)"):
                self.placeholder(n.key, n.kind, n.label.removesuffix(" (no record here)"))
            else:
                self.node(n.key, n.kind, n.label, dict(n.detail))
        for e in lin.edges:
            self.edge(e.source, e.target, e.relation)

    def __len__(self) -> int:
        return len(self.nodes) + len(self.placeholders) + len(self.edges)


def _insert(conn: sa.Connection, table: sa.Table) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    if conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)
    raise CatalogError(
        f"the catalog store supports SQLite and PostgreSQL, not {conn.dialect.name!r}",
        dialect=conn.dialect.name,
    )


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _dumps(detail: dict[str, Any]) -> str:
    return json.dumps(detail, sort_keys=True, default=str, ensure_ascii=False)


def write_batch(conn: sa.Connection, batch: Batch, *, now: dt.datetime | None = None) -> int:
    """Upsert ``batch`` through ``conn`` (inside the caller's transaction); returns the
    number of edges written or refreshed."""
    now = now or dt.datetime.now(dt.UTC)
    ins = _insert(conn, t.lineage_nodes)
    rows = [
        {"key": k, "kind": kind, "label": label, "detail": _dumps(detail), "updated_at": now}
        # In key order, as the edges below: two writers meet their rows in one order, so
        # PostgreSQL never finds them waiting on each other (a deadlock).
        for k, (kind, label, detail) in sorted(batch.nodes.items())
    ]
    if rows:
        excluded = ins.excluded
        stmt = ins.on_conflict_do_update(
            index_elements=["key"],
            set_={
                "kind": excluded.kind,
                "label": excluded.label,
                "detail": excluded.detail,
                "updated_at": excluded.updated_at,
            },
            # Only a node whose facts changed is rewritten: ``updated_at`` says when they
            # last changed (what an export ``since`` a moment asks), and a refresh that
            # finds nothing new writes no node rows.
            where=sa.or_(
                t.lineage_nodes.c.kind != excluded.kind,
                t.lineage_nodes.c.label != excluded.label,
                t.lineage_nodes.c.detail != excluded.detail,
            ),
        )
        for chunk in _chunks(rows):
            conn.execute(stmt, list(chunk))
    holders = [
        {"key": k, "kind": kind, "label": label, "detail": "{}", "updated_at": now}
        for k, (kind, label) in sorted(batch.placeholders.items())
    ]
    if holders:
        stmt = _insert(conn, t.lineage_nodes).on_conflict_do_nothing(index_elements=["key"])
        for chunk in _chunks(holders):
            conn.execute(stmt, list(chunk))
    if not batch.edges:
        return 0
    ids = _ids(conn, {k for e in batch.edges for k in e[:2]})
    missing = sorted({k for e in batch.edges for k in e[:2]} - ids.keys())
    if missing:
        raise CatalogError(
            f"lineage edges name nodes that were never added: {', '.join(missing[:5])}; "
            "add each end with Batch.node or Batch.placeholder",
            keys=missing,
        )
    edge_rows = [
        {"source_id": ids[s], "target_id": ids[d], "relation": r, "seen_at": now}
        for s, d, r in sorted(batch.edges)
    ]
    eins = _insert(conn, t.lineage_edges)
    stmt = eins.on_conflict_do_update(
        index_elements=["source_id", "target_id", "relation"],
        set_={"seen_at": eins.excluded.seen_at},
    )
    for chunk in _chunks(edge_rows):
        conn.execute(stmt, list(chunk))
    if conn.dialect.name == "postgresql" and len(batch) >= _ANALYZE_AFTER:
        # Fresh statistics: planned on a table PostgreSQL still thinks is small, a walk
        # scans every edge per step (1.4 s instead of 40 ms through 1,000 of 1 M edges).
        conn.exec_driver_sql("ANALYZE lineage_nodes, lineage_edges")
    return len(edge_rows)


def _ids(conn: sa.Connection, keys: Iterable[str]) -> dict[str, int]:
    wanted = sorted(set(keys))
    out: dict[str, int] = {}
    n = t.lineage_nodes
    for chunk in _chunks(wanted):
        for row in conn.execute(sa.select(n.c.key, n.c.id).where(n.c.key.in_(chunk))):
            out[row.key] = row.id
    return out


# -- reading ------------------------------------------------------------------------------


def _suggest(conn: sa.Connection, key: str) -> list[str]:
    """Keys close to ``key``: same tail, same case-folded text, then spelling."""
    n = t.lineage_nodes
    kind, _, rest = key.partition(":")
    tail = (rest or key).rsplit("/", 1)[-1].lower()
    found: list[str] = []
    if tail:
        like = f"%{tail.replace('%', '')}%"
        query = sa.select(n.c.key).where(sa.func.lower(n.c.key).like(like)).limit(200)
        found = [r[0] for r in conn.execute(query)]
    if not found:
        query = sa.select(n.c.key).where(n.c.kind == kind).limit(5_000)
        found = [r[0] for r in conn.execute(query)]
    return difflib.get_close_matches(key, found, n=5, cutoff=0.5) or found[:5]


def _not_found(conn: sa.Connection, key: str) -> CatalogNotFoundError:
    near = _suggest(conn, key)
    hint = f"; did you mean {', '.join(near)}?" if near else "; it has no such node yet."
    return CatalogNotFoundError(
        f"no lineage node {key!r} in the catalog{hint} Keys read table:<warehouse>/<schema>/"
        "<table>, task:<unique id>, dataset:<name:version>, model:<name>/<n>; run "
        "`tasuki catalog lineage-refresh` to merge tasuki's records in",
        path=key,
        suggestions=near,
    )


def resolve_key(catalog: Catalog, text: str) -> str:
    """The node key ``text`` names: a key as it is (``table:dwh/main/scores``), a table as
    ``warehouse/schema/table``, ``schema/table``, ``schema.table`` or ``table`` (when exactly
    one table matches); a key that differs only in case is found too.

    Raises:
        CatalogNotFoundError: nothing (or more than one table) matches; near keys named.
    """
    text = text.strip()
    n = t.lineage_nodes
    with catalog.engine.connect() as conn:
        kind, sep, _ = text.partition(":")
        if sep and kind in KINDS:
            candidates = [text]
        else:
            parts = text.replace(".", "/").split("/") if "/" not in text else text.split("/")
            candidates = ["table:" + "/".join(parts)] if len(parts) == 3 else []
            pattern = "table:%" + "".join("/" + p for p in parts[-2:])
            if len(parts) < 3:
                query = sa.select(n.c.key).where(sa.func.lower(n.c.key).like(pattern.lower()))
                found = [r[0] for r in conn.execute(query.limit(50))]
                if len(found) > 1:
                    raise CatalogNotFoundError(
                        f"{text!r} names {len(found)} tables: {', '.join(sorted(found)[:10])}; "
                        "give warehouse/schema/table",
                        path=text,
                        suggestions=sorted(found)[:10],
                    )
                candidates += found
        for key in candidates:
            if conn.execute(sa.select(n.c.id).where(n.c.key == key)).first():
                return key
        key = candidates[0] if candidates else f"table:{text}"
        folded = conn.execute(
            sa.select(n.c.key).where(sa.func.lower(n.c.key) == key.lower()).limit(2)
        ).all()
        if len(folded) == 1:
            return str(folded[0][0])
        raise _not_found(conn, key)


def _root(conn: sa.Connection, key: str) -> int:
    n = t.lineage_nodes
    row = conn.execute(sa.select(n.c.id).where(n.c.key == key)).first()
    if row is None:
        raise _not_found(conn, key)
    return int(row[0])


def _walk_sql(up: bool) -> str:
    """One statement for a full walk: the reachable nodes' rows (part 0), then the edges
    into (up) or out of (down) them (part 1). ``UNION`` keeps each node once, and the walk
    is evaluated once for both parts."""
    near, far = ("target_id", "source_id") if up else ("source_id", "target_id")
    return (
        "WITH RECURSIVE walk(id) AS (SELECT CAST(:root AS INTEGER) UNION "
        f"SELECT e.{far} FROM lineage_edges e JOIN walk w ON e.{near} = w.id) "
        "SELECT 0 AS part, n.id AS a, 0 AS b, n.key AS c, n.kind AS d, n.label AS l, "
        "n.detail AS x FROM lineage_nodes n JOIN walk w ON n.id = w.id "
        "UNION ALL "
        "SELECT 1, e.source_id, e.target_id, e.relation, NULL, NULL, NULL "
        f"FROM lineage_edges e JOIN walk w ON e.{near} = w.id"
    )


_FULL_WALK = {True: _walk_sql(True), False: _walk_sql(False)}


def _id_list(conn: sa.Connection, column: str, ids: Sequence[int]) -> tuple[str, dict[str, Any]]:
    """``column IN <ids>`` as one bound parameter (a PostgreSQL array, a JSON list that
    SQLite unpacks): no statement text that grows with the list, nothing to chunk."""
    if conn.dialect.name == "postgresql":
        return f"{column} = ANY(CAST(:ids AS INTEGER[]))", {"ids": list(ids)}
    return f"{column} IN (SELECT value FROM json_each(:ids))", {"ids": json.dumps(list(ids))}


Walked = tuple[dict[int, Node], set[tuple[int, int, str]]]


def _node(row: Any) -> Node:
    return Node(row[0], row[1], row[2], json.loads(row[3] or "{}"))


def _walk(conn: sa.Connection, root: int, *, up: bool, depth: int | None) -> Walked:
    """Nodes and edges (by node id) reachable from ``root`` going up or down, ``depth``
    steps at most (None: all)."""
    nodes: dict[int, Node] = {}
    edges: set[tuple[int, int, str]] = set()
    if depth is None:
        rows = conn.execute(sa.text(_FULL_WALK[up]), {"root": root}).fetchall()
        for part, a, b, c, d, label, x in rows:
            if part == 0:
                nodes[a] = _node((c, d, label, x))
            else:
                edges.add((a, b, c))
        return nodes, edges
    near, far = ("target_id", "source_id") if up else ("source_id", "target_id")
    seen = {root}
    frontier = [root]
    for _ in range(depth):
        where, params = _id_list(conn, near, frontier)
        query = f"SELECT source_id, target_id, relation, {far} FROM lineage_edges WHERE {where}"
        nxt: list[int] = []
        for s, d, r, other in conn.execute(sa.text(query), params).fetchall():
            edges.add((s, d, r))
            if other not in seen:
                seen.add(other)
                nxt.append(other)
        if not nxt:
            break
        frontier = nxt
    where, params = _id_list(conn, "id", sorted(seen))
    query = f"SELECT id, key, kind, label, detail FROM lineage_nodes WHERE {where}"
    for row in conn.execute(sa.text(query), params).fetchall():
        nodes[row[0]] = _node(row[1:])
    return nodes, edges


def _lineage(catalog: Catalog, key: str, depth: int | None, directions: Sequence[bool]) -> Lineage:
    if depth is not None and depth < 0:
        raise CatalogError(f"depth must be 0 or more (or None for all), got {depth}", depth=depth)
    nodes: dict[int, Node] = {}
    edges: set[tuple[int, int, str]] = set()
    with catalog.engine.connect() as conn:
        root = _root(conn, key)
        for up in directions:
            found, links = _walk(conn, root, up=up, depth=depth)
            nodes.update(found)
            edges |= links
    keys = {i: n.key for i, n in nodes.items()}
    # Built whole (the edges are distinct already), in key order: the same answer, in the
    # same order, every time.
    order = sorted(nodes.values(), key=lambda n: (n.key != key, n.key))
    named = sorted((keys[s], keys[d], r) for s, d, r in edges)
    return Lineage(
        root=key, nodes={n.key: n for n in order}, edges=[Edge(a, b, r) for a, b, r in named]
    )


def upstream(catalog: Catalog, key: str, *, depth: int | None = None) -> Lineage:
    """What made ``key``: every node with a path into it (``depth`` steps at most; None: all).

    Raises:
        CatalogNotFoundError: no node ``key`` (near keys suggested).
    """
    return _lineage(catalog, key, depth, (True,))


def downstream(catalog: Catalog, key: str, *, depth: int | None = None) -> Lineage:
    """What used ``key``: every node its edges lead to (``depth`` steps at most; None: all).

    Raises:
        CatalogNotFoundError: no node ``key`` (near keys suggested).
    """
    return _lineage(catalog, key, depth, (False,))


def around(catalog: Catalog, key: str, *, depth: int | None = 2) -> Lineage:
    """``depth`` steps each way from ``key`` (None: all): what a table page or graph view
    shows.

    Raises:
        CatalogNotFoundError: no node ``key`` (near keys suggested).
    """
    return _lineage(catalog, key, depth, (True, False))


def node(catalog: Catalog, key: str) -> Node:
    """The node ``key`` alone.

    Raises:
        CatalogNotFoundError: no node ``key`` (near keys suggested).
    """
    n = t.lineage_nodes
    with catalog.engine.connect() as conn:
        row = conn.execute(
            sa.select(n.c.key, n.c.kind, n.c.label, n.c.detail).where(n.c.key == key)
        ).first()
        if row is None:
            raise _not_found(conn, key)
        return _node(row)
