"""The Dask executor on a real LocalCluster with two worker processes and a shared folder:
only ids travel, results come back to the schedule, resources, retries, bad input, faults."""

from __future__ import annotations

import os
import time

import pytest

import tasuki
from tasuki.core.records import RunRecord
from tasuki.core.runner import run_build
from tasuki.errors import ConfigError
from tasuki.storage import open_store
from tests.integration.dask.tasks import (
    AfterFails,
    BadResources,
    FileText,
    Flaky,
    KilledOnce,
    OnGpu,
    Shout,
    Step,
    TakesTask,
    TooMuchGpu,
)

pytestmark = pytest.mark.slow


def _build(task, ws, cluster, **kw):
    return run_build(
        task, workspace=ws, executor="dask", dask_scheduler=cluster, progress="off", **kw
    )


class Seen:
    """A hook that keeps every event name and the task it was about."""

    def __init__(self):
        self.events = []

    def on_task_start(self, *args, **kwargs):
        self.events.append("start")

    def on_task_end(self, *args, **kwargs):
        self.events.append("end")


def test_chain_runs_on_the_workers_and_a_second_build_submits_nothing(cluster, tmp_path):
    ws = str(tmp_path / "ws")
    log = tmp_path / "log.txt"
    root = Step(n=5, log=str(log))
    seen = Seen()
    result = _build(root, ws, cluster, hooks=[seen])
    assert result.ok, result.summary()
    assert result.counts()["ran"] == 6
    assert seen.events.count("start") == 6  # started, reported from the workers
    assert seen.events.count("end") == 6
    assert tasuki.load(root, workspace=ws) == [0, 1, 2, 3, 4, 5]
    lines = log.read_text().splitlines()
    assert len(lines) == 6
    assert str(os.getpid()) not in {line.split()[-1] for line in lines}  # never in here
    record = RunRecord.read(open_store(ws), root.unique_id)
    assert record.status == "done"
    # Written on a worker, stamped with the build that submitted it.
    assert result.build_id and record.build_id == result.build_id
    again = _build(root, ws, cluster)
    assert again.counts()["cached"] == 1
    assert "ran" not in again.counts()
    assert len(log.read_text().splitlines()) == 6
    longer = _build(Step(n=8, log=str(log)), ws, cluster)  # 6 of 9 cached: 3 submitted
    assert longer.counts()["ran"] == 3
    assert len(log.read_text().splitlines()) == 9


def test_what_each_task_read_is_recorded_on_the_workers(cluster, tmp_path):
    """Records written on the workers keep what each run read: an upstream run again on its
    own with other bytes sends its reader back to the cluster; a warm build submits nothing."""
    ws = str(tmp_path / "ws")
    source = tmp_path / "source.txt"
    source.write_text("one")
    shout = Shout(path=str(source))
    assert _build(shout, ws, cluster).counts()["ran"] == 2
    assert "ran" not in _build(shout, ws, cluster).counts()
    source.write_text("two")
    assert _build(FileText(path=str(source)), ws, cluster, rerun=True).counts()["ran"] == 1
    again = _build(shout, ws, cluster)
    assert again.results[shout.unique_id].status == "ran"
    assert again.results[FileText(path=str(source)).unique_id].status == "cached"
    assert tasuki.load(shout, workspace=ws) == "TWO"
    assert "ran" not in _build(shout, ws, cluster).counts()


def test_same_outputs_and_ids_as_the_local_executor(cluster, tmp_path):
    root = TakesTask(upstream=Step(n=3), factor=0.5)  # a task-valued parameter
    on_dask = _build(root, str(tmp_path / "a"), cluster)
    local = tasuki.build(root, workspace=str(tmp_path / "b"), progress="off", return_value=False)
    assert on_dask.ok and local.ok
    assert set(on_dask.results) == set(local.results)
    assert tasuki.load(root, workspace=str(tmp_path / "a")) == [0, 0.5, 1.0, 1.5]
    a, b = open_store(str(tmp_path / "a")), open_store(str(tmp_path / "b"))
    for uid in local.results:
        ra, rb = RunRecord.read(a, uid), RunRecord.read(b, uid)
        assert [o["sha256"] if "sha256" in o else o["size"] for o in ra.outputs] == [
            o["sha256"] if "sha256" in o else o["size"] for o in rb.outputs
        ]
        assert ra.code_key == rb.code_key


def test_a_failure_reports_its_error_and_skips_dependents(cluster, tmp_path):
    result = _build(AfterFails(), str(tmp_path / "ws"), cluster)
    assert not result.ok
    (failed,) = result.by_status("failed")
    assert failed.error.type == "ValueError"
    assert "always fails" in failed.error.message
    assert any("about to fail on purpose" in line for line in failed.log_tail)
    assert len(result.by_status("upstream_failed")) == 1
    assert result.counts()["ran"] == 1  # Step(n=0) upstream of the failure


def test_retryable_errors_retry_through_dask(cluster, tmp_path):
    marker = tmp_path / "tries"
    result = _build(Flaky(marker=str(marker), failures=1), str(tmp_path / "ws"), cluster, retries=2)
    assert result.ok, result.summary()
    assert len(marker.read_text().splitlines()) == 2
    marker2 = tmp_path / "tries2"
    result = _build(
        Flaky(marker=str(marker2), failures=5), str(tmp_path / "ws"), cluster, retries=1
    )
    (failed,) = result.by_status("failed")
    assert failed.error.type == "ConnectionError"
    assert failed.attempts == 2
    assert len(marker2.read_text().splitlines()) == 2


def test_resources_map_to_worker_resources(cluster, tmp_path):
    assert _build(OnGpu(n=1), str(tmp_path / "ws"), cluster).ok
    with pytest.raises(ConfigError) as info:
        _build(TooMuchGpu(), str(tmp_path / "ws"), cluster)
    assert "TooMuchGpu" in str(info.value) and "gpu" in str(info.value)
    with pytest.raises(ConfigError) as info:
        _build(BadResources(), str(tmp_path / "ws"), cluster)
    assert "BadResources.resources['gpu']" in str(info.value)


def test_a_class_workers_cannot_import_is_refused_by_name(cluster, tmp_path):
    class Local(tasuki.Task):
        def run(self):
            self.dump(1)

    with pytest.raises(ConfigError) as info:
        _build(Local(), str(tmp_path / "ws"), cluster)
    assert "Local" in str(info.value) and "inside a function" in str(info.value)


def test_a_memory_workspace_is_refused(cluster):
    with pytest.raises(ConfigError, match="memory://"):
        _build(Step(n=0), "memory://dask-test", cluster)


def test_an_unreachable_scheduler_is_named_within_seconds(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    t0 = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        _build(Step(n=0), str(tmp_path / "ws"), address)
    assert time.perf_counter() - t0 < 15
    assert address in str(info.value)


def test_a_client_given_is_used_for_each_build_and_left_open(cluster, tmp_path):
    from distributed import Client

    from tasuki.core.executors.dask import DaskExecutor

    with Client(cluster, set_as_default=False) as client:
        executor = DaskExecutor(client=client)
        for i in range(2):
            ws = str(tmp_path / f"ws{i}")
            result = run_build(Step(n=3), workspace=ws, executor=executor, progress="off")
            assert result.ok and result.counts()["ran"] == 4
            assert client.status == "running"  # not closed by the build
        assert tasuki.load(Step(n=3), workspace=ws) == [0, 1, 2, 3]

        def held(dask_scheduler):
            return [k for k in dask_scheduler.tasks if str(k).startswith("tasuki-")]

        deadline = time.monotonic() + 10  # the builds' results are released, not kept
        while client.run_on_scheduler(held) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.run_on_scheduler(held) == []
    with pytest.raises(ConfigError, match="not running"):  # closed now
        run_build(Step(n=3), workspace=str(tmp_path / "c"), executor=executor, progress="off")


def test_start_reports_wake_the_reporter_thread_once_per_busy_spell(monkeypatch):
    import distributed

    from tasuki.core.executors import dask as dx

    sent = []

    class Worker:
        def log_event(self, topic, uid):
            sent.append((topic, uid))

    monkeypatch.setattr(distributed, "get_worker", lambda: Worker())
    reporter = dx._StartReporter()
    wakes = []
    real = reporter._cond.notify
    monkeypatch.setattr(reporter._cond, "notify", lambda *a: wakes.append(1) or real(*a))
    for i in range(200):  # small tasks, back to back: not reported, thread not woken each
        reporter.started("t", f"quick{i}")
        reporter.finished(f"quick{i}")
    reporter.started("t", "slow")  # runs longer than START_REPORT_S: reported while running
    deadline = time.monotonic() + 5
    while not sent and time.monotonic() < deadline:
        time.sleep(0.01)
    reporter.finished("slow")
    assert sent == [("t", "slow")]
    assert len(wakes) <= 1


def test_a_worker_killed_mid_task_reruns_elsewhere_and_writes_once(cluster, tmp_path):
    ws = str(tmp_path / "ws")
    marker = tmp_path / "marker"
    task = KilledOnce(marker=str(marker))
    result = _build(task, ws, cluster)
    assert result.ok, result.summary()
    lines = marker.read_text().splitlines()
    starts = [line for line in lines if line.startswith("start")]
    assert len(starts) == 2 and starts[0] != starts[1]  # another process ran it again
    assert lines.count("finished") == 1
    assert tasuki.load(task, workspace=ws) == "survived"
    store = open_store(ws)
    (out,) = [k for k in store.list("") if "killed_once" in k]
    assert RunRecord.read(store, task.unique_id).outputs[0]["key"] == out


def test_a_local_cluster_is_started_when_no_scheduler_is_given(tmp_path):
    ws = str(tmp_path / "ws")
    result = tasuki.build(
        Step(n=2), workspace=ws, executor="dask", workers=2, progress="off", return_value=False
    )
    assert result.ok, result.summary()
    assert result.counts()["ran"] == 3


def test_s3_workspace_through_moto(s3_workspace):
    # The LocalCluster is started after the fixture points AWS_* at moto: workers inherit it.
    result = tasuki.build(
        Step(n=2),
        workspace=s3_workspace,
        executor="dask",
        workers=2,
        progress="off",
        return_value=False,
    )
    assert result.ok, result.summary()
    assert tasuki.load(Step(n=2), workspace=s3_workspace) == [0, 1, 2]


def test_cli_run_with_executor_dask_and_scheduler(cluster, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from tasuki.cli import app

    monkeypatch.setenv("TASUKI_PROGRESS", "off")
    ws = str(tmp_path / "ws")
    args = ["run", "tests.integration.dask.tasks:Step", "--n", "2", "-w", ws]
    out = CliRunner().invoke(app, [*args, "--executor", "dask", "--scheduler", cluster])
    assert out.exit_code == 0, out.output
    assert Step(n=2).unique_id in out.output
    assert tasuki.load(Step(n=2), workspace=ws) == [0, 1, 2]
    # Everything cached: nothing to submit, no scheduler needed.
    out = CliRunner().invoke(app, [*args, "--executor", "dask", "--scheduler", "tcp://127.0.0.1:1"])
    assert out.exit_code == 0, out.output
    out = CliRunner().invoke(
        app, [*args, "--rerun-all", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:1"]
    )
    assert out.exit_code == 2
    assert "tcp://127.0.0.1:1" in out.output
    # --scheduler alone means the dask executor; with another executor it is refused.
    out = CliRunner().invoke(app, [*args, "--rerun-all", "--scheduler", "tcp://127.0.0.1:1"])
    assert out.exit_code == 2 and "cannot reach the Dask scheduler" in out.output
    out = CliRunner().invoke(
        app, [*args, "--executor", "local", "--scheduler", "tcp://127.0.0.1:1"]
    )
    assert out.exit_code == 2 and "is for --executor dask" in out.output


@pytest.mark.parametrize(
    ("declared", "named"),
    [
        ({"gpu": True}, "resources['gpu']"),
        ({"gpu": -1}, "resources['gpu']"),
        ({"memory": "lots"}, "resources['memory']"),
        ({1: 1}, "has the key 1"),
        ([("gpu", 1)], "resources is a list"),
    ],
)
def test_resources_of_the_wrong_type_name_the_class_and_key(declared, named):
    from tasuki.core.executors.dask import task_resources

    class Declares(tasuki.Task):
        resources = declared

    with pytest.raises(ConfigError) as info:
        task_resources(Declares)
    assert "Declares" in str(info.value) and named in str(info.value)


def test_resources_sizes_become_bytes():
    from tasuki.core.executors.dask import task_resources

    assert task_resources(OnGpu) == {"gpu": 1.0, "memory": 1024.0}
    assert task_resources(Step) == {}


def test_dask_is_a_built_in_executor_name():
    from tasuki.core.executors import get_executor
    from tasuki.core.executors.dask import DaskExecutor

    made = get_executor("dask")
    assert isinstance(made, DaskExecutor)
    assert made.travels_by_id


def test_a_damaged_upstream_output_is_rebuilt_on_the_cluster_then_its_reader(cluster, tmp_path):
    ws = str(tmp_path / "ws")
    assert _build(Step(n=1), ws, cluster).ok
    store = open_store(ws)
    (key,) = [o["key"] for o in RunRecord.read(store, Step(n=1).unique_id).outputs]
    data = bytearray(store.read_bytes(key))
    data[-2] ^= 0xFF  # same size: only the content check on load sees it
    store.write_bytes(key, bytes(data))
    from tasuki.core.definitions import definition_key

    store.remove(definition_key(Step(n=1).unique_id))  # as if built by a local build
    result = _build(Step(n=3), ws, cluster)
    assert result.ok, result.summary()
    assert result.results[Step(n=1).unique_id].status == "ran"  # reopened, had no definition
    assert result.results[Step(n=2).unique_id].status == "ran"  # retried after the repair
    assert result.results[Step(n=3).unique_id].status == "ran"  # its first run was skipped
    assert tasuki.load(Step(n=3), workspace=ws) == [0, 1, 2, 3]


def test_independent_tasks_run_on_both_workers(cluster, tmp_path):
    from distributed import Client

    from tests.integration.dask.tasks import Fan

    with Client(cluster, set_as_default=False) as client:  # the SIGKILL test's restart
        client.wait_for_workers(2, timeout=60)
    ws = str(tmp_path / "ws")
    assert _build(Fan(n=6), ws, cluster).ok
    assert len(tasuki.load(Fan(n=6), workspace=ws)) == 2  # two worker processes


def test_a_class_a_worker_cannot_import_fails_the_task_naming_it(tmp_path):
    import dataclasses
    import json

    from tasuki.config import Settings
    from tasuki.core.code import code_keys
    from tasuki.core.definitions import definition_key, read_definition, write_definitions
    from tasuki.core.executors.dask import run_task
    from tasuki.core.graph import build_graph

    ws = str(tmp_path / "ws")
    store = open_store(ws)
    graph = build_graph([Step(n=0)])
    write_definitions(store, graph, list(graph.order), code_keys(graph))
    uid = Step(n=0).unique_id
    d = read_definition(store, uid)
    gone = dataclasses.replace(
        d, task="nowhere_pkg.mod:Gone", classes={"nowhere_pkg.mod:Gone": "x"}
    )
    store.write_bytes(definition_key(uid), gone.to_bytes())
    doc = json.dumps(Settings(workspace=ws).model_dump(mode="json"))
    result = run_task(doc, uid, "nowhere_pkg.mod:Gone", False, "topic", None)
    assert result.status == "failed"
    assert result.error.type == "TaskNotFoundError"
    assert "nowhere_pkg.mod" in result.error.message


def test_tasks_with_other_resources_depend_on_each_other_across_messages(cluster, tmp_path):
    from tests.integration.dask.tasks import CpuAfterGpu

    ws = str(tmp_path / "ws")
    # Step, Step | GpuAfter | CpuAfterGpu: three graph messages, each after the first
    # referring to futures of the one before.
    result = _build(CpuAfterGpu(n=1), ws, cluster)
    assert result.ok, result.summary()
    assert result.counts()["ran"] == 4
    assert tasuki.load(CpuAfterGpu(n=1), workspace=ws) == 10


def test_results_that_arrive_together_are_fetched_in_one_round_trip(cluster, monkeypatch):
    from distributed import Client

    from tasuki.core.executors.dask import _Submission
    from tasuki.core.results import TaskResult

    with Client(cluster, set_as_default=False) as client:
        futures = {
            f"u{i}": client.submit(TaskResult, f"u{i}", "T", "ran", pure=False) for i in range(5)
        }
        stale = client.submit(TaskResult, "u0", "T", "failed", pure=False)
        client.gather([*futures.values(), stale])  # all finished
        sub = object.__new__(_Submission)
        sub.client, sub.futures = client, futures
        sizes = []
        gather = client.gather

        def counted(fs, *args, **kwargs):
            sizes.append(len(fs))
            return gather(fs, *args, **kwargs)

        monkeypatch.setattr(client, "gather", counted)
        batch = [("done", u, f) for u, f in futures.items()]
        batch += [("started", "u1", None), ("done", "u0", stale)]  # a replaced future: skipped
        got = sub._fetch(batch)
    assert sizes == [5]  # one round trip, not one future.result() each
    assert {u: r.status for u, r in got.items()} == {f"u{i}": "ran" for i in range(5)}


def test_results_finishing_close_together_are_collected_then_fetched_at_once(
    cluster, tmp_path, monkeypatch
):
    from distributed import Client

    import tasuki.core.executors.dask as dask_executor
    from tests.integration.dask.tasks import Fan

    monkeypatch.setattr(dask_executor, "COALESCE_S", 2.0)  # the four naps end within ~0.6 s
    sizes = []
    gather = Client.gather

    def counted(self, futures, *args, **kwargs):
        sizes.append(len(futures))
        return gather(self, futures, *args, **kwargs)

    monkeypatch.setattr(Client, "gather", counted)
    result = _build(Fan(n=4), str(tmp_path / "ws"), cluster)
    assert result.ok, result.summary()
    # The four leaves' results (finishing two at a time on two workers) in one round trip.
    assert max(sizes, default=0) >= 4, sizes


def test_graph_messages_are_named_without_tokenizing_the_graph(cluster, tmp_path, monkeypatch):
    expr = pytest.importorskip("dask._expr")

    def refuse(self):
        raise AssertionError("the whole graph was tokenized to name it")

    monkeypatch.setattr(expr.Expr, "__dask_tokenize__", refuse)
    result = _build(Step(n=3), str(tmp_path / "ws"), cluster)
    assert result.ok, result.summary()
    assert result.counts()["ran"] == 4
