"""The inline executor: every task in the scheduling process, one at a time."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tasuki.core.schedule import Schedule

__all__ = ["InlineExecutor"]


class InlineExecutor:
    """Runs tasks one after the other in this process (``--executor inline``): the easiest
    to debug (breakpoints and ``print`` work in ``run()``), and what ``local`` falls back to
    with one worker."""

    def run(self, schedule: Schedule) -> None:
        """Run every ready task in dependency order until the schedule is done."""
        while items := schedule.take(1):
            schedule.finish(schedule.run(items[0], on_start=schedule.started))
