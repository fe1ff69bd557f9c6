"""``tasuki upgrade-gokart``: diff by default, ``--write``, ``--ini``, exit codes."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("libcst", reason="the codemod needs libcst (pip install tasuki[gokart])")

from tasuki.cli import app

SOURCE = """\
import gokart
import luigi


class Load(gokart.TaskOnKart):
    size = luigi.IntParameter(default=1)


class Odd(gokart.TaskOnKart):
    def output(self):
        return self.make_target("a.pkl", use_unique_id=False)
"""


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "tasks.py").write_text(SOURCE)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_shows_a_diff_and_writes_nothing_by_default(project: Path) -> None:
    done = invoke("upgrade-gokart", "src")
    assert done.exit_code == 0, done.output
    assert "--- a/src/pkg/tasks.py\n+++ b/src/pkg/tasks.py\n" in done.stdout
    assert "-class Load(gokart.TaskOnKart):\n" in done.stdout
    assert "+class Load(tasuki.Task):\n" in done.stdout
    assert "src/pkg/tasks.py:9: Odd not converted: make_target(use_unique_id=False)" in (
        done.stderr
    )
    assert "would convert (run with --write to write): 1 class(es) in 1 file(s)" in done.stderr
    assert (project / "src" / "pkg" / "tasks.py").read_text() == SOURCE


def test_write_writes_the_files_and_the_toml(project: Path) -> None:
    (project / "luigi.ini").write_text(
        "[TaskOnKart]\nworkspace_directory = ./resource\n\n[Load]\nsize = 4\n\n[Gone]\nx = 1\n"
    )
    done = invoke("upgrade-gokart", "src/pkg/tasks.py", "--write", "--ini", "luigi.ini")
    assert done.exit_code == 0, done.output
    written = (project / "src" / "pkg" / "tasks.py").read_text()
    assert "class Load(tasuki.Task):\n    size: int = 1\n" in written
    assert "# tasuki upgrade-gokart: not converted: make_target(use_unique_id=False)" in written
    settings = tomllib.loads((project / "tasuki.toml").read_text())
    assert settings == {"workspace": "./resource", "tasks": {"pkg.tasks:Load": {"size": 4}}}
    assert "luigi.ini [Gone]: no gokart class named Gone in the converted files" in done.stderr
    again = invoke("upgrade-gokart", "src", "--write")
    assert "nothing to convert" in again.stderr
    assert (project / "src" / "pkg" / "tasks.py").read_text() == written


def test_a_file_that_does_not_parse_exits_2_and_nothing_is_written(project: Path) -> None:
    (project / "src" / "pkg" / "broken.py").write_text("import gokart\n\n\nx = = 1\n")
    done = invoke("upgrade-gokart", "src", "--write")
    assert done.exit_code == 2
    assert done.stderr.startswith("src/pkg/broken.py:4:")
    assert "cannot parse:" in done.stderr
    assert (project / "src" / "pkg" / "tasks.py").read_text() == SOURCE


def test_nothing_to_convert_says_so(project: Path) -> None:
    (project / "plain.py").write_text("x = 1\n")
    done = invoke("upgrade-gokart", "plain.py")
    assert done.exit_code == 0
    assert done.stdout == ""
    assert "nothing to convert" in done.stderr


def test_a_missing_path_is_a_usage_error(project: Path) -> None:
    done = invoke("upgrade-gokart", "nowhere")
    assert done.exit_code == 2
    assert "nowhere is neither a file nor a folder" in done.stderr
