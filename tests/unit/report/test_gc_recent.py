"""gc leaves alone what was written in the last hour (``--keep-newer-than``).

A teammate's build may be running on the same workspace while someone runs ``tasuki gc``
with the roots they want to keep. gc used to remove every run those roots did not reach,
including the runs that build had just finished (whose outputs its next task was about to
read) and the output it had just renamed into place but not yet recorded: the build then
failed on a missing input, and its finished work was gone. As git keeps unreachable objects
for a while, gc now keeps runs that finished within the grace period (with everything they
depend on) and files no record names that were written within it.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

import tasuki
from tasuki.cli import app_for
from tasuki.core.records import RunRecord
from tasuki.report.inventory import KEEP_NEWER_THAN_S, collect_garbage
from tasuki.storage import open_store
from tests.unit.core.tasks_for_tests import TaskA, TaskB

HOUR = 3600.0


def _built(tmp_path: Path) -> tuple[str, str, str]:
    ws = str(tmp_path / "ws")
    keep, other = TaskB(param="keep"), TaskB(param="other")
    tasuki.build(keep, workspace=ws, progress="off")
    tasuki.build(other, workspace=ws, progress="off")
    return ws, keep.unique_id, other.unique_id


def test_runs_finished_within_the_grace_period_are_kept_with_what_they_depend_on(tmp_path):
    ws, keep, _ = _built(tmp_path)
    store = open_store(ws)
    other_outputs = {
        TaskB(param="other").output().key,
        TaskA(param="other").output().key,
    }
    now = time.time()
    assert KEEP_NEWER_THAN_S == HOUR
    fresh = collect_garbage(store, [keep], delete=True, now=now)
    assert fresh.removed == [] and fresh.recent_runs == 2
    assert all(store.exists(k) for k in other_outputs)
    assert tasuki.load(TaskB(param="other"), workspace=ws) == "hello other!!"

    later = collect_garbage(store, [keep], delete=True, now=now + 2 * HOUR)
    assert later.recent_runs == 0
    assert other_outputs <= set(later.removed)
    assert not any(store.exists(k) for k in other_outputs)
    assert tasuki.load(TaskB(param="keep"), workspace=ws) == "hello keep!!"


def test_a_recent_run_keeps_an_older_upstream_it_reads(tmp_path):
    ws = str(tmp_path / "ws")
    store = open_store(ws)
    tasuki.build(TaskB(param="keep"), workspace=ws, progress="off")
    tasuki.build(TaskB(param="shared"), workspace=ws, progress="off")
    # TaskA(shared) was made three hours ago; TaskB(shared), which reads it, just now.
    upstream = RunRecord.read(store, TaskA(param="shared").unique_id)
    upstream.finished_at = datetime.fromtimestamp(time.time() - 3 * HOUR, UTC).isoformat()
    upstream.write(store)
    garbage = collect_garbage(store, [TaskB(param="keep").unique_id], keep_newer_than=HOUR)
    assert garbage.recent_runs == 1 and garbage.removed == []
    # Once TaskB(shared) is old too, both go.
    later = collect_garbage(
        store, [TaskB(param="keep").unique_id], keep_newer_than=HOUR, now=time.time() + 2 * HOUR
    )
    assert TaskA(param="shared").output().key in later.removed


def test_a_file_no_record_names_is_kept_while_it_is_new(tmp_path):
    ws, keep, _ = _built(tmp_path)
    store = open_store(ws)
    key = f"tests/unrecorded_{'0' * 64}.pkl"  # named as a task's output is
    stray = Path(ws) / key
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"x" * 10)
    garbage = collect_garbage(store, [keep], delete=True)
    assert key not in garbage.removed and garbage.recent_files == 1
    assert stray.exists()
    old = time.time() - 2 * HOUR
    os.utime(stray, (old, old))
    garbage = collect_garbage(store, [keep], delete=True)
    assert key in garbage.removed and not stray.exists()


def test_no_grace_period_removes_everything_no_root_reaches(tmp_path):
    ws, keep, _ = _built(tmp_path)
    garbage = collect_garbage(open_store(ws), [keep], keep_newer_than=0)
    assert garbage.recent_runs == 0
    assert TaskB(param="other").output().key in garbage.removed
    with pytest.raises(ValueError, match="0 or more"):
        collect_garbage(open_store(ws), [keep], keep_newer_than=-1)


GATE = threading.Event()
STARTED = threading.Event()


class Slow(tasuki.Task):
    """Waits for the test to run gc while its build is half done, then reads its input."""

    param: str

    def requires(self):
        return TaskA(param=self.param)

    def output(self):
        return self.make_target("slow.pkl")

    def run(self):
        STARTED.set()
        assert GATE.wait(30)
        self.dump(self.load() + "?")


def test_gc_during_a_build_leaves_the_build_whole(tmp_path):
    ws, keep, _ = _built(tmp_path)
    GATE.clear()
    STARTED.clear()
    result: dict[str, object] = {}

    def build() -> None:
        try:
            result["value"] = tasuki.build(Slow(param="busy"), workspace=ws, progress="off")
        except Exception as exc:  # reported below
            result["error"] = exc

    thread = threading.Thread(target=build)
    thread.start()
    try:
        assert STARTED.wait(30)
        # TaskA(busy) is done and recorded; Slow is running. Someone collects garbage.
        garbage = collect_garbage(open_store(ws), [keep], delete=True)
        assert TaskA(param="busy").output().key not in garbage.removed
    finally:
        GATE.set()
        thread.join(60)
    assert result == {"value": "hello busy?"}
    assert tasuki.load(Slow(param="busy"), workspace=ws) == "hello busy?"


def test_a_key_a_kept_run_also_names_is_not_removed(tmp_path):
    # Two runs whose output() names the same key: removing the dropped one's must not take
    # the kept one's file.
    ws, keep, _ = _built(tmp_path)
    store = open_store(ws)
    inventory_key = TaskA(param="keep").output().key
    record = RunRecord.read(store, TaskA(param="other").unique_id)
    record.outputs = [dict(record.outputs[0], key=inventory_key)]
    record.write(store)
    garbage = collect_garbage(store, [keep], delete=True, keep_newer_than=0)
    assert inventory_key not in garbage.removed and store.exists(inventory_key)


def test_the_command_says_what_it_kept_for_being_recent(tmp_path, monkeypatch):
    ws, keep, _ = _built(tmp_path)
    runner = CliRunner()

    def gc(*args: str) -> str:
        argv = ["gc", keep, "--workspace", ws, *args]
        return runner.invoke(app_for(argv), argv, catch_exceptions=False).output

    said = gc()
    assert "kept 2 runs and 0 files written in the last 1h" in said
    assert "would remove 0 files" in said
    assert "would remove 4 files" in gc("--keep-newer-than", "0")  # 2 outputs, 2 records
    bad = gc("--keep-newer-than", "soon")
    assert "'soon' is not a duration" in bad and "'1h'" in bad
