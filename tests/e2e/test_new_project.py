"""`tasuki new`, then the generated project's own `make test`, `make run` and `make workflow`
with this interpreter (no network, nothing installed); `make init`, `make image` and
`make lab` (a venv and pip, a Docker engine, JupyterLab) are checked by their command lines.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import tasuki.cli._new  # noqa: F401  (registers `tasuki new` until cli/__init__ imports it)
from tasuki.cli import app

pytestmark = pytest.mark.slow

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test User",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test User",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def _make(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", *args, f"PYTHON={sys.executable}"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("PYTHONPATH", raising=False)
    result = CliRunner().invoke(app, ["new", str(tmp_path / "recsys"), "--defaults"])
    assert result.exit_code == 0, result.output
    return tmp_path / "recsys"


def test_generated_project_passes_its_tests_and_runs(project: Path) -> None:
    tested = _make(project, "test")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "3 passed" in tested.stdout

    ran = _make(project, "run")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    log = ran.stdout + ran.stderr
    assert "5 ran" in log  # the ratings file (a tasuki.FileInput) and four tasks
    metrics = list((project / "data" / "workspace").rglob("metrics_*.json"))
    assert len(metrics) == 1
    assert json.loads(metrics[0].read_text())["users"] == 12

    # The sample data edited: everything built from it runs again (its id is the bytes).
    ratings = project / "data" / "sample" / "ratings.csv"
    original = ratings.read_text()
    ratings.write_text(original + "u99,i1,5,1700000000\n")
    again = _make(project, "run")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "5 ran" in again.stdout + again.stderr
    assert len(list((project / "data" / "workspace").rglob("metrics_*.json"))) == 2
    ratings.write_text(original)

    # The notebook's code, as Jupyter would run it from notebooks/: outputs loaded by id.
    notebook = json.loads((project / "notebooks" / "explore.ipynb").read_text())
    code = "\n".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code")
    shown = subprocess.run(
        [sys.executable, "-c", code + "\nprint(metrics['hit_rate'], len(popularity))"],
        cwd=project / "notebooks",
        env={**os.environ, "PYTHONPATH": str(project / "src")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    hit_rate, items = shown.stdout.split()[-2:]
    assert 0 <= float(hit_rate) <= 1 and int(items) > 0

    # An Argo workflow needs no cluster to be written and checked.
    shared = project.parent / "shared-ws"  # nothing cached there: every step is exported
    workflow = _make(project, "workflow", "IMAGE=ghcr.io/acme/recsys:0.1", f"WORKSPACE={shared}")
    assert workflow.returncode == 0, workflow.stdout + workflow.stderr
    assert "ghcr.io/acme/recsys:0.1" in (project / "workflow.yaml").read_text()

    # Outputs, the workflow file and caches are all git-ignored: the tree stays clean.
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=project, capture_output=True, text=True, check=True
    )
    assert status.stdout == ""


def test_docker_and_venv_targets_by_their_command_lines(project: Path) -> None:
    def dry(target: str, *extra: str) -> str:
        done = subprocess.run(
            ["make", "-n", target, *extra], cwd=project, capture_output=True, text=True, check=True
        )
        return done.stdout

    assert dry("init").splitlines() == [
        "python3 -m venv .venv",
        ".venv/bin/python -m pip install -q -e '.[dev]'",
    ]
    assert dry("image").splitlines() == ["docker build -t recsys:latest ."]
    assert "docker build -t ghcr.io/acme/recsys:1.2 ." in dry(
        "image", "IMAGE=ghcr.io/acme/recsys:1.2"
    )
    assert dry("workflow").splitlines() == [
        "rm -f workflow.yaml",
        ".venv/bin/python -m tasuki argo export recsys.tasks.pipeline:Evaluate "
        "--image recsys:latest -o workflow.yaml",
        "if [ -f workflow.yaml ]; then .venv/bin/python -m tasuki argo check workflow.yaml; fi",
    ]
    assert "--workspace s3://acme/ws" in dry("workflow", "WORKSPACE=s3://acme/ws")
    assert ".venv/bin/python -m jupyter lab notebooks/" in dry("lab")
    assert dry("test").strip() == ".venv/bin/python -m pytest -q"
