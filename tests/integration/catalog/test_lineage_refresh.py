"""refresh_lineage on a real world: a DuckDB warehouse with a write-back table, query tasks
reading it, a dataset built from query-like tasks, a model pushed to the zoo; a second
warehouse that is down; a catalog that refuses the write half-way."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import sqlalchemy as sa

import tasuki
from tasuki.catalog import _schema as t
from tasuki.catalog._lineage import downstream, upstream
from tasuki.catalog._lineage_sources import refresh_lineage
from tasuki.catalog._openlineage import export_openlineage
from tasuki.catalog._store import Catalog
from tasuki.datasets import DatasetBuilder, DatasetInput, build
from tasuki.errors import CatalogError
from tasuki.warehouse import WriteTableTask
from tasuki.warehouse._task import QueryTask
from tests.unit.catalog.test_openlineage import _parse


class Rows(tasuki.Task):
    """A dataset split's rows; records the query it stands for (on the warehouse "dwh")."""

    i: int
    sql: str = "SELECT user_id, score FROM events WHERE part = 0"
    warehouse: str = "dwh"

    def output(self):
        return self.make_target("rows.parquet")

    def run(self):
        self.dump(pd.DataFrame({"user_id": [self.i * 10 + k for k in range(10)], "score": 1.0}))


class Clicks(DatasetBuilder):
    name = "team/clicks"
    VERSION = "1.0.0"
    RELEASE_NOTES = {"1.0.0": "first"}
    description = "Clicks."
    columns = {"user_id": "who", "score": "how much"}

    def splits(self):
        return {"train": [Rows(i=0), Rows(i=1)], "test": Rows(i=2)}


class Train(tasuki.Task):
    data: DatasetInput

    def requires(self):
        return self.data

    def output(self):
        return self.make_target("model.pkl")

    def run(self):
        self.dump({"mean": float(self.load().column("score").to_pandas().mean())})


class Scores(tasuki.Task):
    """Scores computed from a query's result."""

    query: tasuki.Task

    def requires(self):
        return self.query

    def output(self):
        return self.make_target("scores.parquet")

    def run(self):
        self.dump(self.load().to_pandas().assign(score=lambda d: d.score * 2))


@pytest.fixture
def world(tmp_path: Path):
    dwh = tmp_path / "dwh.duckdb"
    with duckdb.connect(str(dwh)) as con:
        con.execute("CREATE TABLE events AS SELECT range AS id, range * 1.5 AS score FROM range(5)")
    url = f"duckdb:///{dwh}"
    reg, ws = str(tmp_path / "registry"), str(tmp_path / "ws")
    settings = tasuki.load_settings(
        {
            "workspace": ws,
            "registry": reg,
            # port 9 (discard) refuses: a warehouse that is down.
            "warehouses": {"dwh": url, "down": "postgresql://postgres@127.0.0.1:9/nope"},
        }
    )
    pull = QueryTask(sql="SELECT id, score FROM events", warehouse=url)
    write = WriteTableTask(data=Scores(query=pull), table="ml.scores", warehouse=url)
    tasuki.build(write, workspace=ws, progress="off", return_value=False)
    reader = QueryTask(sql="WITH s AS (SELECT * FROM ml.scores) SELECT * FROM s", warehouse=url)
    tasuki.build(reader, workspace=ws, progress="off", return_value=False)
    build(Clicks, registry=reg, workspace=ws, progress="off")
    train = Train(data=DatasetInput(ref="team/clicks:1.*", split="train", registry=reg))
    tasuki.build(train, workspace=ws, progress="off", return_value=False)
    from tasuki.zoo import Zoo

    version = Zoo(tracking_uri="", settings=settings).push("clicks-model", train)
    return {
        "settings": settings,
        "pull": pull,
        "write": write,
        "reader": reader,
        "train": train,
        "version": version,
        "catalog": f"sqlite:///{tmp_path / 'catalog.db'}",
    }


def _counts(cat: Catalog) -> tuple[int, int]:
    with cat.engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(sa.select(sa.func.count()).select_from(x)).scalar_one()
            for x in (t.lineage_nodes, t.lineage_edges)
        )


def test_a_table_leads_back_to_its_task_params_queries_and_forward_to_readers(world):
    with Catalog.open(world["catalog"]) as cat:
        report = refresh_lineage(cat, settings=world["settings"])
        assert report.writes == {"dwh": 1}
        assert any("warehouse 'down' skipped" in w for w in report.warnings), report.warnings
        assert report.datasets == 1 and report.models == 1 and report.records >= 6
        table = "table:dwh/ml/scores"
        up = upstream(cat, table)
        write = f"task:{world['write'].unique_id}"
        assert (write, table, "wrote") in {(e.source, e.target, e.relation) for e in up.edges}
        detail = up.nodes[write].detail
        assert detail["params"]["table"] == "ml.scores" and detail["row_count"] == 5
        assert detail["status"] == "done" and detail["family"].endswith(":WriteTableTask")
        pull = f"task:{world['pull'].unique_id}"
        assert ("table:dwh/main/events", pull, "read") in {
            (e.source, e.target, e.relation) for e in up.edges
        }
        assert up.nodes[pull].detail["params"]["sql"].startswith("SELECT id, score FROM events")
        # The reader's CTE is no table; the table it wraps is read.
        down = downstream(cat, table)
        assert {e.target for e in down.edges} == {f"task:{world['reader'].unique_id}"}
        # Dataset and zoo: the model leads back to the dataset, its split tasks, and the
        # table their queries read.
        model = upstream(cat, f"model:{world['version'].ref}")
        assert "dataset:team/clicks:1.0.0" in model.nodes
        assert f"task:{world['train'].unique_id}" in model.nodes
        assert "table:dwh/main/events" in model.nodes
        assert any(e.relation == "trained on" for e in model.edges)
        # Forward from the dataset: the DatasetInput that read it, the training after it.
        used = downstream(cat, "dataset:team/clicks:1.0.0")
        assert any(
            e.relation == "read" and used.nodes[e.target].label.split(" [")[0].endswith(
                ":DatasetInput") for e in used.edges
        )  # fmt: skip
        assert f"task:{world['train'].unique_id}" in used.nodes
        # Its OpenLineage export reads back with the openlineage client's classes.
        events = export_openlineage(cat)
        assert len(events) >= report.records
        for ev in events:
            _parse(json.loads(json.dumps(ev)))
        runs = {e["run"]["facets"]["tasuki"]["key"]: e for e in events if "run" in e}
        write_event = runs[write]
        assert write_event["outputs"][0]["namespace"] == "dwh"
        assert write_event["outputs"][0]["name"] == "ml.scores"
        # Idempotent: the same nodes and edges, written again.
        before = _counts(cat)
        again = refresh_lineage(cat, settings=world["settings"])
        assert _counts(cat) == before and again.edges == report.edges


def test_a_catalog_that_fails_half_way_keeps_its_previous_lineage(world):
    with Catalog.open(world["catalog"]) as cat:
        with cat.engine.begin() as conn:
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON lineage_edges "
                "BEGIN SELECT RAISE(ABORT, 'edges refused'); END"
            )
        with pytest.raises(CatalogError, match="edges refused"):
            refresh_lineage(cat, settings=world["settings"])
        assert _counts(cat) == (0, 0)  # the nodes written before the failure were taken back


@pytest.mark.services
def test_a_postgres_warehouse_and_catalog(postgres_url, postgres_reader_url, tmp_path):
    """Write-back into PostgreSQL's default schema, a query naming the table in another
    case as a reader role (the same warehouse), and the catalog itself on PostgreSQL."""
    ws = str(tmp_path / "ws")
    settings = tasuki.load_settings(
        {"workspace": ws, "registry": str(tmp_path / "reg"), "warehouses": {"pg": postgres_url}}
    )
    with duckdb.connect(str(tmp_path / "src.duckdb")) as con:
        con.execute("CREATE TABLE events AS SELECT range AS id, range * 1.5 AS score FROM range(3)")
    source = f"duckdb:///{tmp_path}/src.duckdb"
    pull = QueryTask(sql="SELECT id, score FROM events", warehouse=source)
    # A password in the writer's URL (trust auth ignores it) never reaches the catalog.
    writer_url = postgres_url.replace("postgres@", "postgres:s3cret@", 1)
    write = WriteTableTask(data=Scores(query=pull), table="scores", warehouse=writer_url)
    tasuki.build(write, workspace=ws, progress="off", return_value=False)
    reader = QueryTask(sql="SELECT * FROM Scores", warehouse=postgres_reader_url)
    tasuki.build(reader, workspace=ws, progress="off", return_value=False)
    catalog = postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)
    with Catalog.open(catalog) as cat:
        report = refresh_lineage(cat, settings=settings)
        assert report.writes == {"pg": 1}
        found = upstream(cat, "table:pg/public/scores")
        assert f"task:{write.unique_id}" in found.nodes
        detail = found.nodes[f"task:{write.unique_id}"].detail
        assert detail["params"]["warehouse"].startswith("postgresql://postgres:***@")
        assert "s3cret" not in json.dumps(detail)
        # The source query's warehouse is not configured: its SQL stays a query node.
        assert any(n.kind == "query" for n in found.nodes.values())
        down = downstream(cat, "table:pg/public/scores")
        assert {e.target for e in down.edges} == {f"task:{reader.unique_id}"}
