"""gokart's own examples end to end: through tasuki.compat vs on gokart 1.12.2 itself.

    python benchmarks/run.py gokart_examples [--quick] [--repeat N]

Each measurement is a fresh process running every example of ``tests/reference/gokart``
(README, docs, the notebook with param.ini: ``python -m tests.reference.gokart._run``), the
peer interpreter (``benchmarks/.venv-gokart``, made by ``bash benchmarks/setup_peers.sh
gokart``) for gokart, this one for tasuki.compat. Per repeat each side runs cold (a new work
folder: every task computes) and then warm (the same folder again: everything is complete),
the sides interleaved and their order alternating between repeats, after one uncounted
run of each (byte code written for both). Examples tasuki.compat refuses are left out of
both sides. Wall time is the whole
process (interpreter start and imports included: what a user waits for); CPU is the child's
user + system time; "in examples" is the time inside the examples (imports excluded).
Issue 16 asks for the examples through the compat layer at least as fast as on gokart.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PEER = HERE / ".venv-gokart" / "bin" / "python"
SIDES = {"gokart": PEER, "tasuki.compat": Path(sys.executable)}


def _examples() -> list[str]:
    """Every reference example both sides run (those tasuki.compat refuses are left out)."""
    sys.path.insert(0, str(REPO))
    from tests.reference.gokart._run import EXAMPLES, REFUSED_BY_COMPAT

    return [name for name in EXAMPLES if name not in REFUSED_BY_COMPAT]


def _once(side: str, out: Path, work: Path, names: list[str]) -> dict[str, float]:
    # Byte code is written (both sides alike): compiling pandas on every start would swamp
    # what is measured.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TASUKI_", "LUIGI_")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(
        PYTHONPATH=str(REPO),
        PYTHONHASHSEED="0",
        GOKART_REFERENCE_SIDE="gokart" if side == "gokart" else "compat",
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [str(SIDES[side]), "-m", "tests.reference.gokart._run", str(out), str(work), *names],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{side} run failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    records = json.loads((out / "results.json").read_text())
    return {
        "wall_s": wall,
        "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "examples_s": sum(r["seconds"] for r in records.values()),
        "examples": len(records),
        "failed": sum(not r["ok"] for r in records.values()),
    }


def run(quick: bool = False, repeat: int = 3) -> list[dict[str, Any]]:
    """One row per side and phase (medians of ``repeat`` fresh processes), then verdicts."""
    if not PEER.exists():
        raise SystemExit(f"{PEER} is missing: make it with `bash benchmarks/setup_peers.sh gokart`")
    repeat = max(repeat, 1 if quick else 3)
    names = _examples()
    samples: dict[tuple[str, str], list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for side in SIDES:  # a first run of each, not counted: byte code written, caches warm
            _once(side, Path(tmp) / f"out-{side}-warmup", Path(tmp) / f"work-{side}-warmup", names)
        for r in range(repeat):
            order = list(SIDES) if r % 2 == 0 else list(reversed(SIDES))
            for side in order:
                work = Path(tmp) / f"work-{side}-{r}"
                for phase in ("cold", "warm"):
                    out = Path(tmp) / f"out-{side}-{r}-{phase}"
                    samples.setdefault((side, phase), []).append(_once(side, out, work, names))
    rows: list[dict[str, Any]] = []
    medians: dict[tuple[str, str], dict[str, float]] = {}
    for (side, phase), got in samples.items():
        med = {k: statistics.median(g[k] for g in got) for k in ("wall_s", "cpu_s", "examples_s")}
        medians[(side, phase)] = med
        rows.append(
            {
                "side": side,
                "phase": phase,
                "repeats": len(got),
                "examples (failed)": f"{got[0]['examples']:.0f} ({got[0]['failed']:.0f})",
                "wall s (median)": med["wall_s"],
                "wall s (min-max)": f"{min(g['wall_s'] for g in got):.2f}-"
                f"{max(g['wall_s'] for g in got):.2f}",
                "cpu s (median)": med["cpu_s"],
                "in examples s (median)": med["examples_s"],
            }
        )
    rows.sort(key=lambda row: (row["phase"], row["side"]))
    for phase in ("cold", "warm"):
        g, c = medians[("gokart", phase)], medians[("tasuki.compat", phase)]
        ok = c["wall_s"] <= g["wall_s"] and c["cpu_s"] <= g["cpu_s"]
        rows.append(
            {
                "side": "verdict",
                "phase": phase,
                "wall s (median)": c["wall_s"] / g["wall_s"],
                "cpu s (median)": c["cpu_s"] / g["cpu_s"],
                "in examples s (median)": c["examples_s"] / g["examples_s"],
                "examples (failed)": (
                    f"compat/gokart: wall {c['wall_s'] / g['wall_s']:.2f}x, cpu "
                    f"{c['cpu_s'] / g['cpu_s']:.2f}x: compat at least as fast as gokart: "
                    + ("met" if ok else "NOT met")
                ),
            }
        )
    return rows


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
