"""OpenLineage export and import: valid events (read back with the openlineage-python
client's own classes), a round trip that keeps every edge, foreign events, bad events."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
import sqlalchemy as sa
from openlineage.client.event_v2 import (
    DatasetEvent,
    InputDataset,
    Job,
    OutputDataset,
    Run,
    RunEvent,
    RunState,
    StaticDataset,
)
from openlineage.client.facet_v2 import sql_job
from openlineage.client.serde import Serde

import tasuki
from tasuki.catalog import _schema as t
from tasuki.catalog._lineage import Batch, node, upstream, write_batch
from tasuki.catalog._openlineage import (
    PRODUCER,
    export_openlineage,
    import_openlineage,
    run_id,
)
from tasuki.catalog._store import Catalog
from tasuki.errors import CatalogError

SETTINGS = tasuki.load_settings({"warehouses": {"dwh": "duckdb:///dwh.db"}})
FOREIGN = {
    "eventType": "COMPLETE",
    "eventTime": "2024-05-01T10:00:00Z",
    "producer": "https://github.com/apache/airflow",
    "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
    "run": {"runId": "0190f2d4-0000-7000-8000-000000000001"},
    "job": {"namespace": "airflow", "name": "etl.load_events"},
    "inputs": [{"namespace": "s3://raw", "name": "events/2024-05-01.json"}],
    "outputs": [{"namespace": "dwh", "name": "main.events"}],
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def catalog(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'src.db'}"
    else:
        url = request.getfixturevalue("postgres_url").replace(
            "postgresql://", "postgresql+psycopg://", 1
        )
    with Catalog.open(url) as cat:
        yield cat


def _fill(cat: Catalog) -> None:
    """A graph with every kind of node and edge tasuki records."""
    b = Batch()
    pull = {"id": "aaa", "family": "m:Pull", "status": "done",
            "params": {"sql": "SELECT * FROM events"},
            "finished_at": "2024-05-02T01:02:03+00:00"}  # fmt: skip
    b.node("task:aaa", "task", "m:Pull [aaa]", pull)
    score = {"id": "bbb", "family": "m:Score", "status": "done", "params": {"day": "2024-05-02"}}
    b.node("task:bbb", "task", "m:Score [bbb]", score)
    train = {"id": "ccc", "family": "m:Train", "status": "failed", "params": {}}
    b.node("task:ccc", "task", "m:Train [ccc]", train)
    sql = "SELECT user_id FROM events"
    b.node("query:abcd", "query", sql, {"sql": sql})
    for key, kind in (("table:dwh/main/events", "table"), ("table:dwh/ml/scores", "table"),
                      ("client:alice", "client"), ("dataset:team/clicks:1.0.0", "dataset"),
                      ("model:m/1", "model")):  # fmt: skip
        b.placeholder(key, kind, key.partition(":")[2])
    b.edge("table:dwh/main/events", "task:aaa", "read")
    b.edge("task:aaa", "task:bbb", "requires")
    b.edge("task:bbb", "table:dwh/ml/scores", "wrote")
    b.edge("table:dwh/ml/scores", "client:alice", "read")
    b.edge("table:dwh/main/events", "query:abcd", "read")
    b.edge("query:abcd", "dataset:team/clicks:1.0.0", "source")
    b.edge("dataset:team/clicks:1.0.0", "task:ccc", "read")
    b.edge("task:ccc", "model:m/1", "produced")
    b.edge("dataset:team/clicks:1.0.0", "model:m/1", "trained on")
    with cat.engine.begin() as conn:
        write_batch(conn, b)
    import_openlineage(cat, [FOREIGN], settings=SETTINGS)


def _edges(cat: Catalog) -> set[tuple[str, str, str]]:
    n, e = t.lineage_nodes, t.lineage_edges
    src, dst = n.alias("s"), n.alias("d")
    query = sa.select(src.c.key, dst.c.key, e.c.relation).select_from(
        e.join(src, src.c.id == e.c.source_id).join(dst, dst.c.id == e.c.target_id)
    )
    with cat.engine.connect() as conn:
        return {(s, d, r) for s, d, r in conn.execute(query)}


def _datasets(items, cls):
    return [cls(namespace=d["namespace"], name=d["name"]) for d in items]


def _parse(ev: dict) -> dict:
    """The event rebuilt from the openlineage-python client's classes (their validators
    check the event time, the run id and the URLs), serialised back by its Serde."""
    if "dataset" in ev:
        obj = DatasetEvent(
            eventTime=ev["eventTime"],
            producer=ev["producer"],
            dataset=StaticDataset(namespace=ev["dataset"]["namespace"], name=ev["dataset"]["name"]),
        )
    else:
        sql = ev["job"]["facets"].get("sql")
        facets = {"sql": sql_job.SQLJobFacet(query=sql["query"], producer=PRODUCER)} if sql else {}
        obj = RunEvent(
            eventType=RunState(ev["eventType"]),
            eventTime=ev["eventTime"],
            producer=ev["producer"],
            run=Run(runId=ev["run"]["runId"]),
            job=Job(namespace=ev["job"]["namespace"], name=ev["job"]["name"], facets=facets),
            inputs=_datasets(ev["inputs"], InputDataset),
            outputs=_datasets(ev["outputs"], OutputDataset),
        )
    return Serde.to_dict(obj)


def test_export_gives_valid_run_events_with_tasuki_facets(catalog):
    _fill(catalog)
    events = export_openlineage(catalog)
    runs = {e["run"]["facets"]["tasuki"]["key"]: e for e in events if "run" in e}
    assert set(runs) == {"task:aaa", "task:bbb", "task:ccc", "query:abcd", "client:alice",
                         "job:airflow/etl.load_events"}  # fmt: skip
    for ev in events:
        parsed = _parse(json.loads(json.dumps(ev)))
        assert parsed["schemaURL"] == ev["schemaURL"]  # the 2-0-2 spec, as the client says
        assert parsed["producer"] == PRODUCER == ev["producer"]
        for k in ("eventType", "eventTime", "run", "job", "inputs", "outputs", "dataset"):
            if k in ev:
                got, want = parsed[k], ev[k]
                if k in ("run", "job", "dataset"):
                    got, want = {**got, "facets": {}}, {**want, "facets": {}}
                if k in ("inputs", "outputs"):
                    want = [{**d, "facets": {}} for d in want]
                    got = [{**d, "facets": {}} for d in got]
                    for d in want:
                        d.pop("inputFacets", None), d.pop("outputFacets", None)
                    for d in got:
                        d.pop("inputFacets", None), d.pop("outputFacets", None)
                assert got == want, k
    pull = runs["task:aaa"]
    assert pull["eventType"] == "COMPLETE" and pull["eventTime"] == "2024-05-02T01:02:03+00:00"
    assert pull["job"] == {
        "namespace": "tasuki",
        "name": "m:Pull",
        "facets": {"sql": {"_producer": PRODUCER,
                           "_schemaURL": sql_job.SQLJobFacet._get_schema(),
                           "query": "SELECT * FROM events"}},
    }  # fmt: skip
    assert pull["run"]["runId"] == str(uuid.UUID(run_id("task:aaa")))
    assert pull["inputs"][0]["namespace"] == "dwh" and pull["inputs"][0]["name"] == "main.events"
    facet = pull["run"]["facets"]["tasuki"]
    assert facet["unique_id"] == "aaa" and facet["parameters"] == {"sql": "SELECT * FROM events"}
    assert facet["_producer"] == PRODUCER and facet["_schemaURL"].startswith("https://")
    score = runs["task:bbb"]
    assert score["run"]["facets"]["tasuki"]["upstream"] == [
        {"key": "task:aaa", "relation": "requires"}
    ]
    assert [(d["namespace"], d["name"]) for d in score["outputs"]] == [("dwh", "ml.scores")]
    assert runs["task:ccc"]["eventType"] == "FAIL"
    assert runs["task:ccc"]["inputs"][0] == {
        "namespace": "tasuki-registry",
        "name": "dataset:team/clicks:1.0.0",
        "facets": {},
        "inputFacets": {"tasuki": {"_producer": PRODUCER,
                                   "_schemaURL": runs["task:ccc"]["inputs"][0]["inputFacets"]
                                   ["tasuki"]["_schemaURL"],
                                   "key": "dataset:team/clicks:1.0.0", "relations": ["read"]}},
    }  # fmt: skip
    # The imported job keeps its own namespace and name.
    assert runs["job:airflow/etl.load_events"]["job"]["namespace"] == "airflow"
    # Run ids are the same on every export.
    assert export_openlineage(catalog) == events
    # Only what changed since a moment.
    future = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    assert export_openlineage(catalog, since=future) == []


def test_export_then_import_into_an_empty_catalog_keeps_every_edge(catalog, tmp_path):
    _fill(catalog)
    events = json.loads(json.dumps(export_openlineage(catalog)))
    with Catalog.open(f"sqlite:///{tmp_path / 'dst.db'}") as empty:
        assert import_openlineage(empty, events, settings=SETTINGS) == len(events)
        assert _edges(empty) == _edges(catalog)
        back = upstream(empty, "task:bbb").nodes
        assert back["task:bbb"].detail["params"] == {"day": "2024-05-02"}
        assert back["task:bbb"].detail["status"] == "done"
        assert back["task:aaa"].detail["finished_at"] == "2024-05-02T01:02:03+00:00"
        assert node(empty, "query:abcd").detail == {"sql": "SELECT user_id FROM events"}


def test_foreign_events_map_to_jobs_tables_and_ol_datasets(catalog):
    assert import_openlineage(catalog, [FOREIGN], settings=SETTINGS) == 1
    assert _edges(catalog) == {
        ("ol:s3://raw/events/2024-05-01.json", "job:airflow/etl.load_events", "read"),
        ("job:airflow/etl.load_events", "table:dwh/main/events", "wrote"),
    }
    job = upstream(catalog, "job:airflow/etl.load_events").nodes["job:airflow/etl.load_events"]
    assert job.kind == "job" and job.detail["run_id"] == FOREIGN["run"]["runId"]
    # Without the warehouse configured, the table is an OpenLineage dataset.
    import_openlineage(catalog, [FOREIGN], settings=tasuki.load_settings({}))
    assert ("job:airflow/etl.load_events", "ol:dwh/main.events", "wrote") in _edges(catalog)


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({**FOREIGN, "job": {"namespace": "airflow"}}, "job.name"),
        ({k: v for k, v in FOREIGN.items() if k != "eventTime"}, "eventTime"),
        ({**FOREIGN, "inputs": [{"namespace": "s3://raw"}]}, "inputs[0].name"),
        ({**FOREIGN, "outputs": "dwh.main.events"}, "outputs must be a list"),
        ({**FOREIGN, "run": {}}, "run.runId"),
        ("not an event", "must be a JSON object"),
    ],
)
def test_a_malformed_event_is_named_and_nothing_is_imported(catalog, bad, field):
    with pytest.raises(CatalogError) as err:
        import_openlineage(catalog, [FOREIGN, bad], settings=SETTINGS)
    assert "OpenLineage event 1:" in str(err.value) and field in str(err.value)
    assert err.value.fields["index"] == 1
    assert _edges(catalog) == set()  # event 0 was fine, and is not kept either
