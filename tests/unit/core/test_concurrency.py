"""Crashes and concurrent builds: nothing half-written is taken as done, nothing runs twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tasuki
from tasuki.storage import open_store

from .tasks_for_tests import Counted, SlowWrite

ROOT = Path(__file__).resolve().parents[3]


def _python(code: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stop_in_the_middle_of_a_dump(ws: Path, tmp_path: Path, sig: int) -> tuple[str, str]:
    """Build SlowWrite in a child, send ``sig`` while its output is half written.

    Returns the child's stderr and the partial temporary's path.
    """
    signal_file = tmp_path / "writing"
    code = (
        "import tasuki\n"
        "from tests.unit.core.tasks_for_tests import SlowWrite\n"
        f"tasuki.build(SlowWrite(), workspace={str(ws)!r}, progress='off')\n"
    )
    proc = _python(code, {"SLOW_WRITE_SIGNAL": str(signal_file)})
    deadline = time.monotonic() + 60
    while not signal_file.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    # The precondition that makes the test worth running: part of the output is on disk.
    partial = [p for p in Path(ws).rglob(".big_*") if p.is_file()]
    assert len(partial) == 1 and partial[0].stat().st_size >= 16 * 1024 * 1024, partial
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    return err, str(partial[0])


def test_kill_9_in_the_middle_of_a_dump_then_rerun(tmp_path):
    ws = tmp_path / "ws"
    _, partial = _stop_in_the_middle_of_a_dump(ws, tmp_path, signal.SIGKILL)
    task = SlowWrite()
    store = open_store(ws)
    assert not store.exists(task.output().key)
    assert not store.exists(f".tasuki/records/{task.unique_id}.json")
    assert Path(partial).exists()  # a kill -9 cleans nothing up; the next writer sweeps it
    # The same task again: seen as incomplete, it runs, and its output is whole.
    result = tasuki.build(task, workspace=str(ws), return_value=False)
    assert result.counts() == {"ran": 1}
    data, end = tasuki.load(task, workspace=str(ws))
    assert (len(data), end) == (16 * 1024 * 1024, "end")
    assert not Path(partial).exists()


def _overlapping_build(ws: Path, log: Path, keys: list[str], extra: str = "") -> str:
    return (
        "import tasuki\n"
        "from tests.unit.core.tasks_for_tests import Counted\n"
        f"tasks = [Counted(key=k, log_file={str(log)!r}, sleep=0.2) for k in {keys!r}]\n"
        f"tasuki.build(tasks, workspace={str(ws)!r}, progress='off'{extra})\n"
    )


@pytest.mark.parametrize("lease", ["file", "redis"])
def test_two_concurrent_builds_compute_each_task_once(tmp_path, lease, request):
    extra = ""
    if lease == "redis":
        redis_url = request.getfixturevalue("redis_url")
        extra = f", redis_url={redis_url!r}"
    ws, log = tmp_path / "ws", tmp_path / "runs.log"
    first = _python(_overlapping_build(ws, log, ["a", "b", "c", "d"], extra), {})
    second = _python(_overlapping_build(ws, log, ["c", "d", "b", "e"], extra), {})
    for proc in (first, second):
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    runs = log.read_text().split()
    assert sorted(runs) == ["a", "b", "c", "d", "e"]
    assert tasuki.load(Counted(key="e", log_file=""), workspace=str(ws)) == "e"


def test_ctrl_c_leaves_nothing_half_written(tmp_path):
    ws = tmp_path / "ws"
    err, partial = _stop_in_the_middle_of_a_dump(ws, tmp_path, signal.SIGINT)
    assert "KeyboardInterrupt" in err
    task = SlowWrite()
    store = open_store(ws)
    assert not store.exists(task.output().key)
    assert not store.exists(f".tasuki/records/{task.unique_id}.json")
    assert not Path(partial).exists()
    leftovers = [p for p in Path(ws).rglob("*") if p.is_file() and ".tasuki" not in p.parts]
    assert leftovers == []
