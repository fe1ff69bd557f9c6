"""Run from a sub-folder: one cache, the one next to the settings file, and the CLI says so."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tasuki.cli import app
from tasuki.core.records import record_ids
from tasuki.storage import open_store
from tests.unit.core.tasks_for_tests import TaskB

M = "tests.unit.core.tasks_for_tests"


def test_run_from_a_sub_folder_uses_the_project_workspace(tmp_path, monkeypatch):
    project = (tmp_path / "proj").resolve()
    (project / "src" / "deep").mkdir(parents=True)
    (project / "tasuki.toml").write_text('workspace = "cache"\nprogress = "off"\n')
    runner = CliRunner()

    monkeypatch.chdir(project)
    first = runner.invoke(app, ["run", f"{M}:TaskB", "--param", "x"], catch_exceptions=False)
    assert first.exit_code == 0, first.output
    line = f"workspace: {project / 'cache'} (from {project / 'tasuki.toml'})"
    assert first.stderr.count(line) == 1, first.stderr

    monkeypatch.chdir(project / "src" / "deep")
    tree = runner.invoke(app, ["tree", f"{M}:TaskB", "--param", "x", "--format", "json"])
    assert tree.exit_code == 0, tree.output
    assert line in tree.stderr
    doc = json.loads(tree.stdout)  # the location is not mixed into JSON on stdout
    assert {n["status"] for n in doc["nodes"]} == {"complete"}
    assert not (project / "src" / "deep" / "cache").exists()
    assert TaskB(param="x").unique_id in record_ids(open_store(str(project / "cache")))


def test_environment_workspace_is_relative_to_the_cwd(tmp_path, monkeypatch):
    project = (tmp_path / "proj").resolve()
    (project / "sub").mkdir(parents=True)
    (project / "tasuki.toml").write_text('workspace = "cache"\n')
    monkeypatch.chdir(project / "sub")
    monkeypatch.setenv("TASUKI_WORKSPACE", "here")
    (project / "sub" / "here" / ".tasuki").mkdir(parents=True)  # ls reads a workspace there is
    result = CliRunner().invoke(app, ["ls"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"workspace: {project / 'sub' / 'here'} (from TASUKI_WORKSPACE)" in result.stderr
