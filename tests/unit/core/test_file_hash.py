"""Hashes of files outside the workspace are remembered only while the file is as hashed.

``data_files`` hashes were remembered by (path, size, modification time): a file rewritten
with the same size and its old modification time restored (``tar x``, ``rsync -t``, ``cp
-p``), or rewritten within one clock tick, kept the old hash for the rest of the process,
and a notebook's next build handed back the output made from the old bytes.
"""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

import pytest

import tasuki
from tasuki import _file_cache
from tasuki.core import _file_hash, code
from tasuki.core._file_hash import file_digest, forget_file_digests

HOUR_AGO = time.time_ns() - 3600 * 10**9


@pytest.fixture(autouse=True)
def _fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TASUKI_CODE_CACHE", str(tmp_path / "cache"))
    forget_file_digests()
    yield
    forget_file_digests()


def _rewrite_keeping_times(path: Path, text: str) -> None:
    st = path.stat()
    path.write_text(text)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_a_data_file_rewritten_with_its_old_time_counts(tmp_path: Path) -> None:
    data = tmp_path / "stop.txt"
    data.write_text("the")
    os.utime(data, ns=(HOUR_AGO, HOUR_AGO))
    ns: dict[str, object] = {"tasuki": tasuki, "DATA": str(data)}
    exec(  # a notebook's cell: the file is read where the task runs
        textwrap.dedent(
            """
            class Stop(tasuki.Task):
                data_files = (DATA,)
                def run(self):
                    self.dump(open(DATA).read())
            """
        ),
        ns,
    )
    task = ns["Stop"]()  # type: ignore[operator]
    ws = tmp_path / "ws"
    assert tasuki.build(task, workspace=ws, progress="off") == "the"
    _rewrite_keeping_times(data, "and")
    code.refresh_fingerprints()
    assert tasuki.build(task, workspace=ws, progress="off") == "and"


def test_a_file_changed_just_now_is_not_remembered(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_text("aaaa")
    first = file_digest(str(path))
    assert (str(path), "xxh3_64") not in _file_hash._MEMORY
    path.write_text("bbbb")  # may keep the same times within one clock tick
    assert file_digest(str(path)) != first


def test_an_old_file_is_remembered_until_it_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_file_cache, "RACY_S", 0)  # its change time is now (utime moves it)
    path = tmp_path / "f"
    path.write_text("aaaa")
    os.utime(path, ns=(HOUR_AGO, HOUR_AGO))
    first = file_digest(str(path))
    reads: list[str] = []
    real = _file_hash._hash
    monkeypatch.setattr(_file_hash, "_hash", lambda p, k: reads.append(p) or real(p, k))
    assert file_digest(str(path)) == first and reads == []
    _rewrite_keeping_times(path, "bbbb")
    assert file_digest(str(path)) != first and len(reads) == 1


def test_a_large_file_is_not_read_again_by_the_next_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_file_cache, "RACY_S", 0)
    path = tmp_path / "big"
    path.write_bytes(b"x" * (16 << 20))
    os.utime(path, ns=(HOUR_AGO, HOUR_AGO))
    first = file_digest(str(path), "xxh3_128")
    assert list((tmp_path / "cache" / "files").iterdir())
    forget_file_digests()  # a new process

    def no_read(p: str, k: str) -> str:
        raise AssertionError("read again")

    real = _file_hash._hash
    monkeypatch.setattr(_file_hash, "_hash", no_read)
    assert file_digest(str(path), "xxh3_128") == first
    with path.open("r+b") as f:  # same size, same times restored: the change time moved
        f.write(b"y")
    os.utime(path, ns=(HOUR_AGO, HOUR_AGO))
    forget_file_digests()
    monkeypatch.setattr(_file_hash, "_hash", real)
    assert file_digest(str(path), "xxh3_128") != first


def test_a_missing_file_has_no_digest(tmp_path: Path) -> None:
    assert file_digest(str(tmp_path / "nope")) is None
    assert file_digest(str(tmp_path / "nope" / "deeper")) is None


def test_a_folder_in_data_files_says_what_to_do(tmp_path: Path) -> None:
    ns: dict[str, object] = {"tasuki": tasuki, "DATA": str(tmp_path)}
    exec(
        "class Folder(tasuki.Task):\n    data_files = (DATA,)\n"
        "    def run(self):\n        self.dump(1)\n",
        ns,
    )
    with pytest.raises(tasuki.errors.TaskError, match="a folder: data_files holds files"):
        tasuki.build(ns["Folder"](), workspace=tmp_path / "ws", progress="off")  # type: ignore[operator]
