"""The tasuki side of the pipeline benchmarks: one case, one fresh process.

``bench_pipeline.py`` starts it with the project's interpreter as::

    .venv/bin/python _tasuki_side.py '{"case": "chain", "n": 1000, ...}' RESULT.json

and reads RESULT.json: import time, graph construction time, build time, peak RSS, the root
output's path (so the harness can delete it for the "root deleted" mode) and whether the root's
value was right. The task shapes mirror ``_gokart_side.py`` one for one.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import pickle
import resource
import sys
import time
from typing import Any

T_START = time.perf_counter()
import tasuki  # noqa: E402

IMPORT_S = time.perf_counter() - T_START


class Step(tasuki.Task):
    """Link ``i`` of a chain: requires link ``i - 1`` and dumps its value plus one."""

    i: int

    def requires(self) -> Any:
        return Step(i=self.i - 1) if self.i > 0 else None

    def output(self) -> Any:
        return self.make_target("step.pkl")

    def run(self) -> None:
        self.dump((self.load() + 1) if self.i > 0 else 0)


class Leaf(tasuki.Task):
    """One of the independent tasks of a fan-in; dumps its own index."""

    i: int

    def output(self) -> Any:
        return self.make_target("leaf.pkl")

    def run(self) -> None:
        self.dump(self.i)


class FanIn(tasuki.Task):
    """The root of a fan-in: requires ``n`` leaves and dumps the sum of their values."""

    n: int

    def requires(self) -> Any:
        return [Leaf(i=i) for i in range(self.n)]

    def output(self) -> Any:
        return self.make_target("fan_in.pkl")

    def run(self) -> None:
        self.dump(sum(self.load()))


class Link(tasuki.Task):
    """A link that holds the previous link as a parameter and requires it."""

    i: int
    prev: tasuki.Task | None = None

    def requires(self) -> Any:
        return self.prev

    def output(self) -> Any:
        return self.make_target("link.pkl")

    def run(self) -> None:
        self.dump(self.load() + 1 if self.prev is not None else 0)


def _construct(case: str, n: int) -> tuple[Any, Any]:
    """Make the root task; return it with the value its output must hold."""
    if case in ("chain", "single"):
        return Step(i=n - 1), n - 1
    if case in ("fan_in", "graph"):
        return FanIn(n=n), n * (n - 1) // 2
    if case == "chain_graph":
        return Step(i=n - 1), None
    if case == "floor":
        return None, n - 1
    if case == "query":
        from tasuki.warehouse import QueryTask

        # A query of a DuckDB file (made by main() beside the workspace, before timing).
        return QueryTask(sql="SELECT count(*) AS n FROM ev", warehouse=f"duckdb://{_db}"), None
    if case == "param_chain":
        task: tasuki.Task = Link(i=0)
        for i in range(1, n):
            task = Link(i=i, prev=task)
        return task, n - 1
    raise SystemExit(
        f"unknown case {case!r}; expected single, query, chain, fan_in, graph, chain_graph, "
        "param_chain or floor"
    )


_db = ""
QUERY_ROWS = 1000


def _make_db(workspace: str) -> None:
    """The DuckDB file the ``query`` case reads (``<workspace>.duckdb``), made once."""
    global _db
    _db = os.path.abspath(workspace.rstrip("/") + ".duckdb")
    if not os.path.exists(_db):
        import duckdb

        with duckdb.connect(_db) as con:
            con.execute(f"CREATE TABLE ev AS SELECT range AS x FROM range({QUERY_ROWS})")


def _floor(n: int, workspace: str) -> int:
    """The floor under any engine: per step, hash a key and pickle a small int to a file
    written atomically (temporary + rename); a step whose file exists is skipped (warm)."""
    os.makedirs(workspace, exist_ok=True)
    prev, value = "", 0
    for i in range(n):
        key = hashlib.sha256(f"Step|{i}|{prev}".encode()).hexdigest()
        path = os.path.join(workspace, f"step_{key}.pkl")
        if not os.path.exists(path):
            tmp = f"{path}.tmp"
            with open(tmp, "wb") as fh:
                pickle.dump(value, fh)
            os.replace(tmp, path)
        prev, value = key, i
    return value


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
    result: dict[str, Any] = {"import_s": IMPORT_S, "ok": False, "error": None}
    rss_after_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        if spec["case"] == "query":
            # Made in a process of its own (untimed): importing duckdb here would leave the
            # build nothing to import.
            if not os.path.exists(os.path.abspath(spec["workspace"].rstrip("/") + ".duckdb")):
                import subprocess

                subprocess.run(
                    [sys.executable, __file__, "--make-db", spec["workspace"]], check=True
                )
            _make_db(spec["workspace"])
            # Imported before timing, as `import tasuki` is: the query check is measured,
            # not sqlglot's import (~0.3 s, the same for every revision).
            importlib.import_module("tasuki.warehouse")
        result["phase"] = "construct"
        c0 = _cpu_s()
        t0 = time.perf_counter()
        root, expected = _construct(spec["case"], spec["n"])
        t1 = time.perf_counter()
        result["phase"] = "build"
        if spec["case"] == "floor":
            result["value"] = _floor(spec["n"], spec["workspace"])
            result["ok"] = result["value"] == spec["n"] - 1
        elif spec["case"] in ("graph", "chain_graph"):
            # Build the graph only: every task's requirements and unique id, deduplicated.
            graph = tasuki.build_graph([root])
            result["tasks"] = len(graph)
            want = spec["n"] + 1 if spec["case"] == "graph" else spec["n"]
            result["ok"] = len(graph) == want
        elif spec["case"] == "query":
            # As `tasuki run` builds it: the result stays in the workspace (loading it would
            # time pyarrow.dataset's import, ~0.3 s, not the build).
            built = tasuki.build(
                root, workspace=spec["workspace"], progress="off", return_value=False
            )
            result["ok"] = built.ok
            result["value"] = dict(built.counts())
            result["root_output"] = os.path.join(spec["workspace"], root.output().key)
        else:
            value = tasuki.build(
                root, workspace=spec["workspace"], workers=spec.get("workers", 1), progress="off"
            )
            result["ok"] = value == expected
            result["value"] = value
            result["root_output"] = os.path.join(spec["workspace"], root.output().key)
        t2 = time.perf_counter()
        result["cpu_s"] = _cpu_s() - c0
        result["construct_s"] = t1 - t0
        result["build_s"] = t2 - t1
        result["phase"] = "done"
    except RecursionError as exc:
        result["error"] = f"RecursionError: {exc}"
    except Exception as exc:  # the harness reports any failure as data
        result["error"] = f"{type(exc).__name__}: {exc}"[:500]
    result["rss_after_import_kb"] = rss_after_import
    result["peak_rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open(out_path, "w", encoding="utf-8") as fh:
        json.dump(result, fh)
    # Skip interpreter teardown of a large task graph; it is not part of the work.
    os._exit(0)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--make-db"]:
        _make_db(sys.argv[2])
    else:
        main()
