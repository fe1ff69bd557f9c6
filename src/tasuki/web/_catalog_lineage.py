"""Lineage on the catalog's pages: the section of a table's page, and ``/lineage/{key}``.

A table's page names the task(s) that wrote it with their parameters, what went into them
(tasks, queries, datasets, tables) and what reads the table, from the lineage the catalog
keeps (:func:`tasuki.catalog._lineage.around`). ``/lineage/{key}`` draws the graph around any
node as one inline SVG (:func:`tasuki.web._svg.render_dag`: plain shapes and links, no
script per node, so a thousand nodes draw at once) with the same graph as a text list.

    /lineage/table:dwh/public/scores                      two steps each way
    /lineage/table:dwh/public/scores?direction=up&depth=all    everything upstream
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from tasuki.catalog import _lineage
from tasuki.errors import CatalogError, CatalogNotFoundError
from tasuki.web._catalog_common import page, path_url
from tasuki.web._deps import get_catalog
from tasuki.web._svg import render_dag

if TYPE_CHECKING:
    from tasuki.catalog import Catalog
    from tasuki.catalog._objects import CatalogObject
    from tasuki.lineage import Lineage, Node

__all__ = [
    "MAX_DEPTH",
    "MAX_DRAWN",
    "SECTION_LIMIT",
    "TableLineage",
    "lineage_url",
    "node_url",
    "router",
    "table_lineage",
]

#: Steps each way the table page's section looks.
SECTION_DEPTH = 2
#: Most upstream nodes, and most readers, the section lists (the graph view has them all).
SECTION_LIMIT = 50
#: Largest ``depth`` the graph page accepts as a number (``all`` walks everything).
MAX_DEPTH = 50
#: Above this many nodes the graph page shows the text list only: the picture would be
#: too large to read, and too slow to draw.
MAX_DRAWN = 3000

router = APIRouter()

CatalogDep = Annotated["Catalog", Depends(get_catalog)]


def lineage_url(key: str, **query: str) -> str:
    """``/lineage/<key>`` (``?direction=...&depth=...`` when given)."""
    url = "/lineage/" + quote(key, safe=":/@#")
    url = url.replace("#", "%23")  # a dataset's ``name#config``: not a fragment
    if query:
        url += "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items())
    return url


def node_url(node: Node) -> str:
    """The page a lineage node links to: a table's catalog page, a task's record, a
    dataset or model page; other nodes (queries, clients) their own lineage view."""
    kind, _, rest = node.key.partition(":")
    if kind == "table":
        try:
            wh, schema, table = _lineage.split_table_key(node.key)
        except CatalogError:
            return lineage_url(node.key)
        return path_url(f"{wh}/{schema}/{table}")
    if kind == "task":
        uid = str(node.detail.get("id") or rest)
        return "/tasks/" + quote(uid, safe="")
    if kind == "dataset":
        name = rest.split("#", 1)[0].rsplit(":", 1)[0]
        return "/datasets/" + quote(name, safe="/")
    if kind == "model":
        return "/models/" + quote(rest.rsplit("/", 1)[0], safe="/")
    return lineage_url(node.key)


def _reach(lin: Lineage, start: str, *, up: bool) -> list[str]:
    """Keys reachable from ``start`` (not itself) against (``up``) or along the edges,
    nearest first."""
    step: dict[str, list[str]] = {}
    for edge in lin.edges:
        near, far = (edge.target, edge.source) if up else (edge.source, edge.target)
        step.setdefault(near, []).append(far)
    seen = {start}
    order: list[str] = []
    queue = deque([start])
    while queue:
        for nxt in step.get(queue.popleft(), []):
            if nxt not in seen:
                seen.add(nxt)
                order.append(nxt)
                queue.append(nxt)
    return order


@dataclass(frozen=True)
class TableLineage:
    """What the table page's lineage section shows (``known`` False: no lineage yet)."""

    key: str
    known: bool
    writers: list[tuple[Node, str, dict[str, Any]]] = field(default_factory=list)
    """``(task node, its URL, its parameters)`` for each task that wrote the table."""
    upstream: list[tuple[Node, str]] = field(default_factory=list)
    """Everything else upstream (within two steps), nearest first."""
    downstream: list[tuple[Node, str]] = field(default_factory=list)
    """What reads the table (within two steps), nearest first."""
    more_upstream: int = 0
    """Upstream nodes left out of :attr:`upstream` (past :data:`SECTION_LIMIT`)."""
    more_downstream: int = 0
    """Readers left out of :attr:`downstream`."""
    graph_url: str = ""


def table_lineage(catalog: Catalog, table: CatalogObject) -> TableLineage:
    """The lineage section of ``table``'s page."""
    try:
        key = _lineage.table_key(table.warehouse, table.schema_name or "", table.table_name or "")
    except CatalogError:  # a name with "/": it can have no lineage key
        return TableLineage(key="", known=False)
    try:
        lin = _lineage.around(catalog, key, depth=SECTION_DEPTH)
    except CatalogNotFoundError:
        return TableLineage(key=key, known=False, graph_url=lineage_url(key))
    writers: list[tuple[Node, str, dict[str, Any]]] = []
    for edge in lin.upstream_of(key):
        node = lin.nodes[edge.source]
        if node.kind == "task":
            params = node.detail.get("params")
            writers.append((node, node_url(node), params if isinstance(params, dict) else {}))
    writer_keys = {w[0].key for w in writers}
    up = [k for k in _reach(lin, key, up=True) if k not in writer_keys]
    down = _reach(lin, key, up=False)
    return TableLineage(
        key=key,
        known=True,
        writers=writers,
        upstream=[(lin.nodes[k], node_url(lin.nodes[k])) for k in up[:SECTION_LIMIT]],
        downstream=[(lin.nodes[k], node_url(lin.nodes[k])) for k in down[:SECTION_LIMIT]],
        more_upstream=max(0, len(up) - SECTION_LIMIT),
        more_downstream=max(0, len(down) - SECTION_LIMIT),
        graph_url=lineage_url(key),
    )


def _depth(direction: str, depth: str) -> int | None:
    if direction not in ("both", "up", "down"):
        raise HTTPException(
            400, f"direction {direction!r} is not one of both, up, down; pick one of them."
        )
    if depth == "all":
        if direction == "both":
            raise HTTPException(
                400,
                "depth=all needs direction=up or direction=down (both ways at once could "
                f"be the whole graph); or give a number of steps, 1 to {MAX_DEPTH}.",
            )
        return None
    try:
        steps = int(depth)
    except ValueError:
        steps = -1
    if not 1 <= steps <= MAX_DEPTH:
        raise HTTPException(
            400, f"depth {depth!r} is not a number of steps from 1 to {MAX_DEPTH}, or 'all'."
        )
    return steps


@router.get("/lineage/{key:path}", response_class=HTMLResponse)
def lineage_page(
    request: Request, key: str, catalog: CatalogDep, direction: str = "both", depth: str = "2"
) -> HTMLResponse:
    """The lineage graph around ``key`` (a table key, ``task:<uid>``, ...; a table's path
    ``wh/schema/table`` is read as its key)."""
    steps = _depth(direction, depth)
    key = _lineage.resolve_key(catalog, key)
    if direction == "up":
        lin = _lineage.upstream(catalog, key, depth=steps)
    elif direction == "down":
        lin = _lineage.downstream(catalog, key, depth=steps)
    else:
        lin = _lineage.around(catalog, key, depth=steps or 2)
    graph = None
    if len(lin.nodes) <= MAX_DRAWN:
        nodes = [(n.key, n.label, n.kind, node_url(n)) for n in lin.nodes.values()]
        edges = [(e.source, e.target) for e in lin.edges]
        graph = Markup(render_dag(nodes, edges, highlight=key))
    root = lin.nodes[key]
    views = [
        ("Both ways, 2 steps", lineage_url(key)),
        ("All upstream", lineage_url(key, direction="up", depth="all")),
        ("All downstream", lineage_url(key, direction="down", depth="all")),
    ]
    return page(
        request,
        "lineage.html",
        {
            "root": root,
            "root_url": node_url(root),
            "lineage": lin,
            "graph": graph,
            "max_drawn": MAX_DRAWN,
            "node_url": node_url,
            "direction": direction,
            "depth": depth,
            "views": views,
            "current": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
            "crumbs": [("Tables", "/tables/"), ("Lineage", lineage_url(key))],
        },
    )
