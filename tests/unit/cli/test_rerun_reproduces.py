"""``tasuki rerun ID`` says whether the task reproduced its outputs, byte for byte."""

from __future__ import annotations

import os

import tasuki
from tasuki.core.records import RunRecord
from tasuki.report.reproduce import compare_runs
from tasuki.storage import open_store
from tests.unit.core.tasks_for_tests import TaskA

M = __name__


class Draw(tasuki.Task):
    """Writes fresh random bytes on every run: not reproducible."""

    def output(self):
        return self.make_target("draw.pkl")

    def run(self):
        self.dump(os.urandom(8))


def test_a_deterministic_task_reproduces_and_check_passes(cli, tmp_path):
    cli("run", "tests.unit.core.tasks_for_tests:TaskA", "--param", "same")
    uid = TaskA(param="same").unique_id
    out = cli("rerun", uid[:10], "--check")
    assert out.exit_code == 0, out.output
    assert "the same bytes as the run it replaces" in out.output
    assert "not deterministic" not in out.output


def test_a_task_that_is_not_deterministic_is_named_and_check_fails(cli, tmp_path):
    cli("run", f"{M}:Draw")
    uid = Draw().unique_id
    out = cli("rerun", uid[:10])
    assert out.exit_code == 0
    assert "different bytes from the run it replaces (" in out.output
    assert "same code, same inputs: run() is not deterministic" in out.output
    checked = cli("rerun", uid[:10], "--check")
    assert checked.exit_code == 1
    # The rerun's output is the one kept: a build after it finds the task complete.
    assert tasuki.load(Draw(), workspace=str(tmp_path / "ws")) == tasuki.load_output(
        uid, workspace=str(tmp_path / "ws")
    )


def test_the_comparison_names_a_code_change_and_outputs_on_one_side_only(tmp_path):
    ws = str(tmp_path / "ws")
    tasuki.build(TaskA(param="x"), workspace=ws, progress="off")
    store = open_store(ws)
    before = RunRecord.read(store, TaskA(param="x").unique_id)
    after = RunRecord.read(store, TaskA(param="x").unique_id)
    assert compare_runs(before, after).reproduced
    after.code_key = "another"
    after.outputs = [dict(before.outputs[0], xxh3="0" * 16), {"key": "extra.pkl", "size": 1}]
    changed = compare_runs(before, after)
    assert not changed.reproduced and changed.code_changed
    assert {o.key: o.status for o in changed.outputs} == {
        "extra.pkl": "new",
        before.outputs[0]["key"]: "different",
    }
    text = "\n".join(changed.lines())
    assert "written now, not by the run it replaces" in text
    assert "the code changed since the run it replaces" in text


class ReadRaw(tasuki.Task):
    """Reads a file as a FileInput: its id holds the file's bytes."""

    path: str = tasuki.param(default="raw.txt", significant=False)

    def requires(self):
        return tasuki.FileInput(path=self.path)

    def output(self):
        return self.make_target("raw.pkl")

    def run(self):
        self.dump(self.load())


def test_a_rerun_of_a_task_whose_file_changed_names_the_file(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "raw.txt").write_text("first\n")
    assert cli("run", f"{M}:ReadRaw").exit_code == 0
    uid = ReadRaw().unique_id
    (tmp_path / "raw.txt").write_text("second, longer\n")
    out = cli("rerun", uid[:10])
    assert out.exit_code == 2
    assert "a file it reads has other bytes than when it ran: raw.txt" in out.output
    assert "code or parameters changed" not in out.output
