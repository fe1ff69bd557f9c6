"""The Hamilton side of the pipeline benchmark (apache-hamilton 1.90.0, ``.venv-hamilton``).

One function (node) per step, generated into a module: ``step_i(step_{i-1}: str) -> str``
loads the upstream pickle file, pickles its value to a file of its own (temporary + atomic
rename) and returns the path; a fan-in's root takes every leaf as a parameter. The module is
generated before the clock starts (``setup_s``, as a user's source file would be imported).
Built with ``driver.Builder().with_modules(module).build()`` and run with ``execute([root])``.
Hamilton has no skip-by-output-file (its cache is a store of its own): every run calls every
node, and a node whose file exists returns at once, so *warm* and *root deleted* still pass
every node through Hamilton. Same protocol as the other sides (``_side_common.py``).
"""

from __future__ import annotations

import os
import sys
import time
import types
from typing import Any

os.environ.setdefault("HAMILTON_TELEMETRY_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
T_START = time.perf_counter()
from hamilton import driver  # noqa: E402

IMPORT_S = time.perf_counter() - T_START
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _side_common import dump, load, serve  # noqa: E402

_BODY = "    path = _path({name!r})\n    if not _exists(path):\n        _dump({value}, path)\n"
_BODY += "    return path\n"


def _module(case: str, n: int, ws: str) -> tuple[types.ModuleType, str]:
    """Generate the module of node functions for ``case``; return it with the root's name."""
    lines = []
    if case in ("chain", "single"):
        lines.append("def step_0() -> str:\n" + _BODY.format(name="step_0", value="0"))
        for i in range(1, n):
            value = f"_load(step_{i - 1}) + 1"
            head = f"def step_{i}(step_{i - 1}: str) -> str:\n"
            lines.append(head + _BODY.format(name=f"step_{i}", value=value))
        root = f"step_{n - 1}"
    elif case == "fan_in":
        for i in range(n):
            lines.append(f"def leaf_{i}() -> str:\n" + _BODY.format(name=f"leaf_{i}", value=i))
        params = ", ".join(f"leaf_{i}: str" for i in range(n))
        value = "sum(_load(p) for p in (" + ", ".join(f"leaf_{i}" for i in range(n)) + ",))"
        lines.append(f"def fan_in({params}) -> str:\n" + _BODY.format(name="fan_in", value=value))
        root = "fan_in"
    else:
        raise SystemExit(f"hamilton: unknown case {case!r}; expected single, chain or fan_in")
    module = types.ModuleType("bench_nodes")
    module.__dict__.update(
        _path=lambda name: os.path.join(ws, f"{name}.pkl"),
        _exists=os.path.exists,
        _dump=dump,
        _load=load,
    )
    exec(compile("\n".join(lines), "<bench_nodes>", "exec"), module.__dict__)
    sys.modules["bench_nodes"] = module
    return module, root


_NODES: dict[str, Any] = {}


def setup(spec: dict[str, Any]) -> dict[str, Any]:
    """Write the node functions (a user's source file; untimed, like the other sides' class
    definitions, reported as ``setup_s``)."""
    t0 = time.perf_counter()
    _NODES["module"], _NODES["root"] = _module(spec["case"], spec["n"], spec["workspace"])
    return {"setup_s": time.perf_counter() - t0}


def construct(spec: dict[str, Any]) -> Any:
    return driver.Builder().with_modules(_NODES["module"]).build(), _NODES["root"]


def build(spec: dict[str, Any], graph: Any) -> tuple[Any, str | None]:
    dr, root = graph
    path = dr.execute([root])[root]
    return load(path), path


if __name__ == "__main__":
    serve(IMPORT_S, construct, build, setup=setup)
