"""Exactly once across processes: two builds on different executors race over one graph.

Each build runs in its own process (as on two hosts), on a shared folder (the byte-range lock,
and lease files as on a network file system) and on S3 (moto's server on loopback: the lease
object kept by conditional writes). Every task appends a line to a side-effect log; each must
appear once. A holder killed with SIGKILL mid-task is taken over after its lease expires and
the output is written once, whole.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import tasuki
from tests.integration.leases._tasks import Payload, Step

ROOT = Path(__file__).resolve().parents[3]

CHILD = """
import json, sys
import tasuki, tasuki.storage, tasuki.storage._local as local
cfg = json.loads(sys.argv[1])
if cfg["lease"] == "disk":  # as if the folder were on NFS: lease files by exclusive create
    local.network_file_system = lambda path, mountinfo=None: "nfs4"
real_open = tasuki.storage.open_store
def open_store(*args, **kwargs):
    store = real_open(*args, **kwargs)
    store.lease_ttl = cfg["ttl"]
    return store
tasuki.storage.open_store = open_store
import tasuki.core.runner
tasuki.core.runner.open_store = open_store  # the runner's own name for it
from tests.integration.leases._tasks import Payload, Step
task = Step(**cfg["step"]) if "step" in cfg else Payload(**cfg["payload"])
result = tasuki.build(task, workspace=cfg["ws"], executor=cfg["executor"],
                      workers=cfg["workers"], progress="off", return_value=False)
print(json.dumps(result.counts()))
"""


def start_build(cfg: dict[str, Any]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(cfg)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> dict[str, int]:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    return dict(json.loads(out.strip().splitlines()[-1]))


@pytest.fixture(params=["range", "disk", "s3"])
def workspace(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """(workspace, lease kind): a shared folder with each local lease, or S3."""
    if request.param == "s3":
        return request.getfixturevalue("s3_workspace"), "s3"
    return str(tmp_path / "ws"), request.param


def test_two_builds_on_different_executors_run_each_task_once(
    workspace: tuple[str, str], tmp_path: Path
) -> None:
    ws, lease = workspace
    log = tmp_path / "side-effects.log"
    step = {"log": str(log), "level": 2, "width": 3}
    common = {"ws": ws, "lease": lease, "ttl": 20.0, "step": step}
    builds = [
        start_build({**common, "executor": "inline", "workers": 1}),
        start_build({**common, "executor": "local", "workers": 2}),
    ]
    counts = [finish(proc) for proc in builds]
    ran = [line.split()[1] for line in log.read_text().splitlines()]
    assert len(ran) == 7 and sorted(set(ran)) == sorted(ran), ran  # 3 + 3 + 1 tasks, once
    assert sum(c.get("ran", 0) for c in counts) == 7, counts
    assert all(c.get("ran", 0) + c.get("cached", 0) == 7 for c in counts), counts
    assert tasuki.load(Step(**step), workspace=ws) == 13  # 1 + 3 * (1 + 3 * 1)


def wait_for_line(log: Path, text: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while not (log.exists() and text in log.read_text()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{text!r} never appeared in {log}"
        time.sleep(0.02)


def test_holder_killed_mid_task_is_taken_over_after_expiry(
    workspace: tuple[str, str], tmp_path: Path
) -> None:
    ws, lease = workspace
    log, go = tmp_path / "side-effects.log", tmp_path / "go"
    ttl = 6.0
    cfg = {"ws": ws, "lease": lease, "ttl": ttl, "executor": "inline", "workers": 1}
    cfg["payload"] = {"log": str(log), "go": str(go)}
    first = start_build(cfg)
    try:
        wait_for_line(log, "start", first)  # inside run(), holding the lease
        os.kill(first.pid, signal.SIGKILL)
        first.wait(60)
        killed_at = time.time()
        go.touch()  # from now on a run goes straight through
        counts = finish(start_build(cfg))
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert counts == {"ran": 1}, counts
    lines = log.read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["start", "start", "wrote"], lines
    second_start = float(lines[1].split()[-1])
    if lease != "range":  # a byte-range lock is dropped by the kernel at once
        # Taken over only after the lease expired (the last heartbeat was at most ttl/3
        # before the kill), never at once.
        assert second_start - killed_at >= ttl * 2 / 3, (second_start, killed_at)
    data = tasuki.load(Payload(log=str(log), go=str(go)), workspace=ws)
    assert data == bytes(range(256)) * (4 * 4096)  # whole
