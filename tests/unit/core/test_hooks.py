"""Hook events: keyword-only, with the build id and the store, for every task state."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

import tasuki
from tasuki.core.hooks import EVENTS, HookCaller
from tasuki.core.records import RunRecord
from tasuki.core.results import new_build_id


class Base(tasuki.Task):
    def output(self):
        return self.make_target("base.pkl")

    def run(self):
        self.dump(1)


class Mid(tasuki.Task):
    def requires(self):
        return Base()

    def output(self):
        return self.make_target("mid.pkl")

    def run(self):
        self.dump(self.load() + 1)


class Fresh(tasuki.Task):
    i: int

    def output(self):
        return self.make_target("fresh.pkl")

    def run(self):
        self.dump(self.i)


class Bad(tasuki.Task):
    def output(self):
        return self.make_target("bad.pkl")

    def run(self):
        raise ValueError("bad on purpose")


class AfterBad(tasuki.Task):
    def requires(self):
        return Bad()

    def output(self):
        return self.make_target("after.pkl")

    def run(self):
        self.dump(0)


class Root(tasuki.Task):
    def requires(self):
        return [Mid(), Fresh(i=0), Fresh(i=1), AfterBad()]

    def output(self):
        return self.make_target("root.pkl")

    def run(self):
        self.dump("never")


class Recorder:
    """Keeps every event with all its arguments (takes **kwargs: new arguments reach it)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def on_build_start(self, **kw: Any) -> None:
        self.events.append(("on_build_start", kw))

    def on_task_start(self, **kw: Any) -> None:
        self.events.append(("on_task_start", kw))

    def on_task_end(self, **kw: Any) -> None:
        self.events.append(("on_task_end", kw))

    def on_build_end(self, **kw: Any) -> None:
        self.events.append(("on_build_end", kw))

    def of(self, event: str) -> list[dict[str, Any]]:
        return [kw for name, kw in self.events if name == event]

    def ends(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for kw in self.of("on_task_end"):
            out.setdefault(kw["uid"], []).append(kw["result"].status)
        return out


@pytest.fixture
def ws(tmp_path: Path) -> str:
    return str(tmp_path / "ws")


def _build(ws: str, hooks: list[Any], executor: str = "inline", **kw: Any) -> tasuki.BuildResult:
    return tasuki.run_build(
        Root(), workspace=ws, hooks=hooks, progress="off", executor=executor, workers=2, **kw
    )


@pytest.mark.parametrize("executor", ["inline", "local"])
def test_every_event_has_the_build_id_and_the_store(ws, executor):
    hook = Recorder()
    result = _build(ws, [hook], executor)
    assert re.fullmatch(r"\d{8}T\d{9}Z-[0-9a-f]{8}", result.build_id)
    names = [name for name, _ in hook.events]
    assert names[0] == "on_build_start" and names[-1] == "on_build_end"
    for name, kw in hook.events:
        assert set(kw) == EVENTS[name][0], name  # exactly the documented arguments
        assert kw["build_id"] == result.build_id
        assert kw["store"].url == result.workspace
    (start,) = hook.of("on_build_start")
    assert len(start["graph"]) == 7 and start["settings"].executor == "local"
    (end,) = hook.of("on_build_end")
    assert end["result"] is result


@pytest.mark.parametrize("executor", ["inline", "local"])
def test_each_task_ends_once_with_its_state_and_record(ws, executor):
    tasuki.run_build(Mid(), workspace=ws, progress="off")  # Mid and Base are cached now
    hook = Recorder()
    result = _build(ws, [hook], executor)
    ends = hook.ends()
    uid = {
        "mid": Mid().unique_id,
        "base": Base().unique_id,
        "bad": Bad().unique_id,
        "after": AfterBad().unique_id,
        "root": Root().unique_id,
    }
    assert ends == {
        uid["mid"]: ["cached"],
        uid["base"]: ["not_needed"],
        Fresh(i=0).unique_id: ["ran"],
        Fresh(i=1).unique_id: ["ran"],
        uid["bad"]: ["failed"],
        uid["after"]: ["upstream_failed"],
        uid["root"]: ["upstream_failed"],
    }
    by_uid = {kw["uid"]: kw for kw in hook.of("on_task_end")}
    # The plan's verdicts come first, before any task starts.
    first_start = next(i for i, (n, _) in enumerate(hook.events) if n == "on_task_start")
    cached_at = next(i for i, (n, kw) in enumerate(hook.events) if kw.get("uid") == uid["mid"])
    assert cached_at < first_start
    cached = by_uid[uid["mid"]]
    assert cached["record"].done and cached["record"].unique_id == uid["mid"]
    assert cached["resume_command"] is None and cached["task"] == Mid()
    assert by_uid[uid["base"]]["record"] is None  # never checked: no record read
    ran = by_uid[Fresh(i=0).unique_id]
    assert ran["record"].done and ran["record"].build_id == result.build_id
    assert ran["resume_command"] is None
    failed = by_uid[uid["bad"]]
    assert failed["result"].error.type == "ValueError"
    assert failed["result"].error.message == "bad on purpose"
    assert isinstance(failed["result"].log_tail, list)
    assert failed["record"].status == "failed" and failed["record"].build_id == result.build_id
    assert failed["record"].error["message"] == "bad on purpose"
    assert failed["resume_command"] == result.resume_command()
    assert by_uid[uid["after"]]["resume_command"] == result.resume_command()
    assert by_uid[uid["after"]]["record"] is None


@pytest.mark.parametrize("executor", ["inline", "local"])
def test_task_start_fires_once_per_task_with_its_reason(ws, executor):
    hook = Recorder()
    _build(ws, [hook], executor)
    starts = hook.of("on_task_start")
    started = sorted(kw["uid"] for kw in starts)
    expected = sorted(t.unique_id for t in (Base(), Mid(), Fresh(i=0), Fresh(i=1), Bad()))
    assert started == expected
    for kw in starts:
        assert kw["task"].unique_id == kw["uid"]
        assert kw["reason"] == "it has no run record in this workspace"
    # Each task's start comes before its end.
    order = [(n, kw.get("uid")) for n, kw in hook.events]
    for kw in starts:
        assert order.index(("on_task_start", kw["uid"])) < order.index(("on_task_end", kw["uid"]))


def test_fail_fast_stops_with_an_end_event_for_every_task(ws):
    hook = Recorder()
    result = _build(ws, [hook], fail_fast=True)
    ends = hook.ends()
    assert set(ends) == set(result.results)
    assert all(len(v) == 1 for v in ends.values()), ends
    assert {u: v[0] for u, v in ends.items()} == {u: r.status for u, r in result.results.items()}


def test_a_hook_gets_only_the_arguments_it_names(ws):
    seen: list[tuple[str, str]] = []

    class Narrow:
        def on_task_end(self, *, uid, result):
            seen.append((uid, result.status))

        def on_task_start(self, task):  # the old form, by the event's own name: no warning
            seen.append((task.unique_id, "start"))

    tasuki.run_build(Fresh(i=5), workspace=ws, hooks=[Narrow()], progress="off")
    uid = Fresh(i=5).unique_id
    assert seen == [(uid, "start"), (uid, "ran")]


def test_an_old_positional_hook_still_works_with_a_deprecation_warning(ws):
    seen: list[Any] = []

    class Old:
        def on_build_start(self, g):
            seen.append(("start", len(g)))

        def on_task_end(self, r):
            seen.append(("end", r.status))

        def on_build_end(self, br):
            seen.append(("done", br.ok))

    with pytest.warns(DeprecationWarning, match=r"Old\.on_task_end takes one positional"):
        tasuki.run_build(Fresh(i=6), workspace=ws, hooks=[Old()], progress="off")
    assert seen == [("start", 1), ("end", "ran"), ("done", True)]


def test_a_hook_that_requires_an_unknown_argument_is_refused_before_the_build(ws):
    class Wrong:
        def on_task_end(self, *, result, colour):
            pass

    with pytest.raises(TypeError, match=r"on_task_end requires the argument\(s\) \['colour'\]"):
        tasuki.run_build(Fresh(i=7), workspace=ws, hooks=[Wrong()], progress="off")
    assert not Path(ws, ".tasuki", "records").exists()


def test_a_hook_that_raises_is_logged_and_the_build_goes_on(ws, caplog):
    class Broken:
        def on_task_end(self, **kw):
            raise RuntimeError("hook bug")

    result = tasuki.run_build(Fresh(i=8), workspace=ws, hooks=[Broken()], progress="off")
    assert result.ok and "hook bug" in caplog.text


def test_records_are_read_only_for_hooks_that_take_them(ws, monkeypatch):
    reads: list[str] = []
    real = RunRecord.read.__func__  # type: ignore[attr-defined]

    def counting(cls, store, uid):
        reads.append(uid)
        return real(cls, store, uid)

    class NoRecord:
        def on_task_end(self, *, result):
            pass

    tasuki.run_build(Fresh(i=9), workspace=ws, progress="off")
    monkeypatch.setattr(RunRecord, "read", classmethod(counting))
    tasuki.run_build(Fresh(i=9), workspace=ws, hooks=[NoRecord()], progress="off")
    assert len(reads) == 1  # the plan's own check, none for the hook
    tasuki.run_build(Fresh(i=9), workspace=ws, hooks=[Recorder()], progress="off")
    assert len(reads) == 3  # the plan's check and the cached task's record for the hook


def test_build_ids_sort_by_time_and_differ():
    first = new_build_id()
    time.sleep(0.002)
    ids = [new_build_id() for _ in range(100)]
    assert len(set(ids)) == 100
    assert all(first < later for later in ids)


def test_the_caller_emits_nothing_without_listeners():
    call = HookCaller([], build_id="b")
    assert not any(call.has(event) for event in EVENTS)
    call("on_build_end", result=None)  # nothing to call: no error


def test_a_record_is_given_only_when_it_is_the_one_this_result_left(ws):
    """A failure with no record of its own (a dead worker) must not get an older record."""
    from tasuki.core.results import ErrorInfo, TaskResult
    from tasuki.storage import open_store

    result = tasuki.run_build(Fresh(i=10), workspace=ws, progress="off")
    store = open_store(ws)
    uid = Fresh(i=10).unique_id
    got: list[Any] = []

    class Takes:
        def on_task_end(self, *, record, **kw):
            got.append(record)

    def end(status: str, build_id: str) -> Any:
        got.clear()
        call = HookCaller([Takes()], build_id=build_id, store=store)
        error = ErrorInfo("WorkerDiedError", "died", "") if status == "failed" else None
        call.task_end(Fresh(i=10), TaskResult(uid, "x", status, error=error))
        return got[0]

    assert end("ran", result.build_id).build_id == result.build_id
    assert end("cached", "another build").done
    assert end("ran", "another build") is None  # an older run's record
    assert end("failed", result.build_id) is None  # a done record is not this failure's
    record = RunRecord.read(store, uid)
    record.build_id = None  # written by `tasuki run-one`, which knows no build
    record.write(store)
    assert end("ran", "any build") is not None
    record.status = "failed"
    record.write(store)
    assert end("failed", "any build").status == "failed"
    assert end("ran", "any build") is None


def test_a_build_refused_while_it_is_planned_calls_no_hook(ws):
    """It called on_build_start and never on_build_end: the MLflow tracker left a run
    "RUNNING" for a build that never ran."""
    from tasuki.errors import TaskError

    class Missing(tasuki.Task):
        data_files = ("no/such/file.txt",)

        def run(self):
            self.dump(1)

    hook = Recorder()
    with pytest.raises(TaskError, match="data_files names"):
        tasuki.run_build(Missing(), workspace=ws, hooks=[hook], progress="off")
    assert hook.events == []
