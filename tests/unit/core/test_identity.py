"""Unique ids: canonical, stable across processes, moved by every upstream change."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

import tasuki
from tasuki.core.fingerprint import encode, id_document, unique_id_of
from tasuki.errors import DependencyCycleError, ParameterError

from .tasks_for_tests import AllTypes, Colour, CycleA, FanIn, Leaf, Step, TaskA, TaskB

ROOT = Path(__file__).resolve().parents[3]


def test_id_document_vector():
    doc = id_document("m:T", None, {"a": 1, "b": "x"}, None)
    assert doc == '["tasuki-id/1","m:T",null,{"a":1,"b":"x"},null]'
    assert unique_id_of(doc) == "3f0a29360c81b592e9dd5be32c11947892d7c140a92199cdb12a16dc09710a76"


# Pinned vectors: if one of these changes, every cached output in every workspace is orphaned.
# Change them only together with the ID_SCHEMA version in tasuki/core/fingerprint.py.
VECTORS = {
    "task_a": (
        lambda: TaskA(param="world"),
        "4ad78ac24b14b92b9dfb5daadb40e9d1e96c5fffc314f747a08000104a6e2340",
    ),
    "task_b": (
        lambda: TaskB(param="world"),
        "b405e4d48fae7beb24128dac32e6b0f1942ec3573618bd27f6ab90457c469aec",
    ),
    "all_types": (
        lambda: AllTypes(),
        "50076d4f9e3ebec622e68a38c54eb45a95fd67bdbcc4a7fcd1937e2350cce577",
    ),
}


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_pinned_vectors(name):
    make, expected = VECTORS[name]
    assert make().unique_id == expected


def test_encoding_distinguishes_types():
    values = [1, "1", 1.0, True, None, [1], (1,), {"1": 1}, dt.date(2024, 1, 1), Colour.RED]
    encoded = [repr(encode(v)) for v in values]
    # list and tuple encode alike on purpose (a tuple parameter given as a JSON list is equal)
    assert len(set(encoded)) == len(values) - 1


def test_dict_order_is_part_of_the_value():
    """``run()`` sees a dict in its order (columns to keep, steps to apply): two orders are
    two values, as luigi's DictParameter has them. With the order left out of the id,
    ``Values(w={"b": 2, "a": 1})`` was handed the output cached for ``{"a": 1, "b": 2}``."""
    assert encode({"a": 1, "b": 2}) != encode({"b": 2, "a": 1})
    assert encode({"a": 1, "b": 2}) == encode({"a": 1, "b": 2})
    assert encode({"a": 1, "b": 2}) == {"$dict": [["a", 1], ["b", 2]]}  # ids kept for sorted
    assert Values(w={"a": 1, "b": 2}).unique_id != Values(w={"b": 2, "a": 1}).unique_id


class Values(tasuki.Task):
    w: dict[str, int] = {}

    def run(self) -> None:
        self.dump(list(self.w.values()))


def test_a_dict_in_another_order_is_built_for_itself(tmp_path):
    ws = str(tmp_path / "ws")
    assert tasuki.build(Values(w={"a": 1, "b": 2}), workspace=ws, progress="off") == [1, 2]
    assert tasuki.build(Values(w={"b": 2, "a": 1}), workspace=ws, progress="off") == [2, 1]
    nested = Values(w={"z": 0, "y": 1})
    assert tasuki.build(nested, workspace=ws, progress="off") == [0, 1]
    # A record keeps the order: the task made again from it is the same task.
    from tasuki.core.loading import task_from_record
    from tasuki.core.records import find_record
    from tasuki.storage import open_store

    store = open_store(ws)
    rec = find_record(store, nested.unique_id)
    assert task_from_record(rec, store).unique_id == nested.unique_id


def test_stable_across_processes_and_hash_seeds():
    code = (
        "from tests.unit.core.tasks_for_tests import TaskB, AllTypes;"
        "print(TaskB(param='world').unique_id, AllTypes().unique_id)"
    )
    outputs = set()
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        outputs.add(out.stdout.strip())
    assert len(outputs) == 1
    assert outputs.pop().split()[0] == TaskB(param="world").unique_id


def test_upstream_change_moves_downstream_ids():
    base = TaskB(param="world")
    other = TaskB(param="world", upstream=TaskA(param="earth"))
    assert base.unique_id != other.unique_id
    # the same upstream given explicitly is the same computation, but a task parameter is
    # itself significant, so the id differs from the default path
    explicit = TaskB(param="world", upstream=TaskA(param="world"))
    assert explicit.unique_id != base.unique_id
    assert explicit.unique_id == TaskB(param="world", upstream=TaskA(param="world")).unique_id


def test_insignificant_parameter_keeps_id():
    assert AllTypes(quiet=1).unique_id == AllTypes(quiet=2).unique_id
    assert AllTypes(i=2).unique_id != AllTypes().unique_id


def test_version_change_moves_every_downstream_id(monkeypatch):
    class Base(tasuki.Task):
        def run(self):
            self.dump(1)

    class Down(tasuki.Task):
        def requires(self):
            return Base()

    before = Down().unique_id
    monkeypatch.setattr(Base, "version", "2")
    assert Down().unique_id != before


def test_deep_chain_through_task_parameters_has_no_recursion_limit():
    task = None
    for i in range(20_000):
        task = Step(i=i, prev=task)
    graph = tasuki.build_graph([task])
    assert len(graph) == 20_000
    # dependencies first: the chain's first link leads, the root closes, every edge points back
    assert graph.order[0] == Step(i=0).unique_id
    assert graph.order[-1] == task.unique_id == graph.roots[0]
    position = {uid: n for n, uid in enumerate(graph.order)}
    assert len(position) == 20_000
    assert all(position[d] < position[uid] for uid in graph.order for d in graph.nodes[uid].deps)
    assert repr(task).startswith("Step(i=19999, prev=Step(id=")


def test_duplicates_are_deduplicated():
    graph = tasuki.build_graph([FanIn(n=3), FanIn(n=3), Leaf(i=0)])
    assert len(graph) == 4
    assert len(graph.roots) == 2


def test_cycle_is_reported_with_the_path():
    with pytest.raises(DependencyCycleError, match=r"CycleA\(n=0\) -> CycleB\(n=0\) -> CycleA"):
        CycleA().unique_id


def test_unencodable_value_is_refused():
    with pytest.raises(ParameterError, match="cannot encode a value of type object"):
        encode(object())
