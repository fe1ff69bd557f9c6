"""FsspecStore on a real S3 endpoint (moto's server on loopback, started by tests/_s3.py)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tasuki.errors import LockTimeoutError, WorkspaceUnreachableError
from tasuki.storage import FsspecStore, Store, _fsspec, open_store
from tests._s3 import s3_client
from tests.unit.storage._workers import count_under_lease, hold_lease, write_and_hang, write_with
from tests.unit.storage.suite import StoreSuite

# fork: a child starts in ~0.1 s; fsspec resets its event loop after a fork and each child
# builds its own S3 file system, so nothing made in the parent is reused there.
CTX = multiprocessing.get_context("fork")

# No botocore retries when the endpoint is down: fail in one attempt, not after ~5 s.
NO_RETRIES = {"config_kwargs": {"retries": {"max_attempts": 1, "mode": "standard"}}}


class TestS3Store(StoreSuite):
    @pytest.fixture
    def store(self, s3_workspace: str) -> Store:
        return open_store(s3_workspace)


@pytest.fixture
def s3_store(s3_workspace: str) -> FsspecStore:
    store = open_store(s3_workspace)
    assert isinstance(store, FsspecStore)
    return store


def test_full_path_and_url(s3_store: FsspecStore, s3_workspace: str) -> None:
    assert s3_store.url == s3_workspace
    assert s3_store.full_path("m/a.pkl") == f"{s3_workspace}/m/a.pkl"


def test_objects_land_under_the_prefix(s3_store: FsspecStore, s3_endpoint: str) -> None:
    s3_store.write_bytes("mod/a.bin", b"1")
    with s3_store.open_atomic("mod/b.bin") as f:
        f.write(b"2")
    bucket = s3_store.url.split("/")[2]
    listed = s3_client(s3_endpoint).list_objects_v2(Bucket=bucket)
    assert sorted(item["Key"] for item in listed["Contents"]) == ["ws/mod/a.bin", "ws/mod/b.bin"]


def test_open_atomic_spills_large_writes(
    s3_store: FsspecStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spill_dir = tmp_path / "spill"
    spill_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill_dir))
    monkeypatch.setattr(_fsspec, "SPOOL_BYTES", 64 * 1024)
    data = os.urandom(300 * 1024)
    with s3_store.open_atomic("big.bin") as f:
        for start in range(0, len(data), 10_000):
            f.write(data[start : start + 10_000])
        assert os.listdir(spill_dir), "the buffer should have spilled to a local file"
    assert s3_store.read_bytes("big.bin") == data
    with pytest.raises(RuntimeError):
        with s3_store.open_atomic("never.bin") as f:
            f.write(data)
            raise RuntimeError("stop")
    assert not s3_store.exists("never.bin")
    assert os.listdir(spill_dir) == []  # spill files are removed either way


def test_exists_many_concurrently(s3_store: FsspecStore) -> None:
    keys = [f"m/k{i:02d}.bin" for i in range(40)]
    for key in keys[::4]:
        s3_store.write_bytes(key, b"x")
    assert s3_store.exists_many(keys) == [i % 4 == 0 for i in range(40)]


def test_exists_sees_writes_of_another_writer(
    s3_workspace: str,
    s3_endpoint: str,
) -> None:
    reader = open_store(s3_workspace)
    reader.write_bytes("mod/early.bin", b"x")
    assert list(reader.list("mod")) == ["mod/early.bin"]  # would fill a listing cache, if on
    assert not reader.exists("mod/late.bin")
    bucket = s3_workspace.split("/")[2]  # another machine's write, not through our instance
    s3_client(s3_endpoint).put_object(Bucket=bucket, Key="ws/mod/late.bin", Body=b"y")
    assert reader.exists("mod/late.bin")
    assert sorted(reader.list("mod")) == ["mod/early.bin", "mod/late.bin"]


# -- unreachable workspaces ---------------------------------------------------------------


def test_missing_bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    store = open_store("s3://tasuki-no-such-bucket/ws")
    with pytest.raises(WorkspaceUnreachableError) as info:
        store.check()
    message = str(info.value)
    assert "s3://tasuki-no-such-bucket/ws" in message
    assert "bucket does not exist" in message
    assert "aws s3 mb" in message
    assert info.value.url == "s3://tasuki-no-such-bucket/ws"  # type: ignore[attr-defined]


def test_endpoint_down(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    store = open_store("s3://bucket/ws", storage_options=NO_RETRIES)  # no network yet
    with pytest.raises(WorkspaceUnreachableError) as info:
        store.check()
    message = str(info.value)
    assert "s3://bucket/ws" in message
    assert f"127.0.0.1:{port}" in message
    assert "AWS_ENDPOINT_URL" in message


# -- leases (the lease object itself: test_s3_leases.py) ----------------------------------


@pytest.fixture
def start_holder(s3_workspace: str) -> Iterator[Any]:
    """Start a child process holding the lease on "mod/t.pkl" with a given ttl."""
    procs: list[Any] = []

    def start(ttl: float) -> tuple[Any, int, Any]:
        ready: Any = CTX.Queue()
        release: Any = CTX.Event()
        args = (s3_workspace, "mod/t.pkl", None, ttl, ready, release)
        proc = CTX.Process(target=hold_lease, args=args)
        proc.start()
        procs.append(proc)
        return proc, ready.get(timeout=120), release

    yield start
    for proc in procs:
        if proc.is_alive():
            proc.kill()
            proc.join()


def test_lease_across_processes(s3_workspace: str, start_holder: Any) -> None:
    # A long ttl: on a loaded machine a short one could lapse between two renewals.
    proc, pid, release = start_holder(60.0)
    store = open_store(s3_workspace)
    with pytest.raises(LockTimeoutError) as info:
        store.lease("mod/t.pkl").acquire(timeout=0.3)
    assert f"pid {pid}" in str(info.value)
    release.set()
    proc.join(60)
    assert proc.exitcode == 0
    lease = store.lease("mod/t.pkl")
    lease.acquire(timeout=0)  # released, not merely expired
    lease.release()


def test_lease_of_killed_holder_expires(s3_workspace: str, start_holder: Any) -> None:
    proc, pid, _ = start_holder(1.5)
    os.kill(pid, signal.SIGKILL)
    proc.join(60)
    lease = open_store(s3_workspace).lease("mod/t.pkl")
    lease.acquire(timeout=60)  # after the 1.5 s ttl the marker is taken over
    lease.release()


def test_leases_serialise_processes(s3_workspace: str) -> None:
    procs = [
        CTX.Process(target=count_under_lease, args=(s3_workspace, "ctr", None, "counter.txt", 3))
        for _ in range(3)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(240)
    assert [proc.exitcode for proc in procs] == [0, 0, 0]
    assert open_store(s3_workspace).read_bytes("counter.txt") == b"9"


def test_sigkill_mid_open_atomic_uploads_nothing(s3_workspace: str) -> None:
    started: Any = CTX.Event()
    proc = CTX.Process(target=write_and_hang, args=(s3_workspace, "mod/big.bin", 2 << 20, started))
    proc.start()
    try:
        assert started.wait(120)
        os.kill(proc.pid, signal.SIGKILL)  # type: ignore[arg-type]
        proc.join(60)
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join()
    store = open_store(s3_workspace)
    assert not store.exists("mod/big.bin")
    assert list(store.list()) == []


def test_store_object_survives_fork(s3_store: FsspecStore) -> None:
    s3_store.write_bytes("parent.bin", b"p")  # the parent's S3 client now exists
    proc = CTX.Process(target=write_with, args=(s3_store, "child.bin", b"c"))
    proc.start()
    proc.join(120)
    assert proc.exitcode == 0
    assert s3_store.read_bytes("child.bin") == b"c"
    s3_store.write_bytes("parent-again.bin", b"p2")
