"""Helpers for testing pipelines: run tasks in a throw-away workspace, check what they wrote.

>>> from tasuki.testing import run_task
>>> run = run_task(TaskB(param="x"))
>>> run.value
'hello x!!'
>>> run.ran("TaskA")
True
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasuki.core.loading import load
from tasuki.core.runner import run_build
from tasuki.core.task import Task

if TYPE_CHECKING:
    from tasuki.core.results import BuildResult

__all__ = ["TaskRun", "check_data_frame", "run_task", "temporary_workspace"]


@contextlib.contextmanager
def temporary_workspace() -> Iterator[str]:
    """A fresh local workspace folder, removed afterwards."""
    folder = tempfile.mkdtemp(prefix="tasuki-test-")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class TaskRun:
    """A finished build in a test workspace."""

    result: BuildResult
    workspace: str
    value: Any

    def status_of(self, task_class: str) -> list[str]:
        """Statuses of every task of a class (by class name or ``module:Class``)."""
        return [
            r.status
            for r in self.result.results.values()
            if r.name == task_class or r.name.rpartition(":")[2] == task_class
        ]

    def ran(self, task_class: str) -> bool:
        """Whether some task of this class ran in the build."""
        return "ran" in self.status_of(task_class)

    def load(self, task: Task) -> Any:
        """The output of any task of the build."""
        return load(task, workspace=self.workspace)


def run_task(
    task: Task | Sequence[Task],
    *,
    workspace: str | Path | None = None,
    raise_on_failure: bool = True,
    **overrides: Any,
) -> TaskRun:
    """Build in ``workspace`` (a fresh temporary folder by default) and return the run.

    The temporary folder is left for inspection; tests usually pass pytest's ``tmp_path``.

    Raises:
        AssertionError: a task failed (with the summary), unless ``raise_on_failure=False``.
    """
    folder = str(workspace) if workspace is not None else tempfile.mkdtemp(prefix="tasuki-test-")
    overrides.setdefault("progress", "off")
    result = run_build(task, workspace=folder, **overrides)
    if not result.ok and raise_on_failure:
        details = "\n".join(
            f"{r.name}: {r.error.type}: {r.error.message}\n{r.error.traceback}"
            for r in result.by_status("failed")
            if r.error
        )
        raise AssertionError(f"the build failed\n{result.summary()}\n{details}")
    value: Any = None
    if result.ok:
        values = [load(t, workspace=folder) for t in result.roots]
        value = values[0] if isinstance(task, Task) else values
    return TaskRun(result, folder, value)


def check_data_frame(
    frame: Any,
    *,
    columns: Sequence[str] | None = None,
    dtypes: Mapping[str, str] | None = None,
    rows: int | None = None,
    no_nulls: Sequence[str] = (),
) -> None:
    """Assert a pandas DataFrame's shape: columns (in order), dtypes, row count, no nulls.

    Raises:
        AssertionError: naming every mismatch at once.
    """
    problems = []
    if columns is not None and list(frame.columns) != list(columns):
        problems.append(f"columns {list(frame.columns)} != expected {list(columns)}")
    for name, dtype in (dtypes or {}).items():
        if name not in frame.columns:
            problems.append(f"column {name!r} is missing")
        elif str(frame[name].dtype) != dtype:
            problems.append(f"column {name!r} has dtype {frame[name].dtype}, expected {dtype}")
    if rows is not None and len(frame) != rows:
        problems.append(f"{len(frame)} rows, expected {rows}")
    for name in no_nulls:
        if name in frame.columns and frame[name].isna().any():
            problems.append(f"column {name!r} has {int(frame[name].isna().sum())} nulls")
    if problems:
        raise AssertionError("data frame check failed: " + "; ".join(problems))
