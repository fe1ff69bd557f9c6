"""A full, read-only or forbidden disk under a workspace is a StorageError naming the path.

A full disk is simulated without root: the temporary's descriptor is swapped for one on
``/dev/full`` (every write there fails with ENOSPC), or ``os.write`` is made to fail.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from tasuki.errors import StorageError
from tasuki.storage import LocalStore

needs_dev_full = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")


@pytest.fixture
def full_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalStore:
    """A LocalStore whose temporaries are written to /dev/full (the disk is full)."""
    store = LocalStore(tmp_path / "ws")
    original = store._open_temp

    def open_full(path: str, *, again: bool = True) -> tuple[str, str, int]:
        head, tmp, fd = original(path, again=again)
        os.close(fd)
        return head, tmp, os.open("/dev/full", os.O_WRONLY)

    monkeypatch.setattr(store, "_open_temp", open_full)
    return store


def _check(error: StorageError, store: LocalStore, key: str, code: int) -> None:
    message = str(error)
    assert store.full_path(key) in message
    assert f"workspace {store.root!r}" in message
    assert error.path == store.full_path(key)  # type: ignore[attr-defined]
    assert error.root == store.root  # type: ignore[attr-defined]
    assert error.errno_name == errno.errorcode[code]  # type: ignore[attr-defined]
    assert isinstance(error.__cause__, OSError)


@needs_dev_full
def test_write_bytes_on_a_full_disk(full_store: LocalStore) -> None:
    with pytest.raises(StorageError, match="disk is full") as caught:
        full_store.write_bytes("mod/Task/out.pkl", b"x" * 10_000)
    _check(caught.value, full_store, "mod/Task/out.pkl", errno.ENOSPC)
    assert "Free space" in str(caught.value)
    assert not full_store.exists("mod/Task/out.pkl")


@needs_dev_full
def test_open_atomic_on_a_full_disk(full_store: LocalStore) -> None:
    with pytest.raises(StorageError, match="disk is full") as caught:
        with full_store.open_atomic("mod/Task/out.parquet") as f:
            f.write(b"y" * 100_000)  # buffered: fails here or on close
    _check(caught.value, full_store, "mod/Task/out.parquet", errno.ENOSPC)


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (errno.ENOSPC, "disk is full"),
        (errno.EDQUOT, "quota"),
        (errno.EROFS, "read-only"),
        (errno.EACCES, "permission"),
    ],
)
def test_write_bytes_disk_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, words: str
) -> None:
    store = LocalStore(tmp_path / "ws")

    def failing_write(fd: int, data: bytes) -> int:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "write", failing_write)
    with pytest.raises(StorageError, match=words) as caught:
        store.write_bytes("records/run.json", b"{}")
    _check(caught.value, store, "records/run.json", code)


def test_directory_atomic_on_a_full_disk(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "ws")
    with pytest.raises(StorageError, match="disk is full") as caught:
        with store.directory_atomic("mod/Task/out.dir") as folder:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), f"{folder}/part-0.parquet")
    _check(caught.value, store, "mod/Task/out.dir", errno.ENOSPC)
    assert not store.exists("mod/Task/out.dir")


def test_other_errors_are_left_alone(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "ws")
    with pytest.raises(ValueError, match="not a disk error"):
        with store.open_atomic("a.bin"):
            raise ValueError("not a disk error")


@needs_dev_full
def test_fsspec_store_spill_on_a_full_local_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A big write to an object store spills to a local temporary: that disk may be full."""
    import tempfile

    from tasuki.storage import FsspecStore, _fsspec

    # Through a link: the buffer unlinks its spill file by name, and must never remove
    # /dev/full itself.
    spill = tmp_path / "spill"
    spill.symlink_to("/dev/full")

    def full_temporary(**kwargs: object) -> object:
        return open(spill, "w+b")  # closed by the buffer

    monkeypatch.setattr(_fsspec.tempfile, "NamedTemporaryFile", full_temporary)
    store = FsspecStore("memory://disk-full-ws")
    with pytest.raises(StorageError, match="disk is full") as caught:
        with store.open_atomic("mod/Task/big.bin") as f:
            f.write(b"z" * (_fsspec.SPOOL_BYTES + 1))
    message = str(caught.value)
    assert "memory://disk-full-ws/mod/Task/big.bin" in message
    assert tempfile.gettempdir() in message and "TMPDIR" in message
    assert not store.exists("mod/Task/big.bin")
