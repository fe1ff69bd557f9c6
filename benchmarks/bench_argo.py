"""What ``tasuki argo export`` costs, and how large its manifests are (issue 11 targets).

    .venv/bin/python benchmarks/run.py argo [--quick] [--repeat N]
    .venv/bin/python benchmarks/bench_argo.py [--quick] [--repeat N]

Graphs of small tasks, nothing cached, each export into a fresh workspace:

* ``fan-in N``: N-1 leaves and one task that requires them all;
* ``chain N``: each task requires the previous one (tasks not marked cheap: one pod each).

Per graph it reports the median over ``repeat`` runs of the wall and CPU time of the whole
export (plan against the workspace, write the N task definitions ``run-one`` reads, compile,
write the YAML) and of ``compile`` alone (templates, DAG, YAML text), the YAML's bytes, the
number of documents and the largest. At 100,000 tasks only ``compile`` is timed, on
synthetic steps (planning 100,000 tasks is the runner's cost, measured in its own benchmark).
The peer is hera with one container template and one DAG task per task (what the issue
measured at 1.0 s and 277 KB for 1,000), built and serialised the usual way
(``Workflow``/``DAG``/``Container`` context managers, ``to_yaml``).

Verdicts computed from the table: export of 1,000 tasks <= 0.3 s and <= 100 KB, no manifest
over 500 KB at 100,000 tasks.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import tasuki
from tasuki.argo import ExportOptions, Step, compile_steps, export_workflow, to_yaml
from tasuki.config import load_settings
from tasuki.core.runner import open_workspace

IMAGE = "ghcr.io/acme/recsys:1.4.2"
LIMIT_S = 0.3
LIMIT_1K_BYTES = 100_000
LIMIT_MANIFEST = 500_000


class Leaf(tasuki.Task):
    i: int

    def run(self) -> None:
        self.dump(self.i)


class FanIn(tasuki.Task):
    n: int

    def requires(self) -> list[Leaf]:
        return [Leaf(i=i) for i in range(self.n - 1)]

    def run(self) -> None:
        self.dump(sum(self.load()))


class Link(tasuki.Task):
    i: int
    prev: tasuki.Task | None = None

    def requires(self) -> tasuki.Task | None:
        return self.prev

    def run(self) -> None:
        self.dump(self.i)


def _graph(shape: str, n: int) -> tasuki.Task:
    if shape == "fan-in":
        return FanIn(n=n)
    link: tasuki.Task | None = None
    for i in range(n):
        link = Link(i=i, prev=link)
    assert link is not None
    return link


def _timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w0, time.process_time() - c0, out


def _synthetic(shape: str, n: int) -> list[Step]:
    uid = [f"{i:064x}" for i in range(n)]
    if shape == "fan-in":
        leaves = [Step((uid[i],), IMAGE, "{}", ()) for i in range(n - 1)]
        return [*leaves, Step((uid[-1],), IMAGE, "{}", tuple(range(n - 1)))]
    return [Step((uid[i],), IMAGE, "{}", (i - 1,) if i else ()) for i in range(n)]


def _hera_per_task(n: int) -> tuple[float, float, int]:
    from hera.workflows import DAG, Container, Workflow

    def build() -> str:
        with Workflow(generate_name="peer-", entrypoint="main") as w:
            containers = [
                Container(name=f"task-{i}", image=IMAGE, command=["tasuki", "run-one", f"{i:064x}"])
                for i in range(n)
            ]
            with DAG(name="main"):
                prev = None
                for c in containers:
                    task = c()
                    if prev is not None:
                        prev >> task
                    prev = task
        return str(w.to_yaml())

    wall, cpu, text = _timed(build)
    return wall, cpu, len(text.encode())


def _row(case: str, walls: list[float], cpus: list[float], **extra: Any) -> dict[str, Any]:
    return {
        "case": case,
        "wall_s": statistics.median(walls),
        "cpu_s": statistics.median(cpus),
        "runs": len(walls),
        **extra,
    }


def run(quick: bool = False, repeat: int = 3) -> list[dict[str, Any]]:
    """Rows of the table, the verdicts last."""
    import hera.workflows  # noqa: F401  (imported once, outside every timing)
    import yaml  # noqa: F401

    repeat = max(1, repeat)
    sizes = (1_000,) if quick else (1_000, 5_000)
    options = ExportOptions(image=IMAGE)
    rows: list[dict[str, Any]] = []
    for n in sizes:
        for shape in ("fan-in", "chain"):
            root = _graph(shape, n)
            walls, cpus, cwalls, ccpus = [], [], [], []
            export = None
            for _ in range(repeat):
                with tempfile.TemporaryDirectory() as ws:
                    settings = load_settings({"workspace": ws, "progress": "off"})
                    store = open_workspace(settings)

                    def one(s: Any = settings, st: Any = store, r: Any = root) -> Any:
                        done = export_workflow(r, options=options, settings=s, store=st)
                        done.to_yaml()
                        return done

                    wall, cpu, export = _timed(one)
                    walls.append(wall)
                    cpus.append(cpu)
                    cw, cc, _ = _timed(
                        lambda e=export, s=settings: to_yaml(compile_steps(e.steps, options, s))
                    )
                    cwalls.append(cw)
                    ccpus.append(cc)
            assert export is not None
            docs_sizes = export.sizes()
            rows.append(
                _row(
                    f"tasuki export {shape} {n:,}",
                    walls,
                    cpus,
                    compile_s=statistics.median(cwalls),
                    yaml_kb=sum(docs_sizes) / 1000,
                    documents=len(docs_sizes),
                    largest_kb=max(docs_sizes) / 1000,
                )
            )
    big = 20_000 if quick else 100_000
    for shape in ("fan-in", "chain"):
        steps = _synthetic(shape, big)
        walls, cpus = [], []
        docs: list[dict[str, Any]] = []
        for _ in range(repeat):
            wall, cpu, docs = _timed(lambda s=steps: compile_steps(s, options))
            text_wall, text_cpu, _ = _timed(lambda d=docs: to_yaml(d))
            walls.append(wall + text_wall)
            cpus.append(cpu + text_cpu)
        doc_sizes = [len(to_yaml([d]).encode()) for d in docs]
        rows.append(
            _row(
                f"tasuki compile {shape} {big:,} (synthetic steps)",
                walls,
                cpus,
                yaml_kb=sum(doc_sizes) / 1000,
                documents=len(doc_sizes),
                largest_kb=max(doc_sizes) / 1000,
            )
        )
    walls, cpus, peer_bytes = [], [], 0
    for _ in range(repeat):
        wall, cpu, peer_bytes = _hera_per_task(1_000)
        walls.append(wall)
        cpus.append(cpu)
    rows.append(
        _row(
            "hera, one template per task, chain 1,000",
            walls,
            cpus,
            yaml_kb=peer_bytes / 1000,
            documents=1,
            largest_kb=peer_bytes / 1000,
        )
    )
    rows += _verdicts(rows, big)
    return rows


def _verdicts(rows: list[dict[str, Any]], big: int) -> list[dict[str, Any]]:
    by = {r["case"]: r for r in rows}
    peer = by["hera, one template per task, chain 1,000"]
    out = []
    for shape in ("fan-in", "chain"):
        r = by[f"tasuki export {shape} 1,000"]
        out.append(
            {
                "case": f"verdict {shape} 1,000",
                "wall_s": r["wall_s"],
                "compile_s": r["compile_s"],
                "yaml_kb": r["yaml_kb"],
                "verdict": (
                    f"time {'OK' if r['wall_s'] <= LIMIT_S else 'OVER'} (<= {LIMIT_S} s), "
                    f"size {'OK' if r['yaml_kb'] * 1000 <= LIMIT_1K_BYTES else 'OVER'} "
                    f"(<= {LIMIT_1K_BYTES // 1000} KB); vs hera per task: whole export "
                    f"{peer['wall_s'] / r['wall_s']:.1f}x, compile alone (like for like: hera "
                    f"plans nothing and writes no definitions) "
                    f"{peer['wall_s'] / r['compile_s']:.0f}x faster, "
                    f"{peer['yaml_kb'] / r['yaml_kb']:.1f}x smaller"
                ),
            }
        )
    largest = max(r["largest_kb"] for r in rows if r["case"].startswith("tasuki"))
    out.append(
        {
            "case": f"verdict largest manifest (up to {big:,} tasks)",
            "largest_kb": largest,
            "verdict": f"{'OK' if largest * 1000 <= LIMIT_MANIFEST else 'OVER'} (<= 500 KB)",
        }
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    for row in run(quick=args.quick, repeat=args.repeat):
        print(
            "  ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
