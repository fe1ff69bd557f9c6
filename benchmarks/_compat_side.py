"""The tasuki-compat side of the pipeline benchmarks: gokart's task code on tasuki.compat.

The task classes are **the gokart side's own** (``_gokart_side.py``), not a copy: this script
puts ``tasuki.compat.gokart`` and ``tasuki.compat.luigi`` in ``sys.modules`` as ``gokart`` and
``luigi``, then imports ``_gokart_side``, so its ``import gokart`` / ``import luigi`` lines
get the compat modules and every ``TaskOnKart`` class there becomes a tasuki task. This is
what a gokart team gets by switching the import lines. ``bench_pipeline.py`` starts it with the
project's interpreter as::

    .venv/bin/python _compat_side.py '{"case": "chain", "n": 1000, ...}' RESULT.json

and reads RESULT.json, as for every side.

Two things of the gokart side are not task code and have no compat equivalent, so they are
handled here:

- ``from luigi.task import flatten`` (luigi's internal helper, used only to walk the graph in
  the "graph" case): a ``luigi.task`` module with luigi's ``flatten`` is put next to the compat
  ``luigi``.
- ``root.output().path()`` (gokart's target path, which the harness needs to delete the root's
  output): tasuki targets know their key in the workspace, not a path, so :func:`main` here
  runs the gokart side's ``_construct`` and ``gokart.build`` exactly as its ``main`` does and
  takes the path as ``workspace / key`` (as ``_tasuki_side.py`` does).
"""

from __future__ import annotations

import json
import logging
import os
import resource
import sys
import time
import types
from typing import Any

T_START = time.perf_counter()
import tasuki.compat.gokart as gokart  # noqa: E402
import tasuki.compat.luigi as luigi  # noqa: E402

IMPORT_S = time.perf_counter() - T_START


def flatten(struct: Any) -> list[Any]:
    """luigi's ``luigi.task.flatten``: the leaves of a structure of dicts, lists and tuples
    (``None`` is empty; a string is one leaf)."""
    if struct is None:
        return []
    if isinstance(struct, dict):
        return [leaf for value in struct.values() for leaf in flatten(value)]
    if isinstance(struct, str):
        return [struct]
    try:
        items = iter(struct)
    except TypeError:
        return [struct]
    return [leaf for item in items for leaf in flatten(item)]


def _luigi_task_module() -> types.ModuleType:
    module = types.ModuleType("luigi.task", "luigi.task's flatten, for the benchmark's graph walk")
    module.flatten = flatten  # type: ignore[attr-defined]
    return module


# The gokart side's `import gokart`, `import luigi` and `from luigi.task import flatten` must
# find these; they are set before its import and only in this process.
sys.modules["gokart"] = gokart
sys.modules["luigi"] = luigi
sys.modules["luigi.task"] = _luigi_task_module()
luigi.task = sys.modules["luigi.task"]  # type: ignore[attr-defined]

import _gokart_side as side  # noqa: E402

if side.gokart is not gokart or side.luigi is not luigi:  # never measure real gokart here
    raise SystemExit("_gokart_side imported the real gokart/luigi, not tasuki.compat")


def main() -> None:
    """Run the case described by argv[1] (JSON) and write the result to argv[2].

    The same steps as ``_gokart_side.main`` (configuration, construct, ``gokart.build``, the
    value check), with the root's output path taken from its workspace key.
    """
    spec = json.loads(sys.argv[1])
    out_path = sys.argv[2]
    luigi.configuration.get_config().set("TaskOnKart", "workspace_directory", spec["workspace"])
    logging.disable(logging.WARNING)
    if spec.get("recursion_limit"):
        sys.setrecursionlimit(spec["recursion_limit"])
    result: dict[str, Any] = {"import_s": IMPORT_S, "ok": False, "error": None}
    rss_after_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        result["phase"] = "construct"
        c0 = side._cpu_s()
        t0 = time.perf_counter()
        root, expected = side._construct(spec["case"], spec["n"])
        t1 = time.perf_counter()
        result["phase"] = "build"
        if spec["case"] == "graph":
            result["tasks"] = side._walk_graph(root)
            result["ok"] = result["tasks"] == spec["n"] + 1
        else:
            value = gokart.build(root, workers=spec.get("workers", 1))
            result["ok"] = value == expected
            result["value"] = value
            result["root_output"] = os.path.join(spec["workspace"], root.output().key)
        t2 = time.perf_counter()
        result["cpu_s"] = side._cpu_s() - c0
        result["construct_s"] = t1 - t0
        result["build_s"] = t2 - t1
        result["phase"] = "done"
    except RecursionError as exc:
        result["error"] = f"RecursionError: {exc}"
        result["failed_at_depth"] = side._PROGRESS.get("depth")
    except Exception as exc:  # the harness reports any failure as data
        result["error"] = f"{type(exc).__name__}: {exc}"[:500]
    result["rss_after_import_kb"] = rss_after_import
    result["peak_rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open(out_path, "w", encoding="utf-8") as fh:
        json.dump(result, fh)
    # Skip interpreter teardown of a large task graph; it is not part of the work.
    os._exit(0)


if __name__ == "__main__":
    main()
