"""`tasuki update`: copier's three-way merge from one template version to the next.

"v1" and "v2" are copies of the shipped template; v2 changes the Makefile (a file the user
does not touch) and a part of the pipeline module the user's edit does not touch.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tasuki.cli import app
from tasuki.errors import ConfigError
from tasuki.project import materialize, new_project, update_project
from tasuki.project._templates import TEMPLATE_DIR
from tests.unit.template.conftest import git, tree

PIPELINE = "src/{{ package }}/tasks/pipeline.py.jinja"
USER_LINE = "# the team's note: popularity is our baseline\n"


def _v2(project: Path) -> None:
    make = project / "Makefile.jinja"
    make.write_text(make.read_text() + "\nclean:  ## added in v2\n\trm -rf data/workspace\n")
    pipe = project / PIPELINE
    text = pipe.read_text()
    assert 'default=3, description="length' in text
    pipe.write_text(
        text.replace('default=3, description="length', 'default=5, description="length')
    )


@pytest.fixture
def versions(template_copy) -> dict[str, dict[str, Path]]:
    v1 = template_copy("v1")
    v2 = template_copy("v2", _v2)
    return {"v1": {"1.0.0": v1}, "v2": {"1.0.0": v1, "2.0.0": v2}}


def _project(tmp_path: Path, versions, name: str = "recsys") -> Path:
    repo = tmp_path / "template-repo"
    made = new_project(tmp_path / name, template_repo=repo, versions=versions["v1"])
    assert made.template_version == "1.0.0" and made.committed
    return made.path


def _user_edit(project: Path) -> None:
    """The user edits the top of the pipeline module (not the line v2 changes) and commits."""
    pipe = project / "src" / "recsys" / "tasks" / "pipeline.py"
    pipe.write_text(USER_LINE + pipe.read_text())
    git(project, "commit", "-qam", "our note")


def test_update_merges_the_template_and_the_users_edit(tmp_path: Path, versions) -> None:
    project = _project(tmp_path, versions)
    _user_edit(project)
    result = update_project(project, versions=versions["v2"])
    assert (result.from_version, result.to_version) == ("1.0.0", "2.0.0")
    assert result.conflicts == []
    assert sorted(result.changed) == [
        ".copier-answers.yml",
        "Makefile",
        "src/recsys/tasks/pipeline.py",
    ]
    pipeline = (project / "src" / "recsys" / "tasks" / "pipeline.py").read_text()
    assert pipeline.startswith(USER_LINE)  # the user's edit is kept
    assert 'default=5, description="length' in pipeline  # the template's change arrived
    assert "<<<<<<<" not in pipeline and ">>>>>>>" not in pipeline
    assert "clean:  ## added in v2" in (project / "Makefile").read_text()
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_commit"] == "2.0.0" and answers["package"] == "recsys"
    for name in tree(project):
        assert "<<<<<<< before updating" not in (project / name).read_text(errors="replace")


def test_update_is_the_same_on_every_run(tmp_path: Path, versions) -> None:
    first = _project(tmp_path, versions, "recsys")
    _user_edit(first)
    second = tmp_path / "clone"
    shutil.copytree(first, second)  # a teammate's checkout of the same commit
    update_project(first, versions=versions["v2"])
    # The teammate's machine has no template repository yet: it is rebuilt, the same.
    shutil.rmtree(tmp_path / "template-repo")
    update_project(second, versions=versions["v2"])
    assert tree(first) == tree(second)
    git(first, "add", "-A")
    git(first, "commit", "-qm", "update to 2.0.0")
    before = tree(first)
    again = update_project(first, versions=versions["v2"])  # already there: nothing moves
    assert again.changed == [] and tree(first) == before


def test_a_line_both_changed_is_a_marked_conflict(tmp_path: Path, versions) -> None:
    project = _project(tmp_path, versions)
    pipe = project / "src" / "recsys" / "tasks" / "pipeline.py"
    pipe.write_text(pipe.read_text().replace("default=3, description", "default=4, description"))
    git(project, "commit", "-qam", "k=4")
    result = update_project(project, versions=versions["v2"])
    assert result.conflicts == ["src/recsys/tasks/pipeline.py"]
    assert "Makefile" in result.changed


def test_dirty_tree_is_refused(tmp_path: Path, versions) -> None:
    project = _project(tmp_path, versions)
    (project / "README.md").write_text("changed\n")
    with pytest.raises(ConfigError, match=r"not committed \(README.md\)"):
        update_project(project, versions=versions["v2"])
    assert (project / "README.md").read_text() == "changed\n"


def test_not_a_tasuki_project(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no \.copier-answers\.yml.*tasuki new"):
        update_project(tmp_path)


def test_a_version_this_tasuki_does_not_have(tmp_path: Path, versions) -> None:
    project = _project(tmp_path, versions)
    with pytest.raises(ConfigError, match=r"tasuki 1\.0\.0, which this tasuki cannot render"):
        update_project(project, versions={"2.0.0": versions["v2"]["2.0.0"]})


def test_templates_repository_is_reproducible(
    tmp_path: Path, versions, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = materialize(tmp_path / "one", versions["v2"])
    # Another machine: another user, another day.
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Someone Else")
    monkeypatch.setenv("GIT_AUTHOR_DATE", "2031-05-05T10:00:00+0900")
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2031-05-05T10:00:00+0900")
    two = materialize(tmp_path / "two", versions["v2"])
    assert git(one, "rev-parse", "2.0.0") == git(two, "rev-parse", "2.0.0")
    assert git(one, "tag").split() == ["1.0.0", "2.0.0"]
    head = git(one, "rev-parse", "HEAD")
    materialize(one, versions["v2"])  # up to date: left alone
    assert git(one, "rev-parse", "HEAD") == head


def test_shipped_template_materialises_at_this_version(tmp_path: Path) -> None:
    import tasuki

    repo = materialize(tmp_path / "repo")
    assert git(repo, "tag").split() == [tasuki.__version__]
    assert (repo / "copier.yml").read_bytes() == (TEMPLATE_DIR / "copier.yml").read_bytes()


def test_cli_update(tmp_path: Path, versions, monkeypatch: pytest.MonkeyPatch) -> None:
    # The CLI updates to this tasuki's template: a project already on it has nothing to do.
    made = new_project(tmp_path / "proj")
    result = CliRunner().invoke(app, ["update", str(made.path)])
    assert result.exit_code == 0, result.output
    assert "already on the template" in result.output
    (made.path / "Makefile").write_text("dirty\n")
    result = CliRunner().invoke(app, ["update", str(made.path)])
    assert result.exit_code == 2 and "not committed" in result.output
