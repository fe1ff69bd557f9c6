"""Conformance tests every Store must pass (fsspec's ``tests/abstract`` shape).

An implementation's test module subclasses :class:`StoreSuite` and provides a ``store``
fixture yielding a fresh, empty store::

    class TestMemoryStore(StoreSuite):
        @pytest.fixture
        def store(self) -> Store:
            return open_store(f"memory://t-{uuid.uuid4().hex}")
"""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from tasuki.errors import LockTimeoutError, StorageError
from tasuki.storage import Store
from tasuki.storage._keys import temp_name

BAD_KEYS = ["", "/abs/x", "../up", "a/../../b", "a//b", "a/./b", "a/", ".", "x/.f.tmp-1-abcdef00"]


def plant_temp(store: Any, key: str, data: bytes = b"partial") -> str:
    """Leave a temporary beside ``key`` as a killed writer would; returns its name."""
    head, _, name = key.rpartition("/")
    tmp = temp_name(name)
    rel = f"{head}/{tmp}" if head else tmp
    if store.is_local:
        import os

        path = os.path.join(store.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    else:
        if not store.object_store:
            store.fs.makedirs((store._prefix + rel).rpartition("/")[0], exist_ok=True)
        store.fs.pipe_file(store._prefix + rel, data)
    return tmp


def write_into(store: Any, location: str, rel: str, data: bytes) -> None:
    """Write a file inside a folder handed out by ``directory_atomic``."""
    if store.is_local:
        import os

        path = os.path.join(location, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    else:
        from fsspec.core import split_protocol

        path = split_protocol(location)[1]
        if store.protocol == "memory":
            path = "/" + path
        target = f"{path}/{rel}"
        if not store.object_store:
            store.fs.makedirs(target.rpartition("/")[0], exist_ok=True)
        store.fs.pipe_file(target, data)


class StoreSuite:
    """Behaviour shared by every Store; subclasses supply the ``store`` fixture."""

    # -- basics ------------------------------------------------------------------------------

    def test_is_a_store(self, store: Store) -> None:
        assert isinstance(store, Store)
        assert not store.url.endswith("/")
        assert store.full_path("mod/a.bin").endswith("/mod/a.bin")

    def test_check_passes(self, store: Store) -> None:
        store.check()
        assert list(store.list()) == []

    def test_write_read_roundtrip(self, store: Store) -> None:
        store.write_bytes("mod/sub/a.bin", b"hello")
        assert store.exists("mod/sub/a.bin")
        assert store.read_bytes("mod/sub/a.bin") == b"hello"
        with store.open_read("mod/sub/a.bin") as f:
            assert f.read() == b"hello"
        assert store.size("mod/sub/a.bin") == 5

    def test_modified_is_when_the_object_was_written(self, store: Store) -> None:
        import time

        before = time.time()
        store.write_bytes("mod/a.bin", b"x")
        stamp = store.modified("mod/a.bin")
        # Listings keep whole seconds on some backends (S3's LastModified), and file system
        # clocks tick coarser than time.time(): allow for both.
        assert stamp is not None and before - 2 <= stamp <= time.time() + 2
        with pytest.raises(FileNotFoundError):
            store.modified("mod/missing.bin")

    def test_stat_gives_the_size_and_a_stamp_that_moves_when_rewritten(self, store: Store) -> None:
        store.write_bytes("mod/a.bin", b"abc")
        size, stamp = store.stat("mod/a.bin")
        assert size == 3 and stamp
        assert store.stat("mod/a.bin") == (3, stamp)  # nothing written since: the same
        store.write_bytes("mod/a.bin", b"abd")  # the same size, other bytes
        assert store.stat("mod/a.bin")[0] == 3
        assert store.stat("mod/a.bin")[1] != stamp
        with pytest.raises(FileNotFoundError):
            store.stat("mod/missing.bin")

    def test_stat_of_a_folder_moves_when_one_part_is_rewritten(self, store: Store) -> None:
        with store.directory_atomic("mod/data") as location:
            write_into(store, location, "part-0.bin", b"aa")
            write_into(store, location, "sub/part-1.bin", b"bbb")
        size, stamp = store.stat("mod/data")
        assert size == 5 and stamp
        assert store.stat("mod/data") == (5, stamp)
        store.write_bytes("mod/data/sub/part-1.bin", b"bbc")
        assert store.stat("mod/data")[0] == 5
        assert store.stat("mod/data")[1] != stamp

    def test_empty_object(self, store: Store) -> None:
        store.write_bytes("e.bin", b"")
        assert store.exists("e.bin")
        assert store.read_bytes("e.bin") == b""
        assert store.size("e.bin") == 0

    def test_overwrite_replaces(self, store: Store) -> None:
        store.write_bytes("a.bin", b"old content, longer")
        store.write_bytes("a.bin", b"new")
        assert store.read_bytes("a.bin") == b"new"
        assert list(store.list()) == ["a.bin"]

    def test_missing_key(self, store: Store) -> None:
        assert not store.exists("nope/a.bin")
        with pytest.raises(FileNotFoundError):
            store.read_bytes("nope/a.bin")
        with pytest.raises(FileNotFoundError):
            with store.open_read("nope/a.bin"):
                pass
        with pytest.raises(FileNotFoundError):
            store.size("nope/a.bin")

    def test_exists_many_keeps_order(self, store: Store) -> None:
        keys = [f"m/k{i}.bin" for i in range(20)]
        for key in keys[::3]:
            store.write_bytes(key, b"x")
        expected = [i % 3 == 0 for i in range(20)]
        assert store.exists_many(keys) == expected
        assert store.exists_many([]) == []

    def test_dotted_keys_are_allowed(self, store: Store) -> None:
        store.write_bytes(".tasuki/records/r1.json", b"{}")
        store.write_bytes("mod/.hidden", b"h")
        assert sorted(store.list()) == [".tasuki/records/r1.json", "mod/.hidden"]

    @pytest.mark.parametrize("key", BAD_KEYS)
    def test_bad_keys_are_refused(self, store: Store, key: str) -> None:
        with pytest.raises(StorageError, match="invalid storage key"):
            store.write_bytes(key, b"x")
        with pytest.raises(StorageError):
            store.exists(key)
        with pytest.raises(StorageError):
            store.lease(key)

    def test_pickles(self, store: Store) -> None:
        store.write_bytes("p.bin", b"data")
        clone = pickle.loads(pickle.dumps(store))
        assert clone.url == store.url
        assert clone.read_bytes("p.bin") == b"data"

    # -- atomic writes -----------------------------------------------------------------------

    def test_open_atomic_publishes_on_exit_only(self, store: Store) -> None:
        with store.open_atomic("mod/big.bin") as f:
            f.write(b"a" * 1000)
            f.write(b"b" * 1000)
            assert not store.exists("mod/big.bin")
            assert list(store.list()) == []
        assert store.read_bytes("mod/big.bin") == b"a" * 1000 + b"b" * 1000

    def test_open_atomic_exception_leaves_nothing(self, store: Store) -> None:
        with pytest.raises(RuntimeError, match="boom"):
            with store.open_atomic("mod/x.bin") as f:
                f.write(b"partial")
                raise RuntimeError("boom")
        assert not store.exists("mod/x.bin")
        assert list(store.list()) == []

    def test_open_atomic_exception_keeps_old_object(self, store: Store) -> None:
        store.write_bytes("x.bin", b"old")
        with pytest.raises(KeyboardInterrupt):
            with store.open_atomic("x.bin") as f:
                f.write(b"new but unfinished")
                raise KeyboardInterrupt
        assert store.read_bytes("x.bin") == b"old"
        assert list(store.list()) == ["x.bin"]

    def test_open_atomic_writer_may_close_the_file(self, store: Store) -> None:
        with store.open_atomic("c.bin") as f:
            f.write(b"closed early")
            f.close()
        assert store.read_bytes("c.bin") == b"closed early"

    def test_open_atomic_supports_seek_and_tell(self, store: Store) -> None:
        with store.open_atomic("s.bin") as f:
            f.write(b"0123456789")
            assert f.tell() == 10
            f.seek(2)
            f.write(b"AB")
        assert store.read_bytes("s.bin") == b"01AB456789"

    # -- directories -------------------------------------------------------------------------

    def test_directory_atomic_creates(self, store: Store) -> None:
        with store.directory_atomic("mod/data") as location:
            write_into(store, location, "part-0.bin", b"aa")
            write_into(store, location, "sub/part-1.bin", b"bbb")
            assert not store.exists("mod/data")
        assert sorted(store.list("mod/data")) == ["mod/data/part-0.bin", "mod/data/sub/part-1.bin"]
        assert store.size("mod/data") == 5
        assert store.read_bytes("mod/data/sub/part-1.bin") == b"bbb"

    def test_directory_atomic_replaces_whole_folder(self, store: Store) -> None:
        with store.directory_atomic("d") as location:
            write_into(store, location, "old-1.bin", b"1")
            write_into(store, location, "old-2.bin", b"2")
        with store.directory_atomic("d") as location:
            write_into(store, location, "new.bin", b"3")
        assert sorted(store.list()) == ["d/new.bin"]

    def test_directory_atomic_replaces_a_file(self, store: Store) -> None:
        store.write_bytes("d", b"was a file")
        with store.directory_atomic("d") as location:
            write_into(store, location, "p.bin", b"p")
        assert sorted(store.list()) == ["d/p.bin"]

    def test_directory_atomic_exception_keeps_old(self, store: Store) -> None:
        with store.directory_atomic("d") as location:
            write_into(store, location, "keep.bin", b"k")
        with pytest.raises(ValueError, match="half way"):
            with store.directory_atomic("d") as location:
                write_into(store, location, "lost.bin", b"l")
                raise ValueError("half way")
        assert sorted(store.list()) == ["d/keep.bin"]

    # -- listing, size, remove ---------------------------------------------------------------

    def test_list_prefixes(self, store: Store) -> None:
        for key in ["a/x.bin", "a/b/y.bin", "ab/z.bin", "top.bin"]:
            store.write_bytes(key, b"1")
        assert sorted(store.list()) == ["a/b/y.bin", "a/x.bin", "ab/z.bin", "top.bin"]
        assert sorted(store.list("a")) == ["a/b/y.bin", "a/x.bin"]
        assert sorted(store.list("a/")) == ["a/b/y.bin", "a/x.bin"]
        assert list(store.list("top.bin")) == ["top.bin"]
        assert list(store.list("missing")) == []

    def test_list_skips_temporaries_and_locks(self, store: Store) -> None:
        store.write_bytes("mod/real.bin", b"r")
        plant_temp(store, "mod/real.bin")
        plant_temp(store, "mod/other.bin")
        lease = store.lease("mod/real.bin")
        lease.acquire(timeout=5)
        try:
            assert list(store.list()) == ["mod/real.bin"]
            assert list(store.list(".tasuki/locks")) == []
        finally:
            lease.release()
        assert list(store.list()) == ["mod/real.bin"]
        assert store.size("mod") == 1

    def test_later_write_succeeds_beside_leftover_temporary(self, store: Store) -> None:
        plant_temp(store, "mod/k.bin")
        assert not store.exists("mod/k.bin")
        store.write_bytes("mod/k.bin", b"fresh")
        assert store.read_bytes("mod/k.bin") == b"fresh"
        assert list(store.list()) == ["mod/k.bin"]

    def test_remove(self, store: Store) -> None:
        store.write_bytes("r/a.bin", b"1")
        store.write_bytes("r/t/b.bin", b"2")
        store.write_bytes("keep.bin", b"3")
        store.remove("r/a.bin")
        assert not store.exists("r/a.bin")
        store.remove("r")
        assert not store.exists("r/t/b.bin")
        store.remove("r")  # missing: ignored
        store.remove("never/was")
        assert list(store.list()) == ["keep.bin"]
        store.write_bytes("r/again.bin", b"4")  # a removed folder can be written again
        assert store.read_bytes("r/again.bin") == b"4"

    # -- leases ------------------------------------------------------------------------------

    def test_lease_excludes_a_second_holder(self, store: Store) -> None:
        first = store.lease("mod/task_1.pkl")
        first.acquire(timeout=5)
        try:
            second = store.lease("mod/task_1.pkl")
            with pytest.raises(LockTimeoutError) as info:
                second.acquire(timeout=0.2)
            err = info.value
            assert err.key == "mod/task_1.pkl"  # type: ignore[attr-defined]
            assert "mod/task_1.pkl" in str(err)
            assert err.retryable
            assert err.holder is not None and "pid" in err.holder  # type: ignore[attr-defined]
            assert isinstance(pickle.loads(pickle.dumps(err)), LockTimeoutError)
            other = store.lease("mod/task_2.pkl")  # another key is independent
            other.acquire(timeout=5)
            other.release()
        finally:
            first.release()
        again = store.lease("mod/task_1.pkl")
        again.acquire(timeout=5)
        again.release()

    def test_lease_release_when_not_held_is_noop(self, store: Store) -> None:
        lease = store.lease("k")
        lease.release()
        lease.acquire(timeout=5)
        lease.release()
        lease.release()

    def test_lease_is_not_reentrant(self, store: Store) -> None:
        lease = store.lease("k")
        lease.acquire(timeout=5)
        try:
            with pytest.raises(StorageError, match="already held"):
                lease.acquire(timeout=0)
        finally:
            lease.release()

    def test_lease_context_manager(self, store: Store) -> None:
        lease: Any = store.lease("ctx")
        with lease:
            assert lease.held
            with pytest.raises(LockTimeoutError):
                store.lease("ctx").acquire(timeout=0)
        assert not lease.held
        after = store.lease("ctx")
        after.acquire(timeout=0)
        after.release()

    def test_lease_rejects_negative_timeout(self, store: Store) -> None:
        with pytest.raises(StorageError, match=">= 0"):
            store.lease("k").acquire(timeout=-1)
