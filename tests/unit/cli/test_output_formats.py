"""What the CLI prints for machines and off a terminal: full names, full ids, typed JSON."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tasuki.cli import app
from tasuki.core.records import RunRecord
from tasuki.storage import open_store
from tasuki.warehouse._lineage import TableTarget
from tests.unit.core.tasks_for_tests import AllTypes, TaskA, TaskB

M = "tests.unit.core.tasks_for_tests"


@pytest.fixture
def ws(tmp_path, monkeypatch):
    path = tmp_path / "ws"
    monkeypatch.setenv("TASUKI_WORKSPACE", str(path))
    monkeypatch.setenv("TASUKI_PROGRESS", "off")
    return path


def cli(*args: str):
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_ls_off_a_terminal_cuts_nothing(ws):
    cli("run", f"{M}:TaskB", "--param", "x")
    out = cli("ls").stdout
    for task in (TaskA(param="x"), TaskB(param="x")):
        line = next(line for line in out.splitlines() if task.unique_id in line)
        assert type(task).task_name() in line
        assert f"{task.output().key}" in line  # type: ignore[union-attr]
    assert "…" not in out


def test_ls_format_json(ws):
    cli("run", f"{M}:TaskA", "--param", "x")
    rows = json.loads(cli("ls", "--format", "json").stdout)["outputs"]
    assert [(r["task"], r["unique_id"], r["kind"]) for r in rows] == [
        (f"{M}:TaskA", TaskA(param="x").unique_id, "file")
    ]
    assert isinstance(rows[0]["size"], int)


def test_tree_json_keeps_types_and_full_ids(ws):
    upstream = TaskA(param="t")
    model = json.dumps([{"task": f"{M}:TaskA", "params": {"param": "t"}}])
    doc = json.loads(
        cli("tree", f"{M}:AllTypes", "--i", "64", "--tasks", model, "-f", "json").stdout
    )
    node = next(n for n in doc["nodes"] if n["task"] == f"{M}:AllTypes")
    params = node["params"]
    assert params["i"] == 64 and type(params["i"]) is int
    assert params["f"] == 0.5 and params["b"] is False and params["opt"] is None
    assert params["li"] == [1, 2] and params["di"] == {"k": 1.0}
    assert params["tasks"] == [{"task": f"{M}:TaskA", "unique_id": upstream.unique_id}]
    assert node["unique_id"] == AllTypes(i=64, tasks=[upstream]).unique_id


def test_show_names_task_parameters(ws):
    upstream = TaskA(param="y")
    cli(
        "run",
        f"{M}:TaskB",
        "--param",
        "x",
        "--upstream",
        f'{{"task": "{M}:TaskA", "params": {{"param": "y"}}}}',
    )
    uid = TaskB(param="x", upstream=upstream).unique_id
    text = cli("show", uid).stdout
    assert f"upstream = TaskA({upstream.unique_id[:10]})" in text
    assert "$task" not in text
    doc = json.loads(cli("show", uid, "--json").stdout)
    assert doc["params"]["upstream"] == {"task": f"{M}:TaskA", "unique_id": upstream.unique_id}
    assert doc["params"]["param"] == "x"
    # --format json, as every other command that has a JSON form
    assert json.loads(cli("show", uid, "--format", "json").stdout) == doc
    assert json.loads(cli("show", uid, "-f", "json").stdout) == doc


def test_show_write_back_output_as_a_table(ws):
    store = open_store(str(ws))
    uid = "cd" * 32
    table = TableTarget(
        key="postgresql:recs_trainsvd",
        url="postgresql://h/db",
        table="recs_trainsvd",
        unique_id=uid,
    )
    RunRecord(
        unique_id=uid,
        task="tasuki.warehouse:WriteTableTask",
        params={"table": "recs_trainsvd"},
        significant=["table"],
        version=None,
        requires=[],
        outputs=[table.info(store).to_json()],
        code_fingerprint="0",
        status="ran",
        started_at="2026-01-01T00:00:00",
        finished_at="2026-01-01T00:00:01",
        duration_s=1.0,
    ).write(store)
    text = cli("show", uid).stdout
    assert "  table postgresql:recs_trainsvd\n" in text
    assert "bytes" not in text and str(ws) not in text
    row = json.loads(cli("ls", "--json").stdout)["outputs"][0]
    assert (row["kind"], row["key"], row["size"]) == ("table", "postgresql:recs_trainsvd", None)
    assert "table postgresql:recs_trainsvd" in cli("ls").stdout
