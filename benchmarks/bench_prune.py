"""What an executor is handed when almost everything is cached (issue 11).

A 10,000-task graph (9,999 leaves into one root) is built once; then the records and outputs
of the root and 9 leaves are removed, so 10 tasks must run and 9,990 are cached. The next
build hands its executor a schedule: this measures the time from ``tasuki.build`` being
called to the executor receiving that schedule (building the graph, the ids and the
completeness checks: the decision), and counts the tasks the executor is given. Every
executor (inline, local, dask) gets the same schedule, so one that counts stands in for all:
what is pruned is never submitted.

    .venv/bin/python benchmarks/run.py prune [--quick] [--repeat N]

Target: exactly 10 tasks handed over, decided in <= 1 s.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

import tasuki  # noqa: E402
from tasuki.core.executors.inline import InlineExecutor  # noqa: E402

TARGET_S = 1.0


class Leaf(tasuki.Task):
    i: int

    def run(self) -> None:
        self.dump(self.i)


class Root(tasuki.Task):
    n: int

    def requires(self) -> list[Leaf]:
        return [Leaf(i=i) for i in range(self.n)]

    def run(self) -> None:
        self.dump(len(self.load()))


class Counting:
    """Runs what it is handed inline, noting when the schedule arrived and how many tasks."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.decided_s = 0.0
        self.cpu_decided_s = 0.0
        self.cpu0 = time.process_time()
        self.handed = 0

    def run(self, schedule: Any) -> None:
        self.decided_s = time.perf_counter() - self.started
        self.cpu_decided_s = time.process_time() - self.cpu0
        inline = InlineExecutor()
        while items := schedule.take(1):
            self.handed += 1
            schedule.finish(schedule.run(items[0], on_start=schedule.started))
        del inline


def _remove(ws: Path, task: tasuki.Task) -> None:
    from tasuki.core.records import record_key

    uid = task.unique_id
    (ws / record_key(uid)).unlink()
    for path in ws.rglob(f"*{uid}*"):
        if path.is_file():
            path.unlink()


def run(quick: bool = False, repeat: int = 3) -> list[dict[str, Any]]:
    """Measure ``repeat`` decisions; one row per repeat plus the median and the verdict."""
    n = 999 if quick else 9_999
    tmp = Path(tempfile.mkdtemp(prefix="tasuki-prune-"))
    rows: list[dict[str, Any]] = []
    try:
        ws = tmp / "ws"
        root = Root(n=n)
        result = tasuki.run_build(root, workspace=str(ws), executor="local", progress="off")
        assert result.ok
        decided, cpu, handed = [], [], []
        for rep in range(repeat):
            for task in [root, *(Leaf(i=i) for i in range(rep * 10, rep * 10 + 9))]:
                _remove(ws, task)
            t0 = time.perf_counter()
            counting = Counting(t0)
            result = tasuki.run_build(
                Root(n=n), workspace=str(ws), executor=counting, progress="off"
            )
            assert result.ok
            decided.append(counting.decided_s)
            cpu.append(counting.cpu_decided_s)
            handed.append(counting.handed)
            rows.append(
                {
                    "repeat": rep + 1,
                    "tasks": n + 1,
                    "cached": n + 1 - counting.handed,
                    "handed to executor": counting.handed,
                    "decided wall s": counting.decided_s,
                    "decided CPU s": counting.cpu_decided_s,
                }
            )
        median = statistics.median(decided)
        ok = all(h == 10 for h in handed) and median <= TARGET_S
        rows.append(
            {
                "repeat": "median",
                "tasks": n + 1,
                "handed to executor": max(handed),
                "decided wall s": median,
                "decided CPU s": statistics.median(cpu),
                "verdict": (f"{'met' if ok else 'missed'} (exactly 10 handed, <= {TARGET_S:g} s)"),
                "load": f"{os.getloadavg()[0]:.2f}",
            }
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
