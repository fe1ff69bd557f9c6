"""tasuki against an earlier tasuki: the same pipeline cases, interleaved, side by side.

A change to the engine (what completeness checks, what a record holds) must say what it costs.
This runs the pipeline benchmark's own side script (``_tasuki_side.py``) once with the working
tree's ``src/`` and once with ``src/`` exported from a base revision (``git archive``), case by
case and repeat by repeat, alternating which side goes first, each run a fresh process. It
prints wall and CPU time per case and mode, the ratio new / base, and a verdict computed from
the table against a limit (``--limit 1.10``: at most 10 % slower) for the modes that limit
applies to (warm and root deleted by default): met when both the wall and the CPU ratio
are within it.

    .venv/bin/python benchmarks/run.py revisions --base 18e8f96 [--repeat 5] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
MODES = ("cold", "warm", "root deleted")
DOCS = ROOT / "docs" / "benchmarks.md"


@dataclass
class Series:
    """Wall and CPU seconds of one (case, side, mode), one entry per repeat."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def _export(rev: str, into: Path) -> Path:
    """``src/`` of ``rev`` unpacked under ``into``; returns the folder to put on PYTHONPATH."""
    data = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", rev, "src"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def _env(src: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASUKI_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # bytecode cached as on a user's machine
    env["PYTHONPATH"] = str(src)
    return env


def _side(src: Path, spec: dict[str, Any], scratch: Path, cwd: Path) -> dict[str, Any]:
    out = scratch / f"result-{time.monotonic_ns()}.json"
    proc = subprocess.run(
        [str(PYTHON), str(HERE / "_tasuki_side.py"), json.dumps(spec), str(out)],
        cwd=cwd,
        env=_env(src),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=900,
        check=False,
    )
    if not out.exists():
        raise RuntimeError(f"side run failed: {proc.stderr.decode(errors='replace')[-800:]}")
    result: dict[str, Any] = json.loads(out.read_text())
    out.unlink()
    if result.get("error") or not result.get("ok"):
        raise RuntimeError(f"side run failed: {result}")
    return result


def _one_repeat(
    src: Path, case: tuple[str, int, int], scratch: Path, into: dict[str, Series]
) -> None:
    from bench_pipeline import make_project

    name, n, workers = case
    workspace = scratch / f"ws-{name}-{n}-{workers}"
    shutil.rmtree(workspace, ignore_errors=True)
    # "project": the one-task build run from a git work tree with a settings file.
    cwd = make_project(scratch / "project") if name == "project" else scratch
    side_case = "single" if name == "project" else name
    spec = {"case": side_case, "n": n, "workers": workers, "workspace": str(workspace)}
    root_output = None
    for mode in MODES:
        if mode == "root deleted":  # a file, or a folder of parts (a query's result)
            if os.path.isdir(str(root_output)):
                shutil.rmtree(str(root_output))
            else:
                os.remove(str(root_output))
        res = _side(src, spec, scratch, cwd)
        root_output = res["root_output"]
        into[mode].wall.append(res["construct_s"] + res["build_s"])
        into[mode].cpu.append(res["cpu_s"])
    shutil.rmtree(workspace, ignore_errors=True)


def _machine(scratch: Path) -> dict[str, str]:
    from _host import cpu_model
    from bench_pipeline import _filesystem

    return {
        "cpu": cpu_model(),
        "cores": str(os.cpu_count()),
        "os": platform.platform(terse=True),
        "python": platform.python_version(),
        "file system": f"{scratch} ({_filesystem(scratch)})",
    }


def _commit(rev: str) -> str:
    out = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", rev], capture_output=True, text=True
    )
    return out.stdout.strip() or rev


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: measure both revisions interleaved and print the table and verdicts."""
    parser = argparse.ArgumentParser(prog="bench_revisions", description=__doc__)
    parser.add_argument("--base", required=True, help="git revision to compare against")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one small case, one repeat")
    parser.add_argument("--limit", type=float, default=1.10, help="allowed new / base ratio")
    parser.add_argument(
        "--limited-modes", default="warm,root deleted", help="modes the limit applies to"
    )
    parser.add_argument("--json", help="also write the measurements here")
    parser.add_argument("--scratch", help="folder for workspaces (default: system temp)")
    parser.add_argument("--docs", action="store_true", help="append the table to docs")
    parser.add_argument(
        "--cases",
        help="one-task cases instead of the graphs: single (outside a project), project (in "
        "a git work tree with a settings file), query (a QueryTask of a DuckDB file), "
        "comma-separated",
    )
    args = parser.parse_args(argv)

    cases = [
        ("chain", 1000, 1),
        ("chain", 10000, 1),
        ("fan_in", 1000, 1),
        ("fan_in", 10000, 1),
        ("fan_in", 1000, 2),
    ]
    if args.cases:
        names = [c.strip() for c in args.cases.split(",") if c.strip()]
        unknown = sorted(set(names) - {"single", "project", "query"})
        if unknown:
            raise SystemExit(
                f"--cases {args.cases}: unknown {unknown}; known: single, project, query"
            )
        cases = [(name, 1, 1) for name in names]
    if args.quick:
        cases, args.repeat = [("chain", 100, 1)], 1
    limited = {m.strip() for m in args.limited_modes.split(",")}
    scratch = Path(tempfile.mkdtemp(prefix="tasuki-revs-", dir=args.scratch))
    loads: list[float] = []
    try:
        sides = {"base": _export(args.base, scratch / "base"), "new": ROOT / "src"}
        data: dict[tuple[tuple[str, int, int], str], dict[str, Series]] = {
            (c, s): {m: Series() for m in MODES} for c in cases for s in sides
        }
        for side in sides.values():  # compile bytecode once, unmeasured
            _one_repeat(side, ("chain", 10, 1), scratch, {m: Series() for m in MODES})
        for case in cases:
            for r in range(args.repeat):
                order = ["base", "new"] if r % 2 == 0 else ["new", "base"]
                for side in order:
                    loads.append(os.getloadavg()[0])
                    _one_repeat(sides[side], case, scratch, data[(case, side)])
            print(f"measured {case}", flush=True)
        machine = _machine(scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    base_commit, new_commit = _commit(args.base), _commit("HEAD")
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    cases_flag = f" --cases {args.cases}" if args.cases else ""
    lines = [
        f"Measured with `python benchmarks/run.py revisions --base {args.base} --repeat "
        f"{args.repeat}{cases_flag}` on {time.strftime('%Y-%m-%d')}: base {base_commit}, "
        f"new {new_commit}"
        + (" (src/ modified)" if dirty else "")
        + ". "
        + ", ".join(f"{k} {v}" for k, v in machine.items())
        + f", load average median {statistics.median(loads):.1f}, max {max(loads):.1f}. "
        f"Medians of {args.repeat} interleaved repeats, fresh process each; ms per task.",
        "",
        "| graph | tasks | workers | mode | base ms | new ms | new / base (wall) | base CPU s "
        "| new CPU s | new / base (CPU) | limit | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows: list[dict[str, Any]] = []
    for case in cases:
        name, n, workers = case
        for mode in MODES:
            b, w = data[(case, "base")][mode], data[(case, "new")][mode]
            bw, nw = statistics.median(b.wall), statistics.median(w.wall)
            bc, nc = statistics.median(b.cpu), statistics.median(w.cpu)
            ratio, cpu_ratio = nw / bw, nc / bc
            if mode in limited:
                verdict = "met" if max(ratio, cpu_ratio) <= args.limit else "NOT met"
                limit = f"<= {args.limit:.2f}"
            else:
                verdict, limit = "reference", ""
            rows.append(
                {
                    "case": name,
                    "n": n,
                    "workers": workers,
                    "mode": mode,
                    "base_wall": b.wall,
                    "new_wall": w.wall,
                    "base_cpu": b.cpu,
                    "new_cpu": w.cpu,
                    "ratio_wall": ratio,
                    "ratio_cpu": cpu_ratio,
                    "verdict": verdict,
                }
            )
            lines.append(
                f"| {name} | {n:,} | {workers} | {mode} | {1000 * bw / n:.3f} | "
                f"{1000 * nw / n:.3f} | {ratio:.2f}x | {bc:.3f} | {nc:.3f} | {cpu_ratio:.2f}x "
                f"| {limit} | {verdict} |"
            )
    text = "\n".join(lines)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine, "rows": rows}, indent=2))
    if args.docs:
        with DOCS.open("a", encoding="utf-8") as f:
            f.write(f"\n## Revisions: {new_commit} against {base_commit}\n\n{text}\n")
    return 0
