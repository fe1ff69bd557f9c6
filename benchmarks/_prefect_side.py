"""The Prefect side of the pipeline benchmark (prefect 3.9.1 in ``benchmarks/.venv-prefect``).

One ``@task`` per step inside one ``@flow``; each task loads its upstream pickle file(s) and
pickles its value to a file of its own (temporary + atomic rename) and returns the path.
Prefect has no skip-by-output-file: every run calls every task; a task whose file exists
returns at once (so *warm* and *root deleted* still pass every task through Prefect's task
engine). Tasks are called in the flow one after another (``workers`` > 1: the leaves are
``.submit()``-ted to a ``ThreadPoolTaskRunner`` of that many threads).

Prefect runs here as a user's first local run does: no ``PREFECT_API_URL``, so it starts a
temporary local API server; ``PREFECT_HOME`` is one folder for the whole benchmark run
(``spec['prefect_home']``), telemetry and logging to the API are off, console logs at
WARNING. The server is started before the clock starts (an empty flow, reported as
``setup_s``, like the import); its CPU time during the build is added to the build's CPU
time, and it is stopped before the process exits. Same protocol as the other sides
(``_side_common.py``).
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

_spec = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
# The harness passes one PREFECT_HOME for the whole run (its database is made once, in the
# warm-up); alone, a side uses a folder in its workspace.
_home = _spec.get("prefect_home") or os.path.join(_spec.get("workspace", "/tmp"), ".prefect-home")
os.environ["PREFECT_HOME"] = _home
os.environ.pop("PREFECT_API_URL", None)
os.environ.pop("PREFECT_API_KEY", None)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_TO_API_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_ALLOW_EPHEMERAL_MODE", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")

T_START = time.perf_counter()
from prefect import flow, task  # noqa: E402

IMPORT_S = time.perf_counter() - T_START
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _side_common import dump, load, proc_cpu_s, serve  # noqa: E402

WS = ""


@task
def step(i: int, prev: str | None) -> str:
    """Link ``i`` of a chain: loads link ``i - 1``'s file and dumps its value plus one."""
    path = os.path.join(WS, f"step_{i}.pkl")
    if not os.path.exists(path):
        dump(load(prev) + 1 if prev is not None else 0, path)
    return path


@task
def leaf(i: int) -> str:
    """One of the independent tasks of a fan-in; dumps its own index."""
    path = os.path.join(WS, f"leaf_{i}.pkl")
    if not os.path.exists(path):
        dump(i, path)
    return path


@task
def total(paths: list[str]) -> str:
    """The root of a fan-in: loads every leaf's file and dumps the sum."""
    path = os.path.join(WS, "fan_in.pkl")
    if not os.path.exists(path):
        dump(sum(load(p) for p in paths), path)
    return path


@flow
def chain(n: int) -> str:
    path = None
    for i in range(n):
        path = step(i, path)
    return path  # type: ignore[return-value]


@flow
def fan_in(n: int, workers: int) -> str:
    if workers == 1:
        paths = [leaf(i) for i in range(n)]
    else:
        paths = [f.result() for f in [leaf.submit(i) for i in range(n)]]
    return total(paths)


@flow
def empty() -> int:
    return 0


def _server() -> Any:
    from prefect.server.api.server import SubprocessASGIServer

    return next(iter(SubprocessASGIServer._instances.values()), None)


def setup(spec: dict[str, Any]) -> dict[str, Any]:
    global WS
    WS = spec["workspace"]
    t0 = time.perf_counter()
    empty()
    return {"setup_s": time.perf_counter() - t0}


def helper_cpu_s() -> float:
    server = _server()
    process = getattr(server, "server_process", None)
    return proc_cpu_s(process.pid) if process is not None else 0.0


def finish() -> None:
    server = _server()
    if server is not None:
        server.stop()


def construct(spec: dict[str, Any]) -> Any:
    if spec["case"] not in ("chain", "single", "fan_in"):
        raise SystemExit(f"prefect: unknown case {spec['case']!r}; expected chain or fan_in")
    return None


def build(spec: dict[str, Any], graph: Any) -> tuple[Any, str | None]:
    if spec["case"] == "fan_in":
        from prefect.task_runners import ThreadPoolTaskRunner

        workers = spec.get("workers", 1)
        run = fan_in.with_options(task_runner=ThreadPoolTaskRunner(max_workers=workers))
        path = run(spec["n"], workers)
    else:
        path = chain(spec["n"])
    return load(path), path


if __name__ == "__main__":
    serve(IMPORT_S, construct, build, setup=setup, helper_cpu_s=helper_cpu_s, finish=finish)
