"""Pipeline benchmarks: tasuki and gokart 1.12.2 on the same task graphs, in one run.

Every measurement is a fresh subprocess (``_tasuki_side.py`` with this project's interpreter,
``_gokart_side.py`` inside ``benchmarks/.venv-gokart``), so import time and memory are isolated;
import time is reported on its own and excluded from per-task figures. Per repeat, one fresh
workspace sees three processes: *cold* (empty workspace), *warm* (everything cached, build
again) and *root deleted* (the harness deletes the root's output file, then builds again, so
every direct upstream of the root is checked).

Run through ``python benchmarks/run.py pipeline [--quick]``; see ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _pipeline_report import DOCS, markdown, print_rich, rows, write_docs

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TASUKI_PY = ROOT / ".venv" / "bin" / "python"
GOKART_PY = HERE / ".venv-gokart" / "bin" / "python"

MODES = ("cold", "warm", "root deleted")
BUDGET_S = 120.0  # a gokart case estimated above this is skipped, not waited for
BIG_BUDGET_S = 90.0  # tasuki at 100,000 tasks runs only if estimated below this
ONE_REPEAT_S = 20.0  # a gokart case whose first cold run takes longer than this runs once


@dataclass
class Case:
    """One task graph measured on one side."""

    side: str  # "tasuki" | "gokart"
    case: str  # chain | fan_in | param_chain | graph | chain_graph
    n: int
    workers: int = 1
    modes: tuple[str, ...] = MODES
    spec: dict[str, Any] = field(default_factory=dict)  # extra keys for the side script
    note: str = ""


@dataclass
class Outcome:
    """Measurements of one case: seconds per mode (one entry per repeat), plus the rest."""

    case: Case
    times: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)  # CPU seconds, same runs
    import_s: list[float] = field(default_factory=list)
    peak_rss_kb: int = 0
    rss_after_import_kb: int = 0
    error: str | None = None
    skipped: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _clean_env() -> dict[str, str]:
    # The settings of whoever runs the benchmark must not leak into the measured builds, and
    # bytecode is cached as on a user's machine: with PYTHONDONTWRITEBYTECODE set, every process
    # would compile each changed module again and charge it to import and build time.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TASUKI_", "LUIGI_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def warm_up(sides: set[str], scratch: Path) -> None:
    """Build one task once per side, unmeasured, so that bytecode caches exist."""
    for side in sorted(sides):
        gk = side == "gokart"
        python, script = (GOKART_PY, "_gokart_side.py") if gk else (TASUKI_PY, "_tasuki_side.py")
        if python.exists():
            spec = {"case": "single", "n": 1, "workspace": str(scratch / f"warm-up-{side}")}
            _run_side(python, script, spec, scratch)


def _run_side(python: Path, script: str, spec: dict[str, Any], cwd: Path) -> dict[str, Any]:
    """Run one side script once in a fresh interpreter and return its JSON result."""
    out = cwd / f"result-{time.monotonic_ns()}.json"
    proc = subprocess.run(
        [str(python), str(HERE / script), json.dumps(spec), str(out)],
        cwd=cwd,
        env=_clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=spec.get("timeout", 900),
        check=False,
    )
    if not out.exists():
        tail = proc.stderr.decode(errors="replace")[-800:]
        return {"error": f"exit {proc.returncode} without a result: {tail}"}
    result: dict[str, Any] = json.loads(out.read_text())
    out.unlink()
    return result


def measure(case: Case, repeat: int, scratch: Path) -> Outcome:
    """Measure ``case`` ``repeat`` times (fewer when one cold run is slow)."""
    gk = case.side == "gokart"
    python, script = (GOKART_PY, "_gokart_side.py") if gk else (TASUKI_PY, "_tasuki_side.py")
    outcome = Outcome(case, {m: [] for m in case.modes})
    for r in range(repeat):
        workspace = scratch / f"ws-{case.side}-{case.case}-{case.n}-{case.workers}-{r}"
        shutil.rmtree(workspace, ignore_errors=True)
        spec = {**case.spec, "case": case.case, "n": case.n, "workers": case.workers}
        spec["workspace"] = str(workspace)
        root_output = None
        for mode in case.modes:
            if mode == "root deleted":
                if root_output is None or not os.path.exists(root_output):
                    outcome.error = f"root output {root_output!r} missing before 'root deleted'"
                    return outcome
                os.remove(root_output)
            res = _run_side(python, script, spec, scratch)
            if res.get("error") or not res.get("ok"):
                outcome.error = res.get("error") or f"wrong result: {res.get('value')!r}"
                outcome.extra.update(res)
                outcome.peak_rss_kb = res.get("peak_rss_kb", 0)
                return outcome
            root_output = res.get("root_output")
            outcome.times[mode].append(res["construct_s"] + res["build_s"])
            outcome.cpu.setdefault(mode, []).append(res.get("cpu_s", math.nan))
            outcome.import_s.append(res["import_s"])
            outcome.peak_rss_kb = max(outcome.peak_rss_kb, res["peak_rss_kb"])
            outcome.rss_after_import_kb = res["rss_after_import_kb"]
            outcome.extra.setdefault("construct_s", []).append(res["construct_s"])
        shutil.rmtree(workspace, ignore_errors=True)
        first_cold = outcome.times[case.modes[0]][0]
        # Only the peer's slow cases (and tasuki's 100,000-task one) are cut to one run.
        may_cut = case.side == "gokart" or case.n > 10000
        if r == 0 and may_cut and first_cold > ONE_REPEAT_S:
            outcome.extra["runs_note"] = f"1 run (cold took {first_cold:.0f} s)"
            break
    return outcome


def _estimate(done: dict[tuple[str, str, int], float], case: Case) -> float | None:
    """Estimate a gokart case's cold seconds from smaller sizes of the same case.

    Growth exponent from the two largest smaller sizes measured (gokart is super-linear),
    linear when only one is known.
    """
    known = sorted((n, t) for (s, c, n), t in done.items() if s == case.side and c == case.case)
    known = [(n, t) for n, t in known if n < case.n]
    if not known:
        return None
    if len(known) >= 2:
        (n1, t1), (n2, t2) = known[-2], known[-1]
        alpha = max(1.0, math.log(t2 / t1) / math.log(n2 / n1)) if t1 > 0 and t2 > 0 else 1.0
    else:
        n2, t2 = known[-1]
        alpha = 1.0
    return float(t2 * (case.n / n2) ** alpha)


def plan(quick: bool, gokart: bool) -> list[Case]:
    """The cases of a full (or quick) run, in the order they are measured."""
    if quick:  # a smoke run: small graphs, few processes, gokart only on the chain
        chain, fan, graph, pdepth = [100, 1000], [100], [1000], [300]
        gk_chain, gk_fan, gk_graph, gk_pdepth, gk_workers = [100], [], [], [], False
    else:
        chain, fan, graph, pdepth = (
            [1000, 10000, 100000],
            [1000, 10000],
            [10000, 100000],
            [
                300,
                10000,
            ],
        )
        gk_chain, gk_fan, gk_graph, gk_pdepth, gk_workers = (
            [300, 1000, 3000, 10000],
            [1000, 3000, 10000],
            [1000, 10000],
            [300, 150],  # 300 first: it fails fast, and must not be skipped on 150's estimate
            True,
        )
    gk = gokart
    cases = [
        Case("floor", "floor", n, modes=("cold", "warm"))
        for n in [1000, 10000][: 1 if quick else 2]
    ]
    # A one-task build shows the fixed cost of a build (settings, lazy imports, workspace).
    cases += [Case(side, "single", 1) for side in ("tasuki", "gokart") if side == "tasuki" or gk]
    cases += [Case("tasuki", "chain", n, modes=MODES if n < 100000 else ("cold",)) for n in chain]
    # gokart computes unique ids recursively; a chain deeper than ~250 needs a higher limit.
    cases += [
        Case("gokart", "chain", n, spec={"recursion_limit": 10 * n + 1000})
        for n in (gk_chain if gk else [])
    ]
    cases += [Case("tasuki", "fan_in", n) for n in fan]
    cases += [Case("gokart", "fan_in", n) for n in (gk_fan if gk else [])]
    cases.append(Case("tasuki", "fan_in", fan[0], workers=2, modes=("cold",)))
    if gk and gk_workers:
        cases.append(Case("gokart", "fan_in", fan[0], workers=2, modes=("cold",)))
    cases += [Case("tasuki", "graph", n, modes=("graph",)) for n in graph]
    cases += [Case("tasuki", "chain_graph", n, modes=("graph",)) for n in graph]
    cases += [Case("gokart", "graph", n, modes=("graph",)) for n in (gk_graph if gk else [])]
    cases += [Case("tasuki", "param_chain", n, modes=("cold",)) for n in pdepth]
    cases += [Case("gokart", "param_chain", n, modes=("cold",)) for n in (gk_pdepth if gk else [])]
    return cases


def run_cases(
    cases: list[Case],
    repeat: int,
    log: Any = None,
    loads: list[float] | None = None,
    scratch: Path | None = None,
) -> list[Outcome]:
    """Measure every case in order, skipping cases estimated above their budget.

    ``loads`` collects the 1-minute load average before each case: on a shared machine it
    says how much the figures may be inflated.
    """
    done: dict[tuple[str, str, int], float] = {}
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="tasuki-pipeline-bench-", dir=scratch) as tmp:
        where = Path(tmp)
        warm_up({"gokart" if c.side == "gokart" else "tasuki" for c in cases}, where)
        for case in cases:
            label = f"{case.side} {case.case} n={case.n} workers={case.workers}"
            if case.side == "gokart" and not GOKART_PY.exists():
                outcome = Outcome(case, skipped="gokart not installed: run setup_gokart.sh")
                outcomes.append(outcome)
                continue
            est = _estimate(done, case) if case.workers == 1 else None
            budget = (
                BUDGET_S if case.side == "gokart" else (BIG_BUDGET_S if case.n > 10000 else None)
            )
            if est is not None and budget is not None and est > budget:
                outcomes.append(Outcome(case, skipped=f"skipped: estimated {est:.0f} s"))
                if log:
                    log(f"{label}: skipped, estimated {est:.0f} s")
                continue
            if loads is not None:
                loads.append(os.getloadavg()[0])
            t0 = time.perf_counter()
            outcome = measure(case, repeat, where)
            first = case.modes[0]
            if outcome.times.get(first) and case.workers == 1:
                done[(case.side, case.case, case.n)] = min(outcome.times[first])
            outcomes.append(outcome)
            if log:
                status = outcome.error or "ok"
                log(f"{label}: {time.perf_counter() - t0:.1f} s wall ({status[:120]})")
    return outcomes


def _versions() -> dict[str, str]:
    info = {
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count()),
        "os": platform.platform(terse=True),
        "python": platform.python_version(),
    }
    code = (
        "import importlib.metadata as m, platform;"
        "print(m.version('tasuki'), platform.python_version())"
    )
    out = subprocess.run([str(TASUKI_PY), "-c", code], capture_output=True, text=True, check=False)
    info["tasuki"], info["python"] = [*out.stdout.split(), "?", "?"][:2]
    if GOKART_PY.exists():
        code = (
            "import importlib.metadata as m, platform;"
            "print(m.version('gokart'), m.version('luigi'), platform.python_version())"
        )
        out = subprocess.run(
            [str(GOKART_PY), "-c", code], capture_output=True, text=True, check=False
        )
        parts = [*out.stdout.split(), "?", "?", "?"]
        info["gokart"], info["luigi"], info["python (gokart venv)"] = parts[:3]
    return info


def _commit() -> str:
    """HEAD's short hash, marked when src/ has uncommitted changes (others edit as we run)."""
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run([*git, "status", "--porcelain", "--", "src"], capture_output=True)
    mark = " (src/ modified)" if dirty.stdout.strip() else ""
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


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run(quick: bool = False, repeat: int = 3, gokart: bool = True) -> list[dict[str, Any]]:
    """Measure the pipeline benchmarks and return one row per (side, case, n, workers, mode)."""
    return rows(run_cases(plan(quick, gokart), 1 if quick else repeat))


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: measure, print the tables, write docs/benchmarks.md (full runs only)."""
    parser = argparse.ArgumentParser(prog="bench_pipeline", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small graphs, one repeat")
    parser.add_argument("--repeat", type=int, default=3, help="repeats per case (default 3)")
    parser.add_argument("--no-gokart", action="store_true", help="measure tasuki only")
    parser.add_argument("--no-docs", action="store_true", help="leave docs/benchmarks.md alone")
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    parser.add_argument(
        "--scratch", type=Path, help="folder for the workspaces (default: the system temp dir)"
    )
    args = parser.parse_args(argv)
    if not TASUKI_PY.exists():
        print(f"no interpreter at {TASUKI_PY}; create the project venv first", file=sys.stderr)
        return 2

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    loads: list[float] = []
    commit_before = _commit()
    repeat = 1 if args.quick else args.repeat
    outcomes = run_cases(plan(args.quick, not args.no_gokart), repeat, log, loads, args.scratch)
    info = _versions()
    commit_after = _commit()
    info["commit"] = commit_before
    if commit_after != commit_before:  # the tree changed under the run: say so
        info["commit"] += f" at the start, {commit_after} at the end"
    scratch = (args.scratch or Path(tempfile.gettempdir())).resolve()
    info["workspaces"] = f"{scratch} ({_filesystem(scratch)})"
    if loads:
        info["load average"] = f"median {statistics.median(loads):.1f}, max {max(loads):.1f}"
    print_rich(outcomes, info)
    if not args.quick and not args.no_docs:
        flags = "" if args.repeat == 3 else f" --repeat {args.repeat}"
        flags += f" --scratch {args.scratch}" if args.scratch else ""
        command = f"python benchmarks/run.py pipeline{flags}"
        # Workspaces in memory measure the engines without the disk: a section of their own.
        title = "## Pipeline"
        if _filesystem(scratch) == "tmpfs":
            title += ", workspaces in memory (tmpfs)"
        section = markdown(
            outcomes, info, command, one_repeat_s=ONE_REPEAT_S, budget_s=BUDGET_S, title=title
        )
        write_docs(section)
        log(f"wrote the {title.lstrip('# ')} section of {DOCS}")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "rows": rows(outcomes)}, indent=1))
    return 1 if any(o.error for o in outcomes if o.case.side != "gokart") else 0


if __name__ == "__main__":
    raise SystemExit(main())
