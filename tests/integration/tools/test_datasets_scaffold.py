"""``tasuki datasets new`` writes a builder whose generated test passes; ``datasets build``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from tasuki.cli import app
from tasuki.datasets._scaffold import scaffold
from tasuki.errors import ConfigError


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("TASUKI_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setenv("TASUKI_PROGRESS", "off")
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(app, list(args), catch_exceptions=False)

    return invoke


def test_the_generated_test_passes(tmp_path, cli):
    out = cli("datasets", "new", "product_a/clicks", "--path", str(tmp_path / "proj"))
    assert out.exit_code == 0, out.output
    proj = tmp_path / "proj"
    for path in (
        "product_a_clicks.py",
        "product_a_clicks_data/sample.csv",
        "tests/test_product_a_clicks.py",
    ):
        assert (proj / path).is_file(), path
        assert f"wrote {proj / path}" in out.output
    # Not inside a package: the class is named, the package is the user's to choose.
    assert '"product_a.clicks" = "<package>.product_a_clicks:ProductAClicks"' in out.output
    assert "move product_a_clicks.py (and product_a_clicks_data/) into your package" in out.output
    assert "tasuki datasets build product_a_clicks:ProductAClicks" in out.output
    assert "1 passed" in _generated_tests(proj, importable_from=proj)


def _generated_tests(folder, *, importable_from):
    """Run the tests under ``folder``/tests as a user would; their output."""
    env = {**os.environ, "PYTHONPATH": str(importable_from)}
    env.pop("TASUKI_WORKSPACE", None)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def test_scaffolded_inside_a_package_it_names_the_entry_point_and_its_test_passes(tmp_path, cli):
    package = tmp_path / "proj" / "src" / "teampkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    out = cli("datasets", "new", "product_a/clicks", "--path", str(package))
    assert out.exit_code == 0, out.output
    assert '"product_a.clicks" = "teampkg.product_a_clicks:ProductAClicks"' in out.output
    assert "tasuki datasets build teampkg.product_a_clicks:ProductAClicks" in out.output
    assert (
        '"teampkg.product_a_clicks:ProductAClicks"' in (package / "product_a_clicks.py").read_text()
    )
    assert "1 passed" in _generated_tests(package, importable_from=package.parent)


@pytest.mark.parametrize("parts", [2, 3, 5])
def test_the_sample_task_puts_every_row_in_one_partition(tmp_path, monkeypatch, parts):
    # A team that copies the sample with another number of parts loses no row and gets
    # no empty part.
    scaffold("team/parts", tmp_path / "proj")
    monkeypatch.syspath_prepend(str(tmp_path / "proj"))
    import team_parts  # type: ignore[import-not-found]

    import tasuki

    ws = str(tmp_path / "ws")
    tables = [
        tasuki.build(team_parts.SampleRows(part=p, parts=parts), workspace=ws, progress="off")
        for p in range(parts)
    ]
    users = sorted(u for t in tables for u in t["user_id"].to_pylist())
    assert users == list(range(20))
    assert all(t.num_rows >= 20 // parts for t in tables)


def test_scaffold_refuses_to_overwrite_and_bad_names(tmp_path):
    scaffold("team/views", tmp_path)
    before = (tmp_path / "team_views.py").read_text()
    with pytest.raises(ConfigError, match=r"team_views\.py.*exist\(s\) already"):
        scaffold("team/views", tmp_path)
    assert (tmp_path / "team_views.py").read_text() == before
    with pytest.raises(ConfigError, match="is not a dataset name"):
        scaffold("Team Views", tmp_path / "other")
    assert not (tmp_path / "other").exists()


def test_cli_build_prints_version_rows_and_shards(tmp_path, cli, monkeypatch):
    scaffold("team/views", tmp_path / "proj")
    monkeypatch.syspath_prepend(str(tmp_path / "proj"))
    import team_views  # type: ignore[import-not-found]

    from tasuki.datasets import register_builder
    from tasuki.datasets._discover import builders

    register_builder(team_views.TeamViews)
    try:
        reg = str(tmp_path / "registry")
        out = cli("datasets", "build", "team/views:default", "--registry", reg, "--workers", "2")
        assert out.exit_code == 0, out.output
        assert "team/views:1.0.0 (config default) published" in out.output
        assert "train: " in out.output and "test: " in out.output
        assert "shards: 2 written, 0 reused" in out.output
        again = cli("datasets", "build", "team/views#default", "--registry", reg)
        assert "already published with this content (no-op)" in again.output
        assert "shards: 0 written, 2 reused" in again.output
        bad = cli("datasets", "build", "team/view", "--registry", reg)
        assert bad.exit_code == 2 and "Did you mean 'team/views'" in bad.output
        other = cli("datasets", "build", "team/views:jp", "--registry", reg)
        assert other.exit_code == 2 and "has no config 'jp'" in other.output
    finally:
        builders._registered.pop("team/views", None)


def test_cli_build_by_builder_class_before_any_entry_point(tmp_path, cli, monkeypatch):
    scaffold("team/clicks", tmp_path / "proj")
    monkeypatch.syspath_prepend(str(tmp_path / "proj"))
    reg = str(tmp_path / "registry")
    out = cli("datasets", "build", "team_clicks:TeamClicks", "--registry", reg)
    assert out.exit_code == 0, out.output
    assert "team/clicks:1.0.0 (config default) published" in out.output
    # A lower-case right-hand side stays a config name (and this one does not exist).
    bad = cli("datasets", "build", "team_clicks:teamclicks", "--registry", reg)
    assert bad.exit_code == 2 and "unknown dataset builder 'team_clicks'" in bad.output
