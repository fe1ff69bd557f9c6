"""A read-only view of a folder, for real: what a user sees on a read-only mount.

As root, permissions do not stop a write, so the view is a read-only bind mount of the folder
(``EROFS`` for everyone, as a teammate's results mounted read-only); as another user, the
folder's write bits are cleared. Where neither can be done the test skips, saying why.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ReadOnly = Callable[[Path], Path]


def _chmod_tree(root: Path, writable: bool) -> None:
    for folder, dirs, files in os.walk(root):
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644 if writable else 0o444)
        os.chmod(folder, 0o755 if writable else 0o555)


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[ReadOnly]:
    """``read_only(folder)`` -> a path where ``folder`` can be read and nothing written."""
    undo: list[Callable[[], object]] = []

    def make(folder: Path) -> Path:
        if os.geteuid() != 0:
            _chmod_tree(folder, writable=False)
            undo.append(lambda: _chmod_tree(folder, writable=True))
            return folder
        view = tmp_path / f"{folder.name}-read-only"
        view.mkdir()
        steps = [
            ["mount", "--bind", str(folder), str(view)],
            ["mount", "-o", "remount,bind,ro", str(view)],
        ]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, check=False)
            if done.returncode != 0:  # (a bind made by the first step is undone below)
                pytest.skip(f"cannot make a read-only mount here ({done.stderr.strip()})")
            if step is steps[0]:
                # lazy: a connection this process keeps open to the records database holds it
                undo.append(lambda: subprocess.run(["umount", "-l", str(view)], check=False))
        assert not os.access(view, os.W_OK)  # EROFS: the view is read-only for root too
        return view

    yield make
    for step in reversed(undo):
        step()
