"""Tasks travel by id: definitions written at plan time, rebuilt and run by ``run_one`` and
``tasuki run-one``, refused when written by other code, or when upstream is incomplete."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import tasuki
from tasuki.cli import app
from tasuki.config import Settings
from tasuki.core.code import code_keys
from tasuki.core.definitions import (
    DEFINITIONS_PREFIX,
    Definition,
    definition_key,
    read_definition,
    rebuild_task,
    run_one,
    write_definitions,
)
from tasuki.core.executors import InlineExecutor
from tasuki.core.graph import build_graph
from tasuki.core.records import RunRecord
from tasuki.errors import RecordNotFoundError, TaskError
from tasuki.storage import open_store
from tests.unit.core.tasks_for_tests import AllTypes, Colour, FanIn, Leaf, Step, TaskA, TaskB


@pytest.fixture
def ws(tmp_path):
    return str(tmp_path / "ws")


@pytest.fixture
def store(ws):
    return open_store(ws)


def _plan(store, *roots):
    """Write the definitions a build would write for every task of ``roots``' graph."""
    graph = build_graph(list(roots))
    write_definitions(store, graph, list(graph.order), code_keys(graph))
    return graph


def _settings(ws):
    return Settings(workspace=ws, progress="off")


class ById(InlineExecutor):
    """An executor whose tasks travel by id (like dask), running them inline."""

    travels_by_id = True


def test_a_build_writes_one_bundle_of_the_tasks_it_runs_only(ws, store):
    from tasuki.core.definitions import bundle_names, read_bundle

    tasuki.build(TaskA(param="x"), workspace=ws, progress="off", executor=ById())
    first = bundle_names(store)
    assert len(first) == 1
    tasuki.build(TaskB(param="x"), workspace=ws, progress="off", executor=ById())  # A cached
    # One file per build, however many tasks it runs: no per-task definition files.
    assert all(k.startswith(".tasuki/definitions/bundles/") for k in store.list(DEFINITIONS_PREFIX))
    (second,) = set(bundle_names(store)) - set(first)
    assert set(read_bundle(store, second)) == {TaskB(param="x").unique_id}
    d = read_definition(store, TaskB(param="x").unique_id, read_bundle(store, second))
    assert d.task == "tests.unit.core.tasks_for_tests:TaskB"
    assert d.params == {"param": "x", "upstream": None}
    assert [r["id"] for r in d.requires] == [TaskA(param="x").unique_id]
    assert [r["task"] for r in d.requires] == ["tests.unit.core.tasks_for_tests:TaskA"]
    assert set(d.classes) == {
        "tests.unit.core.tasks_for_tests:TaskA",
        "tests.unit.core.tasks_for_tests:TaskB",
    }
    assert d.code_key == RunRecord.read(store, d.unique_id).code_key
    # Asked for by id alone (tasuki run-one ID), the task is found in its build's bundle.
    again = run_one(TaskB(param="x").unique_id, store=store, settings=_settings(ws), forced=True)
    assert again.status == "ran", again


def test_a_build_with_nothing_to_run_writes_no_bundle(ws, store):
    from tasuki.core.definitions import bundle_names

    tasuki.build(TaskA(param="x"), workspace=ws, progress="off")
    tasuki.build(TaskA(param="x"), workspace=ws, progress="off", executor=ById())
    assert bundle_names(store) == []


def test_a_bundle_is_read_once_per_process(ws, store):
    from tasuki.core.definitions import bundle_key, read_bundle, write_bundle

    graph = build_graph([TaskB(param="once")])
    name = write_bundle(store, graph, list(graph.order), code_keys(graph))
    first = read_bundle(store, name)
    store.remove(bundle_key(name))  # a second read would fail: it must not happen
    assert read_bundle(store, name) is first
    uid = TaskA(param="once").unique_id
    assert run_one(uid, store=store, settings=_settings(ws), bundle=name).status == "ran"


def test_run_one_by_id_prefers_the_bundle_planned_with_this_code(ws, store):
    from tasuki.core.definitions import bundle_key, read_bundle, write_bundle

    task = TaskA(param="moved")
    graph = build_graph([task])
    good = write_bundle(store, graph, list(graph.order), code_keys(graph))
    doc = dict(read_bundle(store, good))
    stale = dict(doc[task.unique_id], code_fingerprint="0" * 64)
    stale["classes"] = {k: "0" * 64 for k in stale["classes"]}
    body = json.dumps({task.unique_id: stale}).encode()
    store.write_bytes(bundle_key("0000-older-code"), body)  # sorts first
    assert run_one(task.unique_id, store=store, settings=_settings(ws)).status == "ran"
    store.remove(bundle_key(good))
    with pytest.raises(TaskError, match="written by other code"):
        run_one(task.unique_id, store=store, settings=_settings(ws), forced=True)


def test_builds_whose_tasks_stay_here_write_no_definitions(ws, store):
    tasuki.build(TaskB(param="x"), workspace=ws, progress="off")  # local
    tasuki.build(TaskB(param="y"), workspace=ws, progress="off", executor="inline")
    assert list(store.list(DEFINITIONS_PREFIX)) == []


def test_every_parameter_type_round_trips_exactly(store):
    task = AllTypes(
        s="é",
        i=-3,
        f=0.1 + 0.2,  # no decimal form of it is exact; the definition keeps float.hex
        b=True,
        d=dt.date(2020, 2, 29),
        t=dt.datetime(2024, 1, 1, 3, 4, 5, 6, tzinfo=dt.UTC),
        td=dt.timedelta(days=2, microseconds=7),
        p=Path("a/b.csv"),
        c=Colour.BLUE,
        lit="b",
        opt=4,
        li=[3, 2],
        tu=("x", "y"),
        di={"a": 0.5, "b": 1e300},
        tasks=[Leaf(i=1), Leaf(i=2)],
        quiet=9,
    )
    _plan(store, task)
    rebuilt = rebuild_task(store, read_definition(store, task.unique_id))
    assert rebuilt.unique_id == task.unique_id
    assert rebuilt.param_values == task.param_values  # the insignificant one too
    assert type(rebuilt.f) is float and rebuilt.f == 0.1 + 0.2
    assert isinstance(rebuilt.tu, tuple)


class Keyed(tasuki.Task):
    """Dicts whose keys are not text: JSON objects have text keys only."""

    cells: dict[tuple[int, int], float] = tasuki.param(default={})
    by_colour: dict[Colour, int] = tasuki.param(default={})
    by_day: dict[dt.date, int] = tasuki.param(default={})

    def run(self):
        self.dump(sorted(self.cells.items()))


def test_dicts_with_keys_that_are_not_text_round_trip(ws, store):
    """A tuple key was written into the record as ``"(1, 2)"`` and an enum key as
    ``"Colour.RED"``: ``tasuki rerun`` could not parse them back; a definition gave a list
    key, which no dict can hold, to a Dask or Argo worker."""
    from tasuki.core.loading import task_from_record
    from tasuki.core.records import find_record

    task = Keyed(
        cells={(1, 2): 0.5, (3, 4): 1.5},
        by_colour={Colour.BLUE: 2},
        by_day={dt.date(2024, 2, 29): 1},
    )
    _plan(store, task)
    rebuilt = rebuild_task(store, read_definition(store, task.unique_id))
    assert rebuilt.unique_id == task.unique_id
    assert rebuilt.param_values == task.param_values
    tasuki.build(task, workspace=ws, progress="off")
    again = task_from_record(find_record(store, task.unique_id), store)
    assert again.unique_id == task.unique_id
    assert again.param_values == task.param_values


def test_run_one_runs_exactly_that_task_like_a_build(ws, store):
    root = FanIn(n=3)
    _plan(store, root)
    for i in range(3):
        assert run_one(Leaf(i=i).unique_id, store=store, settings=_settings(ws)).status == "ran"
    result = run_one(root.unique_id, store=store, settings=_settings(ws))
    assert result.status == "ran"
    assert tasuki.load(root, workspace=ws) == 3
    record = RunRecord.read(store, root.unique_id)
    assert record.requires == [Leaf(i=i).unique_id for i in range(3)]
    # Run again: complete, so cached; a build of the same graph finds it complete too.
    assert run_one(root.unique_id, store=store, settings=_settings(ws)).status == "cached"
    built = tasuki.build(root, workspace=ws, progress="off", return_value=False)
    assert built.counts()["cached"] == 1


def test_task_valued_parameters_are_rebuilt_from_their_definitions(ws, store):
    chain = None
    for i in range(4):
        chain = Step(i=i, prev=chain)
    _plan(store, chain)
    node = chain
    order = []
    while node is not None:
        order.append(node)
        node = node.prev
    for task in reversed(order):
        assert run_one(task.unique_id, store=store, settings=_settings(ws)).status == "ran"
    assert tasuki.load(chain, workspace=ws) == 0 + 1 + 2 + 3


def test_incomplete_upstream_is_refused_listing_ids_and_classes(ws, store):
    root = FanIn(n=3)
    _plan(store, root)
    run_one(Leaf(i=1).unique_id, store=store, settings=_settings(ws))
    with pytest.raises(TaskError) as info:
        run_one(root.unique_id, store=store, settings=_settings(ws))
    message = str(info.value)
    assert "2 of its requirements" in message
    for i in (0, 2):
        assert Leaf(i=i).unique_id in message
    assert Leaf(i=1).unique_id not in message
    assert "tests.unit.core.tasks_for_tests:Leaf" in message
    assert not store.exists(f".tasuki/records/{root.unique_id}.json")


def test_requirements_vouched_for_by_this_build_are_not_checked_again(ws, store, monkeypatch):
    from tasuki.core.execute import Completeness

    root = FanIn(n=3)
    _plan(store, root)
    for i in range(3):
        run_one(Leaf(i=i).unique_id, store=store, settings=_settings(ws))
    checked = []
    real = Completeness.verdict
    monkeypatch.setattr(
        Completeness,
        "verdict",
        lambda self, node, **kw: checked.append(node.uid) or real(self, node, **kw),
    )
    vouched = {Leaf(i=0).unique_id, Leaf(i=1).unique_id}
    result = run_one(root.unique_id, store=store, settings=_settings(ws), vouched=vouched)
    assert result.status == "ran"
    assert tasuki.load(root, workspace=ws) == 3
    # Leaf 2 (not vouched) and the root itself (under its lease) only.
    assert sorted(checked) == sorted([Leaf(i=2).unique_id, root.unique_id])


def test_a_vouched_requirement_whose_last_run_failed_is_still_not_loaded(ws, store):
    root = FanIn(n=2)
    _plan(store, root)
    for i in range(2):
        run_one(Leaf(i=i).unique_id, store=store, settings=_settings(ws))
    bad = Leaf(i=1).unique_id
    record = RunRecord.read(store, bad)
    dataclasses.replace(record, status="failed").write(store)
    from tasuki.core import records

    records._OUTPUTS.clear()  # as in another worker process, which ran neither leaf
    result = run_one(root.unique_id, store=store, settings=_settings(ws), vouched={bad})
    assert result.status == "failed"
    assert "last run failed" in result.error.message


def test_a_definition_from_other_code_is_refused_with_the_fingerprints(ws, store):
    task = TaskB(param="y")
    _plan(store, task)
    d = read_definition(store, task.unique_id)
    a_name = "tests.unit.core.tasks_for_tests:TaskA"
    here = d.classes[a_name]
    other = dataclasses.replace(d, classes={**d.classes, a_name: "0123456789abcdef"})
    store.write_bytes(definition_key(task.unique_id), other.to_bytes())
    run_one(TaskA(param="y").unique_id, store=store, settings=_settings(ws))
    with pytest.raises(TaskError) as info:
        run_one(task.unique_id, store=store, settings=_settings(ws))
    message = str(info.value)
    assert f"{a_name}: definition 0123456789abcdef, code here {here}" in message
    assert "tests.unit.core.tasks_for_tests:TaskB:" not in message  # only what changed
    assert info.value.changed == [a_name]
    assert not store.exists(f".tasuki/records/{task.unique_id}.json")


def test_a_definition_whose_parameters_give_another_id_is_refused(ws, store):
    task = TaskA(param="z")
    _plan(store, task)
    d = read_definition(store, task.unique_id)
    store.write_bytes(
        definition_key(task.unique_id),
        dataclasses.replace(d, params={"param": "other"}).to_bytes(),
    )
    with pytest.raises(TaskError, match="got id"):
        run_one(task.unique_id, store=store, settings=_settings(ws))


def test_no_definition_names_where_it_looked(ws, store):
    with pytest.raises(RecordNotFoundError) as info:
        run_one("f" * 64, store=store, settings=_settings(ws))
    assert store.full_path(definition_key("f" * 64)) in str(info.value)
    store.write_bytes(definition_key("e" * 64), b'{"schema": "something else"}')
    with pytest.raises(RecordNotFoundError, match="unreadable"):
        run_one("e" * 64, store=store, settings=_settings(ws))


def test_definition_json_is_small_and_parses_back(store):
    _plan(store, TaskB(param="q"))
    raw = store.read_bytes(definition_key(TaskB(param="q").unique_id))
    assert len(raw) < 1000
    assert Definition.from_bytes(raw) == read_definition(store, TaskB(param="q").unique_id)
    assert json.loads(raw)["schema"] == "tasuki-definition/1"


def test_cli_run_one(ws, store, monkeypatch):
    monkeypatch.setenv("TASUKI_WORKSPACE", ws)
    monkeypatch.setenv("TASUKI_PROGRESS", "off")
    runner = CliRunner()
    task = TaskB(param="cli")
    _plan(store, task)
    out = runner.invoke(app, ["run-one", task.unique_id])
    assert out.exit_code == 2
    assert "not complete" in out.output and TaskA(param="cli").unique_id in out.output
    out = runner.invoke(app, ["run-one", TaskA(param="cli").unique_id, "--build-id", "wf-123"])
    assert out.exit_code == 0, out.output
    assert f"{TaskA(param='cli').unique_id} ran" in out.output
    assert RunRecord.read(store, TaskA(param="cli").unique_id).build_id == "wf-123"
    out = runner.invoke(app, ["run-one", task.unique_id])
    assert out.exit_code == 0, out.output
    assert tasuki.load(task, workspace=ws) == "hello cli!!"
    out = runner.invoke(app, ["run-one", "0" * 64])
    assert out.exit_code == 2
    assert "no task definition" in out.output


def test_a_task_parameter_without_definition_is_rebuilt_from_its_record(ws, store):
    task = TaskB(param="r", upstream=TaskA(param="r2"))
    _plan(store, task)
    run_one(TaskA(param="r2").unique_id, store=store, settings=_settings(ws))
    store.remove(definition_key(TaskA(param="r2").unique_id))
    assert run_one(task.unique_id, store=store, settings=_settings(ws)).status == "ran"
    assert tasuki.load(task, workspace=ws) == "hello r2!!"


def test_cli_run_one_exit_codes_for_failures(ws, store, monkeypatch, tmp_path):
    from tests.unit.core.tasks_for_tests import Boom

    monkeypatch.setenv("TASUKI_WORKSPACE", ws)
    runner = CliRunner()
    flaky = Boom(marker=str(tmp_path / "m"), fail_times=5)  # ConnectionError: retryable
    broken = Boom()  # ValueError
    _plan(store, flaky, broken)
    out = runner.invoke(app, ["run-one", flaky.unique_id])
    assert out.exit_code == 75, out.output
    assert "ConnectionError" in out.output
    out = runner.invoke(app, ["run-one", broken.unique_id])
    assert out.exit_code == 1, out.output
    assert "boom on purpose" in out.output


REQUIRES_CALLS: list[int] = []


class Chained(tasuki.Task):
    n: int

    def requires(self):
        REQUIRES_CALLS.append(self.n)
        return Chained(n=self.n - 1) if self.n > 0 else None

    def run(self):
        self.dump(self.n)


def test_run_one_takes_upstream_ids_from_the_definition_not_a_walk(ws, store):
    _plan(store, Chained(n=60))
    for n in range(61):
        run_one(Chained(n=n).unique_id, store=store, settings=_settings(ws))
    top = Chained(n=60).unique_id
    REQUIRES_CALLS.clear()
    run_one(top, store=store, settings=_settings(ws), forced=True)
    # The task's own requires() once (and its upstream's ids seeded): not 60 levels deep.
    assert len(REQUIRES_CALLS) <= 2, REQUIRES_CALLS


def test_cli_run_one_rerun_runs_a_complete_task_again(ws, store, monkeypatch):
    monkeypatch.setenv("TASUKI_WORKSPACE", ws)
    runner = CliRunner()
    task = TaskA(param="again")
    _plan(store, task)
    assert "ran" in runner.invoke(app, ["run-one", task.unique_id]).output
    assert f"{task.unique_id} cached" in runner.invoke(app, ["run-one", task.unique_id]).output
    out = runner.invoke(app, ["run-one", task.unique_id, "--rerun"])
    assert out.exit_code == 0 and f"{task.unique_id} ran" in out.output


def test_a_bundle_holds_an_exports_definitions_in_one_file(ws, store):
    from tasuki.core.definitions import BUNDLES_PREFIX, write_bundle

    task = TaskB(param="bundled")
    graph = build_graph([task])
    name = write_bundle(store, graph, list(graph.order), code_keys(graph))
    assert list(store.list(DEFINITIONS_PREFIX)) == [f"{BUNDLES_PREFIX}/{name}.json"]
    # The same plan gives the same bundle (its name is its content's hash).
    assert write_bundle(store, graph, list(graph.order), code_keys(graph)) == name
    for t in (TaskA(param="bundled"), task):
        result = run_one(t.unique_id, store=store, settings=_settings(ws), bundle=name)
        assert result.status == "ran", result
    assert tasuki.load(task, workspace=ws) == "hello bundled!!"
    # Without --bundle, found in the workspace's bundles; an id no bundle holds is refused,
    # naming where it looked.
    assert run_one(task.unique_id, store=store, settings=_settings(ws), forced=True).status == "ran"
    with pytest.raises(RecordNotFoundError, match="no task definition"):
        run_one(TaskA(param="nowhere").unique_id, store=store, settings=_settings(ws))
    with pytest.raises(RecordNotFoundError, match="no task definitions bundle 'nope'"):
        run_one(task.unique_id, store=store, settings=_settings(ws), bundle="nope")
