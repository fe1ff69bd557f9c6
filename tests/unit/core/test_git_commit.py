"""The commit a run record names is read from the repository's files, as git would say it."""

from __future__ import annotations

import subprocess

import pytest

from tasuki.core.records import _git_commit


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
