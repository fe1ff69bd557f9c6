"""Tables of the pipeline benchmark: terminal (rich), markdown for docs/benchmarks.md, rows.

Kept apart from ``bench_pipeline.py``, which runs the measurements; everything here reads
:class:`bench_pipeline.Outcome` values and formats them.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench_pipeline import Outcome

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
SECTIONS = ("## Pipeline", "## Formats", "## Warehouse", "## Migration")


def median(values: Sequence[float]) -> float | None:
    """Median, or None for no values."""
    return statistics.median(values) if values else None


ORDER = ("floor", "single", "chain", "fan_in", "graph", "chain_graph", "param_chain")
TITLES = {
    "floor": "floor: hash + pickle file per step",
    "single": "one task (fixed cost of a build)",
    "chain": "chain via requires()",
    "fan_in": "fan-in",
    "graph": "graph only, fan-in",
    "chain_graph": "graph only, chain",
    "param_chain": "chain via task parameters",
}


def _find(
    outcomes: list[Outcome], side: str, case: str, n: int, workers: int = 1
) -> Outcome | None:
    for o in outcomes:
        if (o.case.side, o.case.case, o.case.n, o.case.workers) == (side, case, n, workers):
            return o
    return None


def _t(o: Outcome | None, mode: str) -> float | None:
    """Median seconds of a mode, None when not measured, skipped or failed."""
    return median(o.times.get(mode, [])) if o and not o.error and not o.skipped else None


def _cpu(o: Outcome | None, mode: str) -> float | None:
    """Median CPU seconds of a mode (user + system, worker forks included)."""
    return median(o.cpu.get(mode, [])) if o and not o.error and not o.skipped else None


def rows(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    """One flat row per (side, case, n, workers, mode): the machine-readable result."""
    out: list[dict[str, Any]] = []
    for o in outcomes:
        c = o.case
        for mode in c.modes:
            t = _t(o, mode)
            out.append(
                {
                    "side": c.side,
                    "case": c.case,
                    "n": c.n,
                    "workers": c.workers,
                    "mode": mode,
                    "runs": len(o.times.get(mode, [])),
                    "median_s": t,
                    "median_cpu_s": _cpu(o, mode),
                    "per_task_ms": None if t is None else 1000 * t / c.n,
                    "import_s": median(o.import_s),
                    "peak_rss_mb": o.peak_rss_kb / 1024 if o.peak_rss_kb else None,
                    "error": o.error,
                    "failed_at_depth": o.extra.get("failed_at_depth"),
                    "skipped": o.skipped,
                }
            )
    return out


def _side_cells(o: Outcome | None, mode: str) -> list[str]:
    """[ms per task, total seconds, runs] for one side, or the reason there is no figure."""
    if o is None:
        return ["", "", ""]
    if o.skipped:
        return [o.skipped, "", ""]
    if o.error:
        depth = o.extra.get("failed_at_depth")
        return [o.error.split(":")[0] + (f" at depth {depth}" if depth else ""), "", ""]
    t = median(o.times.get(mode, []))
    if t is None:
        return ["", "", ""]
    rss = f", {o.peak_rss_kb / 1024:.0f} MB" if o.case.case == "param_chain" else ""
    return [f"{1000 * t / o.case.n:.3f}", f"{t:.2f}{rss}", str(len(o.times[mode]))]


def _ratio(r: float) -> str:
    return f"{r:.0f}x" if r >= 10 else f"{r:.1f}x" if r >= 1 else f"{r:.2f}x"


def comparison(outcomes: list[Outcome]) -> tuple[list[str], list[list[str]]]:
    """The side-by-side table: per-task ms of each side and how many times lower tasuki is."""
    keys = sorted(
        {(o.case.case, o.case.n, o.case.workers) for o in outcomes},
        key=lambda k: (ORDER.index(k[0]), k[2], k[1]),
    )
    head = ["graph", "tasks", "workers", "mode"]
    head += ["tasuki ms/task", "tasuki s", "runs", "gokart ms/task", "gokart s", "runs"]
    head += ["gokart / tasuki", "same, CPU time"]
    body: list[list[str]] = []
    for case, n, workers in keys:
        side = "floor" if case == "floor" else "tasuki"
        tk, gk = (
            _find(outcomes, side, case, n, workers),
            _find(outcomes, "gokart", case, n, workers),
        )
        for mode in (tk or gk).case.modes:  # type: ignore[union-attr]
            a, b = _t(tk, mode), _t(gk, mode)
            ratio = _ratio(b / a) if a and b else ""
            ca, cb = _cpu(tk, mode), _cpu(gk, mode)
            cpu_ratio = _ratio(cb / ca) if ca and cb else ""
            row = [TITLES[case], f"{n:,}", str(workers), mode]
            cells = _side_cells(tk, mode) + _side_cells(gk, mode) + [ratio, cpu_ratio]
            body.append(row + cells)
    return head, body


def targets(outcomes: list[Outcome]) -> list[list[str]]:
    """The issue's targets, each with the measured figure and whether it is met."""
    out: list[list[str]] = []

    def add(label: str, want: str, text: str, ok: bool | None) -> None:
        out.append([label, want, text, "reference" if ok is None else ("met" if ok else "NOT met")])

    for case, mode in (("chain", "cold"), ("fan_in", "cold"), ("fan_in", "root deleted")):
        for n in sorted({o.case.n for o in outcomes if o.case.case == case}):
            a, b = (
                _t(_find(outcomes, "tasuki", case, n), mode),
                _t(_find(outcomes, "gokart", case, n), mode),
            )
            if a and b:
                text = f"gokart {1000 * b / n:.2f} ms, tasuki {1000 * a / n:.3f} ms: {b / a:.0f}x"
                ca = _cpu(_find(outcomes, "tasuki", case, n), mode)
                cb = _cpu(_find(outcomes, "gokart", case, n), mode)
                text += f" (CPU time: {cb / ca:.0f}x)" if ca and cb else ""
                add(
                    f"{mode} per task, {TITLES[case]}, {n:,} tasks",
                    "≥ 30x lower",
                    text,
                    b / a >= 30,
                )
    growth = (("chain", "cold"), ("fan_in", "cold"), ("graph", "graph"), ("chain_graph", "graph"))
    for case, mode in growth:
        ns = sorted(
            o.case.n
            for o in outcomes
            if o.case.side == "tasuki" and o.case.case == case and o.case.workers == 1
        )
        for small, big in itertools.pairwise(ns):
            a, b = (
                _t(_find(outcomes, "tasuki", case, small), mode),
                _t(_find(outcomes, "tasuki", case, big), mode),
            )
            if a and b:
                k = big / small
                text = f"{a:.2f} s → {b:.2f} s: {b / a:.1f}x"
                add(
                    f"growth, {TITLES[case]} {mode}, {small:,} → {big:,}",
                    f"≤ {1.2 * k:.0f}x",
                    text,
                    b / a <= 1.2 * k,
                )
    for side in ("tasuki", "gokart"):
        for o2 in [o for o in outcomes if o.case.side == side and o.case.workers == 2]:
            a, b = _t(_find(outcomes, side, o2.case.case, o2.case.n), "cold"), _t(o2, "cold")
            if a and b:
                text = f"{a:.2f} s with 1 → {b:.2f} s with 2 ({a / b:.2f}x the speed)"
                label = f"{side}: fan-in {o2.case.n:,} cold, workers=2 vs 1"
                add(
                    label,
                    "faster" if side == "tasuki" else "",
                    text,
                    b < a if side == "tasuki" else None,
                )
    for o in (o for o in outcomes if o.case.case == "param_chain"):
        t, rss = _t(o, "cold"), f"{o.peak_rss_kb / 1024:.0f} MB peak RSS"
        if t is not None:
            text = f"{t:.2f} s build + run ({1000 * t / o.case.n:.3f} ms/task), {rss}"
        else:
            depth = o.extra.get("failed_at_depth")
            text = o.skipped or f"{o.error} (at depth {depth}; {rss})"
        label = f"{o.case.side}: chain via task parameters, depth {o.case.n:,}"
        tk = o.case.side == "tasuki"
        add(label, "builds and runs" if tk else "", text, (t is not None) if tk else None)
    return out


def imports(outcomes: list[Outcome]) -> list[list[str]]:
    """Median import time and RSS after import, per side."""
    out = []
    for side, what in (("tasuki", "import tasuki"), ("gokart", "import gokart (and luigi)")):
        ts = [t for o in outcomes if o.case.side == side for t in o.import_s]
        mem = [o.rss_after_import_kb for o in outcomes if o.case.side == side and o.import_s]
        if ts:
            out.append(
                [what, f"{statistics.median(ts):.3f} s", f"{statistics.median(mem) / 1024:.0f} MB"]
            )
    return out


def _md_table(head: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(
        lines + ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in body]
    )


def markdown(
    outcomes: list[Outcome],
    info: dict[str, str],
    command: str,
    *,
    one_repeat_s: float,
    budget_s: float,
    title: str = "## Pipeline",
) -> str:
    """The whole pipeline section as markdown (the run's limits go into the text)."""
    head, body = comparison(outcomes)
    machine = ", ".join(f"{k} {v}" for k, v in info.items())
    return "\n".join(
        [
            title,
            "",
            f"Measured with `{command}` on {time.strftime('%Y-%m-%d')}. {machine}.",
            "",
            "Medians over repeats (*runs*); every mode of every repeat is a fresh process, and "
            "import time is excluded (listed below). *cold*: empty workspace. *warm*: everything "
            "cached, build again. *root deleted*: everything cached but the root's output file, so "
            "each of the root's requirements is checked (a chain's root has one, a fan-in's root "
            "all of them). *graph*: construct the tasks and compute every unique id, no run. "
            "ms/task = total / tasks. gokart's chain runs with `sys.setrecursionlimit(10 * n + "
            f"1000)` (its unique ids recurse, ~4 frames per upstream). gokart cases slower than "
            f"{one_repeat_s:.0f} s ran once; cases estimated over {budget_s:.0f} s were skipped "
            "(the estimate extrapolates the two largest smaller sizes). The *floor* row is plain "
            "Python doing the least any engine must: hash a key and pickle an int to a file "
            "(temporary + rename) per step; its warm mode checks that the file exists. The *one "
            "task* row is a build of a single small task: what every build pays once beyond the "
            "import (settings, lazily imported modules, opening the workspace); it is included "
            "in the other rows' per-task figures. *same, CPU time* is the ratio of user + system "
            "CPU seconds (worker processes included) over the same runs: on a loaded machine it "
            "is the steadier figure, though it leaves out time spent waiting for the disk.",
            "",
            _md_table(head, body),
            "",
            "### Targets (issue 2)",
            "",
            _md_table(["target", "wanted", "measured", "verdict"], targets(outcomes)),
            "",
            "### Import",
            "",
            _md_table(["import", "median time", "RSS after import"], imports(outcomes)),
            "",
        ]
    )


def write_docs(section: str, path: Path = DOCS) -> None:
    """Replace the section of docs/benchmarks.md headed like ``section``'s first line.

    A section not there yet goes after ``## Pipeline`` (or at the end); the file is created
    if needed.
    """
    if path.exists():
        text = path.read_text()
    else:
        text = "# Benchmarks\n\nProduced by `python benchmarks/run.py`; see benchmarks/README.md.\n"
        text += "".join(f"\n{h}\n\n_Not measured yet._\n" for h in SECTIONS)
    title = section.split("\n", 1)[0]
    start = text.find(title + "\n")
    if start < 0:
        after = text.find("## Pipeline\n")
        nxt = text.find("\n## ", after + 1) if after >= 0 else -1
        if nxt < 0:
            text = text.rstrip("\n") + "\n\n" + section
        else:
            text = text[: nxt + 1] + section.rstrip("\n") + "\n\n" + text[nxt + 1 :]
    else:
        nxt = text.find("\n## ", start + 1)
        rest = "" if nxt < 0 else "\n" + text[nxt + 1 :]
        text = text[:start] + section.rstrip("\n") + "\n" + rest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def print_rich(outcomes: list[Outcome], info: dict[str, str]) -> None:
    """Print the comparison, targets and import tables to the terminal."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=200)
    console.print(", ".join(f"[bold]{k}[/] {v}" for k, v in info.items()))
    head, body = comparison(outcomes)
    specs = [
        ("Pipeline: overhead per task, tasuki vs gokart 1.12.2", head, body),
        ("Targets (issue 2)", ["target", "wanted", "measured", "verdict"], targets(outcomes)),
        ("Import", ["import", "median time", "RSS after import"], imports(outcomes)),
    ]
    for title, cols, data in specs:
        table = Table(title=title)
        for col in cols:
            table.add_column(col)
        for row in data:
            table.add_row(*row)
        console.print(table)
