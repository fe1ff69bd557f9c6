"""The Kedro side of the pipeline benchmark (kedro 1.7.0 in ``benchmarks/.venv-kedro``).

One node per step; every node's output is a dataset of its own, a small pickle file written
by ``PickleFile`` (temporary + atomic rename, the same dump as the other sides; kedro core has
no file dataset, kedro-datasets' ``PickleDataset`` does the same through fsspec). The catalog
holds one dataset per task, the pipeline one node per task, run with ``SequentialRunner``
(``workers`` > 1: ``ParallelRunner`` with a ``SharedMemoryDataCatalog``) and
``only_missing_outputs=True``, so *warm* and *root deleted* skip the nodes whose files exist.
Same protocol as the other sides (``_side_common.py``).
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import time
from typing import Any

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")
T_START = time.perf_counter()
from kedro.io import AbstractDataset, DataCatalog, SharedMemoryDataCatalog  # noqa: E402
from kedro.pipeline import Pipeline, node  # noqa: E402
from kedro.runner import ParallelRunner, SequentialRunner  # noqa: E402

IMPORT_S = time.perf_counter() - T_START
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _side_common import dump, load, serve  # noqa: E402


class PickleFile(AbstractDataset):  # type: ignore[misc]
    """A pickle file: load it, or dump to a temporary and rename it into place."""

    def __init__(self, filepath: str) -> None:
        self._filepath = filepath

    def load(self) -> Any:
        return load(self._filepath)

    def save(self, data: Any) -> None:
        dump(data, self._filepath)

    def _exists(self) -> bool:
        return os.path.exists(self._filepath)

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath}


def _first() -> int:
    return 0


def _plus_one(value: int) -> int:
    return value + 1


def _leaf_value(i: int) -> int:
    return i


def _leaf(i: int) -> Any:
    # A partial of a module-level function (not a closure): ParallelRunner pickles nodes.
    return functools.partial(_leaf_value, i)


def _total(*values: int) -> int:
    return sum(values)


def construct(spec: dict[str, Any]) -> Any:
    ws, n, case = spec["workspace"], spec["n"], spec["case"]
    datasets: dict[str, Any] = {}
    nodes = []
    if case in ("chain", "single"):
        for i in range(n):
            datasets[f"step_{i}"] = PickleFile(os.path.join(ws, f"step_{i}.pkl"))
            if i == 0:
                nodes.append(node(_first, None, "step_0", name="step_0"))
            else:
                nodes.append(node(_plus_one, f"step_{i - 1}", f"step_{i}", name=f"step_{i}"))
        root = f"step_{n - 1}"
    elif case == "fan_in":
        for i in range(n):
            datasets[f"leaf_{i}"] = PickleFile(os.path.join(ws, f"leaf_{i}.pkl"))
            nodes.append(node(_leaf(i), None, f"leaf_{i}", name=f"leaf_{i}"))
        datasets["fan_in"] = PickleFile(os.path.join(ws, "fan_in.pkl"))
        nodes.append(node(_total, [f"leaf_{i}" for i in range(n)], "fan_in", name="fan_in"))
        root = "fan_in"
    else:
        raise SystemExit(f"kedro: unknown case {case!r}; expected single, chain or fan_in")
    parallel = spec.get("workers", 1) > 1
    catalog = (SharedMemoryDataCatalog if parallel else DataCatalog)(datasets=datasets)
    return catalog, Pipeline(nodes), root


def build(spec: dict[str, Any], graph: Any) -> tuple[Any, str | None]:
    catalog, pipeline, root = graph
    workers = spec.get("workers", 1)
    runner = SequentialRunner() if workers == 1 else ParallelRunner(max_workers=workers)
    runner.run(pipeline, catalog, only_missing_outputs=True)
    path = os.path.join(spec["workspace"], f"{root}.pkl")
    return load(path), path


if __name__ == "__main__":
    logging.disable(logging.WARNING)
    serve(IMPORT_S, construct, build)
