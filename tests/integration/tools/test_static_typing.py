"""Type checkers see task parameters without a plugin (PEP 681 dataclass_transform)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SNIPPET = textwrap.dedent(
    """
    import tasuki

    class TaskA(tasuki.Task):
        param: str
        n: int = 1

    ok = TaskA(param="x", n=2)
    bad_type = TaskA(param=1)
    unknown = TaskA(param="x", nope=3)
    missing = TaskA()
    positional = TaskA("x")
    ok.param = "y"
    """
)


def test_mypy_flags_bad_task_construction(tmp_path):
    path = tmp_path / "snippet.py"
    path.write_text(SNIPPET)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--no-incremental",
            "--strict",
            "--allow-untyped-defs",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    text = out.stdout
    assert 'Argument "param" to "TaskA" has incompatible type "int"; expected "str"' in text, text
    assert 'Unexpected keyword argument "nope" for "TaskA"' in text, text
    assert 'Missing named argument "param" for "TaskA"' in text, text
    assert "Too many positional arguments" in text, text
    assert 'Property "param" defined in "TaskA" is read-only' in text, text
    assert "snippet.py:8:" not in text  # the good call is accepted


SNIPPET_DEFAULTS = textwrap.dedent(
    """
    from collections.abc import Mapping
    import tasuki

    class T(tasuki.Task):
        lr: float = tasuki.param(default=0.1, description="learning rate")
        quiet: int = tasuki.param(default=0, significant=False)

        def output(self) -> Mapping[str, tasuki.FileTarget]:
            return {"a": self.make_target("a.pkl")}

    T()
    T(lr=0.2)
    """
)


def test_param_defaults_and_narrower_overrides_type_check(tmp_path):
    path = tmp_path / "defaults.py"
    path.write_text(SNIPPET_DEFAULTS)
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--strict", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout


def test_pyright_flags_bad_task_construction(tmp_path):
    """pyright (through basedpyright, which ships it with its own Node.js) needs no plugin."""
    pyright = shutil.which("basedpyright", path=os.path.dirname(sys.executable))
    if pyright is None:
        pytest.skip("basedpyright is not installed (it is in the dev extra)")
    (tmp_path / "snippet.py").write_text(SNIPPET)
    (tmp_path / "defaults.py").write_text(SNIPPET_DEFAULTS)
    # Standard mode, the one pyright users run; basedpyright's own default is stricter.
    (tmp_path / "pyrightconfig.json").write_text(
        json.dumps({"typeCheckingMode": "standard", "pythonVersion": "3.11"})
    )
    out = subprocess.run(
        [pyright, "--outputjson", "--pythonpath", sys.executable, "--project", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    report = json.loads(out.stdout)
    errors = {
        (Path(d["file"]).name, d["range"]["start"]["line"] + 1)
        for d in report["generalDiagnostics"]
        if d["severity"] == "error"
    }
    messages = "\n".join(d["message"] for d in report["generalDiagnostics"])
    # snippet.py: line 8 is the good call; 9-13 are the bad ones, each must be flagged.
    assert {line for name, line in errors if name == "snippet.py"} == {9, 10, 11, 12, 13}, messages
    assert not {e for e in errors if e[0] == "defaults.py"}, messages
