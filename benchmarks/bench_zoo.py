"""Model zoo: the lineage query (``zoo.find``) over many versions, and push / load of a small
model, on a local registry.

    python benchmarks/run.py zoo [--quick] [--repeat N]

A registry of V versions spread over M models (1,000 of 50; ``--quick``: 200 of 10) is made
with ``Zoo.push`` (each version a small pickle trained on one of a few dataset versions, with
an ``ndcg`` metric). Then, each repeat, interleaved:

- ``find, scan every version.json``: the query answered without the index, by reading every
  ``version.json`` (what the index saves);
- ``find, index rebuilt``: ``zoo.find`` with the index file removed (the first query after
  it was lost, or on a registry written by an older tasuki);
- ``find, index on disk``: ``zoo.find`` in a fresh process state (the in-process memo
  cleared): list the versions, read and parse the index, filter;
- ``find, index in memory``: ``zoo.find`` again in the same process;
- ``push small model`` / ``load small model``: one push of new content (a 1,000-float
  list), one ``zoo.load`` of it by alias.

Wall and CPU time are this process's; the verdict compares the ``index on disk`` median with
issue 13's 50 ms for a zoo lineage query.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

TARGET_MS = 50.0


def _time(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def _fill(zoo: Any, versions: int, models: int) -> None:
    datasets = [f"product_a/clicks:1.{i}.0@h{i}" for i in range(5)]
    for i in range(versions):
        zoo.push(
            f"model-{i % models:03d}",
            {"i": i},
            owner=f"owner-{i % 7}",
            metrics={"ndcg": (i % 100) / 100},
            datasets=[datasets[i % len(datasets)]],
            description=f"version {i}",
        )


def _scan_all(root: Path) -> list[dict[str, Any]]:
    """The query without an index: every version.json read and filtered."""
    out = []
    for path in root.glob("models/*/versions/*/version.json"):
        doc = json.loads(path.read_bytes())
        if any(d.startswith("product_a/clicks:1.2.0") for d in doc["datasets"]) and (
            doc["metrics"].get("ndcg", 0) > 0.4
        ):
            out.append(doc)
    return out


def run(quick: bool = False, repeat: int = 3) -> list[dict[str, Any]]:
    """Rows per case (median wall and CPU ms), then the verdict row."""
    from tasuki.zoo import Zoo, _index

    versions, models = (200, 10) if quick else (1_000, 50)
    query = {"dataset": "product_a/clicks:1.2.0", "metric": ("ndcg", ">", 0.4)}
    samples: dict[str, list[tuple[float, float]]] = {}

    def note(case: str, wall: float, cpu: float) -> None:
        samples.setdefault(case, []).append((wall, cpu))

    with tempfile.TemporaryDirectory(prefix="bench-zoo-") as tmp:
        root = Path(tmp) / "registry"
        zoo = Zoo(str(root), tracking_uri="")
        fill_wall, _, _ = _time(lambda: _fill(zoo, versions, models))
        expected = None
        for r in range(repeat):
            wall, cpu, scanned = _time(lambda: _scan_all(root))
            note("find, scan every version.json", wall, cpu)
            with contextlib.suppress(FileNotFoundError):
                os.remove(root / "models" / "_index.json")
            _index._MEMO.clear()
            wall, cpu, found = _time(lambda: Zoo(str(root), tracking_uri="").find(**query))
            note("find, index rebuilt", wall, cpu)
            _index._MEMO.clear()
            wall, cpu, found2 = _time(lambda: Zoo(str(root), tracking_uri="").find(**query))
            note("find, index on disk", wall, cpu)
            wall, cpu, found3 = _time(lambda: zoo.find(**query))
            note("find, index in memory", wall, cpu)
            refs = sorted(v.ref for v in found)
            if not (refs == sorted(v.ref for v in found2) == sorted(v.ref for v in found3)):
                raise RuntimeError("find answered differently with and without its index")
            if len(refs) != len(scanned) or not refs:
                raise RuntimeError(f"find found {len(refs)}, the scan {len(scanned)}")
            expected = len(refs)
            wall, cpu, _ = _time(
                lambda r=r: zoo.push("small", [float(r)] * 1_000, alias="champion")
            )
            note("push small model", wall, cpu)
            wall, cpu, loaded = _time(lambda: zoo.load("small@champion"))
            note("load small model", wall, cpu)
            if loaded != [float(r)] * 1_000:
                raise RuntimeError("load returned something else than was pushed")
    rows: list[dict[str, Any]] = []
    for case, got in samples.items():
        rows.append(
            {
                "case": case,
                "versions": versions,
                "models": models,
                "matches": expected if case.startswith("find") else None,
                "repeats": repeat,
                "wall ms": statistics.median(w for w, _ in got) * 1e3,
                "cpu ms": statistics.median(c for _, c in got) * 1e3,
            }
        )
    on_disk = next(r for r in rows if r["case"] == "find, index on disk")["wall ms"]
    scan = next(r for r in rows if r["case"] == "find, scan every version.json")["wall ms"]
    rows.append(
        {
            "case": "verdict",
            "versions": versions,
            "models": models,
            "matches": expected,
            "repeats": repeat,
            "wall ms": on_disk,
            "cpu ms": None,
            "verdict": (
                f"zoo lineage query {on_disk:.1f} ms ({scan / on_disk:.1f}x faster than reading "
                f"every version.json; filling took {fill_wall:.1f} s): "
                + ("within 50 ms" if on_disk <= TARGET_MS else "NOT within 50 ms")
            ),
        }
    )
    return rows


if __name__ == "__main__":
    import sys

    for row in run(quick="--quick" in sys.argv):
        print(row)
