"""`tasuki doctor`: a good project passes; each broken part is one problem with its fix."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

import tasuki
from tasuki.cli import app
from tasuki.project import doctor, new_project


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return new_project(tmp_path / "proj", warehouse="duckdb:///dwh.duckdb", git=False).path


def _by_name(checks) -> dict[str, tasuki.project.Check]:
    return {c.name: c for c in checks}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _set(project: Path, old: str, new: str) -> None:
    path = project / "tasuki.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_good_project_has_no_problem(project: Path) -> None:
    checks = _by_name(doctor(project))
    assert [c for c in checks.values() if c.status == "problem"] == []
    assert set(checks) >= {"settings", "workspace", "warehouse main", "packages", "python"}
    assert checks["tasuki"].status == "ok" and tasuki.__version__ in checks["tasuki"].detail
    assert checks["template"].status == "ok"
    assert "duckdb" in checks["packages"].detail
    result = CliRunner().invoke(app, ["doctor", str(project)])
    assert result.exit_code == 0, result.output
    assert "no problems" in result.output


def test_bad_toml(project: Path) -> None:
    (project / "tasuki.toml").write_text('workspace = "unterminated\n')
    checks = _by_name(doctor(project))
    assert checks["settings"].status == "problem"
    assert "not valid TOML" in checks["settings"].detail
    assert checks["workspace"].status == "note"  # not checked without settings
    result = CliRunner().invoke(app, ["doctor", str(project)])
    assert result.exit_code == 1
    assert "not valid TOML" in result.output


def test_unknown_setting(project: Path) -> None:
    (project / "tasuki.toml").write_text((project / "tasuki.toml").read_text() + "wokers = 2\n")
    check = _by_name(doctor(project))["settings"]
    assert check.status == "problem" and "wokers" in check.detail


def test_unreachable_warehouse_on_a_closed_port(project: Path) -> None:
    port = _closed_port()
    _set(project, "duckdb:///dwh.duckdb", f"postgresql://postgres@127.0.0.1:{port}/nodb")
    check = _by_name(doctor(project))["warehouse main"]
    assert check.status == "problem"
    assert str(port) in check.detail
    assert "start the warehouse" in check.fix
    result = CliRunner().invoke(app, ["doctor", str(project), "--format", "json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["ok"] is False
    assert [c["name"] for c in doc["checks"] if c["status"] == "problem"] == ["warehouse main"]


def test_workspace_under_a_file_cannot_be_written(project: Path) -> None:
    (project / "blocker").write_text("a file where the workspace's parent should be")
    _set(project, 'workspace = "./data/workspace"', 'workspace = "./blocker/ws"')
    check = _by_name(doctor(project))["workspace"]
    assert check.status == "problem"
    assert "blocker" in check.detail and "writable" in check.fix


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through any permission")
def test_workspace_read_only(project: Path) -> None:
    ws = project / "data" / "workspace"
    ws.mkdir(parents=True)
    ws.chmod(0o500)
    try:
        assert _by_name(doctor(project))["workspace"].status == "problem"
    finally:
        ws.chmod(0o700)


def test_tasuki_outside_the_pin(project: Path) -> None:
    path = project / "pyproject.toml"
    text = path.read_text()
    pin = text[text.index('"tasuki') : text.index('",', text.index('"tasuki')) + 1]
    path.write_text(text.replace(pin, '"tasuki[warehouse]>=9.0,<9.1"'))
    check = _by_name(doctor(project))["tasuki"]
    assert check.status == "problem"
    assert "<9.1,>=9.0" in check.detail and "pip install" in check.fix


def test_python_outside_requires_python(project: Path) -> None:
    path = project / "pyproject.toml"
    path.write_text(
        path.read_text().replace('requires-python = ">=3.11"', 'requires-python = "<3.0"')
    )
    check = _by_name(doctor(project))["python"]
    assert check.status == "problem" and "<3.0" in check.detail


def test_missing_package_of_an_extra(project: Path) -> None:
    # BigQuery's client is not part of the dev install: its warehouse needs an extra.
    from tasuki.project._doctor import _importable

    if _importable("google.cloud.bigquery"):
        pytest.skip("google-cloud-bigquery is installed here")
    _set(project, "duckdb:///dwh.duckdb", "bigquery://my-project/my_dataset")
    check = _by_name(doctor(project))["packages"]
    assert check.status == "problem"
    assert "google.cloud.bigquery" in check.detail and "tasuki[bigquery]" in check.fix


def test_no_settings_file(tmp_path: Path) -> None:
    checks = _by_name(doctor(tmp_path))
    assert checks["settings"].status == "problem"
    assert "no tasuki.toml" in checks["settings"].detail


@pytest.mark.services
def test_reachable_postgresql_warehouse(project: Path, postgres_reader_url: str) -> None:
    _set(project, "duckdb:///dwh.duckdb", postgres_reader_url)
    checks = _by_name(doctor(project))
    assert checks["warehouse main"].status == "ok", checks["warehouse main"]
    assert "SELECT 1" in checks["warehouse main"].detail
    assert "psycopg" in checks["packages"].detail


@pytest.mark.services
def test_superuser_warehouse_is_a_problem_with_its_reason(project: Path, postgres_url: str) -> None:
    # The query path refuses a superuser role; doctor passes that refusal on.
    _set(project, "duckdb:///dwh.duckdb", postgres_url)
    check = _by_name(doctor(project))["warehouse main"]
    assert check.status == "problem" and "superuser" in check.detail


def test_doctor_works_without_the_template_extra(project: Path, monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "yaml", None)
    monkeypatch.setitem(sys.modules, "copier", None)
    checks = _by_name(doctor(project))
    assert checks["template"].status == "note" and "tasuki[template]" in checks["template"].detail
    assert [c for c in checks.values() if c.status == "problem"] == []
