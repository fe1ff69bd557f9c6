"""Lineage end to end on a local registry and workspace: a dataset built from tasks, a model
trained on a DatasetInput of it and pushed to the zoo; each found from the others."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

import tasuki
from tasuki.cli import app
from tasuki.datasets import DatasetBuilder, DatasetInput, build
from tasuki.lineage import lineage, to_json, to_mermaid, to_text
from tasuki.storage import open_store


class Rows(tasuki.Task):
    """Rows of one partition (stands in for a QueryTask: it records a query)."""

    i: int
    sql: str = "SELECT user_id, score FROM clicks WHERE part = 0"
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


class Report(tasuki.Task):
    model: Train

    def requires(self):
        return self.model

    def output(self):
        return self.make_target("report.json")

    def run(self):
        self.dump({"ok": True})


@pytest.fixture
def world(tmp_path):
    reg, ws = str(tmp_path / "registry"), str(tmp_path / "ws")
    info = build(Clicks, registry=reg, workspace=ws, progress="off")
    data = DatasetInput(ref="team/clicks:1.*", split="train", registry=reg)
    train = Train(data=data)
    tasuki.build(Report(model=train), workspace=ws, progress="off", return_value=False)
    from tasuki.zoo import Zoo

    settings = tasuki.load_settings({"workspace": ws, "registry": reg})
    zoo = Zoo(tracking_uri="", settings=settings)
    version = zoo.push("clicks-model", train, alias="champion", description="mean")
    return {"reg": reg, "ws": ws, "info": info, "data": data, "train": train, "version": version}


def test_a_model_leads_back_to_its_task_dataset_and_queries(world):
    store = open_store(world["ws"])
    lin = lineage("model:clicks-model@champion", store=store, registry=world["reg"])
    assert lin.root == f"model:{world['version'].ref}"
    kinds = {n.kind for n in lin.nodes.values()}
    assert kinds == {"model", "task", "dataset", "query"}
    train_key = f"task:{world['train'].unique_id}"
    assert any(e.source == train_key and e.relation == "produced" for e in lin.edges)
    dataset_key = "dataset:team/clicks:1.0.0"
    assert dataset_key in lin.nodes
    assert lin.nodes[dataset_key].detail["rows"] == {"train": 20, "test": 10}
    # The dataset's split tasks were built in this workspace: their records, and the
    # queries they name, are upstream of the dataset.
    queries = [n for n in lin.nodes.values() if n.kind == "query"]
    assert queries and all(q.detail["warehouse"] == "dwh" for q in queries)
    text = to_text(lin)
    assert text.splitlines()[0].startswith("model clicks-model/1")
    assert "<- produced: task " in text and "dataset team/clicks:1.0.0" in text
    assert "(above)" not in text.splitlines()[2]  # the task's own branch is shown once


def test_a_dataset_leads_forward_to_the_tasks_and_models_that_used_it(world):
    store = open_store(world["ws"])
    lin = lineage("dataset:team/clicks:1.0.0", store=store, registry=world["reg"])
    down = {lin.nodes[e.target].label for e in lin.edges if e.source == lin.root}
    assert any(":DatasetInput [" in label for label in down)
    assert world["version"].ref in down  # trained on it (the zoo knows)
    labels = {n.label for n in lin.nodes.values()}
    assert any(":Train [" in label for label in labels)
    assert any(":Report [" in label for label in labels)


def test_a_task_by_id_prefix_and_the_renderings(world):
    store = open_store(world["ws"])
    uid = world["train"].unique_id
    lin = lineage(uid[:10], store=store, registry=world["reg"])
    assert lin.root == f"task:{uid}"
    mermaid = to_mermaid(lin)
    assert (
        mermaid.startswith("graph LR")
        and "-->|read|" in mermaid
        and '"' not in mermaid.split("\n")[0]
    )
    down = {lin.nodes[e.target].label for e in lin.edges if e.source == lin.root}
    assert any(":Report [" in label for label in down)  # the report required the task
    doc = to_json(lin)
    assert json.loads(json.dumps(doc, default=str))["root"] == f"task:{uid}"
    assert any(n["detail"].get("id") == uid for n in doc["nodes"])  # full ids kept


def test_cli_lineage_text_mermaid_json_and_bad_refs(world):
    runner = CliRunner()
    base = ["--workspace", world["ws"], "--registry", world["reg"]]
    out = runner.invoke(app, ["lineage", "model:clicks-model@champion", *base])
    assert out.exit_code == 0, out.output
    assert "dataset team/clicks:1.0.0" in out.stdout
    out = runner.invoke(app, ["lineage", "dataset:team/clicks", *base, "--format", "mermaid"])
    assert out.exit_code == 0 and out.stdout.startswith("graph LR")
    out = runner.invoke(app, ["lineage", world["train"].unique_id, *base, "-f", "json"])
    assert out.exit_code == 0 and json.loads(out.stdout)["root"].startswith("task:")
    bad = runner.invoke(app, ["lineage", "model:clicks-model@nope", *base])
    assert bad.exit_code == 2 and "champion" in bad.output  # names the aliases there are
    bad = runner.invoke(app, ["lineage", "dataset:team/clickz", *base])
    assert bad.exit_code == 2 and "team/clicks" in bad.output
    bad = runner.invoke(app, ["lineage", "deadbeef00", *base])
    assert bad.exit_code == 2 and "deadbeef00" in bad.output
    bad = runner.invoke(app, ["lineage", "310fe", *base])  # a task id cut too short
    assert bad.exit_code == 2 and "6 or more" in bad.output and "dataset name" not in bad.output


def test_a_model_pushed_with_the_dataset_version_as_text_is_found_downstream(world):
    # zoo.push(datasets=["team/clicks:1.0.0"]), as the zoo guide shows: no content hash.
    from tasuki.zoo import Zoo

    zoo = Zoo(world["reg"], tracking_uri="")
    by_text = zoo.push("by-text", {"w": 1}, datasets=["team/clicks:1.0.0"])
    elsewhere = zoo.push("elsewhere", {"w": 2}, datasets=["team/clicks:1.0.0@" + "ab" * 16])
    store = open_store(world["ws"])
    lin = lineage("dataset:team/clicks:1.0.0", store=store, registry=world["reg"])
    down = {lin.nodes[e.target].label for e in lin.edges if e.source == lin.root}
    assert by_text.ref in down and world["version"].ref in down
    assert elsewhere.ref not in down  # the same name and version, other data
