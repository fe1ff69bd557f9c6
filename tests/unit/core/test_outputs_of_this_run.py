"""An output counts as a run's only when that run wrote it.

A task reruns because its code, its inputs or its upstream changed, and the output file of
its earlier run is still in the workspace under the same key (the key is the unique id, which
does not hold the code). A new ``run()`` that forgot to dump (a branch that returns early, a
dump under the wrong name) used to finish "successfully": the runner saw a file at the key,
recorded the *old* bytes as the output of the *new* code, and every later build handed them
back as cached. Each case below builds once, changes the code so that ``run()`` writes less,
and checks that the build fails naming the output, that nothing downstream runs on the old
bytes, and that the stale output is never taken as complete.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import pytest

import tasuki
from tasuki.errors import TaskFailedError
from tasuki.report.why import explain_build
from tasuki.storage import open_store
from tests._packages import forget_package

PKG = "thisrunpkg"

FIRST = """
    import tasuki

    class Make(tasuki.Task):
        def output(self):
            return {"a": self.make_target("a.pkl"), "b": self.make_target("b.pkl")}

        def run(self):
            self.dump(1, "a")
            self.dump(2, "b")

    class Down(tasuki.Task):
        def requires(self):
            return Make()

        def run(self):
            self.dump(sum(self.load().values()) + 100)
    """

# What the second version of Make.run() does instead of dumping both.
CHANGES = {
    "writes nothing": ["pass"],
    "returns early": ["if True:", "    return", "self.dump(5, 'a')"],
    "writes one of two": ["self.dump(5, 'a')"],
    "returns its value": ["return {'a': 5, 'b': 6}"],
}


def _write(home: Path, run_body: list[str] | None) -> None:
    text = textwrap.dedent(FIRST)
    if run_body is not None:
        body = "\n        ".join(run_body)
        text = text.replace('self.dump(1, "a")\n        self.dump(2, "b")', body)
    folder = home / "src" / PKG
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "__init__.py").write_text("")
    (folder / "tasks.py").write_text(text)
    forget_package(PKG)


def _tasks() -> object:
    return importlib.import_module(f"{PKG}.tasks")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.setenv("TASUKI_CODE_CACHE", "off")
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    yield tmp_path
    forget_package(PKG)


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_rerun_that_does_not_write_an_output_fails_instead_of_keeping_the_old_file(
    home: Path, change: str, workers: int
) -> None:
    ws = home / "ws"
    _write(home, None)
    assert tasuki.build(_tasks().Down(), workspace=ws, progress="off") == 103
    make = _tasks().Make()
    old_b = ws / make.output()["b"].key
    assert old_b.exists()

    _write(home, CHANGES[change])
    with pytest.raises(TaskFailedError) as err:
        tasuki.build(_tasks().Down(), workspace=ws, progress="off", workers=workers)
    message = str(err.value)
    missing = "b" if change == "writes one of two" else "a"
    assert "MissingOutputError" in message and make.output()[missing].key in message
    assert "from an earlier run" in message
    # The old file is left alone, but it is not this code's output: a build runs Make
    # again (and fails again) rather than handing back the old bytes, and Down stays out
    # of date.
    assert old_b.exists()
    store = open_store(str(ws))
    decisions = {d.uid: d for d in explain_build(_tasks().Down(), store).decisions}
    assert decisions[make.unique_id].runs and decisions[_tasks().Down().unique_id].runs
    with pytest.raises(TaskFailedError):
        tasuki.build(_tasks().Down(), workspace=ws, progress="off")


def test_an_output_that_was_never_there_gets_the_plain_message(home: Path) -> None:
    _write(home, CHANGES["writes nothing"])
    with pytest.raises(TaskFailedError) as err:
        tasuki.build(_tasks().Down(), workspace=home / "ws", progress="off")
    assert "without writing its output" in str(err.value)
    assert "from an earlier run" not in str(err.value)


def test_a_file_left_by_a_killed_run_is_not_taken_either(home: Path) -> None:
    # A run killed after its file was renamed into place but before its record: the file is
    # there with no record. The next run must write it, not adopt it.
    ws = home / "ws"
    _write(home, CHANGES["writes nothing"])
    make = _tasks().Make()
    for name in ("a", "b"):
        path = ws / make.output()[name].key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"left by a killed run")
    with pytest.raises(TaskFailedError, match="from an earlier run"):
        tasuki.build(make, workspace=ws, progress="off")


def test_a_rerun_that_writes_every_output_is_taken(home: Path) -> None:
    ws = home / "ws"
    _write(home, None)
    assert tasuki.build(_tasks().Down(), workspace=ws, progress="off") == 103
    _write(home, ["self.dump(10, 'a')", "self.dump(20, 'b')"])
    assert tasuki.build(_tasks().Down(), workspace=ws, progress="off") == 130
