"""The project template's versions, as the git repository copier reads them from.

copier updates a project with a three-way merge: it renders the template at the version the
project was made from, diffs that against the project (the user's edits), renders the new
version and applies the edits to it. Both renders need the template as a git repository with
one tag per version. tasuki ships the template of its own version (``tasuki/template``) and
the templates of earlier versions it still updates from (``tasuki/template/history/<version>``),
and materialises them here into one repository: one commit per version, in version order,
tagged with the version, with a fixed author and date, so every machine builds the very same
commits and a project's recorded ``_commit`` means the same files everywhere.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from tasuki.errors import ConfigError

__all__ = [
    "DEFAULT_REPO",
    "TEMPLATE_DIR",
    "materialize",
    "template_versions",
    "version_key",
]

#: The shipped template (copier.yml and the project's files under ``project/``).
TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "template"

#: Where the template repository is kept, as recorded in each project's answers file.
#: Written with ``~`` on purpose: copier records this text as ``_src_path``, and the same
#: text finds the repository on a teammate's machine (tasuki rebuilds it there).
DEFAULT_REPO = "~/.cache/tasuki/project-template"

# Commits must not depend on the machine: identity, dates, signing, line endings.
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "tasuki",
    "GIT_AUTHOR_EMAIL": "tasuki@localhost",
    "GIT_COMMITTER_NAME": "tasuki",
    "GIT_COMMITTER_EMAIL": "tasuki@localhost",
    "GIT_AUTHOR_DATE": "2000-01-01T00:00:00+0000",
    "GIT_COMMITTER_DATE": "2000-01-01T00:00:00+0000",
    "GIT_CONFIG_NOSYSTEM": "1",
}
_GIT_OPTIONS = (
    "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", "-c", "core.autocrlf=false",
    "-c", "init.defaultBranch=main", "-c", "core.hooksPath=/dev/null",
)  # fmt: skip
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "history")


def version_key(version: str) -> tuple[int, ...]:
    """Sort key of a release version ``X.Y.Z``.

    Raises:
        ConfigError: ``version`` is not dotted numbers.
    """
    if not re.fullmatch(r"\d+(\.\d+)*", version):
        raise ConfigError(
            f"template version {version!r} is not a release version such as 1.2.0",
            value=version,
        )
    return tuple(int(part) for part in version.split("."))


def template_versions() -> dict[str, Path]:
    """Every template version this tasuki can render: the history, then its own version.

    Example:
        >>> sorted(template_versions())
        ['0.1.0']
    """
    from tasuki import __version__

    versions: dict[str, Path] = {}
    history = TEMPLATE_DIR / "history"
    if history.is_dir():
        versions.update({p.name: p for p in history.iterdir() if (p / "copier.yml").is_file()})
    versions[__version__] = TEMPLATE_DIR
    return versions


def git(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> str:
    """Run ``git`` with the options that make commits reproducible; its stdout.

    Raises:
        ConfigError: git is not installed, or the command failed (with git's message).
    """
    try:
        done = subprocess.run(
            ["git", *_GIT_OPTIONS, *args],
            cwd=cwd,
            env={**os.environ, **_GIT_ENV, **(env or {})},
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        raise ConfigError(
            "git is not installed: the project template is kept as a git repository "
            "(apt-get install git, or your system's package)"
        ) from None
    if done.returncode:
        raise ConfigError(
            f"git {' '.join(args)} failed in {cwd}: {done.stderr.strip() or done.stdout.strip()}"
        )
    return done.stdout


def _build(into: Path, versions: Mapping[str, Path]) -> None:
    git("init", "-q", cwd=into)
    for version in sorted(versions, key=version_key):
        for child in into.iterdir():
            if child.name != ".git":
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        shutil.copytree(versions[version], into, ignore=_IGNORED, dirs_exist_ok=True)
        git("add", "-A", cwd=into)
        git(
            "commit", "-q", "--allow-empty", "-m", f"project template of tasuki {version}", cwd=into
        )
        git("tag", version, cwd=into)


def _head(repo: Path) -> str | None:
    if not (repo / ".git").is_dir():
        return None
    try:
        return git("rev-parse", "HEAD", cwd=repo).strip()
    except ConfigError:
        return None


def materialize(
    repo: str | Path = DEFAULT_REPO, versions: Mapping[str, Path] | None = None
) -> Path:
    """Make ``repo`` the git repository of the template ``versions`` (default: this tasuki's).

    The repository is rebuilt beside it and swapped in only when its history differs (a new
    tasuki, or a changed template), so a repository already up to date is left alone.
    Callers hold :func:`tasuki.project._update.template_lock` around this and copier's run.

    Returns:
        The repository's absolute path.
    """
    path = Path(repo).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    chosen = dict(template_versions() if versions is None else versions)
    if not chosen:
        raise ConfigError("no template version to materialise")
    fresh = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        _build(fresh, chosen)
        if _head(fresh) == _head(path):
            return path
        if path.exists():
            shutil.rmtree(path)
        fresh.rename(path)
    finally:
        if fresh.exists():
            shutil.rmtree(fresh)
    return path
