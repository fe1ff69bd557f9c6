"""What making a ``tasuki.FileInput`` costs a fresh process, against reading the file.

A ``FileInput`` hashes its file (xxh3-128) when the task value is made; a large file's hash
is kept on disk beside the code cache, keyed by size, times and inode, so a later process
finds it without reading the file. Each case runs in a fresh process (import excluded),
interleaved case by case, ``--repeat`` times; medians of wall and CPU time:

- ``read the file``: the floor, reading every byte once in 1 MiB chunks (no hash);
- ``FileInput, first time``: the code cache off, so the file is read and hashed;
- ``FileInput, hash kept on disk``: the code cache on and filled by an earlier process.

    .venv/bin/python benchmarks/run.py file_input [--quick] [--repeat N]

The file is random bytes in the temporary folder (512 MiB; 64 MiB with ``--quick``), made
old enough (ctime 2 s and more before the first hash) for its hash to be kept.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

_CHILD = """
import json, os, sys, time
mode, path = sys.argv[1], sys.argv[2]
import tasuki
w0, c0 = time.perf_counter(), time.process_time()
if mode == "read":
    with open(path, "rb") as f:
        while f.read(1 << 20):
            pass
else:
    tasuki.FileInput(path=path, as_="path")
print(json.dumps([time.perf_counter() - w0, time.process_time() - c0]))
"""

CASES = (
    ("read the file", "read", "off"),
    ("FileInput, first time", "input", "off"),
    ("FileInput, hash kept on disk", "input", "cache"),
)


def _child(mode: str, path: str, cache: str) -> tuple[float, float]:
    env = {**os.environ, "TASUKI_CODE_CACHE": cache, "PYTHONPATH": str(HERE.parent / "src")}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, mode, path],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    wall, cpu = json.loads(done.stdout.strip().splitlines()[-1])
    return float(wall), float(cpu)


def run(quick: bool = False, repeat: int = 3, mib: int | None = None) -> list[dict[str, Any]]:
    """Rows of the table: case, size, median wall and CPU seconds, and GiB/s of wall
    (``mib``: another file size, for the smoke test)."""
    size = (mib or (64 if quick else 512)) << 20
    with tempfile.TemporaryDirectory(prefix="tasuki-file-input-") as tmp:
        path = os.path.join(tmp, "raw.bin")
        with open(path, "wb") as f:
            for _ in range(size >> 20):
                f.write(os.urandom(1 << 20))
        time.sleep(2.1)  # past the racy window: the hash may be kept
        cache = os.path.join(tmp, "code-cache")
        _child("input", path, cache)  # fills the disk cache for the last case
        times: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in CASES}
        for _ in range(max(3, repeat)):
            for name, mode, where in CASES:  # interleaved, case by case
                times[name].append(_child(mode, path, cache if where == "cache" else where))
    rows = []
    for name, _, _ in CASES:
        wall = statistics.median(t[0] for t in times[name])
        cpu = statistics.median(t[1] for t in times[name])
        rows.append(
            {
                "case": name,
                "MiB": size >> 20,
                "runs": len(times[name]),
                "wall s (median)": round(wall, 4),
                "CPU s (median)": round(cpu, 4),
                "GiB/s (wall)": round(size / (1 << 30) / wall, 2) if wall > 0 else None,
            }
        )
    return rows


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
