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


def test_kill_9_in_the_middle_of_a_dump_then_rerun(tmp_path):
    ws = tmp_path / "ws"
    signal_file = tmp_path / "started"
    code = (
        "import tasuki\n"
        "from tests.unit.core.tasks_for_tests import SlowWrite\n"
        f"tasuki.build(SlowWrite(mb=400), workspace={str(ws)!r}, progress='off')\n"
    )
    proc = _python(code, {"SLOW_WRITE_SIGNAL": str(signal_file)})
    deadline = time.monotonic() + 60
    while not signal_file.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(0.3)  # well inside writing 400 MB
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    task = SlowWrite(mb=400)
    store = open_store(ws)
    assert not store.exists(task.output().key)
    assert not store.exists(f".tasuki/records/{task.unique_id}.json")
    # The rerun sees an incomplete task and runs it; a small size keeps the test quick.
    os.environ["SLOW_WRITE_SIGNAL"] = str(signal_file)
    try:
        result = tasuki.build(SlowWrite(mb=1), workspace=str(ws), return_value=False)
    finally:
        del os.environ["SLOW_WRITE_SIGNAL"]
    assert result.counts()["ran"] == 1


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
    signal_file = tmp_path / "started"
    code = (
        "import tasuki\n"
        "from tests.unit.core.tasks_for_tests import SlowWrite\n"
        f"tasuki.build(SlowWrite(mb=400), workspace={str(ws)!r}, progress='off')\n"
    )
    proc = _python(code, {"SLOW_WRITE_SIGNAL": str(signal_file)})
    deadline = time.monotonic() + 60
    while not signal_file.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "KeyboardInterrupt" in err
    task = SlowWrite(mb=400)
    store = open_store(ws)
    assert not store.exists(task.output().key)
    leftovers = [p for p in Path(ws).rglob("*") if p.is_file() and ".tasuki" not in p.parts]
    assert leftovers == []
