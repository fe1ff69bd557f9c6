"""Parameter values as records hold them, rendered for people and for JSON."""

from __future__ import annotations

import pytest

import tasuki
from tasuki.report._values import describe_value, value_json
from tasuki.storage import open_store
from tests.unit.core.tasks_for_tests import AllTypes, TaskA

M = "tests.unit.core.tasks_for_tests"


@pytest.fixture
def store(tmp_path):
    ws = str(tmp_path / "ws")
    tasuki.build(TaskA(param="t"), workspace=ws, progress="off")
    return open_store(ws)


def test_recorded_task_reference_gets_its_class(store):
    uid = TaskA(param="t").unique_id
    assert describe_value({"$task": uid}, store) == f"TaskA({uid[:10]})"
    assert value_json({"$task": uid}, store) == {"task": f"{M}:TaskA", "unique_id": uid}


def test_nested_references_and_scalars(store):
    uid = TaskA(param="t").unique_id
    value = {"models": [{"$task": uid}, 3], "name": "x", "on": True, "rate": 0.5, "none": None}
    assert describe_value(value, store) == (
        f'{{"models": [TaskA({uid[:10]}), 3], "name": "x", "on": true, "rate": 0.5, "none": null}}'
    )
    as_json = value_json(value, store)
    assert as_json["models"] == [{"task": f"{M}:TaskA", "unique_id": uid}, 3]
    assert as_json["on"] is True and as_json["rate"] == 0.5 and as_json["none"] is None


def test_reference_without_a_record(tmp_path):
    empty = open_store(str(tmp_path / "empty"))
    uid = "ab" * 32
    assert describe_value({"$task": uid}, empty) == f"task {uid[:10]} (no record)"
    assert value_json({"$task": uid}, empty) == {"task": None, "unique_id": uid}
    assert value_json({"$task": uid}) == {"task": None, "unique_id": uid}


def test_live_values_keep_their_types():
    upstream = TaskA(param="t")
    task = AllTypes(i=64, tasks=[upstream])
    shown = {k: value_json(v) for k, v in task.param_values.items()}
    assert shown["i"] == 64 and type(shown["i"]) is int
    assert shown["f"] == 0.5 and shown["b"] is False
    assert shown["li"] == [1, 2] and shown["tu"] == ["a"] and shown["di"] == {"k": 1.0}
    assert shown["d"] == "2024-01-31" and shown["c"] == "RED" and shown["p"] == "data/x.csv"
    assert shown["tasks"] == [{"task": f"{M}:TaskA", "unique_id": upstream.unique_id}]
    assert describe_value(upstream) == f"TaskA({upstream.unique_id[:10]})"
    assert describe_value(64) == "64" and describe_value("x") == '"x"'
