"""Exactly once across processes on a GCS workspace (fake-gcs-server on loopback).

The same two scenarios as tests/integration/leases for shared folders and S3, on ``gs://``:
two builds in two processes, on different executors, race over one graph and every task runs
once (counted by a side-effect log); a holder killed with SIGKILL inside a task is taken over
once its lease object expires (by the server's clock), and the output is written once, whole.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import tasuki
from tasuki.storage import FsspecStore, open_store
from tasuki.storage._keys import LOCKS_DIR
from tests.integration.leases._tasks import Payload, Step
from tests.integration.leases.test_exactly_once import finish, start_build, wait_for_line


def no_lease_objects_left(ws: str) -> bool:
    store = open_store(ws)
    assert isinstance(store, FsspecStore)
    return not store.fs.find(f"{store.url}/{LOCKS_DIR}")


def test_two_builds_on_different_executors_run_each_task_once(
    gcs_workspace: str, tmp_path: Path
) -> None:
    log = tmp_path / "side-effects.log"
    step = {"log": str(log), "level": 2, "width": 3}
    common = {"ws": gcs_workspace, "lease": "gcs", "ttl": 20.0, "step": step}
    builds = [
        start_build({**common, "executor": "inline", "workers": 1}),
        start_build({**common, "executor": "local", "workers": 2}),
    ]
    counts = [finish(proc) for proc in builds]
    ran = [line.split()[1] for line in log.read_text().splitlines()]
    assert len(ran) == 7 and sorted(set(ran)) == sorted(ran), ran  # 3 + 3 + 1 tasks, once
    assert sum(c.get("ran", 0) for c in counts) == 7, counts
    assert all(c.get("ran", 0) + c.get("cached", 0) == 7 for c in counts), counts
    assert tasuki.load(Step(**step), workspace=gcs_workspace) == 13  # 1 + 3 * (1 + 3 * 1)
    assert no_lease_objects_left(gcs_workspace)


def test_holder_killed_mid_task_is_taken_over_after_expiry(
    gcs_workspace: str, tmp_path: Path
) -> None:
    log, go = tmp_path / "side-effects.log", tmp_path / "go"
    ttl = 6.0
    cfg = {"ws": gcs_workspace, "lease": "gcs", "ttl": ttl, "executor": "inline", "workers": 1}
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
    # Taken over only after the lease object expired (its last heartbeat was at most ttl/3
    # before the kill), never at once.
    assert second_start - killed_at >= ttl * 2 / 3, (second_start, killed_at)
    data = tasuki.load(Payload(log=str(log), go=str(go)), workspace=gcs_workspace)
    assert data == bytes(range(256)) * (4 * 4096)  # whole
    assert no_lease_objects_left(gcs_workspace)
