"""The catalog's lineage as OpenLineage events (spec 2-0-2), out and in.

Export: one ``RunEvent`` per process node (a task, a query, a query-service client, a job
imported from another tool) that has edges: the job is the task's family in namespace
``tasuki`` (an imported job keeps its own), the run id a UUID derived from the node key
(uuid5, so exporting twice names the same runs), inputs and outputs the datasets its edges
touch: a warehouse table is namespace = the warehouse's configured name, name =
``schema.table``; dataset and model versions are in the registry's namespace with their
lineage key as name. A custom ``tasuki`` run facet carries the unique id, the parameters
and the edges from other processes (``requires``); a ``tasuki`` input/output facet carries
each edge's relation. Edges between two datasets (a model trained on a dataset version)
go out as ``DatasetEvent``\\ s with a ``tasuki`` dataset facet. An export imported into an
empty catalog gives back the same edges.

Import: events from any producer. A job becomes ``job:<namespace>/<name>`` (tasuki's own
events: the node they came from), a dataset a table key when its namespace is a
configured warehouse name, else ``ol:<namespace>/<name>``; inputs are read by the run's
job, outputs written by it. Events are checked first and written in one transaction: a
malformed event is reported by index and field, and nothing of the batch is kept.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

import tasuki
from tasuki.catalog import _schema as t
from tasuki.catalog._lineage import Batch, table_key, write_batch
from tasuki.errors import CatalogError

if TYPE_CHECKING:
    from tasuki.catalog._store import Catalog
    from tasuki.config import Settings

__all__ = ["PRODUCER", "export_openlineage", "import_openlineage"]

PRODUCER = f"https://pypi.org/project/tasuki/{tasuki.__version__}/"
SPEC = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
#: Where tasuki's custom facets are described (the fragment names the facet).
FACET_SCHEMA = "https://pypi.org/project/tasuki/#openlineage-"
SQL_FACET_SCHEMA = "https://openlineage.io/spec/facets/1-1-0/SQLJobFacet.json#/$defs/SQLJobFacet"
#: The job namespace of tasuki's own processes, and the dataset namespace of registry
#: datasets and zoo models.
JOB_NAMESPACE = "tasuki"
REGISTRY_NAMESPACE = "tasuki-registry"
#: Node kinds that are processes (OpenLineage jobs and runs); every other kind is a dataset.
PROCESS_KINDS = frozenset({"task", "job", "query", "client"})
# Runs are named by a UUID made from the node key in this namespace.
_RUN_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://pypi.org/project/tasuki/openlineage")


def run_id(key: str) -> str:
    """The OpenLineage run id of the node ``key`` (a UUID, the same on every export)."""
    return str(uuid.uuid5(_RUN_NAMESPACE, key))


def _facet(name: str, **fields: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": f"{FACET_SCHEMA}{name}", **fields}


def _dataset_name(key: str, kind: str, detail: dict[str, Any]) -> tuple[str, str]:
    """``(namespace, name)`` of a dataset node."""
    if kind == "table":
        wh, schema, table = key.removeprefix("table:").split("/", 2)
        return wh, f"{schema}.{table}"
    if kind == "ol" and "namespace" in detail and "name" in detail:
        return str(detail["namespace"]), str(detail["name"])
    return REGISTRY_NAMESPACE, key


def _job_name(key: str, kind: str, detail: dict[str, Any]) -> tuple[str, str]:
    """``(namespace, name)`` of a process node: a task's family, an imported job's own."""
    if kind == "job" and "namespace" in detail and "name" in detail:
        return str(detail["namespace"]), str(detail["name"])
    if kind == "task" and detail.get("family"):
        return JOB_NAMESPACE, str(detail["family"])
    if kind == "task" and detail.get("task"):
        return JOB_NAMESPACE, str(detail["task"])
    return JOB_NAMESPACE, key


def _iso(value: Any) -> str:
    """An event time with a time part and an offset, as the spec's ``date-time`` wants."""
    if isinstance(value, dt.datetime):
        moment = value
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value))
        except ValueError:
            moment = dt.datetime.now(dt.UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.isoformat()


def export_openlineage(
    catalog: Catalog, *, since: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """The catalog's lineage as OpenLineage events (see the module docstring): a
    ``RunEvent`` per process node with edges, then a ``DatasetEvent`` per dataset with
    edges from other datasets. ``since``: only nodes updated, or with an edge seen, then
    or later."""
    n, e = t.lineage_nodes, t.lineage_edges
    with catalog.engine.connect() as conn:
        nodes = {
            row.id: (row.key, row.kind, row.label, json.loads(row.detail or "{}"), row.updated_at)
            for row in conn.execute(sa.select(n.c.id, n.c.key, n.c.kind, n.c.label, n.c.detail,
                                              n.c.updated_at))
        }  # fmt: skip
        edges = list(conn.execute(sa.select(e.c.source_id, e.c.target_id, e.c.relation,
                                            e.c.seen_at)))  # fmt: skip
    fresh: set[int] | None = None
    if since is not None:
        cut = since if since.tzinfo else since.replace(tzinfo=dt.UTC)
        fresh = {i for i, v in nodes.items() if _aware(v[4]) >= cut}
        for s, d, _, seen in edges:
            if _aware(seen) >= cut:
                fresh |= {s, d}
    into: dict[int, list[tuple[int, str]]] = defaultdict(list)
    out_of: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for s, d, r, _ in edges:
        into[d].append((s, r))
        out_of[s].append((d, r))
    events: list[dict[str, Any]] = []
    for i in sorted(nodes, key=lambda i: nodes[i][0]):
        kind = nodes[i][1]
        if fresh is not None and i not in fresh:
            continue
        if kind in PROCESS_KINDS and (into[i] or out_of[i]):
            events.append(_run_event(nodes, i, into[i], out_of[i]))
        elif kind not in PROCESS_KINDS:
            ups = [(s, r) for s, r in into[i] if nodes[s][1] not in PROCESS_KINDS]
            if ups:
                events.append(_dataset_event(nodes, i, ups))
    return events


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; the catalog writes UTC.
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _datasets(
    nodes: dict[int, Any], links: list[tuple[int, str]], side: str
) -> list[dict[str, Any]]:
    relations: dict[int, list[str]] = defaultdict(list)
    for other, relation in links:
        if nodes[other][1] not in PROCESS_KINDS:
            relations[other].append(relation)
    out = []
    for other in sorted(relations, key=lambda o: nodes[o][0]):
        key, kind, _, detail, _ = nodes[other]
        namespace, name = _dataset_name(key, kind, detail)
        facet = _facet(f"{side}Facet", key=key, relations=sorted(relations[other]))
        out.append({"namespace": namespace, "name": name, "facets": {},
                    f"{side}Facets": {"tasuki": facet}})  # fmt: skip
    return out


def _run_event(
    nodes: dict[int, Any], i: int, into: list[tuple[int, str]], out_of: list[tuple[int, str]]
) -> dict[str, Any]:
    key, kind, label, detail, updated = nodes[i]
    namespace, name = _job_name(key, kind, detail)
    upstream = sorted(
        ({"key": nodes[s][0], "relation": r} for s, r in into if nodes[s][1] in PROCESS_KINDS),
        key=lambda u: (u["key"], u["relation"]),
    )
    run_facet = _facet(
        "TasukiRunFacet", key=key, kind=kind, label=label, upstream=upstream,
        parameters=detail.get("params", {}),
    )  # fmt: skip
    if kind == "task":
        run_facet["unique_id"] = detail.get("id", key.removeprefix("task:"))
    job_facets: dict[str, Any] = {}
    sql = (detail.get("params") or {}).get("sql") if kind == "task" else detail.get("sql")
    if isinstance(sql, str) and sql:
        job_facets["sql"] = {"_producer": PRODUCER, "_schemaURL": SQL_FACET_SCHEMA, "query": sql}
    status = detail.get("status")
    return {
        "eventType": "FAIL" if status == "failed" else "COMPLETE",
        "eventTime": _iso(detail.get("finished_at") or detail.get("written_at") or updated),
        "producer": PRODUCER,
        "schemaURL": f"{SPEC}#/$defs/RunEvent",
        "run": {"runId": run_id(key), "facets": {"tasuki": run_facet}},
        "job": {"namespace": namespace, "name": name, "facets": job_facets},
        "inputs": _datasets(nodes, into, "input"),
        "outputs": _datasets(nodes, out_of, "output"),
    }


def _dataset_event(nodes: dict[int, Any], i: int, ups: list[tuple[int, str]]) -> dict[str, Any]:
    key, kind, label, detail, updated = nodes[i]
    namespace, name = _dataset_name(key, kind, detail)
    upstream = sorted(({"key": nodes[s][0], "relation": r} for s, r in ups),
                      key=lambda u: (u["key"], u["relation"]))  # fmt: skip
    facet = _facet("TasukiDatasetFacet", key=key, kind=kind, label=label, upstream=upstream)
    return {
        "eventTime": _iso(updated),
        "producer": PRODUCER,
        "schemaURL": f"{SPEC}#/$defs/DatasetEvent",
        "dataset": {"namespace": namespace, "name": name, "facets": {"tasuki": facet}},
    }


# -- import -------------------------------------------------------------------------------


class _Importer:
    def __init__(self, warehouses: Iterable[str]) -> None:
        self.warehouses = set(warehouses)
        self.batch = Batch()

    def fail(self, index: int, field: str, problem: str = "is missing") -> CatalogError:
        return CatalogError(
            f"OpenLineage event {index}: {field} {problem}; every event needs eventTime, and "
            "a run event job.namespace, job.name and run.runId, each dataset namespace and "
            "name (spec 2-0-2). Nothing was imported: fix or drop the event and import again",
            index=index,
            field=field,
        )

    def text(self, obj: Any, path: str, index: int, where: str = "") -> str:
        """The string at ``path`` (dotted) in ``obj``; ``where`` prefixes the field named
        in the error (``inputs[2].``)."""
        value: Any = obj
        for part in path.split("."):
            if not isinstance(value, dict) or part not in value:
                raise self.fail(index, where + path)
            value = value[part]
        if not isinstance(value, str) or not value:
            raise self.fail(index, where + path, f"must be a non-empty string, got {value!r}")
        return value

    def upstream(self, facet: dict[str, Any], target: str, index: int) -> None:
        """Edges from the processes or datasets a tasuki facet lists into ``target``."""
        ups = facet.get("upstream") or []
        if not isinstance(ups, list):
            raise self.fail(index, "the tasuki facet's upstream", "must be a list")
        for j, up in enumerate(ups):
            key = self.text(up, "key", index, f"the tasuki facet's upstream[{j}].")
            relation = self.text(up, "relation", index, f"the tasuki facet's upstream[{j}].")
            self.batch.placeholder(key, key.partition(":")[0], key.partition(":")[2] or key)
            self.batch.edge(key, target, relation)

    def tasuki_facet(self, obj: Any, where: str) -> dict[str, Any] | None:
        facets = obj.get(where) if isinstance(obj, dict) else None
        facet = facets.get("tasuki") if isinstance(facets, dict) else None
        producer = facet.get("_producer") if isinstance(facet, dict) else None
        if isinstance(producer, str) and producer.startswith(FACET_PRODUCER):
            return facet
        return None

    def dataset(self, ds: Any, path: str, index: int, facet_side: str) -> tuple[str, list[str]]:
        """The node key of a dataset in an event, and the relations its facet names."""
        if not isinstance(ds, dict):
            raise self.fail(index, path, "must be an object with namespace and name")
        namespace = self.text(ds, "namespace", index, f"{path}.")
        name = self.text(ds, "name", index, f"{path}.")
        facet = self.tasuki_facet(ds, facet_side)
        if facet is not None and isinstance(facet.get("key"), str):
            key = facet["key"]
            kind = key.partition(":")[0]
            self.batch.placeholder(key, kind, _label(key, namespace, name))
            rel = facet.get("relations")
            return key, [str(r) for r in rel] if isinstance(rel, list) else []
        parts = name.split(".")
        if namespace in self.warehouses and len(parts) >= 2 and all(parts[-2:]):
            key = table_key(namespace, parts[-2], parts[-1])
            self.batch.placeholder(key, "table", key.removeprefix("table:"))
        else:
            key = f"ol:{namespace}/{name}"
            self.batch.node(key, "ol", f"{namespace}/{name}", {"namespace": namespace,
                                                                "name": name})  # fmt: skip
        return key, []

    def event(self, index: int, ev: Any) -> None:
        if not isinstance(ev, dict):
            raise self.fail(index, "the event", f"must be a JSON object, got {type(ev).__name__}")
        when = self.text(ev, "eventTime", index)
        if "job" not in ev and "dataset" in ev:
            key, _ = self.dataset(ev["dataset"], "dataset", index, "facets")
            self.upstream(self.tasuki_facet(ev["dataset"], "facets") or {}, key, index)
            return
        namespace = self.text(ev, "job.namespace", index)
        name = self.text(ev, "job.name", index)
        run = self.text(ev, "run.runId", index) if "run" in ev else None
        facet = self.tasuki_facet(ev.get("run"), "facets")
        if facet is not None and isinstance(facet.get("key"), str):
            job = facet["key"]
            kind = str(facet.get("kind") or job.partition(":")[0])
            detail: dict[str, Any] = {"params": facet.get("parameters") or {}}
            if facet.get("unique_id"):
                status = {"COMPLETE": "done", "FAIL": "failed"}.get(str(ev.get("eventType")))
                detail.update(id=facet["unique_id"], family=name, task=name, finished_at=when)
                detail.update({"status": status} if status else {})
            sql = ((ev["job"].get("facets") or {}).get("sql") or {}).get("query")
            if kind == "query" and isinstance(sql, str):
                detail = {"sql": sql}
            self.batch.node(job, kind, str(facet.get("label") or job), detail)
            self.upstream(facet, job, index)
        else:
            job = f"job:{namespace}/{name}"
            detail = {"namespace": namespace, "name": name, "run_id": run,
                      "event_type": ev.get("eventType"), "event_time": when,
                      "producer": ev.get("producer")}  # fmt: skip
            self.batch.node(job, "job", f"{namespace}/{name}", detail)
        for side, facet_side, default in (("inputs", "inputFacets", "read"),
                                          ("outputs", "outputFacets", "wrote")):  # fmt: skip
            items = ev.get(side) or []
            if not isinstance(items, list):
                raise self.fail(index, side, "must be a list of datasets")
            for j, ds in enumerate(items):
                key, relations = self.dataset(ds, f"{side}[{j}]", index, facet_side)
                for relation in relations or [default]:
                    source, target = (key, job) if side == "inputs" else (job, key)
                    self.batch.edge(source, target, relation)


FACET_PRODUCER = "https://pypi.org/project/tasuki/"


def _label(key: str, namespace: str, name: str) -> str:
    return key.partition(":")[2] or f"{namespace}/{name}"


def import_openlineage(
    catalog: Catalog, events: Iterable[Any], *, settings: Settings | None = None
) -> int:
    """Merge OpenLineage events (dicts, as parsed from JSON) into the catalog's lineage;
    returns how many were imported. Datasets whose namespace is a warehouse name in
    ``settings`` (default: the settings in effect) become that warehouse's tables.

    Raises:
        CatalogError: an event is malformed (its index and the field are named); nothing
            of the batch is written.
    """
    if settings is None:
        from tasuki.config import active_settings, load_settings

        settings = active_settings() or load_settings()
    importer = _Importer(settings.warehouses)
    count = 0
    for index, ev in enumerate(events):
        importer.event(index, ev)
        count += 1
    with catalog.engine.begin() as conn:
        write_batch(conn, importer.batch)
    return count
