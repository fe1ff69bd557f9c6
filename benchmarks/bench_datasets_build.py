"""Building a dataset from the DuckDB warehouse: 1 worker vs 2 workers, wall, CPU, peak RSS.

    python benchmarks/run.py datasets_build [--quick] [--repeat N]

A DuckDB file holds ``N`` rows of 10 columns (10 M; 200 k with ``--quick``), made once. Each
build is ``tasuki.datasets.build`` of a builder whose train split is 8 ``QueryTask``
partitions (``id % 8``) and whose test split is one more, cut into shards of 1 M rows (50 k
quick), into a fresh registry and a fresh workspace (cold: every query and shard runs). Each
build runs in a subprocess of its own; its wall time is the parent's clock around it (``build
s``: the child's own clock around ``build_dataset``, imports excluded), its CPU
time and peak RSS come from ``os.wait4`` (the build process and the workers it waited for:
``ru_maxrss`` is the largest of them). Repeats interleave 1 and 2 workers so that drifting load
hits both alike.

Issue 13 asks for 2 workers >= 1.6x faster than 1, and peak RSS <= 1 GB whatever the size.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

TARGET_SPEEDUP = 1.6
TARGET_RSS_MB = 1024
PARTS = 8
HERE = os.path.dirname(os.path.abspath(__file__))


def make_warehouse(path: str, rows: int) -> None:
    """``events``: ``rows`` rows, 10 columns (ints, doubles, a string, a bool, a date)."""
    import duckdb

    with duckdb.connect(path) as con:
        con.execute(
            f"""
            CREATE TABLE events AS SELECT
                range AS id,
                range % 100003 AS user_id,
                (range * 7919) % 50021 AS item_id,
                ((range * 13) % 1000) / 1000.0 AS score,
                ((range * 31) % 977) / 977.0 AS price,
                range % 5 AS category,
                'c' || (range % 1000)::VARCHAR AS campaign,
                range % 10 < 8 AS is_train,
                DATE '2026-01-01' + (range % 365)::INTEGER AS day,
                range % 3 = 0 AS converted
            FROM range({rows})
            """
        )


def _builder(url: str, shard_rows: int) -> Any:
    from tasuki.datasets import DatasetBuilder
    from tasuki.warehouse._task import QueryTask

    columns = "id, user_id, item_id, score, price, category, campaign, is_train, day, converted"

    def part(where: str) -> QueryTask:
        return QueryTask(
            sql=f"SELECT {columns} FROM events WHERE {where} ORDER BY id",
            warehouse=url,
            as_of="bench",
        )

    class Events(DatasetBuilder):
        name = "bench/events"
        VERSION = "1.0.0"
        RELEASE_NOTES = {"1.0.0": "benchmark"}
        SHARD_ROWS = shard_rows

        def splits(self) -> dict[str, Any]:
            train = [part(f"is_train AND id % {PARTS} = {p}") for p in range(PARTS)]
            return {"train": train, "test": part("NOT is_train")}

    return Events


def child(url: str, registry: str, workspace: str, workers: int, shard_rows: int) -> None:
    """One build (run in a subprocess of its own); prints the rows per split as JSON."""
    from tasuki.datasets._build import build_dataset

    cls = _builder(url, shard_rows)  # imports tasuki.warehouse (pandas, sqlglot) first
    t0 = time.perf_counter()
    done = build_dataset(
        cls,
        registry=registry,
        workspace=workspace,
        workers=workers,
        executor="local",
        progress="off",
    )
    build_s = time.perf_counter() - t0
    print(json.dumps({"rows": done.info.rows, "written": done.written, "build_s": build_s}))


def _measure(url: str, tmp: str, tag: str, workers: int, shard_rows: int) -> dict[str, Any]:
    code = (
        "import bench_datasets_build as b; "
        f"b.child({url!r}, {os.path.join(tmp, 'reg-' + tag)!r}, "
        f"{os.path.join(tmp, 'ws-' + tag)!r}, {workers}, {shard_rows})"
    )
    env = {**os.environ, "PYTHONPATH": HERE + os.pathsep + os.environ.get("PYTHONPATH", "")}
    # Bytecode caches as users have them: without them every child compiles tasuki, pyarrow
    # and DuckDB's Python parts again (seconds that are not the build's).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # Output to files, not pipes: wait4 must reap the process itself (for its rusage), and a
    # child blocked on a full pipe would never exit.
    out_path, err_path = os.path.join(tmp, f"out-{tag}"), os.path.join(tmp, f"err-{tag}")
    with open(out_path, "wb") as out_f, open(err_path, "wb") as err_f:
        w0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=out_f, stderr=err_f, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - w0
    proc.returncode = os.waitstatus_to_exitcode(status)
    with open(out_path, "rb") as f:
        out = f.read()
    if proc.returncode != 0:
        with open(err_path, "rb") as f:
            err = f.read()
        raise RuntimeError(f"build with {workers} worker(s) failed:\n{err.decode()[-4000:]}")
    result = json.loads(out.decode().strip().splitlines()[-1])
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024,
        "build": result["build_s"],
        "rows": sum(result["rows"].values()),
    }


def run(quick: bool = False, repeat: int = 3) -> list[dict[str, Any]]:
    """Rows per worker count (median wall, CPU, peak RSS, rows/s), then the verdict row."""
    rows_total = 200_000 if quick else 10_000_000
    shard_rows = 50_000 if quick else 1_000_000
    samples: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory(prefix="bench-datasets-") as tmp:
        db = os.path.join(tmp, "dwh.duckdb")
        make_warehouse(db, rows_total)
        url = f"duckdb:///{db}"
        for r in range(repeat):
            for workers in (1, 2):
                samples[workers].append(_measure(url, tmp, f"{r}-{workers}", workers, shard_rows))
    out: list[dict[str, Any]] = []
    for workers, got in samples.items():
        wall = statistics.median(s["wall"] for s in got)
        out.append(
            {
                "case": f"{workers} worker{'s' if workers > 1 else ''}",
                "rows": got[0]["rows"],
                "repeats": repeat,
                "wall s": wall,
                "build s": statistics.median(s["build"] for s in got),
                "cpu s": statistics.median(s["cpu"] for s in got),
                "peak rss MB": max(s["rss_mb"] for s in got),
                "M rows/s": got[0]["rows"] / wall / 1e6,
            }
        )
    speedup = out[0]["wall s"] / out[1]["wall s"]
    build_speedup = out[0]["build s"] / out[1]["build s"]
    rss = max(row["peak rss MB"] for row in out)
    out.append(
        {
            "case": "verdict",
            "rows": rows_total,
            "repeats": repeat,
            "wall s": speedup,
            "build s": build_speedup,
            "cpu s": None,
            "peak rss MB": rss,
            "M rows/s": None,
            "verdict": (
                f"2 workers {speedup:.2f}x faster than 1 ("
                + ("meets" if speedup >= TARGET_SPEEDUP else "misses")
                + f" {TARGET_SPEEDUP}x; {build_speedup:.2f}x without the process start and "
                f"imports); peak RSS {rss:.0f} MB ("
                + ("within" if rss <= TARGET_RSS_MB else "over")
                + f" {TARGET_RSS_MB} MB)"
            ),
        }
    )
    return out


if __name__ == "__main__":  # the builds import this module by name in their subprocesses
    for row in run(quick="--quick" in sys.argv, repeat=1 if "--quick" in sys.argv else 3):
        print(row)
