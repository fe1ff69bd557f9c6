"""`tasuki new`: what the generated project holds, and the folders and answers it refuses."""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import tasuki
from tasuki.argo._image import DOCKERIGNORE, dockerfile
from tasuki.cli import app
from tasuki.config import load_settings
from tasuki.errors import ConfigError
from tasuki.project import new_project
from tasuki.project._templates import TEMPLATE_DIR
from tests.unit.template.conftest import git

EXPECTED = [
    ".copier-answers.yml",
    ".dockerignore",
    ".github/workflows/ci.yml",
    ".gitignore",
    "Dockerfile",
    "Makefile",
    "README.md",
    "data/sample/ratings.csv",
    "models/.gitkeep",
    "notebooks/explore.ipynb",
    "pyproject.toml",
    "src/recsys/__init__.py",
    "src/recsys/tasks/__init__.py",
    "src/recsys/tasks/pipeline.py",
    "tasuki.toml",
    "tests/test_pipeline.py",
]


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One project with a warehouse and the dask executor, for the read-only checks."""
    home = tmp_path_factory.mktemp("home")
    mp = pytest.MonkeyPatch()
    mp.setenv("HOME", str(home))
    try:
        root = tmp_path_factory.mktemp("made") / "recsys"
        new_project(root, warehouse="duckdb:///data/dwh.duckdb", executor="dask", git=False)
    finally:
        mp.undo()
    return root


def test_layout(made: Path) -> None:
    files = sorted(
        str(p.relative_to(made)) for p in made.rglob("*") if p.is_file() and ".git" not in p.parts
    )
    assert files == EXPECTED
    assert not [f for f in files if f.endswith(".jinja")]


def test_settings_are_valid_and_anchored(made: Path) -> None:
    settings = load_settings(cwd=made, environ={})
    assert settings.workspace == str(made / "data" / "workspace")
    assert settings.registry == str(made / "models")
    assert settings.executor == "dask"
    assert settings.warehouses == {"main": "duckdb:///data/dwh.duckdb"}


def test_pyproject_pins_this_tasuki_with_the_extras_in_use(made: Path) -> None:
    doc = tomllib.loads((made / "pyproject.toml").read_text())
    major, minor, _ = tasuki.__version__.split(".")
    pin = f"tasuki[warehouse,dask]>={tasuki.__version__},<{major}.{int(minor) + 1}"
    assert doc["project"]["dependencies"] == [pin]
    assert doc["project"]["name"] == "recsys"
    assert doc["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == ["src/recsys"]


def test_template_version_is_this_tasuki() -> None:
    # A release that bumps tasuki's version bumps the template's (docs/template.md).
    doc = yaml.safe_load((TEMPLATE_DIR / "copier.yml").read_text())
    assert doc["tasuki_version"]["default"] == tasuki.__version__


def test_dockerfile_is_what_tasuki_image_writes(made: Path) -> None:
    assert (made / "Dockerfile").read_text() == dockerfile(made)[0]
    assert (made / ".dockerignore").read_text().startswith(DOCKERIGNORE)


def test_notebook_is_valid_and_loads_by_id(made: Path) -> None:
    doc = json.loads((made / "notebooks" / "explore.ipynb").read_text())
    assert doc["nbformat"] == 4
    code = "".join("".join(c["source"]) for c in doc["cells"] if c["cell_type"] == "code")
    assert "tasuki.load_output(" in code
    assert "from recsys.tasks.pipeline import Evaluate" in code
    compile(code, "explore.ipynb", "exec")


def test_generated_code_is_lint_clean(made: Path) -> None:
    import shutil
    import subprocess

    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    if ruff is None:
        pytest.skip("ruff is not installed beside this interpreter")
    for args in (["check", "."], ["format", "--check", "."]):
        done = subprocess.run([ruff, *args], cwd=made, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


def test_makefile_targets(made: Path) -> None:
    text = (made / "Makefile").read_text()
    for target in ("init", "test", "run", "lab", "image", "workflow"):
        assert f"\n{target}:" in text
    assert "TASK ?= recsys.tasks.pipeline:Evaluate" in text


def test_answers_record_the_template(made: Path) -> None:
    answers = yaml.safe_load((made / ".copier-answers.yml").read_text())
    assert answers["_commit"] == tasuki.__version__
    assert answers["_src_path"] == "~/.cache/tasuki/project-template"
    assert answers["package"] == "recsys"


def test_new_commits_the_project(tmp_path: Path) -> None:
    made = new_project(tmp_path / "proj")
    assert made.committed
    assert git(made.path, "status", "--porcelain") == ""
    assert "tasuki new" in git(made.path, "log", "--format=%s")


def test_non_empty_folder_is_refused_and_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "existing"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError) as err:
        new_project(target)
    message = str(err.value)
    assert str(target) in message
    assert "not empty" in message and "notes.txt" in message
    assert "another path" in message and f"tasuki update {target}" in message
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]


def test_file_as_target_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "a-file"
    target.write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        new_project(target)


def test_package_from_a_bad_folder_name_names_the_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'2024_models'.*folder '2024-models'"):
        new_project(tmp_path / "2024-models")
    assert not (tmp_path / "2024-models").exists()


def test_cli_new_with_defaults(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["new", str(tmp_path / "shop-ml"), "--defaults"])
    assert result.exit_code == 0, result.output
    assert "package shop_ml" in result.output
    assert (tmp_path / "shop-ml" / "src" / "shop_ml" / "tasks" / "pipeline.py").is_file()


def test_cli_new_asks_again_after_a_bad_answer(tmp_path: Path) -> None:
    # package (bad, then good), warehouse, workspace, executor (bad, then good)
    answers = "my-pkg\nmy_pkg\n\n./ws\nspark\ninline\n"
    result = CliRunner().invoke(app, ["new", str(tmp_path / "p")], input=answers)
    assert result.exit_code == 0, result.output
    assert "'my-pkg' is not a Python identifier" in result.output
    assert "'spark' is not one the template knows" in result.output
    settings = tomllib.loads((tmp_path / "p" / "tasuki.toml").read_text())
    assert settings["executor"] == "inline" and settings["workspace"] == "./ws"
    assert (tmp_path / "p" / "src" / "my_pkg").is_dir()


def test_cli_bad_package_and_non_empty_folder_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["new", str(tmp_path / "x"), "--package", "import"])
    assert result.exit_code == 2
    assert "'import' is a Python keyword" in result.output
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "a").write_text("")
    result = CliRunner().invoke(app, ["new", str(tmp_path / "full"), "--defaults"])
    assert result.exit_code == 2
    assert "is not empty" in result.output


def test_inside_a_git_repository_no_second_repository(tmp_path: Path) -> None:
    mono = tmp_path / "mono"
    mono.mkdir()
    git(mono, "init", "-q")
    made = new_project(mono / "services" / "recsys")
    assert not made.committed
    assert not (made.path / ".git").exists()
    assert "services/" in git(mono, "status", "--porcelain")


def test_without_copier_says_what_to_install(tmp_path: Path, monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "copier", None)  # `import copier` raises ImportError
    with pytest.raises(ConfigError, match=r"needs copier: pip install 'tasuki\[template\]'"):
        new_project(tmp_path / "p")
    result = CliRunner().invoke(app, ["new", str(tmp_path / "p")])
    assert result.exit_code == 2 and "needs copier" in result.output
    assert not (tmp_path / "p").exists()


def test_cli_bad_executor_and_warehouse_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["new", str(tmp_path / "x"), "--executor", "spark"])
    assert result.exit_code == 2 and "'spark'" in result.output and "local" in result.output
    result = CliRunner().invoke(app, ["new", str(tmp_path / "x"), "--warehouse", "db:5432"])
    assert result.exit_code == 2 and "has no scheme" in result.output
    assert not (tmp_path / "x").exists()


def test_cli_new_with_no_terminal_and_questions_left_names_the_options(tmp_path: Path) -> None:
    # A script or CI job got "Aborted!" and exit code 1, and no hint of --defaults.
    result = CliRunner().invoke(app, ["new", str(tmp_path / "p")], input="")
    assert result.exit_code == 2, result.output
    assert "no answer for 'Python package name' (--package)" in result.output
    assert "--defaults" in result.output and "Aborted" not in result.output
    answered = "my_pkg\n\n"  # package and warehouse piped in, then the pipe ends
    result = CliRunner().invoke(app, ["new", str(tmp_path / "p")], input=answered)
    assert result.exit_code == 2, result.output
    assert "no answer for 'Workspace folder or URL' (--workspace)" in result.output
    assert not (tmp_path / "p").exists()  # nothing made
