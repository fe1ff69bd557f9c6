"""Tables of the pipeline benchmark: terminal (rich), markdown for docs/benchmarks.md, rows.

Kept apart from ``bench_pipeline.py``, which runs the measurements; everything here reads
:class:`bench_pipeline.Outcome` values and formats them. Every verdict is computed here from
the measured figures; none is typed by hand.
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
MIN_RUNS = 3
COMPAT = "tasuki-compat"  # gokart's task code on tasuki.compat (issue 16)
SIDE_ORDER = ("tasuki", COMPAT, "floor", "gokart", "luigi", "kedro", "prefect", "hamilton")


def median(values: Sequence[float]) -> float | None:
    """Median, or None for no values."""
    return statistics.median(values) if values else None


MODES = ("cold", "warm", "root deleted")
ORDER = ("single", "project", "chain", "fan_in", "graph", "chain_graph", "param_chain")
TITLES = {
    "single": "one task (fixed cost of a build)",
    "project": "one task, in a git project with a settings file",
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


def _ok(o: Outcome | None) -> bool:
    return bool(o) and not o.error and not o.skipped  # type: ignore[union-attr]


def _t(o: Outcome | None, mode: str) -> float | None:
    """Median wall seconds of a mode (construct + build), None when not measured."""
    return median(o.times.get(mode, [])) if _ok(o) else None  # type: ignore[union-attr]


def _cpu(o: Outcome | None, mode: str) -> float | None:
    """Median CPU seconds of a mode (user + system, finished children and helpers included)."""
    return median(o.cpu.get(mode, [])) if _ok(o) else None  # type: ignore[union-attr]


def _metric(o: Outcome | None, mode: str, metric: str) -> float | None:
    return _cpu(o, mode) if metric == "CPU" else _t(o, mode)


def _runs(o: Outcome | None, mode: str) -> int:
    return o.runs(mode) if o else 0


def _load(o: Outcome) -> str:
    return f"{median(o.loads):.1f}" if o.loads else ""


def rows(outcomes: list[Outcome], fs: str = "") -> list[dict[str, Any]]:
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
                    "runs": o.runs(mode),
                    "median_s": t,
                    "median_cpu_s": _cpu(o, mode),
                    "per_task_ms": None if t is None else 1000 * t / c.n,
                    "process_s": median(o.proc_wall.get(mode, [])),
                    "process_cpu_s": median(o.proc_cpu.get(mode, [])),
                    "import_s": median(o.import_s),
                    "setup_s": median(o.setup_s),
                    "load_avg": median(o.loads),
                    "commit": ", ".join(o.commits),
                    "fs": fs,
                    "peak_rss_mb": o.peak_rss_kb / 1024 if o.peak_rss_kb else None,
                    "error": o.error,
                    "failed_at_depth": o.extra.get("failed_at_depth"),
                    "skipped": o.skipped,
                    "runs_note": o.extra.get("runs_note"),
                    "note": c.note,
                }
            )
    return out


def _ratio(r: float) -> str:
    return f"{r:.0f}x" if r >= 10 else f"{r:.1f}x" if r >= 1 else f"{r:.2f}x"


def _why(o: Outcome) -> str:
    """Why a side has no figure: skipped, or the error (with the depth it failed at)."""
    if o.skipped:
        return o.skipped
    depth = o.extra.get("failed_at_depth")
    return (o.error or "").split("\n")[0][:160] + (f" at depth {depth}" if depth else "")


COMPARISON_HEAD = [
    "graph",
    "tasks",
    "workers",
    "mode",
    "side",
    "runs",
    "s",
    "CPU s",
    "ms/task",
    "CPU ms/task",
    "x tasuki",
    "x tasuki CPU",
    "process s",
    "process CPU s",
    "load",
    "fs",
    "commit",
]


def comparison(outcomes: list[Outcome], fs: str = "") -> tuple[list[str], list[list[str]]]:
    """One row per (graph, size, workers, mode, side) with wall and CPU time, and the side's
    figure over tasuki's (above 1: the side takes longer)."""
    keys = sorted(
        {(o.case.case, o.case.n, o.case.workers) for o in outcomes},
        key=lambda k: (ORDER.index(k[0]), k[2], k[1]),
    )
    body: list[list[str]] = []
    for case, n, workers in keys:
        group = [
            o for o in outcomes if (o.case.case, o.case.n, o.case.workers) == (case, n, workers)
        ]
        group.sort(key=lambda o: SIDE_ORDER.index(o.case.side))
        tk = _find(outcomes, "tasuki", case, n, workers)
        for mode in group[0].case.modes:
            for o in group:
                head = [TITLES[case], f"{n:,}", str(workers), mode, o.case.side]
                if not _ok(o) or _t(o, mode) is None:
                    reason = _why(o) if (o.skipped or o.error) else "not run"
                    body.append(
                        head + ["0", reason] + [""] * 7 + [_load(o), fs, ", ".join(o.commits)]
                    )
                    continue
                t, cpu = _t(o, mode) or 0.0, _cpu(o, mode) or 0.0
                a, ca = _t(tk, mode), _cpu(tk, mode)
                runs = str(o.runs(mode))
                if o.runs(mode) < MIN_RUNS:
                    runs += " (not counted)"
                rss = f", {o.peak_rss_kb / 1024:.0f} MB" if case == "param_chain" else ""
                cells = [
                    runs,
                    f"{t:.3f}{rss}",
                    f"{cpu:.3f}",
                    f"{1000 * t / n:.3f}",
                    f"{1000 * cpu / n:.3f}",
                    _ratio(t / a) if a and o.case.side != "tasuki" else "",
                    _ratio(cpu / ca) if ca and cpu and o.case.side != "tasuki" else "",
                    f"{median(o.proc_wall.get(mode, [])) or 0:.2f}",
                    f"{median(o.proc_cpu.get(mode, [])) or 0:.2f}",
                    _load(o),
                    fs,
                    ", ".join(o.commits),
                ]
                body.append(head + cells)
    return COMPARISON_HEAD, body


TARGETS_HEAD = ["target", "wanted", "measured", "verdict"]
TARGET_SIZES = (1000, 10000)  # the sizes of the targets against gokart


def _n_runs(runs: int) -> str:
    return f" [{runs} run{'' if runs == 1 else 's'}]"


def _verdict(ok: bool, runs: int) -> str:
    if runs < MIN_RUNS:
        return f"{'one run' if runs == 1 else f'{runs} runs'}, not counted"
    return "met" if ok else "NOT met"


def targets(outcomes: list[Outcome]) -> list[list[str]]:
    """The issues' targets, each with the measured figures and a verdict computed from them.

    A verdict counts only figures with at least ``MIN_RUNS`` runs on every side it compares;
    a target whose figures are missing says why (skipped, failed, not in this run).
    """
    out: list[list[str]] = []

    def missing(*pairs: tuple[str, Outcome | None]) -> str:
        for name, o in pairs:
            if o is None:
                return f"{name}: not in this run"
            if not _ok(o):
                return f"{name}: {_why(o)}"
        return "not measured"

    def compare(
        label: str,
        want: str,
        peer: str,
        case: str,
        n: int,
        mode: str,
        metric: str,
        limit: float,
        *,
        per_task: bool = False,
        at_most: bool = False,
        reference: bool = False,
        base: str = "tasuki",
    ) -> None:
        tk, other = _find(outcomes, base, case, n), _find(outcomes, peer, case, n)
        a, b = _metric(tk, mode, metric), _metric(other, mode, metric)
        if not (a and b):
            out.append([label, want, missing((base, tk), (peer, other)), "not measured"])
            return
        runs = min(_runs(tk, mode), _runs(other, mode))
        unit = "CPU " if metric == "CPU" else ""
        if per_task:
            text = f"tasuki {1000 * a / n:.4f} ms {unit}per task, {peer} {1000 * b / n:.4f} ms"
            ratio = a / b
            text += f": {_ratio(ratio)}"
            ok = ratio <= limit
        else:
            ratio = b / a
            text = f"{peer} {b:.3f} s, {base} {a:.3f} s ({unit or 'wall '}time): {_ratio(ratio)}"
            ok = ratio <= limit if at_most else ratio >= limit
        verdict = "reference (not a target size)" if reference else _verdict(ok, runs)
        out.append([label, want, text + f"{_n_runs(runs)}", verdict])

    def sizes(case: str, other: str = "gokart", first: str = "tasuki") -> list[int]:
        """The target sizes, and any other size both sides ran (as reference)."""

        def ran(side: str) -> set[int]:
            return {
                o.case.n
                for o in outcomes
                if (o.case.side, o.case.case, o.case.workers) == (side, case, 1)
                and _ok(o)
                and o.times
            }

        return sorted(set(TARGET_SIZES) | (ran(first) & ran(other)))

    # Issue 12: one build of one small task in a fresh process, <= 5 ms of CPU beyond the
    # import cold and <= 1 ms warm; outside a project and in one (git, settings file).
    for case in ("single", "project"):
        for mode, limit_ms in (("cold", 5.0), ("warm", 1.0)):
            label = f"{TITLES[case]}, {mode}, CPU beyond import"
            o = _find(outcomes, "tasuki", case, 1)
            cpu = _metric(o, mode, "CPU")
            if not cpu:
                out.append([label, f"<= {limit_ms:g} ms", missing(("tasuki", o)), "not measured"])
                continue
            runs = _runs(o, mode)
            text = f"{1000 * cpu:.2f} ms{_n_runs(runs)}"
            out.append([label, f"<= {limit_ms:g} ms", text, _verdict(1000 * cpu <= limit_ms, runs)])
    # Issue 12: cold chain and fan-in >= 30x gokart, CPU and wall.
    for case in ("chain", "fan_in"):
        for n in sizes(case):
            for metric in ("CPU", "wall"):
                label = f"cold {TITLES[case]}, {n:,} tasks, {metric} time vs gokart"
                ref = n not in TARGET_SIZES
                compare(label, ">= 30x lower", "gokart", case, n, "cold", metric, 30, reference=ref)
    # Warm and root deleted >= 40x gokart in CPU time.
    for mode in ("warm", "root deleted"):
        for case in ("chain", "fan_in"):
            for n in sizes(case):
                label = f"{mode} {TITLES[case]}, {n:,} tasks, CPU time vs gokart"
                ref = n not in TARGET_SIZES
                compare(label, ">= 40x lower", "gokart", case, n, mode, "CPU", 40, reference=ref)
    # Issue 16: gokart's task code on tasuki.compat within 1.5x of native tasuki tasks, every
    # mode, CPU and wall; and how it compares with the same code on gokart (>= 1x: at least as
    # fast as gokart). Only when this run has the compat side.
    if any(o.case.side == COMPAT for o in outcomes):
        for case in ("chain", "fan_in"):
            for n in sizes(case, COMPAT):
                ref = n not in TARGET_SIZES
                for mode in MODES:
                    for metric in ("CPU", "wall"):
                        label = (
                            f"{mode} {TITLES[case]}, {n:,} tasks, {metric} time: compat vs tasuki"
                        )
                        want = "<= 1.5x tasuki"
                        compare(
                            label,
                            want,
                            COMPAT,
                            case,
                            n,
                            mode,
                            metric,
                            1.5,
                            at_most=True,
                            reference=ref,
                        )
        for case in ("chain", "fan_in"):  # a ratio, not a must: the sizes compat ran only
            ran_compat = {
                o.case.n for o in outcomes if (o.case.side, o.case.case) == (COMPAT, case)
            }
            for n in [n for n in sizes(case, "gokart", COMPAT) if n in ran_compat]:
                ref = n not in TARGET_SIZES
                for mode in MODES:
                    for metric in ("CPU", "wall"):
                        label = (
                            f"{mode} {TITLES[case]}, {n:,} tasks, {metric} time: gokart vs compat"
                        )
                        want = ">= 1x (compat at least as fast)"
                        compare(
                            label,
                            want,
                            "gokart",
                            case,
                            n,
                            mode,
                            metric,
                            1.0,
                            reference=ref,
                            base=COMPAT,
                        )
    # Growth: 10x the tasks costs <= 11x the time (tasuki, up to 100,000; CPU and wall).
    for case in ("chain", "fan_in", "graph", "chain_graph"):
        mode = "graph" if "graph" in case else "cold"
        ns = sorted(
            o.case.n
            for o in outcomes
            if o.case.side == "tasuki" and o.case.case == case and o.case.workers == 1
        )
        for small, big in itertools.pairwise(ns):
            if small < 1000:
                continue
            for metric in ("CPU", "wall"):
                o1, o2 = (
                    _find(outcomes, "tasuki", case, small),
                    _find(outcomes, "tasuki", case, big),
                )
                a, b = _metric(o1, mode, metric), _metric(o2, mode, metric)
                k = big / small
                label = f"growth, {TITLES[case]}, {mode}, {small:,} -> {big:,}, {metric} time"
                want = f"<= {1.1 * k:.0f}x"
                if not (a and b):
                    out.append(
                        [label, want, missing(("tasuki", o1), ("tasuki", o2)), "not measured"]
                    )
                    continue
                runs = min(_runs(o1, mode), _runs(o2, mode))
                text = f"{a:.3f} s -> {b:.3f} s: {b / a:.1f}x{_n_runs(runs)}"
                out.append([label, want, text, _verdict(b / a <= 1.1 * k, runs)])
    # The floor: tasuki's CPU per task at most 2x a plain loop's doing the same files.
    for case in ("chain", "fan_in"):
        ns = sorted({o.case.n for o in outcomes if o.case.side == "floor" and o.case.case == case})
        for n in ns:
            label = f"cold {TITLES[case]}, {n:,} tasks, CPU per task vs the floor"
            ref = n < min(TARGET_SIZES)  # below 1,000 a build's fixed cost decides
            want = "<= 2x the floor"
            compare(label, want, "floor", case, n, "cold", "CPU", 2.0, per_task=True, reference=ref)
    # Issue 2, kept: workers=2 faster than workers=1 (tasuki), and the parameter chain.
    for o2 in [o for o in outcomes if o.case.side == "tasuki" and o.case.workers == 2]:
        o1 = _find(outcomes, "tasuki", o2.case.case, o2.case.n)
        a, b = _t(o1, "cold"), _t(o2, "cold")
        label = f"tasuki: fan-in {o2.case.n:,} cold, workers=2 vs 1 (wall)"
        if not (a and b):
            why = missing(("tasuki workers=1", o1), ("tasuki workers=2", o2))
            out.append([label, "faster", why, "not measured"])
        else:
            runs = min(_runs(o1, "cold"), _runs(o2, "cold"))
            text = f"{a:.2f} s with 1 -> {b:.2f} s with 2 ({a / b:.2f}x the speed){_n_runs(runs)}"
            out.append([label, "faster", text, _verdict(b < a, runs)])
    for o in (o for o in outcomes if o.case.case == "param_chain" and o.case.side == "tasuki"):
        t, rss = _t(o, "cold"), f"{o.peak_rss_kb / 1024:.0f} MB peak RSS"
        label = f"tasuki: chain via task parameters, depth {o.case.n:,}"
        if t is not None:
            text = f"{t:.2f} s build + run ({1000 * t / o.case.n:.3f} ms/task), {rss}"
            out.append([label, "builds and runs", text, _verdict(True, o.runs("cold"))])
        else:
            out.append(
                [label, "builds and runs", _why(o), "NOT met" if o.error else "not measured"]
            )
    return out


def peers_table(
    outcomes: list[Outcome], sides: Sequence[str], versions: dict[str, str], status: dict[str, str]
) -> list[list[str]]:
    """Per side: version, whether it could run here, the sizes that ran, what it does."""
    out = []
    for side in sides:
        mine = [o for o in outcomes if o.case.side == side]
        ran = sorted({(o.case.case, o.case.n) for o in mine if _ok(o) and o.times})
        sizes: dict[str, list[int]] = {}
        for case, n in ran:
            sizes.setdefault(case, []).append(n)
        text = "; ".join(f"{c} {', '.join(f'{n:,}' for n in ns)}" for c, ns in sizes.items())
        failed = sorted({f"{o.case.case} {o.case.n:,}: {_why(o)[:80]}" for o in mine if o.error})
        state = status.get(side) or ("ran" if ran else "nothing ran")
        if failed:
            state += "; failed: " + "; ".join(failed)
        note = mine[0].case.note if mine else ""
        out.append([side, versions.get(side, "-"), state, text, note])
    return out


def imports(outcomes: list[Outcome], sides: Sequence[str]) -> list[list[str]]:
    """Median import time, setup time and RSS after import, per side."""
    out = []
    for side in sides:
        ts = [t for o in outcomes if o.case.side == side for t in o.import_s]
        setup = [t for o in outcomes if o.case.side == side for t in o.setup_s]
        mem = [o.rss_after_import_kb for o in outcomes if o.case.side == side and o.import_s]
        if ts:
            out.append(
                [
                    side,
                    f"{statistics.median(ts):.3f} s",
                    f"{statistics.median(setup):.3f} s" if setup else "",
                    f"{statistics.median(mem) / 1024:.0f} MB",
                ]
            )
    return out


def _md_table(head: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(
        lines + ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in body]
    )


EXPLAIN = (
    "Each side runs in a fresh interpreter per mode; sides are interleaved case by case and "
    "repeat by repeat. *cold*: empty workspace. *warm*: everything cached, build again. *root "
    "deleted*: the root's output file deleted, build again (a chain's root has one upstream, a "
    "fan-in's root all n). *graph*: construct the tasks and compute every unique id, no run. "
    "*runs*: measured runs (a figure with fewer than 3 is marked and never counted for a "
    "verdict). *s* / *CPU s*: medians of the side's own construct + build time, wall and user + "
    "system CPU (finished worker processes and Prefect's server included), import excluded. "
    "*ms/task*: per task. *x tasuki*: the side's figure over tasuki's (above 1: slower than "
    "tasuki). *process s* / *process CPU s*: the whole process, measured around it by the "
    "harness with `os.wait4` (import, start-up, teardown and every waited-for child included). "
    "*load*: median 1-minute load average before the runs. *fs*: file system of the "
    "workspaces. *commit*: HEAD when the case ran (`+src`: src/ had uncommitted changes)."
)


def markdown(
    outcomes: list[Outcome],
    info: dict[str, str],
    command: str,
    *,
    fs: str,
    sides: Sequence[str],
    versions: dict[str, str],
    status: dict[str, str],
    budget_s: float,
    title: str = "## Pipeline",
) -> str:
    """The whole pipeline section as markdown (the run's limits go into the text)."""
    head, body = comparison(outcomes, fs)
    machine = ", ".join(f"{k} {v}" for k, v in info.items())
    return "\n".join(
        [
            title,
            "",
            f"Measured with `{command}` on {time.strftime('%Y-%m-%d')}. {machine}.",
            "",
            EXPLAIN + f" A side whose estimate for all runs of a case was over {budget_s:.0f} s "
            "skipped it (the estimate extrapolates its two largest smaller sizes); one whose "
            "first runs showed the rest would overrun stopped (fewer runs, not counted).",
            "",
            "### Targets at a glance (computed from the table below)",
            "",
            _md_table(TARGETS_HEAD, targets(outcomes)),
            "",
            "### Sides",
            "",
            _md_table(
                ["side", "version", "status", "sizes that ran", "how it runs"],
                peers_table(outcomes, sides, versions, status),
            ),
            "",
            "### Measurements",
            "",
            _md_table(head, body),
            "",
            "### Import",
            "",
            _md_table(
                ["side", "import", "setup (untimed start-up)", "RSS after import"],
                imports(outcomes, sides),
            ),
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


def print_rich(
    outcomes: list[Outcome],
    info: dict[str, str],
    fs: str,
    sides: Sequence[str],
    versions: dict[str, str],
    status: dict[str, str],
) -> None:
    """Print the targets, sides, measurements and import tables to the terminal."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=250)
    console.print(", ".join(f"[bold]{k}[/] {v}" for k, v in info.items()))
    head, body = comparison(outcomes, fs)
    specs = [
        ("Pipeline: measurements, every side", head, body),
        ("Targets at a glance (computed)", TARGETS_HEAD, targets(outcomes)),
        (
            "Sides",
            ["side", "version", "status", "sizes that ran", "how it runs"],
            peers_table(outcomes, sides, versions, status),
        ),
        (
            "Import",
            ["side", "import", "setup (untimed start-up)", "RSS after import"],
            imports(outcomes, sides),
        ),
    ]
    for title, cols, data in specs:
        table = Table(title=title)
        for col in cols:
            table.add_column(col)
        for row in data:
            table.add_row(*row)
        console.print(table)
