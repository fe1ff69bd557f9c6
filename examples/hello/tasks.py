"""The smallest tasuki pipeline: ``TaskA`` writes a greeting, ``TaskB`` adds ``!!``.

Run it from the repository root::

    tasuki run examples.hello.tasks:TaskB --param world

The second run finds both outputs cached and runs nothing. ``TaskB`` takes an optional
task parameter ``upstream`` (gokart's TaskInstanceParameter): pass another task to read
from it instead of ``TaskA``; only ``TaskB``'s id changes.
"""

from __future__ import annotations

import tasuki


class TaskA(tasuki.Task):
    param: str

    def output(self) -> tasuki.FileTarget:
        return self.make_target("task_a.pkl")

    def run(self) -> None:
        self.dump(f"hello {self.param}")


class TaskB(tasuki.Task):
    param: str
    upstream: tasuki.Task | None = None  # a task as a parameter (gokart's TaskInstanceParameter)

    def requires(self) -> tasuki.Task:
        return self.upstream or TaskA(param=self.param)

    def output(self) -> tasuki.FileTarget:
        return self.make_target("task_b.pkl")

    def run(self) -> None:
        self.dump(self.load() + "!!")
