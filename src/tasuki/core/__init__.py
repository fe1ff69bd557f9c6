"""The engine: tasks, parameters, ids, the graph, the runner and run records."""

from __future__ import annotations

from tasuki.core.executors import Executor
from tasuki.core.file_input import FileInput
from tasuki.core.graph import Graph, build_graph
from tasuki.core.hooks import Hook
from tasuki.core.loading import load, load_output, task_from_record
from tasuki.core.params import param
from tasuki.core.records import RunRecord
from tasuki.core.results import BuildResult, TaskResult
from tasuki.core.runner import build, run_build
from tasuki.core.targets import DirectoryTarget, FileTarget, ModelTarget, Target
from tasuki.core.task import Task, import_task

__all__ = [
    "BuildResult",
    "DirectoryTarget",
    "Executor",
    "FileInput",
    "FileTarget",
    "Graph",
    "Hook",
    "ModelTarget",
    "RunRecord",
    "Target",
    "Task",
    "TaskResult",
    "build",
    "build_graph",
    "import_task",
    "load",
    "load_output",
    "param",
    "run_build",
    "task_from_record",
]
