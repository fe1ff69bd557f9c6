"""`tasuki verify`: every output a graph reaches (or every record), byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

from tasuki.core.records import RunRecord
from tasuki.storage import open_store
from tests.unit.core.tasks_for_tests import TaskA, TaskB

M = "tests.unit.core.tasks_for_tests"


def _output(tmp_path: Path, task) -> Path:
    (entry,) = RunRecord.read(open_store(str(tmp_path / "ws")), task.unique_id).outputs
    return tmp_path / "ws" / entry["key"]


def test_verify_a_clean_graph_then_a_damaged_one(cli, tmp_path):
    assert cli("run", f"{M}:TaskB", "--param", "v").exit_code == 0
    clean = cli("verify", f"{M}:TaskB", "--param", "v")
    assert clean.exit_code == 0, clean.output
    assert "checked 2 output(s): 2 ok" in clean.stdout
    path = _output(tmp_path, TaskA(param="v"))
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    damaged = cli("verify", f"{M}:TaskB", "--param", "v")
    assert damaged.exit_code == 1
    assert "WRONG CONTENT" in damaged.stdout and path.name in damaged.stdout
    assert "TaskA" in damaged.stdout
    as_json = json.loads(cli("verify", f"{M}:TaskB", "--param", "v", "-f", "json").stdout)
    assert as_json["ok"] is False
    by_id = {c["unique_id"]: c for c in as_json["checks"]}
    assert by_id[TaskA(param="v").unique_id]["status"] == "wrong content"
    assert by_id[TaskB(param="v").unique_id]["status"] == "ok"
    assert len(TaskA(param="v").unique_id) == 64


def test_verify_every_record_finds_truncated_and_missing_files(cli, tmp_path):
    for p in ("a", "b"):
        assert cli("run", f"{M}:TaskB", "--param", p).exit_code == 0
    path = _output(tmp_path, TaskA(param="a"))
    path.write_bytes(path.read_bytes()[:-5])
    _output(tmp_path, TaskB(param="b")).unlink()
    result = cli("verify")
    assert result.exit_code == 1
    assert "WRONG SIZE" in result.stdout and "MISSING" in result.stdout
    assert "2 ok" in result.stdout


def test_verify_lists_tasks_not_built(cli):
    result = cli("verify", f"{M}:TaskB", "--param", "never")
    assert result.exit_code == 0
    assert "2 not built" in result.stdout
