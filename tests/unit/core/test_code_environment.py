"""A module-level constant set from the process environment counts as the task's code.

``THRESH = float(os.environ.get("THRESH", "0.5"))`` at import: the statement's text is the
same whatever the variable says, so the fingerprint (normalised text) stood still and a
build run with ``THRESH=0.7`` handed back the output made with 0.5. The value of such a
constant is now part of the fingerprint when it is numbers or flags; text read from the
environment (URLs, paths, secrets) does not count and is never written into the workspace.
A value computed from the file's own place
(``ROOT = os.path.dirname(__file__)``) is not: a teammate's checkout elsewhere, sharing the
workspace, must not rerun everything.
"""

from __future__ import annotations

import importlib
import shutil
import sys
import textwrap
from pathlib import Path

import pytest

import tasuki
from tests._packages import forget_package

PKG = "envpkg"

CASES = {
    "os.environ.get": """
        import os
        import tasuki
        THRESH = float(os.environ.get("THRESH", "0.5"))
        class Root(tasuki.Task):
            def run(self):
                self.dump(THRESH)
        """,
    "set only when the variable is there": """
        import os
        import tasuki
        THRESH = 0.5
        if "THRESH" in os.environ:
            THRESH = float(os.environ["THRESH"])
        class Root(tasuki.Task):
            def run(self):
                self.dump(THRESH)
        """,
    "getenv through a helper's constant": """
        from os import getenv
        import tasuki
        SETTINGS = {"thresh": float(getenv("THRESH") or 0.5)}
        def thresh():
            return SETTINGS["thresh"]
        class Root(tasuki.Task):
            def run(self):
                self.dump(thresh())
        """,
}


def _forget() -> None:
    forget_package(PKG)


def _write(folder: Path, text: str) -> None:
    (folder / PKG).mkdir(parents=True)
    (folder / PKG / "__init__.py").write_text("")
    (folder / PKG / "tasks.py").write_text(textwrap.dedent(text))


def _build(ws: Path) -> tuple[object, str]:
    _forget()
    root = importlib.import_module(f"{PKG}.tasks").Root()
    result = tasuki.build(root, workspace=ws, return_value=False, progress="off")
    return tasuki.load(root, workspace=ws), result.results[root.unique_id].status


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.setenv("TASUKI_CODE_CACHE", "off")
    monkeypatch.delenv("THRESH", raising=False)
    monkeypatch.syspath_prepend(str(tmp_path / "a"))
    yield tmp_path
    _forget()


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_constant_read_from_the_environment_reruns_when_the_variable_changes(
    home: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    _write(home / "a", CASES[case])
    ws = home / "ws"
    assert _build(ws) == (0.5, "ran")
    monkeypatch.setenv("THRESH", "0.7")
    assert _build(ws) == (0.7, "ran")
    assert _build(ws) == (0.7, "cached")
    monkeypatch.setenv("THRESH", "0.5")
    assert _build(ws) == (0.5, "ran")


def test_text_from_the_environment_does_not_count_and_is_never_written(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Text read at import is mostly where things are and secrets: a password that differs
    between a laptop and a worker must neither rerun the task nor reach the code texts
    the workspace keeps for `tasuki why`."""
    _write(
        home / "a",
        """
        import os
        import tasuki
        DSN = "postgresql://app:" + os.environ.get("DB_PASSWORD", "") + "@db/prod"
        class Root(tasuki.Task):
            def run(self):
                self.dump(len(DSN) > 0)
        """,
    )
    ws = home / "ws"
    monkeypatch.setenv("DB_PASSWORD", "hunter2")
    assert _build(ws) == (True, "ran")
    monkeypatch.setenv("DB_PASSWORD", "correct-horse")
    assert _build(ws) == (True, "cached")
    kept = b"".join(p.read_bytes() for p in ws.rglob("*") if p.is_file())
    assert b"hunter2" not in kept and b"correct-horse" not in kept


def test_a_variable_the_task_does_not_read_changes_nothing(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(
        home / "a",
        """
        import os
        import tasuki
        OTHER = os.environ.get("THRESH", "x")
        class Root(tasuki.Task):
            def run(self):
                self.dump(0.5)
        """,
    )
    ws = home / "ws"
    assert _build(ws) == (0.5, "ran")
    monkeypatch.setenv("THRESH", "0.7")
    assert _build(ws) == (0.5, "cached")


def test_a_checkout_in_another_folder_keeps_the_cache(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(
        home / "a",
        """
        import os
        import tasuki
        ROOT = os.path.dirname(os.path.abspath(__file__))
        class Root(tasuki.Task):
            def run(self):
                self.dump(os.path.exists(ROOT))
        """,
    )
    ws = home / "ws"
    assert _build(ws) == (True, "ran")
    shutil.copytree(home / "a", home / "b")
    monkeypatch.syspath_prepend(str(home / "b"))
    _forget()
    assert str(home / "b") in importlib.import_module(PKG).__file__
    assert _build(ws) == (True, "cached")


def test_a_data_file_named_from_the_modules_folder_keeps_the_cache_in_another_checkout(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``data_files = (Path(__file__).parent / "stop.txt",)``, as `tasuki datasets new`
    wrote it before its sample became a FileInput: the absolute path was part of the
    fingerprint, so every checkout reran."""
    _write(
        home / "a",
        """
        from pathlib import Path
        import tasuki
        class Root(tasuki.Task):
            data_files = (Path(__file__).parent / "stop.txt",)
            def run(self):
                self.dump((Path(__file__).parent / "stop.txt").read_text())
        """,
    )
    (home / "a" / PKG / "stop.txt").write_text("the")
    ws = home / "ws"
    assert _build(ws) == ("the", "ran")
    shutil.copytree(home / "a", home / "b")
    monkeypatch.syspath_prepend(str(home / "b"))
    _forget()
    assert _build(ws) == ("the", "cached")
    (home / "b" / PKG / "stop.txt").write_text("a")  # its bytes still count
    assert _build(ws) == ("a", "ran")


def test_a_secret_in_a_value_of_the_code_is_masked_in_what_the_workspace_keeps(
    home: Path,
) -> None:
    """A constant read from a file at import is kept by its value (its statement does not
    say it): the value reached the workspace's code texts, password and all."""
    (home / "secrets.json").write_text('{"dsn": "postgresql://app:hunter2@db/prod"}')
    _write(
        home / "a",
        f"""
        import json
        import tasuki
        with open({str(home / "secrets.json")!r}) as f:
            SECRETS = json.load(f)
        class Root(tasuki.Task):
            def run(self):
                self.dump(SECRETS["dsn"].startswith("postgresql"))
        """,
    )
    ws = home / "ws"
    assert _build(ws) == (True, "ran")
    kept = b"".join(p.read_bytes() for p in ws.rglob("*") if p.is_file())
    assert b"hunter2" not in kept
    assert b"SECRETS" in kept  # the code text is kept, masked
