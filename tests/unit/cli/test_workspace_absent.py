"""Commands that read a workspace never make one, and say so when there is none.

``tasuki ls --workspace wrokspace`` (a typo) used to make the folder, with an empty records
database, and list nothing, as if the workspace were empty; ``show``, ``verify``, ``gc``,
``tree`` and ``why`` made it too. Reading commands now stop with an error naming the folder
and the setting that chose it; ``tree``, ``why`` and ``verify TASK`` answer for an empty workspace
(everything would run) and leave the disk alone; a build still makes its workspace.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.core.tasks_for_tests import TaskB

M = "tests.unit.core.tasks_for_tests"


@pytest.mark.parametrize(
    "args",
    [["ls"], ["show", "0123456789"], ["verify"], ["gc", "0123456789"], ["rerun", "0123456789"]],
    ids=lambda a: a[0],
)
def test_a_reading_command_names_the_missing_workspace(cli, tmp_path: Path, args) -> None:
    done = cli(*args)
    assert done.exit_code == 2, done.output
    assert f"no tasuki workspace at {tmp_path / 'ws'} (from TASUKI_WORKSPACE)" in done.output
    assert not (tmp_path / "ws").exists()


@pytest.mark.parametrize("command", ["tree", "why", "verify"])
def test_tree_why_and_verify_of_a_task_answer_for_an_empty_workspace_and_make_nothing(
    cli, tmp_path: Path, command: str
) -> None:
    done = cli(command, f"{M}:TaskB", "--param", "x")
    assert done.exit_code == 0, done.output
    assert "not made yet" in done.output
    assert any(said in done.output for said in ("PENDING", "never run", "not built"))
    assert not (tmp_path / "ws").exists()


def test_a_build_makes_its_workspace_and_then_reading_works(cli, tmp_path: Path) -> None:
    assert cli("run", f"{M}:TaskB", "--param", "x").exit_code == 0
    listed = cli("ls")
    assert listed.exit_code == 0 and TaskB(param="x").unique_id in listed.output
    tree = cli("tree", f"{M}:TaskB", "--param", "x")
    assert "COMPLETE" in tree.output and "not made yet" not in tree.output
