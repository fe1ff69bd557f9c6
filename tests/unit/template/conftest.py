"""Projects from the template in temporary folders, with a home and a git identity of
their own: the template repository goes to ``$HOME/.cache/tasuki``, never the developer's."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

import tasuki.cli._new  # noqa: F401  (registers `tasuki new|update|doctor` until cli/__init__ does)
from tasuki.project._templates import TEMPLATE_DIR

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test User",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test User",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh $HOME (the template repository's cache) and a git identity."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("HOME", str(path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    return path


def git(project: Path, *args: str) -> str:
    """``git ARGS`` in ``project``; its stdout."""
    return subprocess.run(
        ["git", *args], cwd=project, check=True, capture_output=True, text=True
    ).stdout


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` but .git, by relative path."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


@pytest.fixture
def template_copy(tmp_path: Path) -> Callable[[str, Callable[[Path], None] | None], Path]:
    """A copy of the shipped template, changed by ``edit`` (a later "version" for tests)."""

    def make(name: str, edit: Callable[[Path], None] | None = None) -> Path:
        dst = tmp_path / "templates" / name
        shutil.copytree(TEMPLATE_DIR, dst, ignore=shutil.ignore_patterns("__pycache__"))
        if edit is not None:
            edit(dst / "project")
        return dst

    return make
