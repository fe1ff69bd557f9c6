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


KEEP = """\
import tasuki.compat.gokart as gokart
import tasuki.compat.luigi as luigi


class Up(gokart.TaskOnKart):
    n = luigi.IntParameter(default=2)

    def run(self):
        self.dump(self.n)


class Down(gokart.TaskOnKart):
    def requires(self):
        return Up()

    def run(self):
        self.dump(self.load() + 1)
"""

BUILD = (
    "import sys, tasuki; sys.path.insert(0, '.'); import keepmod; "
    "r = tasuki.build(keepmod.Down(), workspace='ws', executor='inline', return_value=False); "
    "print(sorted(t.status for t in r.results.values()))"
)


def test_keep_outputs_keeps_what_compat_built_for_the_converted_code(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import subprocess
    import sys

    (project / "keepmod.py").write_text(KEEP)
    env = {**os.environ, "TASUKI_PROGRESS": "off"}  # the test's own code cache included

    def build() -> str:
        done = subprocess.run(
            [sys.executable, "-c", BUILD], cwd=project, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert build() == "['ran', 'ran']"
    assert invoke("upgrade-gokart", "keepmod.py", "--write").exit_code == 0
    assert "class Down(tasuki.Task):" in (project / "keepmod.py").read_text()
    monkeypatch.syspath_prepend(str(project))
    monkeypatch.delitem(sys.modules, "keepmod", raising=False)
    try:
        dry = invoke("upgrade-gokart", "--keep-outputs", "keepmod:Down", "-w", "ws")
        assert dry.exit_code == 0, dry.output
        assert dry.stdout.count("would_rekey  keepmod:") == 2
        assert "2 record(s) to re-key (run with --write)" in dry.stderr
        done = invoke("upgrade-gokart", "--keep-outputs", "keepmod:Down", "-w", "ws", "--write")
        assert "2 record(s) re-keyed, 0 current, 0 without a complete output" in done.stderr
    finally:
        sys.modules.pop("keepmod", None)
    assert build() == "['cached', 'not_needed']"  # the converted code reuses both outputs
    mixed = invoke("upgrade-gokart", "keepmod.py", "--keep-outputs", "keepmod:Down")
    assert mixed.exit_code == 2
    assert "--keep-outputs runs on the converted code" in mixed.stderr


def test_a_class_on_a_task_base_of_another_converted_module_converts_with_it(
    project: Path,
) -> None:
    pkg = project / "src" / "pkg"
    (pkg / "__init__.py").write_text("")
    (pkg / "z_base.py").write_text(
        "import gokart\nimport luigi\n\n\nclass Base(gokart.TaskOnKart):\n"
        "    task_namespace = 'ns'\n    up = gokart.TaskInstanceParameter()\n\n\n"
        "class Odd(gokart.TaskOnKart):\n    def __init__(self):\n        pass\n"
    )
    (pkg / "a_tasks.py").write_text(
        "import gokart\nimport luigi\n\nfrom .z_base import Base, Odd\nfrom pkg import z_base\n\n\n"
        "class A(Base):\n    n = luigi.IntParameter(default=1)\n\n\n"
        "class B(z_base.Base):\n    more = gokart.TaskInstanceParameter()\n\n\n"
        "class C(Odd):\n    pass\n"
    )
    (project / "conf.ini").write_text("[ns.A]\nn = 5\n")
    done = invoke("upgrade-gokart", "src", "--write", "--ini", "conf.ini")
    assert done.exit_code == 0, done.output
    tasks = (pkg / "a_tasks.py").read_text()
    assert "class A(Base):\n    n: int = 1\n" in tasks
    assert "import luigi" not in tasks
    assert "class B(z_base.Base):\n    more: tasuki.Task\n" in tasks
    # B's own task parameter: compat's requires() over Base's and B's task parameters
    assert 'return {"up": self.up, "more": self.more}' in tasks
    assert "# tasuki upgrade-gokart: not converted: its base Odd is not converted" in tasks
    assert "def output" not in tasks  # Base's converted output() is inherited
    assert tomllib.loads((project / "tasuki.toml").read_text()) == {
        "tasks": {"pkg.a_tasks:A": {"n": 5}}
    }


KEEP_TXT = KEEP.replace(
    """    def run(self):
        self.dump(self.load() + 1)
""",
    """    def output(self):
        return self.make_target("down.txt")

    def run(self):
        self.dump([str(self.load() + 1)])
""",
)


def test_keep_outputs_rebuilds_an_output_gokarts_processor_wrote(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Down's .txt was written by gokart's processor (compat: it loads back as a list of
    # lines); tasuki's .txt loads one string, so that record is not vouched for: rebuilt.
    import os
    import subprocess
    import sys

    (project / "keepmod.py").write_text(KEEP_TXT)
    env = {**os.environ, "TASUKI_PROGRESS": "off"}

    def build() -> str:
        done = subprocess.run(
            [sys.executable, "-c", BUILD], cwd=project, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert build() == "['ran', 'ran']"
    assert invoke("upgrade-gokart", "keepmod.py", "--write").exit_code == 0
    monkeypatch.syspath_prepend(str(project))
    monkeypatch.delitem(sys.modules, "keepmod", raising=False)
    try:
        done = invoke("upgrade-gokart", "--keep-outputs", "keepmod:Down", "-w", "ws", "--write")
        assert done.exit_code == 0, done.output
        assert "format_changed keepmod:Down" in done.stdout, done.stdout
        assert "gokart's .txt processor" in done.stdout
        assert "1 record(s) re-keyed" in done.stderr
        assert "1 with a gokart-format output to rebuild" in done.stderr
    finally:
        sys.modules.pop("keepmod", None)
    assert build() == "['cached', 'ran']"  # Up kept, Down rebuilt with tasuki's .txt
