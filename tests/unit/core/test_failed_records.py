"""A failed run leaves a run record (``status = "failed"``) that never makes its task complete.

The matrix: a task that fails after writing part of its outputs, one that fails before
writing anything, one that succeeds after a failure (the done record replaces the failed
one), a cached upstream under a failed downstream, a failure with workers, an older record
without a ``status``, and ``why`` / ``verify`` / ``show`` reading a failed record.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import tasuki
from tasuki.core.execute import Completeness
from tasuki.core.graph import build_graph
from tasuki.core.records import RunRecord
from tasuki.storage import open_store
from tests._records import raw_record, write_raw_record

ROOT = Path(__file__).resolve().parents[3]


class Flaky(tasuki.Task):
    """Fails while the file ``flag`` exists; ``partial`` writes output ``a`` first."""

    flag: str
    partial: bool = False

    def output(self):
        return {"a": self.make_target("a.pkl"), "b": self.make_target("b.pkl")}

    def run(self):
        logging.getLogger(__name__).warning("about to decide")
        if self.partial:
            self.dump(1, "a")
        if Path(self.flag).exists():
            raise ValueError("broken at postgresql://user:hunter2@db.example/prod")
        self.dump(1, "a")
        self.dump(2, "b")


class Up(tasuki.Task):
    def output(self):
        return self.make_target("up.pkl")

    def run(self):
        self.dump(10)


class Down(tasuki.Task):
    flag: str

    def requires(self):
        return Up()

    def output(self):
        return self.make_target("down.pkl")

    def run(self):
        if Path(self.flag).exists():
            raise RuntimeError("downstream broke")
        self.dump(self.load() + 1)


@pytest.fixture
def ws(tmp_path: Path) -> str:
    return str(tmp_path / "ws")


@pytest.fixture
def flag(tmp_path: Path) -> Path:
    path = tmp_path / "fail"
    path.write_text("")
    return path


@pytest.fixture(autouse=True)
def _tail_handler():
    from tasuki.core.execute import TaskLogHandler

    handler = TaskLogHandler()
    logging.getLogger().addHandler(handler)
    yield
    logging.getLogger().removeHandler(handler)


def _complete(task: tasuki.Task, ws: str) -> str | None:
    store = open_store(ws)
    return Completeness(store).verdict(build_graph([task]).nodes[task.unique_id])


@pytest.mark.parametrize("partial", [False, True], ids=["before-writing", "after-part"])
def test_a_failed_run_writes_a_failed_record_that_is_never_complete(ws, flag, partial):
    task = Flaky(flag=str(flag), partial=partial)
    result = tasuki.run_build(task, workspace=ws, progress="off", executor="inline")
    assert not result.ok
    store = open_store(ws)
    record = RunRecord.read(store, task.unique_id)
    assert record.status == "failed" and not record.done
    assert record.build_id == result.build_id
    assert record.outputs == []
    assert record.error is not None
    assert record.error["type"] == "ValueError"
    assert "hunter2" not in record.error["message"] and "***" in record.error["message"]
    assert "hunter2" not in record.error["traceback"]
    assert any("about to decide" in line for line in record.log_tail)
    assert record.started_at and record.finished_at and record.duration_s >= 0
    assert record.code_key and record.code_fingerprint
    assert store.exists(task.output()["a"].key) is partial  # what the run left behind
    verdict = _complete(task, ws)
    assert verdict is not None and verdict.startswith("its last run failed (ValueError")


def test_a_failed_record_that_lists_existing_outputs_is_still_not_complete(ws, flag):
    """Even a failed record naming outputs that exist with the right sizes is not done."""
    task = Flaky(flag=str(flag))
    flag.unlink()
    tasuki.run_build(task, workspace=ws, progress="off")
    store = open_store(ws)
    assert _complete(task, ws) is None
    record = RunRecord.read(store, task.unique_id)
    record.status = "failed"
    record.write(store)
    assert _complete(task, ws) == "its last run failed"
    record.status = "interrupted"  # any state but done
    record.write(store)
    assert "did not finish" in (_complete(task, ws) or "")


def test_success_after_a_failure_replaces_the_failed_record(ws, flag):
    task = Flaky(flag=str(flag), partial=True)
    first = tasuki.run_build(task, workspace=ws, progress="off")
    assert first.results[task.unique_id].status == "failed"
    flag.unlink()
    second = tasuki.run_build(task, workspace=ws, progress="off")
    assert second.results[task.unique_id].status == "ran"
    record = RunRecord.read(open_store(ws), task.unique_id)
    assert record.done and record.error is None and record.build_id == second.build_id
    assert len(record.outputs) == 2
    third = tasuki.run_build(task, workspace=ws, progress="off")
    assert third.results[task.unique_id].status == "cached"
    assert tasuki.load(task, workspace=ws) == {"a": 1, "b": 2}


@pytest.mark.parametrize("executor", ["inline", "local"])
def test_a_cached_upstream_keeps_its_record_under_a_failed_downstream(ws, flag, executor):
    tasuki.run_build(Up(), workspace=ws, progress="off")
    down = Down(flag=str(flag))
    result = tasuki.run_build(down, workspace=ws, progress="off", executor=executor, workers=2)
    assert result.results[Up().unique_id].status == "cached"
    assert result.results[down.unique_id].status == "failed"
    store = open_store(ws)
    assert RunRecord.read(store, Up().unique_id).done
    failed = RunRecord.read(store, down.unique_id)
    assert failed.status == "failed" and failed.requires == [Up().unique_id]
    assert failed.error is not None and failed.error["message"] == "downstream broke"
    again = tasuki.run_build(down, workspace=ws, progress="off", executor=executor)
    assert again.results[down.unique_id].status == "failed"  # not taken for cached


def test_workers_write_the_failed_record_too(ws, flag):
    tasks = [Flaky(flag=str(flag)), Up()]
    result = tasuki.run_build(tasks, workspace=ws, progress="off", workers=2)
    record = RunRecord.read(open_store(ws), tasks[0].unique_id)
    assert record.status == "failed" and record.build_id == result.build_id


def test_a_rerun_that_fails_replaces_the_done_record(ws, flag):
    task = Flaky(flag=str(flag))
    flag.unlink()
    tasuki.run_build(task, workspace=ws, progress="off")
    flag.write_text("")
    result = tasuki.run_build(task, workspace=ws, progress="off", rerun=True)
    assert result.results[task.unique_id].status == "failed"
    assert RunRecord.read(open_store(ws), task.unique_id).status == "failed"
    assert _complete(task, ws) is not None


def test_records_without_a_status_read_as_done(ws, flag):
    task = Flaky(flag=str(flag))
    flag.unlink()
    tasuki.run_build(task, workspace=ws, progress="off")
    store = open_store(ws)
    doc = raw_record(store, task.unique_id)
    for key in ("status", "build_id", "error"):
        doc.pop(key)
    write_raw_record(store, task.unique_id, doc)
    record = RunRecord.read(store, task.unique_id)
    assert record.done and record.build_id is None and record.error is None
    assert _complete(task, ws) is None


def test_a_done_record_keeps_its_format(ws, flag):
    """Done records gain only ``build_id`` (and a null ``error``) over the old format."""
    task = Flaky(flag=str(flag))
    flag.unlink()
    tasuki.run_build(task, workspace=ws, progress="off")
    doc = raw_record(open_store(ws), task.unique_id)
    assert doc["status"] == "done" and doc["schema"] == "tasuki-record/1"
    assert doc["error"] is None and doc["build_id"]
    assert [o["key"] for o in doc["outputs"]] == [t.key for t in task.output().values()]


def test_why_and_verify_explain_a_failed_record(ws, flag):
    from tasuki.report.verify import verify_graph, verify_records
    from tasuki.report.why import explain

    down = Down(flag=str(flag))
    tasuki.run_build(down, workspace=ws, progress="off")
    store = open_store(ws)
    lines = "\n".join(explain(down, store))
    assert "its last run failed (RuntimeError: downstream broke)" in lines
    for checks in (verify_graph(build_graph([down]), store), verify_records(store)):
        mine = [c for c in checks if c.unique_id == down.unique_id]
        assert [c.status for c in mine] == ["last run failed"]
        assert mine[0].found == "RuntimeError: downstream broke" and not mine[0].bad


def test_show_prints_a_failed_record(ws, flag):
    from typer.testing import CliRunner

    from tasuki.cli import app

    down = Down(flag=str(flag))
    tasuki.run_build(down, workspace=ws, progress="off")
    out = CliRunner().invoke(app, ["show", down.unique_id[:12], "--workspace", ws])
    assert out.exit_code == 0, out.output
    assert "failed" in out.output
    # What went wrong, in the text form too (not only with --json).
    assert "error:       RuntimeError: downstream broke" in out.output


class NeedsFlaky(tasuki.Task):
    flag: str

    def requires(self):
        return Flaky(flag=self.flag)

    def output(self):
        return self.make_target("needs.pkl")

    def run(self):
        self.dump(sum(self.load().values()))


def test_a_failed_rerun_upstream_leaves_what_read_its_older_output_out_of_date(ws, flag):
    """A forced rerun of the upstream fails: its older output is no longer vouched for, so
    the dependent made from it is out of date until the upstream runs again (``why`` says
    which run, and the next build runs both); before, the next build kept the dependent and
    never asked for the upstream again."""
    from tasuki.report.why import explain_build

    flag.unlink()
    down = NeedsFlaky(flag=str(flag))
    tasuki.run_build(down, workspace=ws, progress="off")
    flag.write_text("")
    rerun = tasuki.run_build(down, workspace=ws, progress="off", rerun=["Flaky"])
    up_id = down.requires().unique_id
    assert rerun.results[up_id].status == "failed"
    decisions = {d.uid: d for d in explain_build(down, open_store(ws)).decisions}
    # Flaky runs first: what read it runs only if that makes other bytes than it read
    assert decisions[down.unique_id].maybe and not decisions[down.unique_id].runs
    assert decisions[down.unique_id].reason == (
        f"Flaky[{up_id[:10]}] ran again after NeedsFlaky read its output, and failed"
    )
    upstream = decisions[up_id]
    assert upstream.runs and upstream.reason.startswith("its last run failed")
    flag.unlink()  # the upstream works again, and makes the bytes it made before
    again = tasuki.run_build(down, workspace=ws, progress="off")
    assert again.results[up_id].status == "ran"
    # So what read them is up to date after all: checked again under its lease, not run.
    assert again.results[down.unique_id].status == "cached"
    assert again.results[down.unique_id].note == "what it reads came out unchanged"


class WritesThenFails(tasuki.Task):
    flag: str

    def output(self):
        return self.make_target("written.pkl")

    def run(self):
        self.dump("new")
        if Path(self.flag).exists():
            raise ValueError("failed after writing")


@pytest.mark.parametrize("built_before", [False, True], ids=["first-run", "after-a-done-run"])
def test_load_refuses_what_a_failed_run_left(ws, flag, built_before):
    """The output file exists, but the task failed: load() must not hand it out as done (nor
    from what this process remembered of an earlier done run)."""
    task = WritesThenFails(flag=str(flag))
    if built_before:
        flag.unlink()
        assert tasuki.build(task, workspace=ws, progress="off") == "new"
        flag.write_text("")
    result = tasuki.run_build(task, workspace=ws, progress="off", rerun=built_before)
    assert result.results[task.unique_id].status == "failed"
    assert open_store(ws).exists(task.output().key)
    with pytest.raises(FileNotFoundError, match=r"last run failed \(ValueError: failed after"):
        tasuki.load(task, workspace=ws)
    with pytest.raises(FileNotFoundError, match="last run failed"):
        tasuki.load_output(task.unique_id, workspace=ws)


class DiesAfterDump(tasuki.Task):
    """Writes its output, then its process is killed while ``flag + ".die"`` exists."""

    flag: str

    def output(self):
        return self.make_target("dies.pkl")

    def run(self):
        dying = Path(self.flag + ".die").exists()
        self.dump("written by " + ("the killed run" if dying else "a run"))
        if dying:
            os.kill(os.getpid(), signal.SIGKILL)


def _build_killed(task: DiesAfterDump, ws: str, *, rerun: bool = False) -> None:
    Path(task.flag + ".die").write_text("")
    code = (
        "import tasuki; from tests.unit.core.test_failed_records import DiesAfterDump; "
        f"tasuki.build(DiesAfterDump(flag={task.flag!r}), workspace={ws!r}, progress='off', "
        f"executor='inline', rerun={rerun!r})"
    )
    killed = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=False)
    assert killed.returncode == -signal.SIGKILL
    Path(task.flag + ".die").unlink()


@pytest.mark.parametrize("built_before", [False, True], ids=["first-run", "forced-rerun"])
def test_load_refuses_an_output_whose_run_was_killed_before_its_record(ws, flag, built_before):
    """The run wrote its output and was killed before its record: the build takes the output
    as not made (and makes it again); tasuki.load took it as done."""
    task = DiesAfterDump(flag=str(flag))
    if built_before:
        assert tasuki.build(task, workspace=ws, progress="off") == "written by a run"
    _build_killed(task, ws, rerun=built_before)
    assert open_store(ws).exists(task.output().key)
    assert _complete(task, ws) is not None
    with pytest.raises(FileNotFoundError, match=r"DiesAfterDump\(.*\) has no finished run in work"):
        tasuki.load(task, workspace=ws)
    assert tasuki.build(task, workspace=ws, progress="off") == "written by a run"
    assert tasuki.load(task, workspace=ws) == "written by a run"


def test_load_of_a_task_never_built_names_it_and_the_workspace(ws, flag):
    task = DiesAfterDump(flag=str(flag))
    with pytest.raises(FileNotFoundError, match=r"DiesAfterDump\(.*\) has not been built in work"):
        tasuki.load(task, workspace=ws)


class FileByFormat(tasuki.Task):
    """The file name follows a parameter that is not part of the id."""

    fmt: str = tasuki.param(default="pkl", significant=False)

    def output(self):
        return self.make_target(f"by_format.{self.fmt}")

    def run(self):
        self.dump({"fmt": self.fmt})


def test_load_refuses_a_file_the_last_run_did_not_write(ws):
    """One id, two file names: after the .json run, the .pkl one is what an earlier run
    left. The build reruns for it ("its record does not list the output"); load handed it
    out, from this process's memory of the earlier record and from a fresh one alike."""
    assert tasuki.build(FileByFormat(), workspace=ws, progress="off") == {"fmt": "pkl"}
    assert tasuki.build(FileByFormat(fmt="json"), workspace=ws, progress="off") == {"fmt": "json"}
    with pytest.raises(FileNotFoundError, match=r"its last run in workspace .* did not write"):
        tasuki.load(FileByFormat(), workspace=ws)
    code = (
        "import tasuki; from tests.unit.core.test_failed_records import FileByFormat; "
        f"tasuki.load(FileByFormat(), workspace={ws!r})"
    )
    fresh = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert "did not write" in fresh.stderr
    assert tasuki.load(FileByFormat(fmt="json"), workspace=ws) == {"fmt": "json"}


def test_load_of_an_output_removed_since_its_run_names_the_task(ws, flag):
    """It said only "[Errno 2] No such file or directory" with the file's path."""
    task = Up()
    tasuki.build(task, workspace=ws, progress="off")
    open_store(ws).remove(task.output().key)
    with pytest.raises(FileNotFoundError, match=r"Up\(\): its output .* is not in workspace"):
        tasuki.load(task, workspace=ws)
