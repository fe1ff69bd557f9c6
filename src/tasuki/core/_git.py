"""The commit a run record names: read from the repository's own files, ``-dirty`` asked of git.

A record says which commit of the project made an output (``git_commit``), with
``-dirty`` when tracked files had uncommitted changes. HEAD and the refs are read from the
files under ``.git`` (no process outside a repository, where notebooks and benchmarks often
run); only the dirty check starts git, once per process, and only in a process that writes
a record.

The check is ``git --no-optional-locks status --porcelain --untracked-files=no``: without
``--no-optional-locks`` a status refreshes and rewrites the index, taking ``index.lock``
for a moment, so the user's own ``git commit`` or ``git add`` running at the same time could
fail on the lock ("Unable to create index.lock: File exists"). It is started with
``posix_spawn`` and read through a pipe, not through :mod:`subprocess`, whose import (with
``selectors``, ``signal`` and ``locale``) cost 4 ms of a cold one-task build's budget. A git
that takes longer than :data:`DIRTY_TIMEOUT_S` is killed and the commit is named without
the flag.
"""

from __future__ import annotations

import os
import time

__all__ = ["DIRTY_TIMEOUT_S", "git_commit"]

#: Seconds the dirty check may take (a huge work tree on a cold disk) before it is given up.
DIRTY_TIMEOUT_S = 2.0

_STATUS = ("git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no")


def git_commit() -> str | None:
    """The commit checked out where the build runs (``-dirty`` with uncommitted changes to
    tracked files), or None outside a git work tree."""
    try:
        here = os.getcwd()
    except OSError:  # the current folder was removed under the process: no work tree
        return None
    found = _git_dir(here)
    if found is None:
        return None
    commit = _read_head(found)
    if commit is None:
        return None
    dirty = _dirty()
    return commit + ("-dirty" if dirty else "")


def _dirty() -> bool | None:
    """Whether ``git status`` lists a changed tracked file; None when git cannot say (not
    installed, failed, or slower than :data:`DIRTY_TIMEOUT_S`)."""
    if not hasattr(os, "posix_spawnp"):  # Windows: no posix_spawn, subprocess it is
        return _dirty_by_subprocess()
    read_end, write_end = os.pipe()  # not inheritable: only the child's stdout is passed on
    try:
        pid = os.posix_spawnp(
            _STATUS[0],
            list(_STATUS),
            os.environ,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, write_end, 1),
                (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
            ],
        )
    except OSError:  # no git on PATH
        os.close(read_end)
        return None
    finally:
        os.close(write_end)
    try:
        listed = _first_output(read_end, time.monotonic() + DIRTY_TIMEOUT_S)
    finally:
        os.close(read_end)
    if listed is None or listed:  # timed out, or the answer is known: no need to wait it out
        _kill(pid)
    status = _reap(pid)
    if listed is None or (status != 0 and not listed):
        return None
    return listed


def _first_output(fd: int, deadline: float) -> bool | None:
    """Whether anything but whitespace came on ``fd`` before it closed; None at the
    deadline."""
    import select

    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP)
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not poller.poll(left * 1000):
            return None
        chunk = os.read(fd, 65536)
        if not chunk:
            return False
        if chunk.strip():
            return True


def _kill(pid: int) -> None:
    try:
        os.kill(pid, 9)  # SIGKILL (POSIX only here), without importing signal's enums
    except ProcessLookupError:
        pass


def _reap(pid: int) -> int:
    """Wait for the child ``pid``; its exit status (-1 where it was not ours to wait for)."""
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return -1
    return os.waitstatus_to_exitcode(status)


def _dirty_by_subprocess() -> bool | None:
    import subprocess

    try:
        done = subprocess.run(
            list(_STATUS), capture_output=True, text=True, timeout=DIRTY_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return bool(done.stdout.strip()) if done.returncode == 0 else None


def _git_dir(start: str) -> str | None:
    """The git directory of the work tree holding ``start`` (a ``.git`` folder, or the
    folder a ``.git`` file of a worktree or submodule points at), or None."""
    folder = os.path.abspath(start)
    while True:
        candidate = os.path.join(folder, ".git")
        if os.path.isdir(candidate):
            return candidate
        if os.path.isfile(candidate):
            try:
                with open(candidate, encoding="utf-8") as f:
                    line = f.readline().strip()
            except OSError:
                return None
            if line.startswith("gitdir:"):
                target = line[len("gitdir:") :].strip()
                return os.path.normpath(os.path.join(folder, target))
            return None
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def _read_head(git_dir: str) -> str | None:
    """The commit HEAD names in ``git_dir``: detached, a loose ref, or a packed ref (a
    worktree's refs live in its common directory)."""
    try:
        with open(os.path.join(git_dir, "HEAD"), encoding="utf-8") as f:
            head = f.read().strip()
    except OSError:
        return None
    if not head.startswith("ref:"):
        return head if _is_sha(head) else None
    ref = head[len("ref:") :].strip()
    roots = [git_dir]
    try:
        with open(os.path.join(git_dir, "commondir"), encoding="utf-8") as f:
            roots.append(os.path.normpath(os.path.join(git_dir, f.read().strip())))
    except OSError:
        pass
    for root in roots:
        try:
            with open(os.path.join(root, ref), encoding="utf-8") as f:
                value = f.read().strip()
            if _is_sha(value):
                return value
        except OSError:
            pass
        try:
            with open(os.path.join(root, "packed-refs"), encoding="utf-8") as f:
                for line in f:
                    sha, _, name = line.strip().partition(" ")
                    if name == ref and _is_sha(sha):
                        return sha
        except OSError:
            pass
    return None  # a branch with no commit yet


def _is_sha(text: str) -> bool:
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)
