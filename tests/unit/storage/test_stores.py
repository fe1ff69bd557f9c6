"""The conformance suite on LocalStore, memory://, fsspec's file://, and Redis leases."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tasuki.storage import FsspecStore, LocalStore, Store, _local, open_store
from tasuki.storage._locks import FileLease
from tests.unit.storage.suite import StoreSuite


class TestLocalStore(StoreSuite):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Store:
        return LocalStore(tmp_path / "ws")


class TestLocalStoreFsync(StoreSuite):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Store:
        return LocalStore(tmp_path / "ws", fsync=True)


class TestLocalStoreFileLockLeases(StoreSuite):
    """Where fcntl is missing (Windows) local leases fall back to one filelock file per key."""

    @pytest.fixture
    def store(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
        monkeypatch.setattr(_local, "RangeLease", None)
        store = LocalStore(tmp_path / "ws")
        assert isinstance(store.lease("k"), FileLease)
        return store


class TestLocalStoreRedisLeases(StoreSuite):
    @pytest.fixture
    def store(self, tmp_path: Path, redis_url: str) -> Store:
        return open_store(tmp_path / "ws", redis_url=redis_url)


class TestMemoryStore(StoreSuite):
    @pytest.fixture
    def store(self) -> Iterator[Store]:
        store = open_store(f"memory://t-{uuid.uuid4().hex}")
        yield store
        assert isinstance(store, FsspecStore)
        if store.fs.exists(store._root):
            store.fs.rm(store._root, recursive=True)


class TestFsspecLocalFileSystem(StoreSuite):
    """FsspecStore on fsspec's file:// exercises the temporary-and-move path of non-object
    file systems (LocalStore is what open_store picks for local folders)."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> Store:
        return FsspecStore(f"file://{tmp_path}/ws")
