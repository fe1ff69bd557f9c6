"""The Luigi side of the pipeline benchmark (luigi 3.8.1 in ``benchmarks/.venv-luigi``).

One ``luigi.Task`` per step with a ``LocalTarget`` file: ``run()`` loads the upstream
pickle(s) and pickles its value through the target's temporary path (atomic rename). Luigi
skips a task whose output exists, so *warm* and *root deleted* are incremental as on tasuki.
Built with ``luigi.build(..., local_scheduler=True)``. Same protocol as the other sides
(``_side_common.py``).
"""

from __future__ import annotations

import logging
import os
import pickle
import sys
import time
from typing import Any

T_START = time.perf_counter()
import luigi  # noqa: E402

IMPORT_S = time.perf_counter() - T_START
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _side_common import load, serve  # noqa: E402

WS = ""


class _Pickled(luigi.Task):  # type: ignore[misc]
    def _dump(self, value: Any) -> None:
        with self.output().temporary_path() as tmp, open(tmp, "wb") as fh:
            pickle.dump(value, fh)


class Step(_Pickled):
    """Link ``i`` of a chain: requires link ``i - 1`` and dumps its value plus one."""

    i = luigi.IntParameter()

    def requires(self) -> Any:
        return Step(i=self.i - 1) if self.i > 0 else []

    def output(self) -> Any:
        return luigi.LocalTarget(os.path.join(WS, f"step_{self.i}.pkl"))

    def run(self) -> None:
        self._dump(load(self.input().path) + 1 if self.i > 0 else 0)


class Leaf(_Pickled):
    """One of the independent tasks of a fan-in; dumps its own index."""

    i = luigi.IntParameter()

    def output(self) -> Any:
        return luigi.LocalTarget(os.path.join(WS, f"leaf_{self.i}.pkl"))

    def run(self) -> None:
        self._dump(self.i)


class FanIn(_Pickled):
    """The root of a fan-in: requires ``n`` leaves and dumps the sum of their values."""

    n = luigi.IntParameter()

    def requires(self) -> Any:
        return [Leaf(i=i) for i in range(self.n)]

    def output(self) -> Any:
        return luigi.LocalTarget(os.path.join(WS, "fan_in.pkl"))

    def run(self) -> None:
        self._dump(sum(load(t.path) for t in self.input()))


def construct(spec: dict[str, Any]) -> Any:
    global WS
    WS = spec["workspace"]
    n = spec["n"]
    if spec["case"] in ("chain", "single"):
        return Step(i=n - 1)
    if spec["case"] == "fan_in":
        return FanIn(n=n)
    raise SystemExit(f"luigi: unknown case {spec['case']!r}; expected single, chain or fan_in")


def build(spec: dict[str, Any], root: Any) -> tuple[Any, str | None]:
    logging.disable(logging.WARNING)
    ok = luigi.build(
        [root], local_scheduler=True, workers=spec.get("workers", 1), log_level="WARNING"
    )
    if not ok:
        raise RuntimeError("luigi.build returned False")
    return load(root.output().path), root.output().path


if __name__ == "__main__":
    # A chain's deps are scheduled one by one, but luigi's task-id code does not recurse: the
    # default recursion limit holds.
    serve(IMPORT_S, construct, build)
