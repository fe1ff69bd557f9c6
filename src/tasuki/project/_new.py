"""``tasuki new PATH``: a project from the template, through copier."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasuki.errors import ConfigError
from tasuki.project._names import (
    check_executor,
    check_package,
    check_warehouse,
    package_from_folder,
)
from tasuki.project._templates import DEFAULT_REPO, materialize, template_versions, version_key

__all__ = ["NewProject", "copier_errors", "new_project", "require_copier", "template_lock"]

logger = logging.getLogger(__name__)

#: The workspace of a new project: task outputs and run records, git-ignored.
DEFAULT_WORKSPACE = "./data/workspace"


@dataclass(frozen=True)
class NewProject:
    """What ``tasuki new`` made."""

    path: Path
    package: str
    template_version: str
    committed: bool
    """Whether the files were committed as the git repository's first commit (``tasuki
    update`` needs a clean git tree)."""


@contextmanager
def template_lock(repo: str | Path) -> Iterator[Path]:
    """Hold the template repository while copier reads it (another ``tasuki new`` or
    ``update`` may be rebuilding it); yields its absolute path."""
    from filelock import FileLock

    path = Path(repo).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path.parent / f"{path.name}.lock")):
        yield path


def require_copier() -> Any:
    """The ``copier`` module, or a ConfigError saying what to install."""
    try:
        import copier
    except ImportError:
        raise ConfigError(
            "the project template needs copier: pip install 'tasuki[template]' (copier>=9)"
        ) from None
    return copier


@contextmanager
def copier_errors(action: str) -> Iterator[None]:
    """copier's refusals (a dirty tree, a missing version, a bad answer) as ConfigError."""
    from copier.errors import CopierError

    try:
        yield
    except CopierError as exc:
        raise ConfigError(f"{action}: {exc}") from exc


def _check_target(dst: Path) -> None:
    if dst.exists() and not dst.is_dir():
        raise ConfigError(
            f"{dst} is a file; `tasuki new` makes a project in a new or empty folder: "
            "pick another path",
            path=str(dst),
        )
    if dst.is_dir():
        entries = sorted(p.name for p in dst.iterdir())
        if entries:
            shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
            raise ConfigError(
                f"{dst} is not empty ({len(entries)} entries: {shown}); `tasuki new` writes "
                f"only into a new or empty folder. Pick another path, or, if {dst} is a "
                f"project made by `tasuki new`, run `tasuki update {dst}` to bring it to "
                "this tasuki's template",
                path=str(dst),
            )


def _git_commit(dst: Path, version: str) -> bool:
    """``git init`` and a first commit with the user's identity; False when git has none,
    or when ``dst`` is inside another repository (a monorepo: its owner commits there)."""
    try:
        inside = subprocess.run(
            ["git", "rev-parse", "--is-inside-work-tree"],
            cwd=dst.parent,
            capture_output=True,
            text=True,
            check=False,
        )
        if inside.returncode == 0 and inside.stdout.strip() == "true":
            logger.warning("%s is inside a git repository: not committed", dst)
            return False
        subprocess.run(["git", "init", "-q"], cwd=dst, check=True, capture_output=True)
        subprocess.run(["git", "add", "-A"], cwd=dst, check=True, capture_output=True)
        done = subprocess.run(
            ["git", "commit", "-q", "-m", f"tasuki new: project template of tasuki {version}"],
            cwd=dst,
            capture_output=True,
            text=True,
            check=False,
        )
    except (FileNotFoundError, subprocess.CalledProcessError) as exc:
        logger.warning("git repository not made in %s: %s", dst, exc)
        return False
    if done.returncode:
        # No user.name / user.email: leave the commit to the user rather than invent one.
        logger.warning("first commit not made in %s: %s", dst, done.stderr.strip())
        return False
    return True


def new_project(
    path: str | Path,
    *,
    package: str | None = None,
    warehouse: str = "",
    workspace: str = DEFAULT_WORKSPACE,
    executor: str = "local",
    git: bool = True,
    template_repo: str | Path = DEFAULT_REPO,
    versions: Mapping[str, Path] | None = None,
) -> NewProject:
    """Make a tasuki project in ``path`` (a new or empty folder) from the shipped template.

    Args:
        path: The project's folder.
        package: Python package name; default: the folder's name, lowercased, ``-`` as ``_``.
        warehouse: URL of the warehouse named ``main`` in ``tasuki.toml``; empty: none.
        workspace: Folder or URL of the workspace.
        executor: ``local``, ``inline`` or ``dask``.
        git: ``git init`` the folder and commit the files (when git knows the user).
        template_repo: Where the template's git repository is kept (recorded in the project).
        versions: Template versions (version to folder); default: this tasuki's. The newest
            is used.

    Raises:
        ConfigError: a bad answer (naming it, the value and the rule) or a non-empty folder.

    Example:
        >>> new_project("recsys", warehouse="duckdb:///data/dwh.duckdb").package
        'recsys'
    """
    copier = require_copier()
    dst = Path(path).expanduser().absolute()
    name = package if package is not None else package_from_folder(dst.name)
    try:
        check_package(name)
    except ConfigError as exc:
        if package is None:
            raise ConfigError(
                f"{exc.message} (the name comes from the folder {dst.name!r})", **exc.fields
            ) from None
        raise
    check_executor(executor)
    check_warehouse(warehouse)
    if not workspace.strip():
        raise ConfigError("workspace is empty; pass --workspace ./data/workspace or a URL")
    _check_target(dst)
    chosen = dict(template_versions() if versions is None else versions)
    latest = max(chosen, key=version_key)
    answers = {
        "package": name,
        "warehouse": warehouse,
        "workspace": workspace,
        "executor": executor,
    }
    with template_lock(template_repo):
        materialize(template_repo, chosen)
        with copier_errors(f"cannot make a project in {dst}"):
            copier.run_copy(
                # The text as given ("~/..."): copier records it as the answers' _src_path.
                str(template_repo),
                dst,
                data=answers,
                vcs_ref=latest,
                defaults=True,
                quiet=True,
                unsafe=False,
            )
    committed = _git_commit(dst, latest) if git else False
    return NewProject(dst, name, latest, committed)
