"""The generated project: from ``tasuki new`` to a passing ``make test`` (issue 15: <= 60 s
with a warm package cache).

    python benchmarks/run.py new_project [--quick] [--repeat N]

Each repeat, in a fresh folder: ``tasuki new PATH --defaults`` (a process of its own, as a
user runs it: interpreter start, the template repository checked, copier's render, ``git
init`` and the first commit), then ``make test`` and ``make run`` of the generated project
with this interpreter (``PYTHON=``): warm means nothing is installed, the packages are
already there. ``make init`` (a venv and ``pip install``) is not timed: it needs the network
or a package index. ``--quick`` leaves out ``make run``. The template repository is kept
between repeats (under a temporary HOME), as on a developer's machine after the first project.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_S = 60.0
_NEW = "import tasuki.cli._new; from tasuki.cli import main; main(sys.argv[1:])"


def _timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and the children's CPU seconds of one command; raises when it fails."""
    before = os.times()
    wall = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - wall
    after = os.times()
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return wall, cpu


def run(quick: bool = False, repeat: int = 3) -> list[dict[str, Any]]:
    """Rows per step (median wall and CPU s), then the verdict row."""
    samples: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-new-") as tmp:
        root = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TASUKI_")}
        env.pop("PYTHONPATH", None)
        env.update(
            HOME=str(root / "home"),
            GIT_AUTHOR_NAME="bench",
            GIT_AUTHOR_EMAIL="bench@localhost",
            GIT_COMMITTER_NAME="bench",
            GIT_COMMITTER_EMAIL="bench@localhost",
        )
        for r in range(repeat):
            project = root / f"proj{r}"
            steps = [
                ("tasuki new", [sys.executable, "-c", f"import sys; {_NEW}", "new", str(project),
                                "--defaults"], root),
                ("make test", ["make", "test", f"PYTHON={sys.executable}"], project),
            ]  # fmt: skip
            if not quick:
                steps.append(("make run", ["make", "run", f"PYTHON={sys.executable}"], project))
            total = [0.0, 0.0]
            for case, cmd, cwd in steps:
                wall, cpu = _timed(cmd, cwd, env)
                samples.setdefault(case, []).append((wall, cpu))
                if case != "make run":
                    total[0] += wall
                    total[1] += cpu
            samples.setdefault("new + make test", []).append((total[0], total[1]))
    rows: list[dict[str, Any]] = [
        {
            "case": case,
            "repeats": repeat,
            "wall s": statistics.median(w for w, _ in got),
            "cpu s": statistics.median(c for _, c in got),
        }
        for case, got in samples.items()
    ]
    total = next(r for r in rows if r["case"] == "new + make test")["wall s"]
    rows.append(
        {
            "case": "verdict",
            "repeats": repeat,
            "wall s": total,
            "cpu s": None,
            "verdict": f"tasuki new to a passing make test in {total:.1f} s: "
            + ("within 60 s" if total <= TARGET_S else "NOT within 60 s"),
        }
    )
    return rows
