"""Leases across processes (file locks and Redis) and the marker lease's expiry rules."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import re
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tasuki.errors import LockTimeoutError, WorkspaceUnreachableError
from tasuki.storage import FsspecStore, LocalStore, _local, open_store
from tasuki.storage._locks import MarkerLease, RedisLease
from tests.unit.storage._workers import count_under_lease, hold_lease

# fork: children start in ~0.1 s (spawn takes ~1 s here); they use only os and redis-py.
CTX = multiprocessing.get_context("fork")


class Holder:
    """A child process holding a lease until told to let go (or killed)."""

    def __init__(self, url: str, key: str, redis_url: str | None = None, ttl: float = 60) -> None:
        self.ready: Any = CTX.Queue()
        self.release_event: Any = CTX.Event()
        self.proc = CTX.Process(
            target=hold_lease, args=(url, key, redis_url, ttl, self.ready, self.release_event)
        )

    def __enter__(self) -> Holder:
        self.proc.start()
        self.pid = self.ready.get(timeout=120)
        return self

    def let_go(self) -> None:
        self.release_event.set()
        self.proc.join(60)
        assert self.proc.exitcode == 0

    def kill(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        self.proc.join(60)

    def __exit__(self, *exc: object) -> None:
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()


@pytest.fixture(params=["range", "filelock", "redis"])
def shared_store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, str | None]]:
    """(workspace url, redis url or None) for a store shared by several processes."""
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    if request.param == "filelock":  # the fallback where fcntl is missing; forked children
        monkeypatch.setattr(_local, "RangeLease", None)  # inherit the patch
    yield str(tmp_path / "ws"), redis_url


def test_lease_held_by_another_process(shared_store: tuple[str, str | None]) -> None:
    url, redis_url = shared_store
    store = open_store(url, redis_url=redis_url)
    with Holder(url, "mod/t.pkl", redis_url) as holder:
        with pytest.raises(LockTimeoutError) as info:
            store.lease("mod/t.pkl").acquire(timeout=0.3)
        assert f"pid {holder.pid}" in str(info.value), str(info.value)
        assert f"pid {holder.pid}" in info.value.holder  # type: ignore[attr-defined]
        holder.let_go()
    lease = store.lease("mod/t.pkl")
    lease.acquire(timeout=30)
    lease.release()


def test_lease_of_a_killed_holder_is_freed(shared_store: tuple[str, str | None]) -> None:
    url, redis_url = shared_store
    # A file lock is dropped by the kernel at once; a Redis lease after its ttl (1 s here).
    store = open_store(url, redis_url=redis_url)
    with Holder(url, "k", redis_url, ttl=1.0) as holder:
        with pytest.raises(LockTimeoutError):  # held for real, or the rest proves nothing
            store.lease("k").acquire(timeout=0)
        holder.kill()
    lease = store.lease("k")
    lease.acquire(timeout=60 if redis_url else 0)
    lease.release()


def test_leases_serialise_read_modify_write(shared_store: tuple[str, str | None]) -> None:
    url, redis_url = shared_store
    procs = [
        CTX.Process(target=count_under_lease, args=(url, "ctr", redis_url, "counter.txt", 6))
        for _ in range(3)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(240)
    assert [proc.exitcode for proc in procs] == [0, 0, 0]
    assert open_store(url).read_bytes("counter.txt") == b"18"


def test_store_lock_timeout_is_the_default(tmp_path: Path) -> None:
    store = open_store(tmp_path, lock_timeout=0.1)
    first = store.lease("k")
    first.acquire()
    try:
        with pytest.raises(LockTimeoutError) as info:
            store.lease("k").acquire()
        assert info.value.timeout == 0.1  # type: ignore[attr-defined]
        assert "lock file" in str(info.value) and ".tasuki/locks/leases" in str(info.value)
    finally:
        first.release()


# -- Redis ---------------------------------------------------------------------------------


def _redis_lease(store: Any, key: str) -> RedisLease:
    lease = store.lease(key)
    assert isinstance(lease, RedisLease)
    return lease


def wait_for(condition: Any, what: str, limit: float = 30.0) -> None:
    """Poll ``condition`` until true; fail after ``limit`` seconds (a bound, not a timing)."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {limit} s")
        time.sleep(0.05)


def test_redis_lease_is_renewed(tmp_path: Path, redis_url: str) -> None:
    store = LocalStore(tmp_path / "ws", redis_url=redis_url, lease_ttl=3.0)
    lease = _redis_lease(store, "renewed")
    lease.acquire(timeout=5)
    client = store._redis_client()
    seen = [int(client.pttl(lease.name))]
    try:

        def went_up() -> bool:
            seen.append(int(client.pttl(lease.name)))
            return seen[-1] > seen[-2]  # the expiry was pushed back: renewed

        wait_for(went_up, "a renewal of the Redis lease")
        assert min(seen) > 0  # it never lapsed meanwhile
        with pytest.raises(LockTimeoutError, match="Redis key"):
            store.lease("renewed").acquire(timeout=0)
    finally:
        lease.release()
    assert client.get(lease.name) is None


def test_redis_release_does_not_delete_a_successor(tmp_path: Path, redis_url: str) -> None:
    store = LocalStore(tmp_path / "ws", redis_url=redis_url)
    lease = _redis_lease(store, "taken")
    lease.acquire(timeout=5)
    client = store._redis_client()
    client.set(lease.name, "other-token host elsewhere pid 1")  # as if it expired and was taken
    lease.release()
    assert client.get(lease.name) == b"other-token host elsewhere pid 1"
    client.delete(lease.name)


def test_redis_down(tmp_path: Path) -> None:
    store = open_store(tmp_path, redis_url="redis://127.0.0.1:1/0")
    with pytest.raises(WorkspaceUnreachableError, match=re.escape("redis://127.0.0.1:1/0")):
        store.lease("k").acquire(timeout=1)


# -- marker leases (memory://; the S3 object lease: tests/integration/s3/test_s3_leases.py) ---


@pytest.fixture
def memory_store() -> Iterator[FsspecStore]:
    store = FsspecStore(f"memory://lease-{uuid.uuid4().hex}")
    yield store
    with contextlib.suppress(FileNotFoundError):
        store.fs.rm(store._root, recursive=True)


def _marker(store: FsspecStore, key: str) -> MarkerLease:
    lease = store.lease(key)
    assert isinstance(lease, MarkerLease)
    return lease


def test_marker_expired_is_taken_over(memory_store: FsspecStore) -> None:
    lease = _marker(memory_store, "k")
    ghost = {"token": "t0", "holder": "host gone pid 1", "expires": time.time() - 5}
    memory_store.fs.pipe_file(lease.path, json.dumps(ghost).encode())
    lease.acquire(timeout=5)
    body = json.loads(memory_store.fs.cat_file(lease.path))
    assert body["holder"] != "host gone pid 1"
    lease.release()
    assert not memory_store.fs.exists(lease.path)


def test_marker_live_is_respected(memory_store: FsspecStore) -> None:
    lease = _marker(memory_store, "k")
    alive = {"token": "t0", "holder": "host busy pid 7", "expires": time.time() + 600}
    memory_store.fs.pipe_file(lease.path, json.dumps(alive).encode())
    with pytest.raises(LockTimeoutError, match="host busy pid 7"):
        lease.acquire(timeout=0.2)


def test_marker_unreadable_counts_as_expired(memory_store: FsspecStore) -> None:
    lease = _marker(memory_store, "k")
    memory_store.fs.pipe_file(lease.path, b"\x00garbage")
    lease.acquire(timeout=5)
    lease.release()


def test_marker_is_renewed(memory_store: FsspecStore) -> None:
    memory_store.lease_ttl = 3.0
    lease = _marker(memory_store, "k")
    lease.acquire(timeout=5)

    def expires() -> float:
        return float(json.loads(memory_store.fs.cat_file(lease.path))["expires"])

    first = expires()
    try:
        wait_for(lambda: expires() > first, "a renewal of the lease marker")
        with pytest.raises(LockTimeoutError):
            memory_store.lease("k").acquire(timeout=0)
    finally:
        lease.release()


def test_marker_release_keeps_a_successor(memory_store: FsspecStore) -> None:
    lease = _marker(memory_store, "k")
    lease.acquire(timeout=5)
    successor = {"token": "other", "holder": "h", "expires": time.time() + 600}
    memory_store.fs.pipe_file(lease.path, json.dumps(successor).encode())
    lease.release()
    assert json.loads(memory_store.fs.cat_file(lease.path))["token"] == "other"
