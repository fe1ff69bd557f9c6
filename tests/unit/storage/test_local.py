"""LocalStore specifics: kill -9 mid-write, sweeping temporaries, unreachable folders."""

from __future__ import annotations

import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tasuki.errors import WorkspaceUnreachableError
from tasuki.storage import LocalStore
from tasuki.storage._keys import _host, temp_name, temp_owner
from tasuki.storage._local import STALE_TEMP_SECONDS
from tests._read_only import ReadOnly
from tests.unit.storage._workers import write_and_hang

# fork: children start in ~0.1 s (spawn takes ~1 s here); they use only os and redis-py.
CTX = multiprocessing.get_context("fork")


def _kill_mid_write(root: Path, key: str, size: int) -> None:
    started = CTX.Event()
    proc = CTX.Process(target=write_and_hang, args=(str(root), key, size, started))
    proc.start()
    try:
        assert started.wait(120), "the child never reached the middle of its write"
        os.kill(proc.pid, signal.SIGKILL)  # type: ignore[arg-type]
        proc.join(60)
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join()
    assert proc.exitcode == -signal.SIGKILL


@pytest.mark.parametrize("had_old", [False, True], ids=["new-key", "overwrite"])
def test_sigkill_mid_open_atomic_leaves_no_object(tmp_path: Path, had_old: bool) -> None:
    root = tmp_path / "ws"
    store = LocalStore(root)
    if had_old:
        store.write_bytes("mod/big.bin", b"old")
    size = 24 << 20
    _kill_mid_write(root, "mod/big.bin", size)

    if had_old:
        assert store.read_bytes("mod/big.bin") == b"old"
        assert list(store.list()) == ["mod/big.bin"]
    else:
        assert not store.exists("mod/big.bin")
        assert list(store.list()) == []
    # The dead writer's temporary is in its own staging folder, not beside the key.
    assert [n for n in os.listdir(root / "mod") if n != "big.bin"] == []
    staging = [p for p in _staging_folders(root) if temp_owner(p.name) != (os.getpid(), True)]
    assert len(staging) == 1
    leftovers = os.listdir(staging[0])
    assert len(leftovers) == 1 and leftovers[0].startswith(".big.bin.tmp-")
    assert (staging[0] / leftovers[0]).stat().st_size >= size

    # A later writer (a new process has a fresh store) sweeps the dead writer's staging folder.
    LocalStore(root).write_bytes("mod/big.bin", b"new")
    assert os.listdir(root / "mod") == ["big.bin"]
    assert not staging[0].exists()
    assert store.read_bytes("mod/big.bin") == b"new"


def _staging_folders(root: Path) -> list[Path]:
    return [p for p in (root / ".tasuki").iterdir() if p.name.startswith(".staging.tmp-")]


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_sweep_judges_pid_host_and_age(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    folder = root / "mod"
    folder.mkdir(parents=True)
    host = _host()
    names = {
        "dead": f".a.bin.tmp-{_dead_pid()}-{host}00000001",
        "live": f".b.bin.tmp-{os.getppid()}-{host}00000002",
        "mine": temp_name("c.bin"),
        "other_host_fresh": f".d.bin.tmp-{os.getpid()}-zzzzzz00000003",
        "other_host_old": f".e.bin.tmp-{os.getpid()}-zzzzzz00000004",
        "dead_dir": f".f.tmp-{_dead_pid()}-{host}00000005",
    }
    for label, name in names.items():
        if label == "dead_dir":
            (folder / name).mkdir()
            (folder / name / "part-0.parquet").write_bytes(b"p")
        else:
            (folder / name).write_bytes(b"t")
    old = time.time() - STALE_TEMP_SECONDS - 60
    os.utime(folder / names["other_host_old"], (old, old))
    (folder / "keep.bin").write_bytes(b"k")
    (folder / ".hidden").write_bytes(b"h")

    LocalStore(root).write_bytes("mod/new.bin", b"n")

    left = set(os.listdir(folder))
    assert left == {
        names["live"],
        names["mine"],
        names["other_host_fresh"],
        "keep.bin",
        ".hidden",
        "new.bin",
    }


def test_write_after_folder_removed_behind_our_back(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "ws")
    store.write_bytes("mod/a.bin", b"1")
    shutil.rmtree(tmp_path / "ws" / "mod")
    store.write_bytes("mod/b.bin", b"2")
    shutil.rmtree(tmp_path / "ws" / "mod")
    with store.open_atomic("mod/c.bin") as f:
        f.write(b"3")
    shutil.rmtree(tmp_path / "ws" / "mod")
    with store.directory_atomic("mod/d") as location:
        Path(location, "p").write_bytes(b"4")
    assert sorted(store.list()) == ["mod/d/p"]


def test_failed_rename_leaves_no_temporary(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "ws")
    store.write_bytes("d/inside.bin", b"x")  # "d" is a folder: no file can replace it
    with pytest.raises(OSError):
        store.write_bytes("d", b"file over folder")
    with pytest.raises(OSError):
        with store.open_atomic("d") as f:
            f.write(b"file over folder")
    assert sorted(os.listdir(tmp_path / "ws")) == [".tasuki", "d"]
    assert os.listdir(tmp_path / "ws" / "d") == ["inside.bin"]
    assert [os.listdir(folder) for folder in _staging_folders(tmp_path / "ws")] == [[]]
    assert sorted(store.list()) == ["d/inside.bin"]


def test_large_write_bytes(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "ws")
    data = os.urandom(3 << 20)
    store.write_bytes("big.bin", data)
    assert store.read_bytes("big.bin") == data
    store.write_bytes("view.bin", memoryview(data)[: 1 << 20])  # type: ignore[arg-type]
    assert store.size("view.bin") == 1 << 20


def test_files_get_normal_permissions(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "ws")
    store.write_bytes("a.bin", b"x")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "ws" / "a.bin").stat().st_mode & 0o777 == 0o666 & ~umask


def test_root_is_absolute_and_lazy(tmp_path: Path) -> None:
    store = LocalStore("rel/ws")
    assert store.root == os.path.join(os.getcwd(), "rel", "ws")
    assert not os.path.exists(store.root)  # nothing is created until check() or a write
    store.check()
    assert os.path.isdir(store.root)
    assert list(store.list()) == []  # the check's probe leaves nothing listed


def test_check_unwritable_path_under_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    store = LocalStore(blocker / "ws")
    with pytest.raises(WorkspaceUnreachableError) as info:
        store.check()
    err = info.value
    assert str(blocker / "ws") in str(err)
    assert err.url == str(blocker / "ws")  # type: ignore[attr-defined]
    assert "NotADirectoryError" in err.cause  # type: ignore[attr-defined]
    assert "writable" in str(err) and "choose another workspace" in str(err)


def test_check_read_only_folder(tmp_path: Path, read_only: ReadOnly) -> None:
    empty, made = tmp_path / "empty", tmp_path / "made"
    empty.mkdir()
    LocalStore(made).check()  # a workspace: .tasuki is there
    with pytest.raises(WorkspaceUnreachableError, match="Create that folder") as info:
        LocalStore(read_only(empty)).check()
    assert "not writable" in str(info.value)
    with pytest.raises(WorkspaceUnreachableError, match="It can be read, not built in") as info:
        LocalStore(read_only(made)).check()
    assert "PermissionError" in str(info.value)


def test_check_pings_redis(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "ws", redis_url="redis://127.0.0.1:1/0")
    with pytest.raises(WorkspaceUnreachableError, match=re.escape("redis://127.0.0.1:1/0")) as info:
        store.check()
    assert "redis_url" in str(info.value)


def test_key_on_another_file_system_is_written_beside_it(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("needs /dev/shm on another file system than the temp folder")
    elsewhere = shm / f"tasuki-test-{os.getpid()}-{time.monotonic_ns()}"
    elsewhere.mkdir()
    try:
        root = tmp_path / "ws"
        root.mkdir()
        (root / "mod").symlink_to(elsewhere)  # a folder of the workspace on another disk
        store = LocalStore(root)
        store.write_bytes("mod/a.bin", b"1")  # os.replace fails with EXDEV: copied beside
        with store.open_atomic("mod/b.bin") as f:
            f.write(b"2")
        store.write_bytes("top.bin", b"3")  # same file system: through staging
        assert (store.read_bytes("mod/a.bin"), store.read_bytes("mod/b.bin")) == (b"1", b"2")
        assert sorted(os.listdir(elsewhere)) == ["a.bin", "b.bin"]
        assert [os.listdir(folder) for folder in _staging_folders(root)] == [[]]
    finally:
        shutil.rmtree(elsewhere)


def test_staging_folder_removed_behind_our_back(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "ws")
    store.write_bytes("mod/a.bin", b"1")
    shutil.rmtree(tmp_path / "ws" / ".tasuki")
    store.write_bytes("mod/b.bin", b"2")
    assert sorted(store.list()) == ["mod/a.bin", "mod/b.bin"]


def test_each_process_stages_in_its_own_folder_and_removes_it_at_exit(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    code = (
        "import sys; from tasuki.storage import LocalStore; "
        "LocalStore(sys.argv[1]).write_bytes(f'mod/{sys.argv[2]}.bin', b'x')"
    )
    for name in ("a", "b"):
        subprocess.run([sys.executable, "-c", code, str(root), name], check=True)
    assert sorted(os.listdir(root / "mod")) == ["a.bin", "b.bin"]
    assert _staging_folders(root) == []  # each process removed its own at exit

    store = LocalStore(root)
    store.write_bytes("mod/c.bin", b"c")
    mine = _staging_folders(root)
    assert [temp_owner(p.name) for p in mine] == [(os.getpid(), True)]

    def child() -> None:
        store.write_bytes("mod/d.bin", b"d")  # a forked worker must not share our folder
        os._exit(0)

    proc = CTX.Process(target=child)
    proc.start()
    proc.join(60)
    assert proc.exitcode == 0
    assert len(_staging_folders(root)) == 2
    assert store.read_bytes("mod/d.bin") == b"d"


def test_stores_on_one_root_share_the_process_staging_folder(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    for i in range(5):  # a notebook building five times
        LocalStore(root).write_bytes(f"mod/{i}.bin", b"x")
    assert len(_staging_folders(root)) == 1
    other = tmp_path / "other"
    LocalStore(other).write_bytes("mod/a.bin", b"y")
    assert len(_staging_folders(other)) == 1
