"""What every side script of the pipeline benchmark shares: the protocol with the harness.

A side script is started by ``bench_pipeline.py`` in a fresh interpreter as::

    PYTHON _<side>_side.py '{"case": "chain", "n": 1000, "workspace": ..., ...}' RESULT.json

and writes RESULT.json (one JSON object): ``import_s`` (importing the engine), ``construct_s``
(making the task objects), ``build_s`` (running them), ``cpu_s`` (user + system CPU seconds of
construct + build, finished child processes included), ``ok`` (the root's value was right),
``value``, ``root_output`` (the file the harness deletes for the "root deleted" mode),
``rss_after_import_kb``, ``peak_rss_kb``, ``error`` (None or the failure as text), and
optionally ``note``. This module is plain standard library so that every peer's venv can run
it: side scripts import it from their own folder.
"""

from __future__ import annotations

import json
import os
import pickle
import resource
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any


def cpu_s() -> float:
    """User + system CPU seconds of this process and its finished children."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and its waited-for children (/proc)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # fields[0] is the state (field 3); utime, stime, cutime, cstime are fields 14-17
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def dump(value: Any, path: str) -> None:
    """Pickle ``value`` to ``path`` as every side does: a temporary, then an atomic rename."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as fh:
        pickle.dump(value, fh)
    os.replace(tmp, path)


def load(path: str) -> Any:
    """Unpickle the file at ``path``."""
    with open(path, "rb") as fh:
        return pickle.load(fh)


def expected(case: str, n: int) -> int:
    """The value the root of ``case`` with ``n`` tasks must hold."""
    return n * (n - 1) // 2 if case == "fan_in" else n - 1


def serve(
    import_s: float,
    construct: Callable[[dict[str, Any]], Any],
    build: Callable[[dict[str, Any], Any], tuple[Any, str | None]],
    *,
    setup: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    helper_cpu_s: Callable[[], float] | None = None,
    finish: Callable[[], None] | None = None,
) -> None:
    """Run one case: ``construct(spec)`` makes the graph, ``build(spec, graph)`` runs it and
    returns ``(root value, root output path)``. Writes the result file and exits at once
    (interpreter teardown of a large graph is not part of the work).

    ``setup(spec)`` runs first, untimed like the import (a peer's fixed start-up, such as a
    local server); what it returns goes into the result. ``helper_cpu_s()`` is the CPU time
    of helper processes that outlive the build (such a server): its growth over the build is
    added to ``cpu_s``. ``finish()`` runs after the figures are taken (stop the helpers)."""
    spec = json.loads(sys.argv[1])
    out_path = sys.argv[2]
    result: dict[str, Any] = {"import_s": import_s, "ok": False, "error": None}
    result["rss_after_import_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        os.makedirs(spec["workspace"], exist_ok=True)
        if setup is not None:
            result.update(setup(spec))
        h0 = helper_cpu_s() if helper_cpu_s else 0.0
        c0 = cpu_s()
        t0 = time.perf_counter()
        graph = construct(spec)
        t1 = time.perf_counter()
        value, root_output = build(spec, graph)
        t2 = time.perf_counter()
        result["cpu_s"] = cpu_s() - c0
        if helper_cpu_s is not None:
            result["helper_cpu_s"] = helper_cpu_s() - h0
            result["cpu_s"] += result["helper_cpu_s"]
        result["construct_s"] = t1 - t0
        result["build_s"] = t2 - t1
        result["value"] = value
        result["root_output"] = root_output
        result["ok"] = value == expected(spec["case"], spec["n"])
    except RecursionError as exc:
        result["error"] = f"RecursionError: {exc}"
    except Exception as exc:  # the harness reports any failure as data
        result["error"] = f"{type(exc).__name__}: {exc}"[:500]
        result["traceback"] = traceback.format_exc()[-2000:]
    result["peak_rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if finish is not None:
        try:
            finish()
        except Exception as exc:
            result["finish_error"] = f"{type(exc).__name__}: {exc}"[:300]
    with open(out_path, "w", encoding="utf-8") as fh:
        json.dump(result, fh, default=str)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
