"""The command line's fixed cost: what a user waits for on every ``tasuki`` call.

    python benchmarks/run.py cli [--repeat N] [--no-docs]

Every measurement is a fresh process (``tasuki`` from the project's ``.venv``), wall time
and CPU time (user + system of the process, from ``getrusage(RUSAGE_CHILDREN)``), cases
interleaved repeat by repeat, medians reported:

* ``tasuki --help``: the command line alone (imports, typer);
* ``tasuki run Step``: a one-task pipeline whose output is cached (built once, untimed,
  before the first repeat): what a user waits for when nothing has to run;
* ``tasuki run Report``: a cached task reading a cached ``QueryTask`` on a DuckDB file: the
  query's check asks the warehouse whether a tasuki write moved a table it reads;
* ``tasuki show ID``: reading one run record;
* gokart (when ``benchmarks/.venv-gokart`` exists, ``bash benchmarks/setup_peers.sh
  gokart``): the same cached task through ``gokart.run()`` (``python main.py Step
  --local-scheduler``), the way a gokart project runs from its shell.

No target is set for these (issue 12 sets the library's: a build's CPU beyond ``import
tasuki``); the table shows where a command's time goes against the build it runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _host import cpu_model, short_commit
from _loader import write_section

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DOCS = ROOT / "docs" / "benchmarks.md"
TASUKI = ROOT / ".venv" / "bin" / "tasuki"
GOKART_PY = HERE / ".venv-gokart" / "bin" / "python"
TITLE = "## Command line"

TASKS = textwrap.dedent(
    """
    import tasuki


    class Step(tasuki.Task):
        i: int = 0

        def output(self):
            return self.make_target("step.pkl")

        def run(self):
            self.dump(self.i)
    """
)
# In a module of its own: importing tasuki.warehouse (pyarrow, sqlglot) is the query's cost,
# not the plain task's.
QUERY_TASKS = textwrap.dedent(
    """
    import os

    import tasuki
    from tasuki.warehouse import QueryTask


    class Report(tasuki.Task):
        def requires(self):
            url = "duckdb://" + os.environ["BENCH_DWH"]
            return QueryTask(sql="SELECT id, score FROM scores", warehouse=url)

        def output(self):
            return self.make_target("report.pkl")

        def run(self):
            self.dump(self.load().num_rows)
    """
)
PEER = textwrap.dedent(
    """
    import gokart
    import luigi


    class Step(gokart.TaskOnKart):
        i = luigi.IntParameter(default=0)

        def run(self):
            self.dump(self.i)


    if __name__ == "__main__":
        gokart.run()
    """
)


def _timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """Run ``cmd`` to the end; its wall and CPU seconds and its standard output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def _cases(folder: Path, gokart: bool) -> list[tuple[str, str, list[str]]]:
    """(case, side, command) in the order they run within one repeat."""
    ws = str(folder / "ws")
    cases = [
        ("--help", "tasuki", [str(TASUKI), "--help"]),
        ("run, cached", "tasuki", [str(TASUKI), "run", "bench_tasks:Step", "-w", ws]),
        (
            "run, cached, a query task and its reader",
            "tasuki",
            [str(TASUKI), "run", "bench_query_tasks:Report", "-w", ws],
        ),
    ]
    if gokart:
        peer_ws = str(folder / "gokart_ws")
        cmd = [str(GOKART_PY), "main.py", "Step", "--local-scheduler"]
        cases.append(("run, cached", "gokart", [*cmd, "--workspace-directory", peer_ws]))
    return cases


def measure(repeat: int, gokart: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run every case ``repeat`` times, interleaved; one row per (case, side)."""
    with tempfile.TemporaryDirectory(prefix="tasuki-bench-cli-") as tmp:
        folder = Path(tmp)
        (folder / "bench_tasks.py").write_text(TASKS)
        (folder / "bench_query_tasks.py").write_text(QUERY_TASKS)
        (folder / "main.py").write_text(PEER)
        dwh = folder / "dwh.duckdb"
        import duckdb

        with duckdb.connect(str(dwh)) as conn:
            conn.execute(
                "CREATE TABLE scores AS SELECT range AS id, range / 10 AS score FROM range(1000)"
            )
        env = {
            **os.environ,
            "PYTHONPATH": str(folder),
            "TASUKI_PROGRESS": "off",
            "BENCH_DWH": str(dwh),
        }
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        cases = _cases(folder, gokart)
        # Build once (untimed): the measured runs find everything cached. The uid for `show`
        # is the last line `tasuki run` prints.
        for _, _, cmd in cases[1:]:
            _timed(cmd, folder, env)
        out = _timed(cases[1][2], folder, env)[2]
        uid = out.strip().splitlines()[-1].split()[-1]
        cases.append(("show ID", "tasuki", [str(TASUKI), "show", uid, "-w", str(folder / "ws")]))
        samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
        loads = []
        for _ in range(repeat):
            for case, side, cmd in cases:
                loads.append(os.getloadavg()[0])
                wall, cpu, _out = _timed(cmd, folder, env)
                samples.setdefault((case, side), []).append((wall, cpu))
    rows = [
        {
            "case": case,
            "side": side,
            "runs": len(runs),
            "wall_ms": 1000 * statistics.median(w for w, _ in runs),
            "cpu_ms": 1000 * statistics.median(c for _, c in runs),
        }
        for (case, side), runs in samples.items()
    ]
    info = {"load": (statistics.median(loads), max(loads)), "gokart": gokart}
    return rows, info


def _machine() -> str:
    return f"{cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def render(rows: list[dict[str, Any]], info: dict[str, Any], repeat: int) -> str:
    """The results as a markdown section."""
    lines = [
        TITLE,
        "",
        f"Each command a fresh process, cases interleaved, medians of {repeat} runs, wall "
        "and CPU (user + system of the process). Produced by `python benchmarks/run.py cli` "
        f"at {short_commit()} on {_machine()}, load average median {info['load'][0]:.2f}, max "
        f"{info['load'][1]:.2f}."
        + ("" if info["gokart"] else " gokart's venv was missing: its row was not run."),
        "",
        "| command | side | runs | wall ms | CPU ms |",
        "|---|---|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['case']} | {r['side']} | {r['runs']} | {r['wall_ms']:.0f} | {r['cpu_ms']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: measure, print the table, write docs (3 repeats or more)."""
    parser = argparse.ArgumentParser(prog="bench_cli.py", description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-docs", action="store_true", help="leave docs/benchmarks.md alone")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    if not TASUKI.exists():
        print(f"no tasuki at {TASUKI}; create the project venv first", file=sys.stderr)
        return 2
    rows, info = measure(args.repeat, gokart=GOKART_PY.exists())
    section = render(rows, info, args.repeat)
    print(section)
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "info": info}, indent=2))
    if not args.no_docs and args.repeat >= 3:
        write_section(DOCS, section, TITLE, "## Runner, records and fixed cost (issue 12)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
