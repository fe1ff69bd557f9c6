"""The executor seam: the registry (built-ins, entry points, runtime registration) and a
third-party executor that must give the same outputs and records as the local one."""

from __future__ import annotations

import importlib.metadata
import logging

import pytest

import tasuki
from tasuki.core import executors as executors_module
from tasuki.core.executors import (
    Executor,
    InlineExecutor,
    LocalExecutor,
    get_executor,
    register_executor,
)
from tasuki.core.records import RunRecord
from tasuki.errors import ConfigError
from tasuki.storage import open_store
from tests.unit.core.tasks_for_tests import FanIn, Leaf, TaskA, TaskB

GROUP = "tasuki.executors"


@pytest.fixture
def registry(monkeypatch):
    """The executor registry with no runtime registrations and entry points read afresh."""
    reg = executors_module.executors
    monkeypatch.setattr(reg, "_registered", {})
    monkeypatch.setattr(reg, "_entry_points", None)
    return reg


def _entry_points(monkeypatch, **named: str) -> None:
    fakes = [importlib.metadata.EntryPoint(n, v, GROUP) for n, v in named.items()]
    real = importlib.metadata.entry_points

    def entry_points(**select):
        return fakes if select == {"group": GROUP} else real(**select)

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)


class ReversedExecutor:
    """Takes every ready task at once and runs them last-first (a valid order: all of them
    are ready), counting what it ran; a stand-in for a third party's executor."""

    instances: list[ReversedExecutor] = []

    def __init__(self) -> None:
        self.ran: list[str] = []
        ReversedExecutor.instances.append(self)

    def run(self, schedule) -> None:
        while items := schedule.take(10_000):
            for item in reversed(items):
                result = schedule.run(item, on_start=schedule.started)
                self.ran.append(item.uid)
                schedule.finish(result)


def test_built_ins_by_name(registry):
    assert isinstance(get_executor("inline"), InlineExecutor)
    assert isinstance(get_executor("local"), LocalExecutor)
    assert {"inline", "local"} <= set(registry.known)
    mine = InlineExecutor()
    assert get_executor(mine) is mine
    assert isinstance(mine, Executor) and isinstance(ReversedExecutor(), Executor)


def test_an_unknown_name_lists_the_known_ones_and_how_to_add_one(registry, monkeypatch, tmp_path):
    _entry_points(monkeypatch)
    with pytest.raises(ConfigError) as info:
        tasuki.build(TaskA(param="x"), workspace=str(tmp_path / "ws"), executor="inlin")
    message = str(info.value)
    assert "unknown executor 'inlin'" in message
    assert "Known: dask, inline, local." in message
    assert "Did you mean 'inline'?" in message
    assert GROUP in message and "[project.entry-points" in message
    assert info.value.known == ["dask", "inline", "local"]
    assert not (tmp_path / "ws").exists()  # refused before the workspace is touched


def test_an_entry_point_adds_an_executor(registry, monkeypatch, tmp_path):
    _entry_points(monkeypatch, reversed=f"{__name__}:ReversedExecutor")
    ReversedExecutor.instances.clear()
    assert tasuki.build(TaskB(param="ep"), workspace=str(tmp_path), executor="reversed") == (
        "hello ep!!"
    )
    (used,) = ReversedExecutor.instances
    assert used.ran == [TaskA(param="ep").unique_id, TaskB(param="ep").unique_id]
    assert registry.known["reversed"] == f"{__name__}:ReversedExecutor"


def test_the_executor_setting_picks_it_too(registry, monkeypatch, tmp_path):
    _entry_points(monkeypatch, reversed=f"{__name__}:ReversedExecutor")
    monkeypatch.setenv("TASUKI_EXECUTOR", "reversed")
    ReversedExecutor.instances.clear()
    tasuki.build(TaskA(param="setting"), workspace=str(tmp_path))
    assert len(ReversedExecutor.instances) == 1
    # An explicit argument wins over the setting.
    tasuki.build(TaskA(param="arg"), workspace=str(tmp_path), executor="inline")
    assert len(ReversedExecutor.instances) == 1


def test_an_entry_point_cannot_replace_a_built_in(registry, monkeypatch, caplog):
    _entry_points(monkeypatch, local=f"{__name__}:ReversedExecutor")
    with caplog.at_level(logging.WARNING, logger="tasuki._registry"):
        assert registry.known["local"] == "tasuki.core.executors.local:LocalExecutor"
    assert isinstance(get_executor("local"), LocalExecutor)
    assert "'local' is a built-in executor" in caplog.text
    assert "clobber=True" in caplog.text


def test_runtime_registration_replaces_only_with_clobber(registry, monkeypatch):
    _entry_points(monkeypatch, theirs=f"{__name__}:ReversedExecutor")
    with pytest.raises(ConfigError, match="already registered; pass clobber=True"):
        register_executor("local", ReversedExecutor)
    with pytest.raises(ConfigError, match="already registered"):
        register_executor("theirs", InlineExecutor)
    register_executor("mine", ReversedExecutor)
    with pytest.raises(ConfigError, match="already registered"):
        register_executor("mine", InlineExecutor)
    assert isinstance(get_executor("mine"), ReversedExecutor)
    register_executor("local", InlineExecutor, clobber=True)
    assert isinstance(get_executor("local"), InlineExecutor)


def test_a_name_that_makes_no_executor_is_refused(registry, monkeypatch):
    _entry_points(monkeypatch, broken="tasuki.core.executors:get_executor", gone="nope.mod:X")
    with pytest.raises(ConfigError, match="cannot be loaded"):
        get_executor("gone")
    register_executor("number", int)
    with pytest.raises(ConfigError, match="has no run"):
        get_executor("number")


def _records(ws: str, roots: list[tasuki.Task]) -> dict[str, tuple[object, ...]]:
    store = open_store(ws)
    graph = tasuki.build_graph(roots)
    out = {}
    for uid in graph.nodes:
        r = RunRecord.read(store, uid)
        outputs = [(o["key"], o.get("size"), o.get("xxh3")) for o in r.outputs]
        out[uid] = (r.task, r.status, r.params, r.requires, outputs, r.code_key)
    return out


def test_a_third_party_executor_gives_what_local_gives(registry, tmp_path):
    roots = [FanIn(n=5), TaskB(param="third")]
    local_ws, theirs_ws = str(tmp_path / "local"), str(tmp_path / "theirs")
    expected = tasuki.build(roots, workspace=local_ws, workers=2, progress="off")
    ReversedExecutor.instances.clear()
    theirs = ReversedExecutor()
    result = tasuki.run_build(roots, workspace=theirs_ws, executor=theirs, progress="off")
    assert result.ok
    assert [tasuki.load(r, workspace=theirs_ws) for r in roots] == expected
    assert _records(theirs_ws, roots) == _records(local_ws, roots)
    # Every task ran once, each after its requirements, and the first wave backwards.
    graph = tasuki.build_graph(roots)
    assert sorted(theirs.ran) == sorted(graph.nodes)
    position = {uid: i for i, uid in enumerate(theirs.ran)}
    for uid, node in graph.nodes.items():
        assert all(position[d] < position[uid] for d in node.deps)
    leaves = [Leaf(i=i).unique_id for i in range(5)]
    assert [u for u in theirs.ran if u in leaves] == leaves[::-1]
    assert len(result.by_status("ran")) == len(graph)


def test_the_runner_keeps_no_state_on_task_values(tmp_path):
    root = TaskB(param="clean")
    tasuki.build(root, workspace=str(tmp_path), executor="inline")
    upstream = tasuki.build_graph([root]).nodes[TaskA(param="clean").unique_id].task
    for task in (root, upstream):
        # The parameters, and the unique id (pure identity of a frozen value) cached.
        assert set(task.__dict__) == set(task.param_values) | {"_tasuki_uid"}


OUTPUT_CALLS: list[int] = []


class CountedOutput(tasuki.Task):
    i: int

    def output(self):
        OUTPUT_CALLS.append(self.i)
        return self.make_target("counted.pkl")

    def run(self):
        self.dump(self.i)


class SumsCounted(tasuki.Task):
    n: int

    def requires(self):
        return [CountedOutput(i=i) for i in range(self.n)]

    def run(self):
        self.dump(sum(self.load()))


def test_output_is_asked_once_per_node_and_build(tmp_path):
    """The cache check, the run and every load() downstream share the node's outputs."""
    OUTPUT_CALLS.clear()
    assert tasuki.build(SumsCounted(n=4), workspace=str(tmp_path), executor="inline") == 6
    assert sorted(OUTPUT_CALLS) == [0, 1, 2, 3]
