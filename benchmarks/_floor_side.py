"""The floor of the pipeline benchmark: no engine, the least any engine must do per task.

A plain-Python loop over the same graphs as the engines (``chain``, ``fan_in``): per task,
load the upstream pickle(s), ``pickle.dump`` the value to a temporary file, ``os.replace`` it
onto the task's file. Like an engine it skips a task whose file exists and starts from the
root, so *warm* checks one file and *root deleted* rebuilds the root from the cached
upstreams. Same protocol as the other sides (``_side_common.py``).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

T_START = time.perf_counter()
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _side_common import dump, load, serve  # noqa: E402

IMPORT_S = time.perf_counter() - T_START


def construct(spec: dict[str, Any]) -> Any:
    """Nothing to construct: the graph is implicit in the loop."""
    return None


def build(spec: dict[str, Any], graph: Any) -> tuple[Any, str | None]:
    """Build the root, building each missing upstream first."""
    ws, n = spec["workspace"], spec["n"]
    if spec["case"] == "chain":
        paths = [os.path.join(ws, f"step_{i}.pkl") for i in range(n)]
        if os.path.exists(paths[-1]):
            return load(paths[-1]), paths[-1]
        start = n - 1  # walk down to the newest file that exists, then up again
        while start > 0 and not os.path.exists(paths[start - 1]):
            start -= 1
        value = load(paths[start - 1]) if start > 0 else None
        for i in range(start, n):
            value = 0 if i == 0 else value + 1
            dump(value, paths[i])
            if i + 1 < n:  # the next task loads its upstream from the file, as engines do
                value = load(paths[i])
        return value, paths[-1]
    if spec["case"] == "fan_in":
        root = os.path.join(ws, "fan_in.pkl")
        if os.path.exists(root):
            return load(root), root
        leaves = [os.path.join(ws, f"leaf_{i}.pkl") for i in range(n)]
        for i, path in enumerate(leaves):
            if not os.path.exists(path):
                dump(i, path)
        value = sum(load(path) for path in leaves)
        dump(value, root)
        return value, root
    raise SystemExit(f"floor: unknown case {spec['case']!r}; expected chain or fan_in")


if __name__ == "__main__":
    serve(IMPORT_S, construct, build)
