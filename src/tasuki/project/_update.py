"""``tasuki update [PATH]``: bring a project to the template of the installed tasuki.

copier's update does a three-way merge: the project's own edits (the project against the
template version it was made from, rendered afresh with its recorded answers) are applied to
the new template version's render. A file the user did not touch becomes the new version's
file; a file the template did not change keeps the user's version; only lines both changed
get conflict markers. The old render needs the old template, which is why the template
versions live in a git repository with one tag each (``tasuki.project._templates``).
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasuki.errors import ConfigError
from tasuki.project._new import copier_errors, require_copier, template_lock
from tasuki.project._templates import DEFAULT_REPO, materialize, template_versions, version_key

__all__ = ["ANSWERS_FILE", "UpdateResult", "read_answers", "update_project"]

ANSWERS_FILE = ".copier-answers.yml"
_MARKERS = ("<<<<<<< before updating", ">>>>>>> after updating")


@dataclass(frozen=True)
class UpdateResult:
    """What ``tasuki update`` did."""

    path: Path
    from_version: str
    to_version: str
    changed: list[str]
    """Files the update changed, added or removed (``git status`` paths)."""
    conflicts: list[str]
    """Files holding conflict markers: lines both the user and the template changed."""


def read_answers(project: Path) -> dict[str, Any]:
    """The answers file of a project made by ``tasuki new``.

    Raises:
        ConfigError: there is none, or it is not a YAML mapping.
    """
    import yaml

    path = project / ANSWERS_FILE
    if not path.is_file():
        raise ConfigError(
            f"{project} has no {ANSWERS_FILE}: it was not made by `tasuki new` (or the file "
            "was deleted). Make a new project with `tasuki new PATH` and move your code there",
            path=str(path),
        )
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}", path=str(path)) from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: expected a mapping of answers, found {doc!r}")
    return doc


def _git_status(project: Path) -> list[str]:
    done = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all", "--", "."],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise ConfigError(
            f"{project} is not in a git repository: `tasuki update` merges the template's "
            "changes into your files and needs git to show them. Run `git init && git add -A "
            "&& git commit -m 'project'` there first",
            path=str(project),
        )
    return [line[3:] for line in done.stdout.splitlines() if line.strip()]


def _with_markers(project: Path, paths: list[str]) -> list[str]:
    found = []
    for rel in paths:
        path = project / rel
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if any(marker in text for marker in _MARKERS):
            found.append(rel)
    return found


def update_project(
    path: str | Path = ".",
    *,
    versions: Mapping[str, Path] | None = None,
) -> UpdateResult:
    """Update the project in ``path`` to the newest template version (copier's update).

    Args:
        path: The project's root folder (where ``.copier-answers.yml`` is).
        versions: Template versions (version to folder); default: this tasuki's.

    Raises:
        ConfigError: not a project of ``tasuki new``, not a clean git tree, or the project's
            template version is one this tasuki does not have (newer, or dropped).

    Example:
        >>> update_project("recsys").conflicts
        []
    """
    copier = require_copier()
    project = Path(path).expanduser().absolute()
    answers = read_answers(project)
    recorded = str(answers.get("_commit", ""))
    # The repository is rebuilt where the project says it is: copier renders the old
    # version from the recorded _src_path, whatever it is told.
    repo = str(answers.get("_src_path") or DEFAULT_REPO)
    if "://" in repo or repo.startswith(("gh:", "gl:", "git@")):
        raise ConfigError(
            f"{project} was made from the template at {repo}, not from tasuki's own; update "
            "it with `copier update`",
            path=str(project),
        )
    chosen = dict(template_versions() if versions is None else versions)
    latest = max(chosen, key=version_key)
    if recorded not in chosen:
        known = ", ".join(sorted(chosen, key=version_key))
        raise ConfigError(
            f"{project} was made from the template of tasuki {recorded or '(unknown)'}, which "
            f"this tasuki cannot render (it has {known}). "
            + (
                f"Install tasuki>={recorded} to update it"
                if recorded and version_key(recorded) > version_key(latest)
                else "Update with the tasuki release that made it first, or recreate the "
                "project with `tasuki new`"
            ),
            version=recorded,
        )
    dirty = _git_status(project)
    if dirty:
        shown = ", ".join(dirty[:5]) + (", ..." if len(dirty) > 5 else "")
        raise ConfigError(
            f"{project} has changes not committed ({shown}); commit or stash them first so "
            "that `git diff` shows what the update changed",
            path=str(project),
        )
    with template_lock(repo) as repo_path:
        materialize(repo_path, chosen)
        with copier_errors(f"cannot update {project}"):
            copier.run_update(
                project,
                vcs_ref=latest,
                defaults=True,
                overwrite=True,
                quiet=True,
                skip_answered=True,
                unsafe=False,
                conflict="inline",
            )
    changed = _git_status(project)
    return UpdateResult(project, recorded, latest, changed, _with_markers(project, changed))
