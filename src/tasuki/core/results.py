"""What a build reports: per-task results, the summary, the command that resumes."""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tasuki._redact import redact
from tasuki.core._traceback import raised_at, task_traceback

if TYPE_CHECKING:
    from tasuki.core.graph import Graph
    from tasuki.core.task import Task

__all__ = [
    "BuildResult",
    "ErrorInfo",
    "TaskResult",
    "new_build_id",
    "raised_at",
    "resume_command",
    "task_traceback",
]

#: Statuses, in the order summaries list them.
STATUSES = ("ran", "cached", "failed", "upstream_failed", "not_needed", "interrupted")


def new_build_id() -> str:
    """A new build id: UTC time to the millisecond, then 8 random hex digits
    (``20261204T212135123Z-3f9a2c1b``). Ids sort by start time as plain strings, and two
    builds started in the same millisecond on different hosts still differ."""
    now = dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%dT%H%M%S}{now.microsecond // 1000:03d}Z-{os.urandom(4).hex()}"


def resume_command(roots: list[Task], workspace: str) -> str:
    """The command that resumes a build of ``roots`` (finished tasks stay cached): the same
    ``tasuki`` command line when the build came from one (``python -m tasuki`` too, as a
    Makefile runs it with the project's interpreter), else the ``tasuki.build`` call."""
    import shlex  # only when a build failed: not for every import of tasuki

    if sys.argv and sys.argv[0].endswith("tasuki"):
        return shlex.join(["tasuki", *sys.argv[1:]])
    if sys.argv and sys.argv[0].endswith(os.path.join("tasuki", "__main__.py")):
        return shlex.join([sys.executable or "python", "-m", "tasuki", *sys.argv[1:]])
    shown = ", ".join(repr(t) for t in roots)
    return f"tasuki.build({shown}, workspace={workspace!r})"


@dataclass(frozen=True)
class ErrorInfo:
    """A task's failure, in a form that crosses process boundaries."""

    type: str
    message: str
    traceback: str
    retryable: bool = False

    def __post_init__(self) -> None:
        # Messages and tracebacks reach records, logs, notifications and the CLI: a connection
        # string a driver quoted must not ride along.
        object.__setattr__(self, "message", redact(self.message))
        object.__setattr__(self, "traceback", redact(self.traceback))

    def to_json(self) -> dict[str, Any]:
        """Plain form for reports and notifications."""
        return {"type": self.type, "message": self.message, "traceback": self.traceback}

    def task_traceback(self) -> str:
        """The traceback from the task's own code: :func:`task_traceback` of it."""
        return task_traceback(self.traceback)


@dataclass
class TaskResult:
    """The outcome of one task in one build."""

    uid: str
    name: str
    status: str
    started_at: str | None = None
    finished_at: str | None = None
    duration_s: float = 0.0
    attempts: int = 0
    error: ErrorInfo | None = None
    log_tail: list[str] = field(default_factory=list)
    note: str = ""
    damaged: str | None = None
    """Unique id of an upstream task whose output this task found damaged (or gone) when
    loading it (the runner reruns that task, then this one)."""


@dataclass
class BuildResult:
    """Everything about one build: the graph, each task's result, timings."""

    graph: Graph
    results: dict[str, TaskResult]
    workspace: str
    started_at: str
    finished_at: str
    duration_s: float
    interrupted: bool = False
    build_id: str = ""
    """This build's id (:func:`new_build_id`): passed to every hook event and written in
    every run record the build wrote."""

    @property
    def ok(self) -> bool:
        """True when no task failed and the build was not interrupted."""
        return not self.interrupted and not any(
            r.status in ("failed", "upstream_failed") for r in self.results.values()
        )

    @property
    def roots(self) -> list[Task]:
        """The tasks the build was asked for."""
        return [self.graph.nodes[uid].task for uid in self.graph.roots]

    def by_status(self, status: str) -> list[TaskResult]:
        """Results with ``status``, in dependency order."""
        return [self.results[u] for u in self.graph.order if self.results[u].status == status]

    def counts(self) -> Counter[str]:
        """How many tasks ended in each status."""
        return Counter(r.status for r in self.results.values())

    def summary(self) -> str:
        """A luigi-style execution summary: counts, tasks by family, a one-line verdict."""
        counts = self.counts()
        lines = ["===== tasuki execution summary ====="]
        parts = [f"{counts[s]} {s.replace('_', ' ')}" for s in STATUSES if counts[s]]
        lines.append(
            f"Scheduled {len(self.results)} tasks in {self.duration_s:.2f}s: " + ", ".join(parts)
        )
        for status in STATUSES:
            items = self.by_status(status)
            if not items or status == "not_needed":
                continue
            families = Counter(r.name.rpartition(":")[2] for r in items)
            fam = ", ".join(f"{n} x{c}" if c > 1 else n for n, c in families.most_common())
            lines.append(f"* {len(items)} {status.replace('_', ' ')}: {fam}")
            for r in items[:5]:
                task = self.graph.nodes[r.uid].task
                extra = f" ({r.error.type}: {r.error.message})" if r.error else ""
                lines.append(f"    - {task!r} [{r.uid[:12]}]{extra}")
            if len(items) > 5:
                lines.append(f"    ... and {len(items) - 5} more")
        if self.interrupted:
            lines.append("The build was interrupted; rerun the same command to resume.")
        elif self.ok:
            lines.append("This progress looks :) because every task ran or was cached.")
        else:
            lines.append("This progress looks :( because some tasks failed.")
            lines.append(f"Resume with: {self.resume_command()}")
        lines.append("===== end of summary =====")
        return "\n".join(lines)

    def resume_command(self) -> str:
        """The command that resumes this build (finished tasks stay cached)."""
        return resume_command(self.roots, self.workspace)
