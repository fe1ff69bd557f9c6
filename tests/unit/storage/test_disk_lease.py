"""Lease files made by exclusive create (DiskLease), for workspaces on a shared disk."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tasuki.errors import LockTimeoutError, WorkspaceUnreachableError
from tasuki.storage import LocalStore, open_store
from tasuki.storage._disk_lease import _HEARTBEATS, DiskLease, network_file_system
from tasuki.storage._locks import LeaseLostError
from tasuki.storage._object_lease import parse_lease
from tests.unit.storage._workers import count_under_lease, hold_lease
from tests.unit.storage.test_leases import wait_for

CTX = multiprocessing.get_context("fork")


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "ws", lease="disk")


def make_lease(
    store: LocalStore,
    key: str = "k",
    *,
    ttl: float = 60.0,
    clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
) -> DiskLease:
    handed = store.lease(key)
    assert isinstance(handed, DiskLease)
    return DiskLease(handed.path, key=key, url=store.url, ttl=ttl, clock=clock, monotonic=monotonic)


def put_lease(path: str, token: str = "t0", ttl: float = 60.0) -> None:
    """A lease file of another holder: a new file put in place, as every holder makes one."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    body = {"token": token, "host": "elsewhere", "pid": 7, "acquired": 0, "heartbeat": 0}
    with open(path + ".put", "w", encoding="utf-8") as f:
        json.dump({**body, "ttl": ttl}, f)
    os.replace(path + ".put", path)


def test_lease_file_is_made_and_removed(store: LocalStore) -> None:
    lease = store.lease("mod/t.pkl")
    assert isinstance(lease, DiskLease)
    assert lease.path == f"{store.root}/.tasuki/locks/mod/t.pkl.lease"
    lease.acquire(timeout=5)
    with open(lease.path, "rb") as f:
        body = parse_lease(f.read())
    assert body is not None and body["pid"] == os.getpid() and body["ttl"] == store.lease_ttl
    lease.release()
    assert not os.path.exists(lease.path)
    assert os.listdir(os.path.dirname(lease.path)) == []  # no graves left behind


def test_held_lease_names_its_holder(store: LocalStore) -> None:
    lease = make_lease(store)
    put_lease(lease.path)
    with pytest.raises(LockTimeoutError, match="host elsewhere pid 7") as info:
        lease.acquire(timeout=0.1)
    assert lease.path in str(info.value)


def test_of_racing_threads_exactly_one_wins(store: LocalStore) -> None:
    for round_ in range(20):
        leases = [make_lease(store, f"race{round_}") for _ in range(4)]
        barrier = threading.Barrier(len(leases))
        won: list[DiskLease] = []

        def try_it(lease: DiskLease) -> None:
            barrier.wait()
            try:
                lease.acquire(timeout=0)
            except LockTimeoutError:
                return
            won.append(lease)

        threads = [threading.Thread(target=try_it, args=(lease,)) for lease in leases]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert len(won) == 1, won
        won[0].release()


def test_leases_serialise_processes(tmp_path: Path) -> None:
    url = str(tmp_path / "ws")
    args = (url, "ctr", None, "counter.txt", 6, "disk")
    procs = [CTX.Process(target=count_under_lease, args=args) for _ in range(3)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(240)
    assert [proc.exitcode for proc in procs] == [0, 0, 0]
    assert open_store(url).read_bytes("counter.txt") == b"18"


def test_heartbeat_touches_the_file(store: LocalStore) -> None:
    lease = make_lease(store, ttl=0.6)
    lease.acquire(timeout=5)
    try:
        first = os.stat(lease.path).st_mtime_ns
        wait_for(lambda: os.stat(lease.path).st_mtime_ns != first, "a heartbeat")
        time.sleep(1.5)  # over two ttls: without heartbeats a waiter would take it
        with pytest.raises(LockTimeoutError):
            make_lease(store, ttl=0.6).acquire(timeout=0.8)
        assert lease.lost is None
    finally:
        lease.release()


def test_expired_lease_is_taken_over(store: LocalStore) -> None:
    lease = make_lease(store)
    put_lease(lease.path, ttl=0.5)  # a holder that died, with its own short ttl
    with pytest.raises(LockTimeoutError):
        lease.acquire(timeout=0)  # first seen just now: not expired
    lease.acquire(timeout=30)
    with open(lease.path, "rb") as f:
        body = parse_lease(f.read())
    assert body is not None and body["token"] == lease._token
    lease.release()


def test_lease_left_long_ago_is_taken_at_once(store: LocalStore) -> None:
    lease = make_lease(store)
    put_lease(lease.path, ttl=60)
    old = time.time() - 3600  # older than ttl + the skew allowance by any clock
    os.utime(lease.path, (old, old))
    lease.acquire(timeout=0)
    lease.release()


@pytest.mark.parametrize("content", [b"", b"\x00\xffgarbage", b'{"token": "abc", "ttl'])
def test_corrupt_lease_file_waits_one_ttl(
    store: LocalStore, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    lease = make_lease(store, ttl=0.5)
    os.makedirs(os.path.dirname(lease.path), exist_ok=True)
    with open(lease.path, "wb") as f:
        f.write(content)
    caplog.set_level(logging.WARNING, "tasuki.storage._disk_lease")
    with pytest.raises(LockTimeoutError, match="corrupt") as info:
        lease.acquire(timeout=0.1)
    assert lease.path in str(info.value) and lease.path in caplog.text
    lease.acquire(timeout=30)  # unchanged for the ttl: taken over
    assert caplog.text.count("is corrupt") == 2  # once per acquire(), not at every poll
    lease.release()


@pytest.mark.parametrize("skew", [-30.0, 30.0])
def test_clock_skew_does_not_let_two_hold(store: LocalStore, skew: float) -> None:
    holder = make_lease(store, ttl=1.0)
    holder.acquire(timeout=5)
    try:
        # The waiter's wall clock is off by `skew`: expiry is judged by its monotonic clock
        # (and by wall clocks only past the five-minute allowance), so it must still wait.
        waiter = make_lease(store, ttl=1.0, clock=lambda: time.time() + skew)
        with pytest.raises(LockTimeoutError):
            waiter.acquire(timeout=2.5)
        assert holder.lost is None
    finally:
        holder.release()


def test_of_two_waiters_one_takes_over(store: LocalStore) -> None:
    path = make_lease(store).path
    for _ in range(10):
        put_lease(path, ttl=60)
        old = time.time() - 3600
        os.utime(path, (old, old))
        leases = [make_lease(store) for _ in range(3)]
        barrier = threading.Barrier(len(leases))
        won: list[DiskLease] = []

        def try_it(lease: DiskLease) -> None:
            barrier.wait()
            try:
                lease.acquire(timeout=0.5)
            except LockTimeoutError:
                return
            won.append(lease)

        threads = [threading.Thread(target=try_it, args=(lease,)) for lease in leases]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert len(won) == 1, won
        won[0].release()


def test_take_over_gives_back_a_fresh_lease_caught_by_mistake(store: LocalStore) -> None:
    waiter = make_lease(store)
    put_lease(waiter.path, token="stale")
    st = os.stat(waiter.path)
    judged = (st.st_ino, st.st_mtime_ns, st.st_size)
    os.unlink(waiter.path)  # meanwhile the stale holder let go and someone new came
    put_lease(waiter.path, token="fresh-holder")
    assert waiter._bury(judged) is False
    with open(waiter.path, "rb") as f:
        body = parse_lease(f.read())
    assert body is not None and body["token"] == "fresh-holder"


def test_holder_that_lost_its_file_publishes_nothing(store: LocalStore) -> None:
    lease = make_lease(store)
    lease.acquire(timeout=5)
    try:
        store.write_bytes("mod/before.bin", b"ok")
        put_lease(lease.path, token="successor")
        with pytest.raises(LeaseLostError, match="taken over"):
            store.write_bytes("mod/after.bin", b"late")
        with pytest.raises(LeaseLostError), store.open_atomic("mod/after.bin") as f:
            f.write(b"late")
        with pytest.raises(LeaseLostError), store.directory_atomic("mod/dir") as tmp:
            Path(tmp, "part").write_bytes(b"late")
        assert not store.exists("mod/after.bin") and not store.exists("mod/dir")
    finally:
        lease.release()
    with open(lease.path, "rb") as f:
        body = parse_lease(f.read())
    assert body is not None and body["token"] == "successor"  # release left it alone


def test_holder_stalled_past_its_ttl_publishes_nothing(store: LocalStore) -> None:
    now = [1000.0]
    lease = make_lease(store, ttl=30, monotonic=lambda: now[0])
    lease.acquire(timeout=5)
    _HEARTBEATS.remove(lease)  # frozen: no heartbeat
    os.unlink(lease.path)  # expired and taken over (then released) while it slept
    now[0] += 31
    try:
        with pytest.raises(LeaseLostError):
            store.write_bytes("mod/out.bin", b"late")
        assert not store.exists("mod/out.bin")
    finally:
        lease.release()


def test_killed_holder_is_taken_over_after_expiry(tmp_path: Path) -> None:
    url = str(tmp_path / "ws")
    ready: Any = CTX.Queue()
    release: Any = CTX.Event()
    proc = CTX.Process(target=hold_lease, args=(url, "k", None, 1.0, ready, release, "disk"))
    proc.start()
    try:
        pid = ready.get(timeout=120)
        store = LocalStore(url, lease="disk")
        with pytest.raises(LockTimeoutError, match=f"pid {pid}"):
            store.lease("k").acquire(timeout=0.2)
        os.kill(pid, signal.SIGKILL)
        proc.join(60)
        lease = store.lease("k")
        lease.acquire(timeout=30)  # the file stays; unchanged for its 1 s ttl it expires
        lease.release()
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join()


def test_unknown_lease_kind(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceUnreachableError, match="'auto', 'range', 'disk'"):
        LocalStore(tmp_path, lease="nfs")


def test_network_file_systems_get_lease_files(tmp_path: Path) -> None:
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
        "40 22 0:50 / /mnt/team rw,relatime shared:9 - nfs4 srv:/export rw,vers=4.2\n"
        "41 22 0:51 / /mnt/ssh\\040box rw - fuse.sshfs u@h:/ rw\n"
    )
    info = str(mountinfo)
    assert network_file_system("/mnt/team/ws", info) == "nfs4"
    assert network_file_system("/mnt/team", info) == "nfs4"
    assert network_file_system("/mnt/teamwork/ws", info) is None
    assert network_file_system("/mnt/ssh box/ws", info) == "fuse.sshfs"
    assert network_file_system("/home/me/ws", info) is None
    assert network_file_system("/x", str(tmp_path / "missing")) is None
    assert LocalStore(tmp_path).lease("k").__class__.__name__ == "RangeLease"  # local disk
