"""The runner end to end on a local workspace: caching, failures, retries, records."""

from __future__ import annotations

from pathlib import Path

import pytest

import tasuki
from tasuki.core.records import RunRecord
from tasuki.errors import (
    DependencyCycleError,
    MissingOutputError,
    TaskFailedError,
    UnknownFormatError,
)
from tasuki.storage import open_store
from tests._records import raw_record

from .tasks_for_tests import (
    Boom,
    CycleA,
    FanIn,
    Leaf,
    ModelTask,
    Multi,
    NoDump,
    Sibling,
    Step,
    TaskA,
    TaskB,
    Top,
    UsesMulti,
)


@pytest.fixture
def ws(tmp_path):
    return str(tmp_path / "ws")


def test_issue_example_and_cache_hit(ws):
    assert tasuki.build(TaskB(param="world"), workspace=ws) == "hello world!!"
    result = tasuki.build(TaskB(param="world"), workspace=ws, return_value=False)
    assert result.counts()["ran"] == 0
    assert result.counts()["cached"] == 1
    assert result.ok


def test_output_path_layout(ws):
    task = TaskA(param="x")
    tasuki.build(task, workspace=ws)
    expected = Path(ws) / "tests/unit/core/tasks_for_tests" / f"task_a_{task.unique_id}.pkl"
    assert expected.is_file()


def test_task_as_parameter_swaps_upstream(ws):
    value = tasuki.build(TaskB(param="ignored", upstream=TaskA(param="earth")), workspace=ws)
    assert value == "hello earth!!"


def test_record_contents(ws):
    task = Multi()
    tasuki.build(task, workspace=ws)
    record = RunRecord.read(open_store(ws), task.unique_id)
    assert record.task == "tests.unit.core.tasks_for_tests:Multi"
    assert record.status == "done"
    assert record.task_log == {"note": "two outputs"}
    assert {o["key"].rsplit("/", 1)[-1][:2] for o in record.outputs} == {"a_", "b_"}
    assert all(o["size"] > 0 and len(o["xxh3"]) == 16 for o in record.outputs)
    assert record.environment["python"]
    assert record.duration_s >= 0


def test_dict_requires_and_outputs(ws):
    assert tasuki.build(UsesMulti(), workspace=ws) == (1, "text", "hello z")


def test_failure_keeps_other_branches_going(ws):
    result = tasuki.run_build(Top(), workspace=ws)
    statuses = {r.name.rsplit(":", 1)[1]: r.status for r in result.results.values()}
    assert statuses == {
        "Boom": "failed",
        "NeedsBoom": "upstream_failed",
        "Sibling": "ran",
        "Top": "upstream_failed",
    }
    assert not result.ok
    assert "boom on purpose" in result.summary()
    assert "Resume with:" in result.summary()


def _statuses(result):
    return {r.name.rsplit(":", 1)[1]: (r.status, r.note) for r in result.results.values()}


@pytest.mark.parametrize("fail_fast", [True, False])
def test_fail_fast_stops_scheduling(ws, fail_fast):
    # Inline, the order is fixed: Boom is first and Sibling (independent of it) is still queued
    # when Boom fails, so Sibling runs only if the build keeps going.
    graph = tasuki.build_graph([Top()])
    names = [type(graph.nodes[u].task).__name__ for u in graph.order]
    assert names.index("Boom") < names.index("Sibling")
    result = tasuki.run_build(Top(), workspace=ws, fail_fast=fail_fast)
    statuses = _statuses(result)
    assert statuses["Boom"][0] == "failed"
    assert statuses["NeedsBoom"][0] == statuses["Top"][0] == "upstream_failed"
    if fail_fast:
        assert statuses["Sibling"] == ("upstream_failed", "fail_fast")
        assert not open_store(ws).exists(Sibling().output().key)
    else:
        assert statuses["Sibling"] == ("ran", "")
    assert result.counts()["failed"] == 1


class WaitFor(tasuki.Task):
    """Finishes once a file exists (or after 30 s), so a test can order events across workers."""

    path: str
    i: int
    prev: tasuki.Task | None = None

    def requires(self):
        return self.prev

    def run(self):
        import time

        deadline = time.monotonic() + 30
        while not Path(self.path).exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        self.dump(self.i)


class BoomAndChain(tasuki.Task):
    chain: tasuki.Task

    def requires(self):
        return [Boom(), self.chain]


@pytest.mark.parametrize("fail_fast", [True, False])
def test_fail_fast_with_workers_starts_nothing_new(ws, tmp_path, fail_fast):
    # Boom and the chain's first link start together on the two workers; the first link waits
    # until the parent has taken Boom's failure (a hook writes the file), so with fail_fast the
    # next links must never start, and without it they all run.
    signal = tmp_path / "boom-seen"

    class Signal:
        def on_task_end(self, result):
            if result.status == "failed":
                signal.write_text("seen")

    chain = None
    for i in range(3):
        chain = WaitFor(path=str(signal), i=i, prev=chain)
    result = tasuki.run_build(
        BoomAndChain(chain=chain), workspace=ws, workers=2, fail_fast=fail_fast, hooks=[Signal()]
    )
    links = {r.uid: r.status for r in result.results.values() if r.name.endswith(":WaitFor")}
    assert len(links) == 3
    assert result.counts()["failed"] == 1
    last_two = [chain.unique_id, chain.prev.unique_id]
    if fail_fast:
        assert {links[u] for u in last_two} == {"upstream_failed"}
        store = open_store(ws)
        assert not any(store.exists(t.output().key) for t in (chain, chain.prev))
    else:
        assert set(links.values()) == {"ran"}


def test_build_raises_with_the_cause(ws):
    with pytest.raises(TaskFailedError, match="ValueError: boom on purpose") as info:
        tasuki.build(Boom(), workspace=ws)
    assert info.value.cause_type == "ValueError"


def test_retryable_errors_are_retried(ws, tmp_path):
    marker = tmp_path / "count"
    assert (
        tasuki.build(
            Boom(marker=str(marker), fail_times=2), workspace=ws, retries=2, retry_backoff=0
        )
        == "finally"
    )
    assert marker.read_text() == "3"


def test_retries_exhausted(ws, tmp_path):
    marker = tmp_path / "count"
    with pytest.raises(TaskFailedError, match="flaky attempt 2"):
        tasuki.build(
            Boom(marker=str(marker), fail_times=5), workspace=ws, retries=1, retry_backoff=0
        )


def test_missing_output_is_an_error_and_not_complete(ws):
    result = tasuki.run_build(NoDump(), workspace=ws)
    err = result.by_status("failed")[0].error
    assert err.type == "MissingOutputError"
    assert "without writing its output" in err.message
    assert "self.dump" in err.message
    assert MissingOutputError.__name__ == err.type


def test_cycle_error(ws):
    with pytest.raises(DependencyCycleError):
        tasuki.build(CycleA(), workspace=ws)


def test_unknown_extension_names_task_and_known_ones(ws):
    class BadExt(tasuki.Task):
        def output(self):
            return self.make_target("x.pkll")

    with pytest.raises(UnknownFormatError, match=r"BadExt.*\.pkl"):
        tasuki.build(BadExt(), workspace=ws)


def test_rerun_forces_task_and_dependents(ws):
    tasuki.build(TaskB(param="r"), workspace=ws)
    result = tasuki.build(TaskB(param="r"), workspace=ws, rerun=["TaskA"], return_value=False)
    assert result.counts()["ran"] == 2
    result = tasuki.build(TaskB(param="r"), workspace=ws, rerun=True, return_value=False)
    assert result.counts()["ran"] == 2


def test_root_deleted_checks_upstreams_only_once(ws):
    tasuki.build(FanIn(n=20), workspace=ws)
    root = FanIn(n=20)
    store = open_store(ws)
    store.remove(root.output().key)
    result = tasuki.build(root, workspace=ws, return_value=False)
    assert result.counts() == {"ran": 1, "cached": 20}


def test_deleted_output_with_record_is_incomplete(ws):
    task = TaskA(param="gone")
    tasuki.build(task, workspace=ws)
    Path(open_store(ws).full_path(task.output().key)).unlink()
    result = tasuki.build(task, workspace=ws, return_value=False)
    assert result.counts()["ran"] == 1


def test_workers_two_gives_same_results(ws):
    value = tasuki.build(FanIn(n=50), workspace=ws, workers=2)
    assert value == sum(range(50))
    result = tasuki.build(FanIn(n=50), workspace=ws, workers=2, return_value=False)
    assert result.counts() == {"cached": 1, "not_needed": 50}


def test_workers_with_failures(ws):
    result = tasuki.run_build(Top(), workspace=ws, workers=2)
    assert result.counts()["failed"] == 1
    assert result.counts()["ran"] == 1


def test_long_chain_runs_without_recursion(ws):
    task = None
    for i in range(2000):
        task = Step(i=i, prev=task)
    assert tasuki.build(task, workspace=ws) == sum(range(2000))


def test_model_target_round_trip(ws):
    assert tasuki.build(ModelTask(), workspace=ws) == {"weights": [1, 2, 3], "name": "m"}


def test_load_output_by_id_and_prefix(ws):
    task = TaskB(param="nb")
    tasuki.build(task, workspace=ws)
    assert tasuki.load_output(task.unique_id, workspace=ws) == "hello nb!!"
    assert tasuki.load_output(task.unique_id[:10], workspace=ws) == "hello nb!!"
    assert tasuki.load(TaskA(param="nb"), workspace=ws) == "hello nb"


def test_load_and_load_output_given_each_others_argument_say_which_to_call(ws):
    """``load_output(task)`` and ``load("3d5b...")`` failed with AttributeError ('TaskB'
    object has no attribute 'strip'; 'str' object has no attribute 'unique_id')."""
    task = TaskB(param="nb")
    tasuki.build(task, workspace=ws)
    with pytest.raises(TypeError, match=r"takes a unique id .*not TaskB.*use tasuki\.load\(task\)"):
        tasuki.load_output(task, workspace=ws)  # type: ignore[arg-type]
    uid = task.unique_id
    with pytest.raises(TypeError, match=rf"not str '{uid[:40]}.*tasuki\.load_output\('{uid}'\)"):
        tasuki.load(uid, workspace=ws)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not type"):
        tasuki.load(TaskB, workspace=ws)  # type: ignore[arg-type]


def test_hooks_see_every_event(ws):
    events = []

    class Recorder:
        def on_build_start(self, graph):
            events.append(("start", len(graph)))

        def on_task_end(self, result):
            events.append(("task", result.status))

        def on_build_end(self, result):
            events.append(("end", result.ok))

    tasuki.build(TaskB(param="h"), workspace=ws, hooks=[Recorder()])
    assert events == [("start", 2), ("task", "ran"), ("task", "ran"), ("end", True)]


def test_a_failing_hook_does_not_fail_the_build(ws, caplog):
    class Broken:
        def on_build_end(self, result):
            raise RuntimeError("hook bug")

    assert tasuki.build(TaskA(param="hk"), workspace=ws, hooks=[Broken()]) == "hello hk"
    assert "hook bug" in caplog.text


def test_dump_outside_a_run_is_explained():
    with pytest.raises(tasuki.TasukiError, match="outside a run"):
        TaskA(param="x").dump("nope")


def test_summary_lists_families(ws):
    result = tasuki.build(FanIn(n=3), workspace=ws, return_value=False)
    text = result.summary()
    assert "Scheduled 4 tasks" in text
    assert "Leaf x3" in text
    assert "This progress looks :)" in text


def test_fail_on_empty_dump(ws):
    class Empty(tasuki.Task):
        fail_on_empty_dump = True

        def run(self):
            self.dump([])

    result = tasuki.run_build(Empty(), workspace=ws)
    assert result.by_status("failed")[0].error.type == "EmptyOutputError"


def test_record_is_json(ws):
    task = Leaf(i=5)
    tasuki.build(task, workspace=ws)
    raw = raw_record(open_store(ws), task.unique_id)
    assert raw["params"] == {"i": 5}


def test_memory_workspace_runs_inline_even_with_workers():
    assert tasuki.build(FanIn(n=4), workspace="memory://tasuki-test-mem", workers=2) == 6


class Frame(tasuki.Task):
    cols: list[str] = tasuki.param(default=["a", "b"])

    def output(self):
        return self.make_target("frame.parquet")

    def run(self):
        import pandas as pd

        self.dump(pd.DataFrame({c: [1, 2] for c in self.cols}))


class UsesFrame(tasuki.Task):
    need: list[str] = tasuki.param(default=["a"])

    def requires(self):
        return Frame()

    def output(self):
        return self.make_target("used.pkl")

    def run(self):
        self.dump(list(self.load_data_frame(required_columns=self.need, drop_columns=True).columns))


def test_load_data_frame_required_columns(ws):
    assert tasuki.build(UsesFrame(), workspace=ws) == ["a"]
    result = tasuki.run_build(UsesFrame(need=["a", "zz"]), workspace=ws)
    err = result.by_status("failed")[0].error
    assert err.type == "MissingColumnsError"
    assert "zz" in err.message and "UsesFrame" in err.message


def test_code_change_policies(ws, caplog, monkeypatch):
    from tasuki.core import code

    tasuki.build(TaskA(param="code"), workspace=ws)
    changed = code.CodeFingerprint("0" * 16, "changed", ())
    walk = code._Collector.fingerprint  # each build walks the code again: change what it finds
    monkeypatch.setattr(
        code._Collector, "fingerprint", lambda self: changed if self.cls is TaskA else walk(self)
    )
    warned = tasuki.build(
        TaskA(param="code"), workspace=ws, on_code_change="warn", return_value=False
    )
    assert warned.counts()["cached"] == 1
    assert "the code of TaskA changed" in caplog.text
    ignored = tasuki.build(
        TaskA(param="code"), workspace=ws, on_code_change="ignore", return_value=False
    )
    assert ignored.counts()["cached"] == 1
    rerun = tasuki.build(TaskA(param="code"), workspace=ws, return_value=False)  # the default
    assert rerun.counts()["ran"] == 1
    assert (
        tasuki.build(TaskA(param="code"), workspace=ws, return_value=False).counts()["cached"] == 1
    )


def test_plain_progress_lines(ws, capsys):
    tasuki.build(FanIn(n=3), workspace=ws, progress="plain")
    err = capsys.readouterr().err
    assert "tasuki: done 4 | cached 0 | running 0 | failed 0 | 4/4" in err


def test_unreachable_workspace(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(tasuki.errors.WorkspaceUnreachableError, match=str(blocker)):
        tasuki.build(TaskA(param="x"), workspace=str(blocker / "ws"))


def test_testing_helpers_used_on_a_pipeline(tmp_path):
    from tasuki.testing import check_data_frame, run_task

    run = run_task(UsesFrame(), workspace=tmp_path / "w")
    assert run.value == ["a"]
    assert run.ran("Frame") and run.ran("UsesFrame")
    check_data_frame(run.load(Frame()), columns=["a", "b"], dtypes={"a": "int64"}, rows=2)
    with pytest.raises(AssertionError, match="expected 3"):
        check_data_frame(run.load(Frame()), rows=3)
    with pytest.raises(AssertionError, match="boom on purpose"):
        run_task(Boom(), workspace=tmp_path / "w")


class Part(tasuki.Task):
    i: int

    def output(self):
        return self.make_target("part.parquet")

    def run(self):
        import pandas as pd

        self.dump(pd.DataFrame({"a": [self.i], "b": [self.i * 10]}))


class Parts(tasuki.Task):
    def requires(self):
        return [Part(i=0), Part(i=1)]

    def run(self):
        self.dump(self.load_data_frame(required_columns=["b"], drop_columns=True))


def test_load_data_frame_concatenates_list_requirements(ws):
    frame = tasuki.build(Parts(), workspace=ws)
    assert list(frame.columns) == ["b"] and frame["b"].tolist() == [0, 10]


@pytest.mark.parametrize(
    ("argv", "executable", "want"),
    [
        (
            ["/v/bin/tasuki", "run", "m:T", "--param", "a b"],
            "/v/bin/python",
            "tasuki run m:T --param 'a b'",
        ),
        # `python -m tasuki` (a Makefile's `$(PYTHON) -m tasuki run`): it said tasuki.build(...)
        (
            ["/v/lib/python3.11/site-packages/tasuki/__main__.py", "run", "m:T"],
            "/p/.venv/bin/python",
            "/p/.venv/bin/python -m tasuki run m:T",
        ),
    ],
)
def test_a_build_from_the_command_line_resumes_with_that_command(
    monkeypatch, argv, executable, want
):
    from tasuki.core.results import resume_command

    monkeypatch.setattr("sys.argv", argv)
    monkeypatch.setattr("sys.executable", executable)
    assert resume_command([], "ws") == want
