"""Pipeline benchmarks: tasuki, a plain-Python floor and five peers on the same task graphs.

Sides (each a script ``_<side>_side.py``, run in a fresh interpreter of its own venv):

- ``tasuki`` (this project's ``.venv``), ``floor`` (no engine: load the upstream pickle, dump
  to a temporary file, ``os.replace``; ``.venv`` too),
- ``tasuki-compat`` (``.venv``, script ``_compat_side.py``): the gokart side's task code run
  on ``tasuki.compat.gokart`` / ``tasuki.compat.luigi`` (only the imports switched),
- peers, each in ``benchmarks/.venv-<peer>`` made by ``benchmarks/setup_peers.sh``: ``gokart``
  1.12.2, ``luigi`` 3.8.1, ``kedro`` 1.7.0, ``prefect`` 3.9.1, ``hamilton`` (apache-hamilton
  1.90.0).

The sides run **interleaved**: for each case (graph, size, workers), repeat by repeat, every
side runs one repeat before any side runs the next (the side order rotates by repeat). One
repeat of a side is one fresh workspace and one fresh process per mode: *cold* (empty
workspace), *warm* (build again), *root deleted* (the harness deletes the root's output, then
builds again). For every process the harness records the side's own figures (construct +
build wall time and CPU time, import excluded) and, around the process, its whole wall time and
CPU time (``os.wait4``: user + system of the process and every child it waited for), the load
average and the git commit.

A case whose estimated time for all its repeats is over ``--budget`` seconds is skipped for
that side ("skipped: estimated N s"); one whose first repeat shows the rest would overrun the
budget stops there, and the table says how many runs it had. Verdicts count only figures with
at least 3 runs on both sides. Every verdict is computed from the measured rows
(``_pipeline_report.targets``).

Run through ``python benchmarks/run.py pipeline [--quick]``; see ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _host import cpu_model
from _loader import add_load_option, loaded, loaded_title
from _pipeline_report import DOCS, markdown, print_rich, rows, write_docs

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TASUKI_PY = ROOT / ".venv" / "bin" / "python"
GOKART_PY = HERE / ".venv-gokart" / "bin" / "python"  # kept for bench_formats and old callers

PEERS = ("gokart", "luigi", "kedro", "prefect", "hamilton")
COMPAT = "tasuki-compat"  # gokart's task code on tasuki.compat
SIDES = ("tasuki", COMPAT, "floor", *PEERS)
PACKAGE = {  # the distribution whose version each side reports
    "tasuki": "tasuki",
    COMPAT: "tasuki",
    "floor": None,
    "gokart": "gokart",
    "luigi": "luigi",
    "kedro": "kedro",
    "prefect": "prefect",
    "hamilton": "apache-hamilton",
}
MODES = ("cold", "warm", "root deleted")
MIN_RUNS = 3  # a figure with fewer runs is shown but never counted for a verdict
BUDGET_S = 900.0  # full run: seconds one side may spend on one case, all repeats together
QUICK_BUDGET_S = 60.0
TIMEOUT_S = 900.0  # one process


def python_of(side: str) -> Path:
    """The interpreter a side runs with."""
    if side in ("tasuki", COMPAT, "floor"):
        return TASUKI_PY
    return HERE / f".venv-{side}" / "bin" / "python"


def script_of(side: str) -> Path:
    return HERE / ("_compat_side.py" if side == COMPAT else f"_{side}_side.py")


@dataclass(frozen=True)
class Key:
    """One task graph: what every side of one interleaved group builds."""

    case: str  # single | chain | fan_in | graph | chain_graph | param_chain
    n: int
    workers: int = 1
    modes: tuple[str, ...] = MODES


@dataclass
class Case:
    """One key measured on one side."""

    side: str
    case: str
    n: int
    workers: int = 1
    modes: tuple[str, ...] = MODES
    spec: dict[str, Any] = field(default_factory=dict)  # extra keys for the side script
    note: str = ""


@dataclass
class Outcome:
    """Measurements of one case on one side: one entry per run, per mode."""

    case: Case
    times: dict[str, list[float]] = field(default_factory=dict)  # construct + build, wall
    cpu: dict[str, list[float]] = field(default_factory=dict)  # same span, CPU
    proc_wall: dict[str, list[float]] = field(default_factory=dict)  # whole process, wall
    proc_cpu: dict[str, list[float]] = field(default_factory=dict)  # whole process, wait4
    import_s: list[float] = field(default_factory=list)
    setup_s: list[float] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)
    commits: list[str] = field(default_factory=list)
    peak_rss_kb: int = 0
    rss_after_import_kb: int = 0
    error: str | None = None
    skipped: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def runs(self, mode: str) -> int:
        return len(self.times.get(mode, []))


# --- what each side builds -------------------------------------------------------------------

NOTES = {
    "kedro": "SequentialRunner(only_missing_outputs=True); a dataset per task",
    "prefect": "no skip by output: warm / root deleted call every task (each returns at once "
    "when its file exists); temporary local server started before the clock (setup)",
    "hamilton": "no skip by output: warm / root deleted call every node (each returns at once "
    "when its file exists)",
    "floor": "no engine: load upstream pickle, dump to temporary, os.replace",
    COMPAT: "gokart's task code (_gokart_side.py) with its imports switched to tasuki.compat",
}


def _side_spec(side: str, key: Key) -> dict[str, Any]:
    if side == "gokart" and key.case in ("chain", "single", "graph"):
        # gokart computes unique ids recursively (~4 frames per upstream): a chain deeper than
        # ~250 fails at the default limit; raise it as a user would.
        return {"recursion_limit": 10 * key.n + 1000}
    return {}


def plan(
    quick: bool,
    peers: Sequence[str],
    compat: bool = True,
    sides: Sequence[str] | None = None,
    cases: Sequence[str] | None = None,
    sizes: Sequence[int] | None = None,
    workers: Sequence[int] | None = None,
) -> list[tuple[Key, list[str]]]:
    """The keys of a full (or quick) run in order, each with the sides that build it.

    ``compat`` adds the tasuki-compat side next to tasuki for one task, chains and fan-ins.
    ``sides``, ``cases``, ``sizes`` and ``workers`` keep only those sides, graphs, task
    counts and worker counts.
    """
    p = list(peers)
    ck = [COMPAT] if compat else []
    keys: list[tuple[Key, list[str]]] = []
    if quick:  # a smoke run: 100-task graphs on every side, 1,000 on tasuki and the floor
        for case in ("chain", "fan_in"):
            keys.append((Key(case, 100), ["tasuki", *ck, "floor", *p]))
            keys.append((Key(case, 1000), ["tasuki", *ck, "floor"]))
        return _only(keys, sides, cases, sizes, workers)
    # A one-task build shows the fixed cost of a build (settings, lazy imports, workspace);
    # "project" is the same build where users make it: in a git work tree with a settings
    # file (the git commit a record names, the settings file read).
    keys.append((Key("single", 1), ["tasuki", *ck, *p]))
    keys.append((Key("project", 1), ["tasuki", *ck, *p]))
    for case in ("chain", "fan_in"):
        keys.append((Key(case, 100), ["tasuki", *ck, "floor", *p]))
        keys.append((Key(case, 1000), ["tasuki", *ck, "floor", *p]))
        keys.append((Key(case, 10000), ["tasuki", *ck, "floor", *p]))
        # 100,000 tasks: cold only; the peers run if their estimate fits the budget.
        keys.append((Key(case, 100000, modes=("cold",)), ["tasuki", *ck, "floor", *p]))
    parallel = [s for s in ("gokart", "luigi", "kedro", "prefect") if s in p]
    keys.append((Key("fan_in", 1000, 2, ("cold",)), ["tasuki", *parallel]))
    gk = ["gokart"] if "gokart" in p else []
    keys.append((Key("graph", 1000, modes=("graph",)), gk))
    keys.append((Key("graph", 10000, modes=("graph",)), ["tasuki", *gk]))
    keys.append((Key("graph", 100000, modes=("graph",)), ["tasuki"]))
    keys.append((Key("chain_graph", 10000, modes=("graph",)), ["tasuki"]))
    keys.append((Key("chain_graph", 100000, modes=("graph",)), ["tasuki"]))
    # gokart's TaskInstanceParameter chain: 150 builds, 300 fails (the table says at which
    # depth); 300 first, so that it is not skipped on 150's estimate.
    keys.append((Key("param_chain", 300, modes=("cold",)), ["tasuki", *gk]))
    keys.append((Key("param_chain", 150, modes=("cold",)), gk))
    keys.append((Key("param_chain", 10000, modes=("cold",)), ["tasuki"]))
    return _only(keys, sides, cases, sizes, workers)


def _only(
    keys: list[tuple[Key, list[str]]],
    sides: Sequence[str] | None,
    cases: Sequence[str] | None,
    sizes: Sequence[int] | None,
    workers: Sequence[int] | None = None,
) -> list[tuple[Key, list[str]]]:
    """The keys of the chosen graphs, sizes and worker counts, each with the chosen sides;
    none left empty."""
    out = []
    for key, key_sides in keys:
        if (cases and key.case not in cases) or (sizes and key.n not in sizes):
            continue
        if workers and key.workers not in workers:
            continue
        chosen = [s for s in key_sides if not sides or s in sides]
        if chosen:
            out.append((key, chosen))
    return out


# --- running one process ----------------------------------------------------------------------


def _clean_env() -> dict[str, str]:
    # The settings of whoever runs the benchmark must not leak into the measured builds, and
    # bytecode is cached as on a user's machine: with PYTHONDONTWRITEBYTECODE set, every process
    # would compile each changed module again and charge it to import and build time.
    prefixes = ("TASUKI_", "LUIGI_", "PREFECT_", "KEDRO_", "HAMILTON_", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONPATH", None)
    return env


def _run_side(
    side: str, spec: dict[str, Any], cwd: Path, timeout: float = TIMEOUT_S
) -> dict[str, Any]:
    """Run one side script once in a fresh interpreter; return its JSON result plus
    ``proc_wall_s`` and ``proc_cpu_s`` measured around the process (``os.wait4``)."""
    out = cwd / f"result-{time.monotonic_ns()}.json"
    err_path = cwd / f"stderr-{time.monotonic_ns()}.txt"
    with open(err_path, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [str(python_of(side)), str(script_of(side)), json.dumps(spec), str(out)],
            cwd=cwd,
            env=_clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,  # its helpers (a server, workers) can be killed with it
        )
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
    try:  # helpers left behind (a server the side failed to stop) go with it
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    tail = err_path.read_text(errors="replace")[-800:]
    err_path.unlink()
    if timed_out.is_set():
        return {"error": f"timed out after {timeout:.0f} s", "proc_wall_s": wall}
    if not out.exists():
        return {"error": f"exit {proc.returncode} without a result: {tail}", "proc_wall_s": wall}
    result: dict[str, Any] = json.loads(out.read_text())
    out.unlink()
    result["proc_wall_s"] = wall
    result["proc_cpu_s"] = usage.ru_utime + usage.ru_stime
    return result


def make_project(folder: Path) -> Path:
    """A small project as users build in (made once, then reused): a git work tree with a
    commit of 40 tracked files, a ``tasuki.toml`` and a ``pyproject.toml`` (what ``tasuki
    new`` makes), the workspaces outside it."""
    if (folder / ".git").exists():
        return folder
    (folder / "src" / "demo").mkdir(parents=True)
    (folder / "tasuki.toml").write_text('workspace = "./data/workspace"\n', encoding="utf-8")
    (folder / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "0.1.0"\ndependencies = ["tasuki"]\n',
        encoding="utf-8",
    )
    (folder / ".gitignore").write_text("data/\n", encoding="utf-8")
    for i in range(37):
        (folder / "src" / "demo" / f"m{i:02d}.py").write_text(f"X = {i}\n", encoding="utf-8")
    who = ["-c", "user.email=bench@example.com", "-c", "user.name=bench"]
    for args in (["init", "-q"], ["add", "-A"], [*who, "commit", "-qm", "project"]):
        subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True)
    return folder


def measure_once(outcome: Outcome, key: Key, scratch: Path, r: int, commit: str) -> float:
    """One repeat of one side: a fresh workspace, one process per mode. Returns wall seconds
    spent. Sets ``outcome.error`` on a failure."""
    c = outcome.case
    workspace = scratch / f"ws-{c.side}-{c.case}-{c.n}-{c.workers}-{r}"
    shutil.rmtree(workspace, ignore_errors=True)
    # A "project" is the one-task build run from a project's folder (see make_project).
    cwd = make_project(scratch / "project") if c.case == "project" else scratch
    case = "single" if c.case == "project" else c.case
    spec = {**c.spec, "case": case, "n": c.n, "workers": c.workers}
    spec["workspace"] = str(workspace)
    spec["prefect_home"] = str(scratch / "prefect-home")
    root_output = None
    t0 = time.perf_counter()
    for mode in c.modes:
        if mode == "root deleted":
            if root_output is None or not os.path.exists(root_output):
                outcome.error = f"root output {root_output!r} missing before 'root deleted'"
                break
            os.remove(root_output)
        outcome.loads.append(os.getloadavg()[0])
        res = _run_side(c.side, spec, cwd, timeout=spec.get("timeout", TIMEOUT_S))
        if res.get("error") or not res.get("ok"):
            outcome.error = res.get("error") or f"wrong result: {res.get('value')!r}"
            outcome.extra.update({k: v for k, v in res.items() if k != "error"})
            outcome.peak_rss_kb = max(outcome.peak_rss_kb, res.get("peak_rss_kb", 0))
            break
        root_output = res.get("root_output")
        outcome.times.setdefault(mode, []).append(res["construct_s"] + res["build_s"])
        outcome.cpu.setdefault(mode, []).append(res.get("cpu_s", math.nan))
        outcome.proc_wall.setdefault(mode, []).append(res["proc_wall_s"])
        outcome.proc_cpu.setdefault(mode, []).append(res["proc_cpu_s"])
        outcome.import_s.append(res["import_s"])
        if "setup_s" in res:
            outcome.setup_s.append(res["setup_s"])
        outcome.peak_rss_kb = max(outcome.peak_rss_kb, res.get("peak_rss_kb", 0))
        outcome.rss_after_import_kb = res.get("rss_after_import_kb", 0)
        outcome.extra.setdefault("construct_s", []).append(res["construct_s"])
    if commit not in outcome.commits:
        outcome.commits.append(commit)
    shutil.rmtree(workspace, ignore_errors=True)
    return time.perf_counter() - t0


# --- budgets -----------------------------------------------------------------------------------


@dataclass
class Sized:
    """What one measured size of a (side, case, workers) says about larger sizes."""

    n: int
    first: float  # median in-process seconds of the first mode (cold, graph)
    modes: dict[str, float]  # median in-process seconds per mode
    overhead: float  # median seconds per process outside construct + build (start, import)


def _sized(o: Outcome) -> Sized | None:
    first = o.times.get(o.case.modes[0])
    if not first:
        return None
    inside = {m: statistics.median(v) for m, v in o.times.items() if v}
    outside = [
        w - t for m in o.times for w, t in zip(o.proc_wall.get(m, []), o.times[m], strict=False)
    ]
    return Sized(o.case.n, statistics.median(first), inside, statistics.median(outside or [0.0]))


def _estimate(done: dict[tuple[str, str, int], list[Sized]], c: Case) -> float:
    """Estimate seconds for one repeat of ``c`` from smaller sizes of the same side and case.

    The in-process time of each mode grows from the largest smaller size with the exponent
    of the first mode between the two largest smaller sizes (at least linear); each process's
    fixed cost (interpreter start, import, set-up) does not grow. NaN when nothing smaller was
    measured.
    """
    known = sorted(
        (x for x in done.get((c.side, c.case, c.workers), []) if x.n < c.n), key=lambda x: x.n
    )
    if not known:
        return math.nan
    big = known[-1]
    alpha = 1.0
    if len(known) >= 2:
        small = known[-2]
        if small.first > 0 and big.first > 0 and big.n > small.n:
            alpha = max(1.0, math.log(big.first / small.first) / math.log(big.n / small.n))
    scale = (c.n / big.n) ** alpha
    return sum(big.overhead + big.modes.get(m, big.first) * scale for m in c.modes)


def run_cases(
    plan_: list[tuple[Key, list[str]]],
    repeat: int,
    log: Any = None,
    scratch: Path | None = None,
    budget_s: float = BUDGET_S,
    status: dict[str, str] | None = None,
) -> list[Outcome]:
    """Measure every key, sides interleaved repeat by repeat, within the budget.

    ``status`` (side -> text) is filled with why a side could not run at all (not installed,
    its warm-up failed); such a side's cases are listed as skipped with that reason.
    """
    status = {} if status is None else status
    done: dict[tuple[str, str, int], list[Sized]] = {}
    given_up: dict[tuple[str, str, int], str] = {}  # a smaller size skipped or failed
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="tasuki-pipeline-bench-", dir=scratch) as tmp:
        where = Path(tmp)
        sides = sorted({s for _, ss in plan_ for s in ss}, key=SIDES.index)
        for side in sides:  # warm-up: bytecode caches, prefect's database; unmeasured
            if not python_of(side).exists():
                status[side] = f"not installed: run benchmarks/setup_peers.sh {side}"
                continue
            if not script_of(side).exists():
                status[side] = f"no side script {script_of(side).name}"
                continue
            spec = {"case": "chain", "n": 2, "workspace": str(where / f"warm-up-{side}")}
            spec["prefect_home"] = str(where / "prefect-home")
            t0 = time.perf_counter()
            res = _run_side(side, spec, where, timeout=300)
            if res.get("error") or not res.get("ok"):
                why = res.get("error") or f"wrong result {res.get('value')!r}"
                status[side] = f"could not run here: {why.splitlines()[0]}"[:300]
            elif log:
                log(f"warm-up {side}: {time.perf_counter() - t0:.1f} s")
        for key, key_sides in plan_:
            commit = _commit()
            group: list[Outcome] = []
            for side in key_sides:
                c = Case(side, key.case, key.n, key.workers, key.modes, _side_spec(side, key))
                c.note = NOTES.get(side, "")
                o = Outcome(c)
                outcomes.append(o)
                if side in status:
                    o.skipped = status[side]
                    continue
                line = (side, key.case, key.workers)
                if line in given_up:
                    o.skipped = f"skipped: {given_up[line]}"
                    continue
                est = _estimate(done, c) * repeat
                if est > budget_s:
                    o.skipped = f"skipped: estimated {est:.0f} s for {repeat} runs"
                    given_up[line] = f"{key.n:,} was skipped"
                    if log:
                        log(f"{side} {key.case} n={key.n} w={key.workers}: {o.skipped}")
                    continue
                group.append(o)
            spent = {id(o): 0.0 for o in group}
            active = list(group)
            for r in range(repeat):
                shift = r % len(active) if active else 0
                for o in active[shift:] + active[:shift]:
                    spent[id(o)] += measure_once(o, key, where, r, commit)
                active = [o for o in active if not o.error]
                for o in list(active):  # stop a side whose next repeats overrun the budget
                    per_run = spent[id(o)] / (r + 1)
                    if r + 1 < repeat and spent[id(o)] + per_run > budget_s:
                        o.extra["runs_note"] = f"stopped after {r + 1} run(s): {per_run:.0f} s each"
                        active.remove(o)
            for o in group:
                line = (o.case.side, key.case, key.workers)
                sized = _sized(o)
                if sized is not None:
                    done.setdefault(line, []).append(sized)
                if o.error and key.case != "param_chain":  # gokart's 300 fails, 150 follows
                    given_up[line] = f"{key.n:,} failed"
                if log:
                    state = o.error or o.extra.get("runs_note") or "ok"
                    label = f"{o.case.side} {key.case} n={key.n} w={key.workers}"
                    runs = o.runs(key.modes[0])
                    log(f"{label}: {spent[id(o)]:.1f} s, {runs} runs ({state[:100]})")
    return outcomes


# --- the machine ---------------------------------------------------------------------------------


def _versions(sides: Sequence[str]) -> dict[str, str]:
    """Version of each side's package (and its interpreter), by its own interpreter."""
    out: dict[str, str] = {}
    for side in sides:
        pkg = PACKAGE.get(side)
        if pkg is None or not python_of(side).exists():
            continue
        code = (
            "import importlib.metadata as m, platform, sys\n"
            "for p in sys.argv[1:]:\n"
            "    try: print(m.version(p))\n"
            "    except m.PackageNotFoundError: print('?')\n"
        )
        names = [pkg, "sf-hamilton"] if side == "hamilton" else [pkg]
        res = subprocess.run(
            [str(python_of(side)), "-c", code, *names], capture_output=True, text=True, check=False
        )
        got = [v for v in res.stdout.split() if v != "?"]
        out[side] = got[0] if got else "?"
    return out


def _machine() -> dict[str, str]:
    info = {
        "cpu": cpu_model(),
        "cores": str(os.cpu_count()),
        "os": platform.platform(terse=True),
    }
    code = "import platform; print(platform.python_version())"
    res = subprocess.run([str(TASUKI_PY), "-c", code], capture_output=True, text=True)
    info["python"] = res.stdout.strip() or "?"
    return info


def _commit() -> str:
    """HEAD's short hash, marked when src/ has uncommitted changes (others edit as we run)."""
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run([*git, "status", "--porcelain", "--", "src"], capture_output=True)
    mark = "+src" if dirty.stdout.strip() else ""
    return (head.stdout.strip() or "unknown") + mark


def _filesystem(path: Path) -> str:
    """The file system type holding ``path`` (longest mount point in /proc/mounts)."""
    best, kind = "", "unknown"
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            mount, fstype = line.split()[1:3]
            inside = str(path).startswith(mount.rstrip("/") + "/") or str(path) == mount
            if inside and len(mount) > len(best):
                best, kind = mount, fstype
    except (OSError, ValueError):
        pass
    return kind


def _peers(value: str | None, no_gokart: bool, no_peers: bool) -> list[str]:
    if no_peers:
        return []
    chosen = list(PEERS) if value in (None, "", "all") else value.split(",")
    unknown = [p for p in chosen if p not in PEERS]
    if unknown:
        raise SystemExit(f"unknown peer(s) {', '.join(unknown)}; known: {', '.join(PEERS)}")
    return [p for p in chosen if not (no_gokart and p == "gokart")]


CASES = ("single", "project", "chain", "fan_in", "graph", "chain_graph", "param_chain")


def _names(value: str | None, known: Sequence[str], what: str, flag: str) -> list[str] | None:
    """A comma-separated choice of ``known`` names (None when not given)."""
    if not value:
        return None
    chosen = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [v for v in chosen if v not in known]
    if unknown:
        raise SystemExit(
            f"{flag} {value}: unknown {what} {', '.join(unknown)}; known: {', '.join(known)}"
        )
    return chosen


def _counts(value: str | None, flag: str) -> list[int] | None:
    """``--sizes 100,1000`` / ``--workers 1``: whole numbers (``1_000`` reads as 1000)."""
    if not value:
        return None
    try:
        return [int(v.replace("_", "")) for v in value.split(",") if v.strip()]
    except ValueError:
        raise SystemExit(
            f"{flag} {value}: not a comma-separated list of whole numbers; e.g. {flag} 1,2"
        ) from None


def run(
    quick: bool = False, repeat: int = 3, gokart: bool = True, peers: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Measure the pipeline benchmarks and return one row per (side, case, n, workers, mode)."""
    chosen = list(PEERS if peers is None else peers)
    chosen = [p for p in chosen if gokart or p != "gokart"]
    budget = QUICK_BUDGET_S if quick else BUDGET_S
    outcomes = run_cases(plan(quick, chosen), repeat, budget_s=budget)
    return rows(outcomes, fs=_filesystem(Path(tempfile.gettempdir()).resolve()))


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: measure, print the tables, write docs/benchmarks.md (full runs only)."""
    global TASUKI_PY, TIMEOUT_S
    parser = argparse.ArgumentParser(prog="bench_pipeline", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100-task graphs, budget 60 s")
    parser.add_argument("--repeat", type=int, default=MIN_RUNS, help="repeats per case (3)")
    parser.add_argument(
        "--peers", help=f"comma-separated peers to run (default all: {','.join(PEERS)})"
    )
    parser.add_argument(
        "--sides",
        help=f"comma-separated sides to run, instead of all (known: {','.join(SIDES)}); "
        "overrides --peers",
    )
    parser.add_argument(
        "--cases", help=f"comma-separated graphs to run (default all: {','.join(CASES)})"
    )
    parser.add_argument(
        "--sizes", help="comma-separated task counts to run, e.g. 1000 (default: every size)"
    )
    parser.add_argument(
        "--workers", help="comma-separated worker counts to run, e.g. 1 (default: every count)"
    )
    parser.add_argument("--no-gokart", action="store_true", help="leave gokart out")
    parser.add_argument("--no-peers", action="store_true", help="tasuki and the floor only")
    parser.add_argument(
        "--budget",
        type=float,
        help=f"seconds one side may spend on one case, all repeats (default {BUDGET_S:.0f}; "
        f"--quick {QUICK_BUDGET_S:.0f})",
    )
    parser.add_argument(
        "--tasuki-python",
        type=Path,
        help="interpreter for the tasuki, tasuki-compat and floor sides (default: the "
        "project's .venv)",
    )
    add_load_option(parser)
    parser.add_argument(
        "--section",
        help="write the docs under '## Pipeline, SECTION' instead of '## Pipeline' (a run with "
        "other sides or budget next to the main one)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        help=f"seconds one process may run before it is killed and reported as timed out "
        f"(default {TIMEOUT_S:.0f})",
    )
    parser.add_argument("--no-docs", action="store_true", help="leave docs/benchmarks.md alone")
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    parser.add_argument(
        "--scratch", type=Path, help="folder for the workspaces (default: the system temp dir)"
    )
    args = parser.parse_args(argv)
    if args.timeout:
        TIMEOUT_S = args.timeout
    if args.tasuki_python:
        TASUKI_PY = args.tasuki_python.absolute()
    if not TASUKI_PY.exists():
        print(f"no interpreter at {TASUKI_PY}; create the project venv first", file=sys.stderr)
        return 2
    only_sides = _names(args.sides, SIDES, "side(s)", "--sides")
    only_cases = _names(args.cases, CASES, "graph(s)", "--cases")
    only_sizes = _counts(args.sizes, "--sizes")
    only_workers = _counts(args.workers, "--workers")
    if only_sides is not None:
        peers = [p for p in PEERS if p in only_sides]
    else:
        peers = _peers(args.peers, args.no_gokart, args.no_peers)
    compat = COMPAT in only_sides if only_sides is not None else not args.no_peers
    budget = args.budget or (QUICK_BUDGET_S if args.quick else BUDGET_S)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    status: dict[str, str] = {}
    plan_ = plan(args.quick, peers, compat, only_sides, only_cases, only_sizes, only_workers)
    if not plan_:
        print(
            "nothing to run: no graph of --cases / --sizes / --workers has a side of --sides",
            file=sys.stderr,
        )
        return 2
    with loaded(args.load, args.scratch):
        outcomes = run_cases(plan_, args.repeat, log, args.scratch, budget, status)
    scratch = (args.scratch or Path(tempfile.gettempdir())).resolve()
    fs = _filesystem(scratch)
    info = _machine()
    sides = [s for s in SIDES if any(s in ss for _, ss in plan_)]
    versions = _versions(sides)
    info.update({k: v for k, v in versions.items()})
    commits = sorted({c for o in outcomes for c in o.commits})
    info["commit"] = ", ".join(commits) if commits else _commit()
    info["workspaces"] = f"{scratch} ({fs})"
    loads = [x for o in outcomes for x in o.loads]
    if loads:
        info["load average"] = f"median {statistics.median(loads):.1f}, max {max(loads):.1f}"
    info["run took"] = f"{time.perf_counter() - t0:.0f} s"
    if args.load:
        info["loaded by"] = f"{args.load} other process(es), each creating and deleting files"
    print_rich(outcomes, info, fs, sides, versions, status)
    if not args.quick and not args.no_docs:
        flags = "" if args.repeat == MIN_RUNS else f" --repeat {args.repeat}"
        if args.sides:
            flags += f" --sides {args.sides}"
        elif peers != list(PEERS):
            flags += f" --peers {','.join(peers)}"
        flags += f" --cases {args.cases}" if args.cases else ""
        flags += f" --sizes {args.sizes}" if args.sizes else ""
        flags += f" --workers {args.workers}" if args.workers else ""
        flags += f" --budget {args.budget:.0f}" if args.budget else ""
        flags += f" --scratch {args.scratch}" if args.scratch else ""
        flags += f" --timeout {args.timeout:.0f}" if args.timeout else ""
        flags += f" --load {args.load}" if args.load else ""
        flags += f" --section {shlex.quote(args.section)}" if args.section else ""
        command = f"python benchmarks/run.py pipeline{flags}"
        # Workspaces in memory measure the engines without the disk: a section of their own.
        title = "## Pipeline" + (f", {args.section}" if args.section else "")
        if fs == "tmpfs":
            title += ", workspaces in memory (tmpfs)"
        title += loaded_title(args.load)
        section = markdown(
            outcomes,
            info,
            command,
            fs=fs,
            sides=sides,
            versions=versions,
            status=status,
            budget_s=budget,
            title=title,
        )
        write_docs(section)
        log(f"wrote the {title.lstrip('# ')} section of {DOCS}")
    if args.json:
        payload = {"machine": info, "status": status, "rows": rows(outcomes, fs=fs)}
        args.json.write_text(json.dumps(payload, indent=1))
    bad = [o for o in outcomes if o.error and o.case.side in ("tasuki", COMPAT, "floor")]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
