"""tasuki: cached, reproducible ML pipelines and warehouse access for small ML teams.

>>> import tasuki
>>> class Hello(tasuki.Task):
...     name: str
...     def output(self):
...         return self.make_target("hello.txt")
...     def run(self):
...         self.dump(f"hello {self.name}")
>>> tasuki.build(Hello(name="world"))  # doctest: +SKIP
'hello world'
"""

from __future__ import annotations

from tasuki import errors
from tasuki.config import Settings, load_settings
from tasuki.core import (
    BuildResult,
    DirectoryTarget,
    Executor,
    FileInput,
    FileTarget,
    Hook,
    ModelTarget,
    RunRecord,
    Target,
    Task,
    TaskResult,
    build,
    build_graph,
    import_task,
    load,
    load_output,
    param,
    run_build,
)
from tasuki.errors import TasukiError

__version__ = "0.1.0"

__all__ = [
    "BuildResult",
    "DirectoryTarget",
    "Executor",
    "FileInput",
    "FileTarget",
    "Hook",
    "ModelTarget",
    "RunRecord",
    "Settings",
    "Target",
    "Task",
    "TaskResult",
    "TasukiError",
    "__version__",
    "build",
    "build_graph",
    "errors",
    "import_task",
    "load",
    "load_output",
    "load_settings",
    "param",
    "run_build",
]
