"""Take-over claims of lease files (DiskLease) are removed, not left in ``.tasuki/locks``.

A waiter that takes over a stale lease file first claims it by exclusive create of
``<lease>.claim-<inode>-<mtime>-<size>``. Each take-over makes a new claim name, so claims
that stay pile up, one per take-over, for ever. They are removed ``CLAIM_FRESH_S`` after the
take-over, which is safe because a waiter does not act on a judgement older than that.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tasuki.errors import LockTimeoutError
from tasuki.storage import LocalStore, _disk_lease
from tasuki.storage._disk_lease import DiskLease
from tasuki.storage._object_lease import parse_lease
from tests.unit.storage.test_leases import wait_for

ROOT = Path(__file__).resolve().parents[3]


def put_stale_lease(path: str, token: str = "dead") -> None:
    """A lease file left by a holder that died an hour ago (expired by any clock)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    body = {"token": token, "host": "elsewhere", "pid": 7, "acquired": 0, "heartbeat": 0}
    with open(path, "w", encoding="utf-8") as f:
        json.dump({**body, "ttl": 60}, f)
    old = time.time() - 3600
    os.utime(path, (old, old))


def lock_files(store: LocalStore) -> list[str]:
    found = []
    for folder, _, files in os.walk(os.path.join(store.root, ".tasuki", "locks")):
        found += [os.path.relpath(os.path.join(folder, f), store.root) for f in files]
    return sorted(found)


def test_take_overs_leave_no_claims_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_disk_lease, "CLAIM_FRESH_S", 0.3)
    store = LocalStore(tmp_path / "ws", lease="disk")
    for i in range(20):
        lease = store.lease(f"mod/t{i}.pkl")
        assert isinstance(lease, DiskLease)
        put_stale_lease(lease.path)
        lease.acquire(timeout=0)  # stale for an hour: taken over at once
        claims = [f for f in lock_files(store) if ".pkl.lease.claim-" in f]
        assert any(f"t{i}.pkl.lease.claim-" in f for f in claims), claims  # it was claimed
        lease.release()
    # Removed CLAIM_FRESH_S after each take-over by this process's lease thread; no lease
    # file, claim, grave or private copy is left of twenty take-overs.
    wait_for(lambda: lock_files(store) == [], "the take-over claims to be removed")


CHILD = """
import sys
from tasuki.storage import LocalStore
lease = LocalStore(sys.argv[1], lease="disk").lease("mod/t.pkl")
lease.acquire(timeout=0)
lease.release()
"""


def test_a_process_that_exits_right_after_a_take_over_removes_its_claim(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "ws", lease="disk")
    lease = store.lease("mod/t.pkl")
    assert isinstance(lease, DiskLease)
    put_stale_lease(lease.path)
    t0 = time.monotonic()
    subprocess.run(
        [sys.executable, "-c", CHILD, store.root],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
        timeout=60,
    )
    # It took the lease over (the stale file is gone) and removed its claim at exit, after
    # waiting out the rest of CLAIM_FRESH_S.
    assert lock_files(store) == []
    assert time.monotonic() - t0 >= _disk_lease.CLAIM_FRESH_S


def take_over_and_return(root: str) -> None:
    """In a forked worker: take the stale lease over, release it, return (then os._exit)."""
    lease = LocalStore(root, lease="disk").lease("mod/t.pkl")
    lease.acquire(timeout=0)
    lease.release()


def test_a_forked_worker_that_ends_right_after_a_take_over_removes_its_claim(
    tmp_path: Path,
) -> None:
    # Worker processes of the local executor are forked and end in os._exit, which skips
    # atexit handlers: the claim must still go.
    assert _claims_left_by_a_forked(take_over_and_return, tmp_path) == []


def _claims_left_by_a_forked(worker_target: Any, tmp_path: Path) -> list[str]:
    """What a forked worker running ``worker_target(root)`` over a stale lease leaves in
    ``.tasuki/locks``."""
    store = LocalStore(tmp_path / "ws", lease="disk")
    lease = store.lease("mod/t.pkl")
    assert isinstance(lease, DiskLease)
    put_stale_lease(lease.path)
    worker = multiprocessing.get_context("fork").Process(target=worker_target, args=(store.root,))
    worker.start()
    worker.join(60)
    assert worker.exitcode == 0
    return lock_files(store)


def take_over_and_return_while_the_thread_unlinks(root: str) -> None:
    """In a forked worker: take the lease over, let the lease thread take the claim up and
    be slow to unlink it, then return (os._exit) while it is still unlinking."""
    real_unlink = os.unlink

    def slow_in_the_lease_thread(path: str) -> None:
        if threading.current_thread().name == "tasuki-lease-files":
            time.sleep(1.0)
        real_unlink(path)

    _disk_lease.os.unlink = slow_in_the_lease_thread  # type: ignore[assignment]  # the child's
    take_over_and_return(root)
    time.sleep(_disk_lease.CLAIM_FRESH_S + 0.3)  # the claim is due: the thread has it now


def test_a_forked_worker_waits_for_a_claim_the_lease_thread_is_removing(tmp_path: Path) -> None:
    # Seen flaky in CI: the thread took the due claim out of its dict, the worker's exit found
    # the dict empty and ended the process (os._exit) before the thread had unlinked the claim.
    left = _claims_left_by_a_forked(take_over_and_return_while_the_thread_unlinks, tmp_path)
    assert left == []


def test_a_stale_judgement_is_not_acted_on(tmp_path: Path) -> None:
    # Every reading of the waiter's monotonic clock is 3 s after the last: between its stat of
    # the lease file and its claim more than CLAIM_FRESH_S pass, as for a process frozen
    # there. The file might have been taken over meanwhile: it must not rename anything.
    ticks = [0.0]

    def frozen_between_readings() -> float:
        ticks[0] += 3.0
        return ticks[0]

    store = LocalStore(tmp_path / "ws", lease="disk")
    handed = store.lease("k")
    assert isinstance(handed, DiskLease)
    put_stale_lease(handed.path)
    waiter = DiskLease(handed.path, key="k", url=store.url, monotonic=frozen_between_readings)
    with pytest.raises(LockTimeoutError, match="judged again"):
        waiter.acquire(timeout=20)
    with open(handed.path, "rb") as f:
        body = parse_lease(f.read())
    assert body is not None and body["token"] == "dead"  # left where it was
    assert lock_files(store) == [".tasuki/locks/k.lease"]  # its claims given back
