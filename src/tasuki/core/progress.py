"""Progress display: a rich live bar on a terminal, plain lines elsewhere, or nothing."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any

__all__ = ["Progress"]


#: The progress count a final status adds to.
_COUNTED_AS = {"ran": "done", "cached": "cached"}


class Progress:
    """Counts tasks by state and shows them. The base class shows nothing."""

    def __init__(self, total: int, cached: int) -> None:
        self.total = total
        self.counts = {"done": 0, "cached": cached, "running": 0, "failed": 0}
        self._running: set[str] = set()

    @staticmethod
    def create(mode: str, *, total: int, cached: int) -> Progress:
        """The display for a settings ``progress`` value (``auto`` picks by terminal)."""
        if mode == "auto":
            mode = "rich" if sys.stderr.isatty() else "plain"
        if mode == "rich":
            return _RichProgress(total, cached)
        if mode == "plain":
            return _PlainProgress(total, cached)
        return Progress(total, cached)

    def started(self, uid: str) -> None:
        """A task's ``run()`` began."""
        if uid not in self._running:
            self._running.add(uid)
            self.counts["running"] += 1

    def requeued(self, uid: str) -> None:
        """A started task went back to waiting (an upstream output must be rebuilt)."""
        if uid in self._running:
            self._running.discard(uid)
            self.counts["running"] -= 1
        self._refresh()

    def reopened(self, uid: str, status: str | None) -> None:
        """A task counted as finished must run again."""
        if status is not None:
            key = {"ran": "done", "cached": "cached"}.get(status, "failed")
            self.counts[key] = max(0, self.counts[key] - 1)
        self._refresh()

    def finished(self, uid: str, status: str) -> None:
        """A task reached a final state."""
        if uid in self._running:
            self._running.discard(uid)
            self.counts["running"] -= 1
        self.counts[_COUNTED_AS.get(status, "failed")] += 1
        self._refresh()

    def _refresh(self) -> None:
        pass

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def line(self) -> str:
        """``done 3 | cached 1 | running 2 | failed 0 | 6/10``."""
        c = self.counts
        finished = c["done"] + c["cached"] + c["failed"]
        return (
            f"done {c['done']} | cached {c['cached']} | running {c['running']} | "
            f"failed {c['failed']} | {finished}/{self.total}"
        )


class _PlainProgress(Progress):
    """One line to stderr at most every two seconds, and at the end."""

    def __init__(self, total: int, cached: int) -> None:
        super().__init__(total, cached)
        self._last = 0.0
        self._said = ""

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._last >= 2.0:
            self._last = now
            self._say()

    def _say(self) -> None:
        line = f"tasuki: {self.line()}"
        if line != self._said:  # a short build's only refresh is already its last line
            self._said = line
            print(line, file=sys.stderr, flush=True)

    def __exit__(self, *exc: Any) -> None:
        self._say()


class _RichProgress(Progress):
    def __init__(self, total: int, cached: int) -> None:
        super().__init__(total, cached)
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichBar

        self._bar = RichBar(
            TextColumn("[bold]tasuki"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            transient=False,
        )
        self._id = self._bar.add_task("build", total=total, completed=cached, counts=self.line())

    def _refresh(self) -> None:
        c = self.counts
        self._bar.update(
            self._id, completed=c["done"] + c["cached"] + c["failed"], counts=self.line()
        )

    def started(self, uid: str) -> None:
        super().started(uid)
        self._refresh()

    def __enter__(self) -> Progress:
        self._bar.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._refresh()
        self._bar.stop()
