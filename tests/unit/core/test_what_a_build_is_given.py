"""What a build is given and what a task declares, checked with errors that name the task.

``tasuki.build(Train)`` (the class), ``tasuki.build("pkg:Train")`` and ``tasuki.build(None)``
raised a bare ``TypeError`` / ``AttributeError`` from deep inside; a ``requires()`` or
``output()`` that returned the wrong thing said so without saying whose. Each error now
names the task (or the argument), the bad value, and what to write instead.
"""

from __future__ import annotations

import pytest

import tasuki
from tasuki.errors import TaskError
from tasuki.formats import format_for


class Leaf(tasuki.Task):
    def run(self):
        self.dump(1)


class NeedsTheClass(tasuki.Task):
    def requires(self):
        return Leaf

    def run(self):
        self.dump(self.load())


class NeedsAName(tasuki.Task):
    def requires(self):
        return {"leaf": "Leaf"}

    def run(self):
        self.dump(self.load("leaf"))


class NeedsAGenerator(tasuki.Task):
    def requires(self):
        return (Leaf() for _ in range(2))

    def run(self):
        self.dump(1)


class NeedsATarget(tasuki.Task):
    def requires(self):
        return Leaf().output()

    def run(self):
        self.dump(1)


class WritesAString(tasuki.Task):
    def output(self):
        return ["a.pkl"]

    def run(self):
        self.dump(1)


def _build(task, tmp_path):
    return tasuki.build(task, workspace=str(tmp_path / "ws"), executor="inline", progress="off")


@pytest.mark.parametrize(
    ("given", "says"),
    [
        (Leaf, r"tasuki\.build\(<class .*Leaf'>\): not a task; make a task value: Leaf\(\.\.\.\)"),
        ("pkg:Leaf", r"'pkg:Leaf'\): not a task; .*command line: tasuki run pkg:Leaf"),
        (None, r"tasuki\.build\(None\): not a task; pass a task value"),
        ([Leaf(), 3], r"tasuki\.build\(3\): not a task"),
    ],
    ids=["class", "name", "None", "a list with a number"],
)
def test_a_build_of_something_that_is_not_a_task_says_what_to_pass(tmp_path, given, says):
    with pytest.raises(TaskError, match=says):
        _build(given, tmp_path)
    assert not (tmp_path / "ws").exists() or not any((tmp_path / "ws").rglob("*.pkl"))


@pytest.mark.parametrize(
    ("task", "says"),
    [
        (NeedsTheClass, r"NeedsTheClass\.requires\(\) returned a type .*Leaf\(\.\.\.\), not the"),
        (NeedsAName, r"NeedsAName\.requires\(\) returned a str \('Leaf'\).*named by its value"),
        (NeedsAGenerator, r"NeedsAGenerator\.requires\(\) returned a generator.*make it a list"),
        (NeedsATarget, r"NeedsATarget\.requires\(\) returned a FileTarget.*the task that writes"),
        (WritesAString, r"WritesAString\.output\(\) returned a str \('a\.pkl'\).*make_target"),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else "",
)
def test_a_wrong_requires_or_output_names_the_task_and_the_fix(tmp_path, task, says):
    with pytest.raises(TaskError, match=says) as err:
        _build(task(), tmp_path)
    assert err.value.task == task.task_name()


class Fixed(tasuki.Task):
    """Declares one file for every value of ``n``: a FileTarget made by hand."""

    n: int

    def output(self):
        return tasuki.FileTarget("shared/fixed.pkl", format_for("fixed.pkl"))

    def run(self):
        self.dump(self.n)


class BothFixed(tasuki.Task):
    def requires(self):
        return [Fixed(n=1), Fixed(n=2)]

    def run(self):
        self.dump(self.load())


@pytest.mark.parametrize("first_alone", [False, True], ids=["both-to-run", "one-cached"])
def test_two_tasks_of_a_build_that_declare_one_file_are_refused(tmp_path, first_alone):
    """Each run overwrote the other's output; the reader failed on a "damaged" output, or,
    had the sizes and hashes matched, read whichever came last."""
    ws = tmp_path / "ws"
    if first_alone:
        assert tasuki.build(Fixed(n=1), workspace=ws, progress="off") == 1
    with pytest.raises(TaskError, match=r"both declare the output shared/fixed\.pkl") as caught:
        tasuki.build(BothFixed(), workspace=ws, progress="off")
    assert "Fixed(n=1)" in str(caught.value) and "Fixed(n=2)" in str(caught.value)
    assert "make_target" in str(caught.value)
    if first_alone:  # nothing ran: the cached output is as it was
        assert tasuki.load(Fixed(n=1), workspace=ws) == 1
    else:
        assert not (ws / "shared").exists()


class MixedKeys(tasuki.Task):
    def requires(self):
        return {1: Leaf(), "two": Leaf()}

    def run(self):
        self.dump(self.load())


def test_a_requires_dict_with_keys_of_several_types_builds(tmp_path):
    """It raised a bare TypeError ('<' not supported between 'str' and 'int') from the id."""
    assert tasuki.build(MixedKeys(), workspace=tmp_path, progress="off") == {1: 1, "two": 1}
    assert MixedKeys().unique_id == MixedKeys().unique_id


def test_why_says_the_build_would_be_refused(tmp_path):
    # `tasuki why` said "will run: 3 task(s) would run" for a build `tasuki run` refused.
    from typer.testing import CliRunner

    from tasuki.cli import app

    ws = tmp_path / "ws"
    task = f"{__name__}:BothFixed"
    result = CliRunner().invoke(app, ["why", task, "--workspace", str(ws)])
    assert result.exit_code == 2, result.output
    assert "both declare the output shared/fixed.pkl" in result.output
    assert "would run" not in result.output
