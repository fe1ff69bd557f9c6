"""What :func:`tasuki.compat._adopt.adopt_gokart` reports: one entry per task of the graph
(adopted, or why not) and the gokart files that belong to no task."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["STATUSES", "AdoptReport", "TaskAdoption"]

#: Unmatched files listed by :meth:`AdoptReport.lines` (a shared workspace may hold many).
_SHOWN = 50

#: Per-task outcomes, in the report's order.
STATUSES = (
    "adopted",
    "would_adopt",
    "already_complete",
    "not_found",
    "partial",
    "params_differ",
    "ambiguous",
    "unreadable",
    "unsupported",
)


@dataclass
class TaskAdoption:
    """What adopting did (or would do) for one task of the graph.

    Attributes:
        task: ``module:QualName``.
        unique_id: The tasuki unique id.
        gokart_id: gokart's unique id (None when it cannot be computed).
        status: One of :data:`STATUSES`.
        files: gokart's files for the outputs (relative to the gokart workspace), in
            ``output()`` order; those found only, unless every output was found.
        keys: The tasuki keys the outputs go to, in the same order.
        reason: Why the task was not adopted (empty when it was).
    """

    task: str
    unique_id: str
    gokart_id: str | None
    status: str
    files: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        """The JSON form (``tasuki adopt-gokart --format json``)."""
        return {
            "task": self.task,
            "unique_id": self.unique_id,
            "gokart_id": self.gokart_id,
            "status": self.status,
            "files": list(self.files),
            "keys": list(self.keys),
            "reason": self.reason,
        }


@dataclass
class AdoptReport:
    """What :func:`adopt_gokart` found and did.

    Attributes:
        gokart_workspace: The gokart workspace read.
        workspace: The tasuki workspace written to.
        dry_run: Nothing was written.
        files_seen: Files in the gokart workspace.
        tasks: One entry per task of the graph, dependencies first.
        unmatched: gokart files that belong to no task of the graph (left alone).
    """

    gokart_workspace: str
    workspace: str
    dry_run: bool
    files_seen: int
    tasks: list[TaskAdoption]
    unmatched: list[str]

    def with_status(self, *statuses: str) -> list[TaskAdoption]:
        """The tasks whose status is one of ``statuses``."""
        return [t for t in self.tasks if t.status in statuses]

    @property
    def adopted(self) -> list[TaskAdoption]:
        """Tasks adopted (or that would be, in a dry run)."""
        return self.with_status("adopted", "would_adopt")

    def counts(self) -> dict[str, int]:
        """Number of tasks per status (statuses with none left out)."""
        out: dict[str, int] = {}
        for status in STATUSES:
            n = sum(1 for t in self.tasks if t.status == status)
            if n:
                out[status] = n
        return out

    def to_json(self) -> dict[str, Any]:
        """The JSON form (``tasuki adopt-gokart --format json``)."""
        return {
            "gokart_workspace": self.gokart_workspace,
            "workspace": self.workspace,
            "dry_run": self.dry_run,
            "files_seen": self.files_seen,
            "counts": self.counts(),
            "tasks": [t.to_json() for t in self.tasks],
            "unmatched": list(self.unmatched),
        }

    def lines(self) -> list[str]:
        """A human summary: one line per task, then the files left alone."""
        verb = "would adopt" if self.dry_run else "adopted"
        out = [
            f"gokart workspace {self.gokart_workspace}: {self.files_seen} file(s); "
            f"{len(self.adopted)} task(s) {verb} into {self.workspace}"
        ]
        for t in self.tasks:
            name = f"{t.task} [{t.unique_id[:12]}] (gokart {t.gokart_id or '?'})"
            if t.status in ("adopted", "would_adopt"):
                out.append(f"  {t.status.replace('_', ' ')}: {name}: {', '.join(t.files)}")
            else:
                out.append(f"  {t.status.replace('_', ' ')}: {name}: {t.reason}")
        if self.unmatched:
            out.append(
                f"{len(self.unmatched)} file(s) of the gokart workspace match no task of this "
                "pipeline (left alone):"
            )
            out.extend(f"  {path}" for path in self.unmatched[:_SHOWN])
            if len(self.unmatched) > _SHOWN:
                out.append(
                    f"  ... and {len(self.unmatched) - _SHOWN} more (--format json lists all)"
                )
        return out
