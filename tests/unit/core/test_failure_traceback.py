"""A failed task shows where its own code failed: the build's error and its log line (also
from a worker process) hold the traceback from the task's code, the runner's frames that
lead into ``run()`` left out (``tasuki show``: tests/unit/cli)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest

import tasuki
from tasuki.core.results import task_traceback
from tasuki.errors import TaskFailedError

HERE = os.path.abspath(__file__)


def _ratio(values: list[int]) -> float:
    return sum(values) / (len(values) - 3)  # the failing line


class Divide(tasuki.Task):
    """Fails in a helper of this file, called from run()."""

    n: int = 3

    def output(self):
        return self.make_target("d.pkl")

    def run(self):
        self.dump(_ratio(list(range(self.n))))


def test_the_build_error_carries_the_tasks_traceback(tmp_path, caplog):
    with caplog.at_level(logging.ERROR, logger="tasuki"), pytest.raises(TaskFailedError) as err:
        tasuki.build(Divide(), workspace=str(tmp_path / "ws"), progress="off")
    message = str(err.value)
    assert f'File "{HERE}", line' in message and "in _ratio" in message
    assert "return sum(values) / (len(values) - 3)  # the failing line" in message
    assert "tasuki/core/execute.py" not in message  # the runner's own frames left out
    (logged,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("failed")]
    assert "in _ratio" in logged and "ZeroDivisionError: division by zero" in logged


def test_a_task_failing_in_a_worker_process_shows_it_too(tmp_path):
    ws = tmp_path / "ws"
    env = {**os.environ, "TASUKI_WORKSPACE": str(ws), "TASUKI_PROGRESS": "off"}
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(HERE))))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    plan = subprocess.run(
        [sys.executable, "-m", "tasuki", "run", f"{__name__}:Divide", "--workers", "2"],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
    )
    assert plan.returncode == 1
    assert f'File "{HERE}", line' in plan.stderr and "in _ratio" in plan.stderr


def test_only_the_leading_frames_of_tasuki_go():
    tasuki_dir = os.path.dirname(os.path.abspath(tasuki.__file__))
    runner = (
        f'  File "{tasuki_dir}/core/execute.py", line 459, in _run_with_retries\n    task.run()'
    )
    dump = f'  File "{tasuki_dir}/core/task.py", line 440, in dump\n    raise FormatError("x")'
    user = '  File "/home/me/flow.py", line 15, in run\n    self.dump(x)'
    head = "Traceback (most recent call last):"
    text = f"{head}\n{runner}\n{user}\n{dump}\ntasuki.errors.FormatError: x\n"
    assert task_traceback(text) == f"{head}\n{user}\n{dump}\ntasuki.errors.FormatError: x"
    inside = f"{head}\n{runner}\n{dump}\ntasuki.errors.FormatError: x"
    assert task_traceback(inside) == inside  # a failure inside tasuki: kept whole
    chained = (
        f"{head}\n{runner}\n{user}\nKeyError: 'a'\n\nThe above exception was the direct "
        f"cause of the following exception:\n\n{head}\n{runner}\n{user}\nValueError: b"
    )
    assert runner not in task_traceback(chained)
    assert task_traceback(chained).count(user) == 2


class BadRequires(tasuki.Task):
    def requires(self):
        return {}["upstream"]  # requires() fails here

    def output(self):
        return self.make_target("r.pkl")

    def run(self):
        self.dump(1)


class BadOutput(tasuki.Task):
    def output(self):
        return self.make_target(_ratio([1, 2, 3]))  # output() fails in a helper

    def run(self):
        self.dump(1)


@pytest.mark.parametrize(
    ("task", "method", "where"),
    [
        (BadRequires(), "requires", "in requires: return {}['upstream']"),
        (BadOutput(), "output", "in _ratio: return sum(values)"),
    ],
)
def test_a_task_method_failing_while_planning_says_where(tmp_path, task, method, where):
    from tasuki.errors import TaskError

    with pytest.raises(TaskError) as err:
        tasuki.build(task, workspace=str(tmp_path / "ws"), progress="off")
    message = str(err.value)
    assert message.startswith(f"{task!r}.{method}() raised ")
    assert f"(at {HERE}, line " in message and where.split(":")[0] in message
    assert where.split(": ", 1)[1].replace("'", '"') in message
    assert err.value.__cause__ is not None  # the original, with its whole traceback
