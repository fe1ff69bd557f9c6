"""The runs pages: the list of task runs and builds, a build's graph and timeline, a task.

URLs:

- ``/runs``: task runs newest first, filtered by task family and status, paged;
  ``/runs?view=builds``: builds newest first.
- ``/runs/{build_id}``: a build's dependency graph and timeline. Up to :data:`GRAPH_LIMIT`
  runs it draws every task; a larger build is drawn one node per task family (with counts
  and failures), and ``?family=<task>`` opens one family: its runs (drawn, or paged when
  there are too many) between the families around it.
- ``/tasks/{uid}``: one task's record: parameters, outputs, log, metrics, the whole record,
  and the ``tasuki rerun`` command (a unique id prefix redirects to the full id).

Every query goes through the summary index of :mod:`tasuki.web._runs_data`, so no page
reads more than one page's worth of records.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shlex
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tasuki._redact import redact
from tasuki.core.records import RunRecord
from tasuki.storage.base import Store
from tasuki.web._deps import get_store, render
from tasuki.web._runs_data import RunIndex, RunRow, family_name, run_index
from tasuki.web._svg import render_dag, render_timeline

__all__ = ["GRAPH_LIMIT", "PAGE_SIZE", "rerun_command", "router"]

router = APIRouter()

PAGE_SIZE = 50
GRAPH_LIMIT = 150
"""Most task nodes one graph draws; past it a build is drawn by task family."""
FAMILY_LIMIT = 400
"""Most family nodes one graph draws; past it a build shows its table of families only."""


StoreDep = Annotated[Store, Depends(get_store)]


def _index(store: StoreDep) -> RunIndex:
    return run_index(store)


IndexDep = Annotated[RunIndex, Depends(_index)]


def _seconds(iso: str) -> float:
    try:
        return dt.datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return 0.0


@router.get("/runs", response_class=HTMLResponse)
def runs_page(
    request: Request,
    index: IndexDep,
    task: str = "",
    status: str = "",
    build: str = "",
    view: str = "runs",
    offset: int = Query(0, ge=0),
) -> Response:
    """The list of task runs (filtered by family, status and build; paged), or of builds
    with ``view=builds``."""
    if view not in ("runs", "builds"):
        raise HTTPException(400, f"view={view!r} is not a view of /runs; use runs or builds")
    page = (
        index.builds(offset=offset, limit=PAGE_SIZE)
        if view == "builds"
        else index.runs(
            task=task or None,
            status=status or None,
            build_id=build or None,
            offset=offset,
            limit=PAGE_SIZE,
        )
    )
    return render(
        request,
        "runs/list.html",
        {
            "page": page,
            "view": view,
            "task": task,
            "status": status,
            "build": build,
            "tasks": index.tasks(),
            "statuses": index.statuses(),
            "family_name": family_name,
        },
    )


@router.get("/runs/{build_id}", response_class=HTMLResponse)
def build_page(
    request: Request,
    build_id: str,
    index: IndexDep,
    family: str = "",
    offset: int = Query(0, ge=0),
) -> Response:
    """A build's graph and timeline (by task, by family, or one family's runs)."""
    build = index.build(build_id)
    if build is None:
        # /runs/<task id> (or a prefix) is a task's page: send it there.
        if re.fullmatch(r"[0-9a-f]{6,64}", build_id) and len(index.uids(build_id)) == 1:
            return RedirectResponse(f"/tasks/{index.uids(build_id)[0]}", status_code=307)
        raise HTTPException(
            404,
            f"No run record names build {build_id!r}: it may be older than the records kept "
            "(each task keeps its latest run). The builds list is at /runs?view=builds.",
        )
    base = f"/runs/{build_id}"
    families = index.families(build_id)
    ctx: dict[str, Any] = {"build": build, "families": families, "family": family}
    if family:
        if family not in {f.task for f in families}:
            raise HTTPException(
                404, f"Build {build_id} ran no task of family {family!r}; pick one from {base}."
            )
        ctx.update(_family_view(index, build_id, family, base, offset))
    elif build.tasks <= GRAPH_LIMIT:
        runs = index.build_runs(build_id)
        ctx["graph"] = _task_graph(index, runs, base)
        ctx["timeline"] = render_timeline(
            [
                (
                    r.family,
                    _seconds(r.started_at),
                    _seconds(r.finished_at),
                    r.status,
                    f"/tasks/{r.uid}",
                )
                for r in runs
            ]
        )
    elif len(families) > FAMILY_LIMIT:
        ctx["summarised"] = True
        ctx["graph"] = (
            f'<p class="notice">{len(families)} task families: too many to draw; '
            "open one from the table below.</p>"
        )
    else:
        ctx["graph"] = _family_graph(index, build_id, base)
        ctx["timeline"] = render_timeline(
            [
                (
                    f"{f.family} \u00d7{f.count}",
                    _seconds(f.started_at),
                    _seconds(f.finished_at),
                    "failed" if f.failed else "done",
                    f"{base}?family={f.task}",
                )
                for f in families
            ]
        )
        ctx["summarised"] = True
    return render(request, "runs/build.html", ctx)


def _task_graph(index: RunIndex, runs: list[RunRow], base: str) -> str:
    """Every run of the list as a node, with the upstream runs outside it as cached nodes."""
    inside = {r.uid: r for r in runs}
    edges = [(s, d) for s, d in index.edges_of(list(inside)) if d in inside]
    outside = index.runs_of([s for s, _ in edges if s not in inside])
    nodes: list[tuple[str, str, str, str | None]] = [
        (r.uid, r.family, "failed" if r.status == "failed" else "task", f"/tasks/{r.uid}")
        for r in runs
    ]
    for src in dict.fromkeys(s for s, _ in edges if s not in inside):
        row = outside.get(src)
        label = f"{row.family} (earlier)" if row else f"{src[:10]} (no record)"
        nodes.append((src, label, "cached", f"/tasks/{src}" if row else None))
    return render_dag(nodes, edges)


def _family_graph(index: RunIndex, build_id: str, base: str, highlight: str | None = None) -> str:
    """One node per task family of the build, edges counted; families outside it greyed."""
    families = {f.task: f for f in index.families(build_id)}
    edges = index.family_edges(build_id)
    nodes: list[tuple[str, str, str, str | None]] = []
    for f in families.values():
        failed = f", {f.failed} failed" if f.failed else ""
        kind = "failed" if f.failed else "family"
        nodes.append(
            (f.task, f"{f.family} \u00d7{f.count}{failed}", kind, f"{base}?family={f.task}")
        )
    for src in dict.fromkeys(e.src for e in edges if e.src not in families):
        label = "(no record)" if src == "?" else f"{family_name(src)} (earlier)"
        nodes.append((src, label, "cached", None))
    return render_dag(nodes, [(e.src, e.dst) for e in edges], highlight=highlight)


def _family_view(
    index: RunIndex, build_id: str, family: str, base: str, offset: int
) -> dict[str, Any]:
    """One family of a build: its runs drawn between neighbouring families, or paged."""
    page = index.runs(task=family, build_id=build_id, offset=offset, limit=PAGE_SIZE)
    if page.total > GRAPH_LIMIT:
        return {"page": page, "graph": _family_graph(index, build_id, base, highlight=family)}
    runs = index.build_runs(build_id, task=family)
    inside = {r.uid: r for r in runs}
    pairs = index.edges_of(list(inside))
    others = index.runs_of([u for pair in pairs for u in pair if u not in inside])

    def group(uid: str) -> str:
        row = others.get(uid)
        return f"family:{row.task}" if row else "family:?"

    nodes: dict[str, tuple[str, str, str, str | None]] = {
        r.uid: (r.uid, r.family, "failed" if r.status == "failed" else "task", f"/tasks/{r.uid}")
        for r in runs
    }
    edges: set[tuple[str, str]] = set()
    for src, dst in pairs:
        ends = [u if u in inside else group(u) for u in (src, dst)]
        for end, uid in zip(ends, (src, dst), strict=True):
            if end not in nodes:
                row = others.get(uid)
                there = row is not None and row.build_id == build_id
                label = f"{row.family} \u2026" if row else "(no record)"
                href = f"{base}?family={row.task}" if row and there else None
                nodes[end] = (end, label, "family" if there else "cached", href)
        edges.add((ends[0], ends[1]))
    timeline = render_timeline(
        [
            (
                r.uid[:10],
                _seconds(r.started_at),
                _seconds(r.finished_at),
                r.status,
                f"/tasks/{r.uid}",
            )
            for r in runs
        ]
    )
    return {"graph": render_dag(list(nodes.values()), sorted(edges)), "timeline": timeline}


#: Upstream and downstream tasks a task page lists (the rest are counted).
_LISTED = 100


@router.get("/tasks/{uid}", response_class=HTMLResponse)
def task_page(
    request: Request,
    uid: str,
    store: StoreDep,
    index: IndexDep,
) -> Response:
    """One task's last run: what it took, what it wrote, what it logged, how to rerun it."""
    from tasuki.report._values import describe_value, output_json

    uid = uid.strip().lower()
    try:
        record = RunRecord.read(store, uid)
    except (FileNotFoundError, ValueError):
        found = index.uids(uid) if uid and all(c in "0123456789abcdef" for c in uid) else []
        if len(found) == 1:
            return RedirectResponse(f"/tasks/{found[0]}", status_code=307)
        detail = (
            f"the prefix {uid!r} matches several tasks; give more characters"
            if found
            else f"no run record with id {uid!r} in the workspace"
        )
        raise HTTPException(404, f"No task page: {detail}. The list of runs is at /runs.") from None
    # A fan-in's root requires thousands: list the first ones, link the whole record.
    shown_up = list(record.requires[:_LISTED])
    upstream = index.runs_of(shown_up)
    downstream = [d for s, d in index.edges_of([record.unique_id]) if s == record.unique_id]
    down_rows = index.runs_of(downstream[:_LISTED])
    last_metrics: dict[str, dict[str, Any]] = {}
    for m in record.metrics:
        last_metrics[str(m.get("key"))] = m
    return render(
        request,
        "runs/task.html",
        {
            "record": record,
            "family": family_name(record.task),
            "params": [
                (name, describe_value(value, store), name in record.significant)
                for name, value in record.params.items()
            ],
            "upstream": [(u, upstream.get(u)) for u in shown_up],
            "more_upstream": max(0, len(record.requires) - _LISTED),
            "downstream": [(u, down_rows.get(u)) for u in downstream[:_LISTED]],
            "more_downstream": max(0, len(downstream) - _LISTED),
            "outputs": [output_json(o, store) for o in record.outputs],
            "metrics": last_metrics,
            "record_json": record_json(record),
            "rerun": rerun_command(record.unique_id, store),
        },
    )


def rerun_command(uid: str, store: Store) -> str:
    """The command that reproduces a task from its record (``tasuki rerun``), for copying."""
    return f"tasuki rerun {uid} --workspace {shlex.quote(redact(store.url))}"


def record_json(record: RunRecord) -> str:
    """The record as indented JSON, for the task page's collapsible block; a ``requires``
    list longer than the page lists is cut there (the whole record is at
    ``/tasks/<id>/record.json``)."""
    doc = json.loads(record.to_bytes())
    requires = doc.get("requires")
    if isinstance(requires, list) and len(requires) > _LISTED:
        doc["requires"] = [*requires[:_LISTED], f"... {len(requires) - _LISTED:,} more"]
    return json.dumps(doc, indent=2, ensure_ascii=False)


@router.get("/tasks/{uid}/record.json")
def task_record(uid: str, store: StoreDep) -> Response:
    """The task's whole run record, as stored (JSON)."""
    uid = uid.strip().lower()
    try:
        record = RunRecord.read(store, uid)
    except (FileNotFoundError, ValueError):
        raise HTTPException(404, f"no run record with id {uid!r} in the workspace") from None
    return Response(record.to_bytes(), media_type="application/json")
