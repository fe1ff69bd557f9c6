"""The gokart side of the pipeline benchmarks: one case, one fresh process.

Runs only inside the gokart environment made by ``benchmarks/setup_gokart.sh`` (gokart is not a
tasuki dependency). ``bench_pipeline.py`` starts it as::

    .venv-gokart/bin/python _gokart_side.py '{"case": "chain", "n": 1000, ...}' RESULT.json

and reads RESULT.json: import time, graph construction time, build time, peak RSS, the root
output's path (so the harness can delete it for the "root deleted" mode) and whether the root's
value was right. The task shapes mirror ``_tasuki_side.py`` one for one.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import sys
import time
from typing import Any

T_START = time.perf_counter()
import gokart  # noqa: E402
import luigi  # noqa: E402
from luigi.task import flatten  # noqa: E402

IMPORT_S = time.perf_counter() - T_START


class Step(gokart.TaskOnKart):  # type: ignore[misc]
    """Link ``i`` of a chain: requires link ``i - 1`` and dumps its value plus one."""

    i = luigi.IntParameter()

    def requires(self) -> Any:
        return Step(i=self.i - 1) if self.i > 0 else []

    def output(self) -> Any:
        return self.make_target("bench/step.pkl")

    def run(self) -> None:
        self.dump((self.load() + 1) if self.i > 0 else 0)


class Leaf(gokart.TaskOnKart):  # type: ignore[misc]
    """One of the independent tasks of a fan-in; dumps its own index."""

    i = luigi.IntParameter()

    def output(self) -> Any:
        return self.make_target("bench/leaf.pkl")

    def run(self) -> None:
        self.dump(self.i)


class FanIn(gokart.TaskOnKart):  # type: ignore[misc]
    """The root of a fan-in: requires ``n`` leaves and dumps the sum of their values."""

    n = luigi.IntParameter()

    def requires(self) -> Any:
        return [Leaf(i=i) for i in range(self.n)]

    def output(self) -> Any:
        return self.make_target("bench/fan_in.pkl")

    def run(self) -> None:
        self.dump(sum(self.load()))


class Head(gokart.TaskOnKart):  # type: ignore[misc]
    """First link of a chain composed through task parameters."""

    def output(self) -> Any:
        return self.make_target("bench/head.pkl")

    def run(self) -> None:
        self.dump(0)


class Link(gokart.TaskOnKart):  # type: ignore[misc]
    """A link that holds the previous link as a parameter (gokart's TaskInstanceParameter)."""

    i = luigi.IntParameter()
    prev = gokart.TaskInstanceParameter()

    def requires(self) -> Any:
        return self.prev

    def output(self) -> Any:
        return self.make_target("bench/link.pkl")

    def run(self) -> None:
        self.dump(self.load() + 1)


_PROGRESS: dict[str, int] = {}


def _construct(case: str, n: int) -> tuple[Any, int]:
    """Make the root task; return it with the value its output must hold."""
    if case in ("chain", "single"):
        return Step(i=n - 1), n - 1
    if case in ("fan_in", "graph"):
        return FanIn(n=n), n * (n - 1) // 2
    if case == "param_chain":
        task: Any = Head()
        for i in range(1, n):
            _PROGRESS["depth"] = i
            task = Link(i=i, prev=task)
        return task, n - 1
    raise SystemExit(f"unknown case {case!r}; expected single, chain, fan_in, graph or param_chain")


def _walk_graph(root: Any) -> int:
    """Compute every task's unique id by walking ``requires()``; dedupe by id; count tasks.

    This is gokart's share of building a graph without running it: each ``make_unique_id``
    hashes the task's parameters and its requirements' ids.
    """
    seen: set[str] = set()
    stack = [root]
    while stack:
        task = stack.pop()
        uid = f"{task.get_task_family()}_{task.make_unique_id()}"
        if uid in seen:
            continue
        seen.add(uid)
        stack.extend(flatten(task.requires()))
    return len(seen)


def _cpu_s() -> float:
    """User + system CPU seconds of this process and its finished children (worker forks)."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    """Run the case described by argv[1] (JSON) and write the result to argv[2]."""
    spec = json.loads(sys.argv[1])
    out_path = sys.argv[2]
    luigi.configuration.get_config().set("TaskOnKart", "workspace_directory", spec["workspace"])
    logging.disable(logging.WARNING)
    if spec.get("recursion_limit"):
        # gokart computes unique ids recursively (about 4 frames per upstream task), so a chain
        # deeper than ~250 fails at Python's default limit of 1,000; raise it as a user would.
        sys.setrecursionlimit(spec["recursion_limit"])
    result: dict[str, Any] = {"import_s": IMPORT_S, "ok": False, "error": None}
    rss_after_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        result["phase"] = "construct"
        c0 = _cpu_s()
        t0 = time.perf_counter()
        root, expected = _construct(spec["case"], spec["n"])
        t1 = time.perf_counter()
        result["phase"] = "build"
        if spec["case"] == "graph":
            result["tasks"] = _walk_graph(root)
            result["ok"] = result["tasks"] == spec["n"] + 1
        else:
            value = gokart.build(root, workers=spec.get("workers", 1))
            result["ok"] = value == expected
            result["value"] = value
            result["root_output"] = root.output().path()
        t2 = time.perf_counter()
        result["cpu_s"] = _cpu_s() - c0
        result["construct_s"] = t1 - t0
        result["build_s"] = t2 - t1
        result["phase"] = "done"
    except RecursionError as exc:
        result["error"] = f"RecursionError: {exc}"
        result["failed_at_depth"] = _PROGRESS.get("depth")
    except Exception as exc:  # the harness reports any failure as data
        result["error"] = f"{type(exc).__name__}: {exc}"[:500]
    result["rss_after_import_kb"] = rss_after_import
    result["peak_rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open(out_path, "w", encoding="utf-8") as fh:
        json.dump(result, fh)
    # Skip interpreter teardown of a large luigi instance cache; it is not part of the work.
    os._exit(0)


if __name__ == "__main__":
    main()
