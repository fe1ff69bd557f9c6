"""The commit a run record names is read from the repository's files, as git would say it."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from tasuki.core import _git as git_module
from tasuki.core._git import git_commit as _git_commit


def _git(cwd, *args):
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "config", "user.email", "t@example.com")
    _git(tmp_path, "config", "user.name", "t")
    (tmp_path / "a.txt").write_text("a")
    _git(tmp_path, "add", "a.txt")
    _git(tmp_path, "commit", "-q", "-m", "one")
    return tmp_path


def test_outside_a_repository_no_commit_and_no_git_started(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    started = []
    monkeypatch.setattr(os, "posix_spawnp", lambda *a, **k: started.append(a))
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: started.append(a))
    assert _git_commit() is None
    assert started == []


def test_loose_packed_detached_dirty_and_from_a_subfolder(repo, monkeypatch):
    head = _git(repo, "rev-parse", "HEAD")
    (repo / "sub").mkdir()
    monkeypatch.chdir(repo / "sub")
    assert _git_commit() == head  # a loose ref, found from a sub-folder
    _git(repo, "pack-refs", "--all")
    assert not (repo / ".git" / "refs" / "heads" / "main").exists()
    assert _git_commit() == head  # a packed ref
    (repo / "a.txt").write_text("changed")
    assert _git_commit() == head + "-dirty"
    _git(repo, "commit", "-qam", "two")
    second = _git(repo, "rev-parse", "HEAD")
    assert _git_commit() == second
    _git(repo, "checkout", "-q", head)
    assert _git_commit() == head  # detached


def test_a_worktree_names_its_own_checkout(repo, tmp_path, monkeypatch):
    head = _git(repo, "rev-parse", "HEAD")
    (repo / "a.txt").write_text("b")
    _git(repo, "commit", "-qam", "two")
    other = tmp_path / "wt"
    _git(repo, "worktree", "add", "-q", "-b", "side", str(other), head)
    monkeypatch.chdir(other)
    assert (other / ".git").is_file()
    assert _git_commit() == head


def test_the_dirty_check_leaves_the_index_alone(repo, monkeypatch):
    # A plain `git status` refreshes the index and rewrites it under index.lock, which makes
    # the user's own `git commit` at that moment fail on the lock. The check must not write.
    head = _git(repo, "rev-parse", "HEAD")
    index = repo / ".git" / "index"
    later = time.time() + 5
    os.utime(repo / "a.txt", (later, later))  # stat changed, content not: a refresh would write
    before = index.read_bytes(), index.stat().st_mtime_ns
    monkeypatch.chdir(repo)
    assert _git_commit() == head  # the same content: not dirty
    assert (index.read_bytes(), index.stat().st_mtime_ns) == before
    assert not (repo / ".git" / "index.lock").exists()


def test_a_git_that_hangs_is_given_up_and_the_commit_named(repo, tmp_path, monkeypatch):
    head = _git(repo, "rev-parse", "HEAD")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "git").write_text("#!/bin/sh\nexec sleep 30\n")
    (bin_dir / "git").chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr(git_module, "DIRTY_TIMEOUT_S", 0.3)
    monkeypatch.chdir(repo)
    t0 = time.monotonic()
    assert _git_commit() == head
    assert time.monotonic() - t0 < 5  # killed at the deadline, not waited out


def test_without_git_on_the_path_the_commit_is_still_named(repo, tmp_path, monkeypatch):
    head = _git(repo, "rev-parse", "HEAD")
    (repo / "a.txt").write_text("changed")
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    monkeypatch.chdir(repo)
    assert _git_commit() == head  # dirty or not cannot be told: no flag


def test_a_dirty_tree_with_a_long_status_is_told_without_reading_it_all(repo, monkeypatch):
    for i in range(3000):  # a status longer than the pipe holds
        (repo / f"f{i:05d}_{'x' * 40}.txt").write_text("a")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "many")
    head = _git(repo, "rev-parse", "HEAD")
    for i in range(3000):
        (repo / f"f{i:05d}_{'x' * 40}.txt").write_text("b")
    monkeypatch.chdir(repo)
    assert _git_commit() == head + "-dirty"


def _record_of(task, ws):
    from tasuki.core.records import RunRecord
    from tasuki.storage import open_store

    record = RunRecord.read(open_store(ws), task.unique_id)
    assert record is not None
    return record


def test_each_build_names_the_commit_as_it_is_then(repo, tmp_path, monkeypatch):
    # A notebook (or a service) builds, the user commits, and builds again in the same
    # process: the second record names the second commit, and a later edit makes it dirty.
    import tasuki
    from tests.unit.core.tasks_for_tests import TaskA

    monkeypatch.chdir(repo)
    ws = str(tmp_path / "ws")
    first = _git(repo, "rev-parse", "HEAD")
    tasuki.build(TaskA(param="one"), workspace=ws, progress="off")
    assert _record_of(TaskA(param="one"), ws).environment["git_commit"] == first
    (repo / "a.txt").write_text("two")
    _git(repo, "commit", "-qam", "two")
    second = _git(repo, "rev-parse", "HEAD")
    tasuki.build(TaskA(param="two"), workspace=ws, progress="off")
    assert _record_of(TaskA(param="two"), ws).environment["git_commit"] == second
    (repo / "a.txt").write_text("edited")
    tasuki.build(TaskA(param="three"), workspace=ws, progress="off")
    assert _record_of(TaskA(param="three"), ws).environment["git_commit"] == second + "-dirty"


CHILD = """
import json, sys
import tasuki
from tasuki.core.records import RunRecord
from tasuki.storage import open_store
from tests.unit.core.tasks_for_tests import TaskA
ws = sys.argv[1]
tasuki.build(TaskA(param="before"), workspace=ws, progress="off")
import numpy
tasuki.build(TaskA(param="after"), workspace=ws, progress="off")
store = open_store(ws)
print(json.dumps([
    sorted(RunRecord.read(store, TaskA(param=p).unique_id).environment["versions"])
    for p in ("before", "after")
]))
"""


def test_a_record_names_the_libraries_imported_by_its_run(tmp_path):
    import json
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "ws")],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        check=True,
    )
    before, after = json.loads(out.stdout.strip().splitlines()[-1])
    assert "numpy" not in before
    assert "numpy" in after  # imported between the two builds of one process


def test_a_current_folder_removed_under_the_process_names_no_commit(tmp_path, monkeypatch):
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    assert _git_commit() is None  # not an error that fails the record of a finished task
