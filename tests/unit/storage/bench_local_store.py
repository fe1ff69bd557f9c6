"""Measure LocalStore's hot path beside plain-Python floors (not collected by pytest).

Run: ``.venv/bin/python -m tests.unit.storage.bench_local_store``. Prints medians of 9 rounds
in microseconds per call; the rows take turns each round, because these machines are shared
and noisy: compare rows of one run with each other, not with another run.
"""

from __future__ import annotations

import itertools
import os
import statistics
import tempfile
import timeit
from collections.abc import Callable

from tasuki.storage import LocalStore

ROUNDS = 9
WRITES = 2000
CHECKS = 50_000
DATA = b"x" * 100


def _interleaved_medians(
    rows: list[tuple[str, Callable[[], Callable[[], object]]]], number: int
) -> dict[str, float]:
    """Median µs per call of each row, the rows taking turns round by round so that load
    and folder growth hit them alike."""
    samples: dict[str, list[float]] = {name: [] for name, _ in rows}
    for _ in range(ROUNDS):
        for name, make in rows:
            samples[name].append(timeit.timeit(make(), number=number) / number * 1e6)
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    root = tempfile.mkdtemp(prefix="tasuki-bench-")
    store = LocalStore(root)
    counter = itertools.count()
    os.makedirs(f"{root}/floor", exist_ok=True)

    def store_write() -> Callable[[], object]:
        return lambda: store.write_bytes(f"new/k{next(counter)}.bin", DATA)

    def floor_write() -> Callable[[], object]:
        def write() -> None:
            path = f"{root}/floor/k{next(counter)}.bin"
            with open(path + ".tmp", "wb") as f:
                f.write(DATA)
            os.replace(path + ".tmp", path)

        return write

    def floor_plain() -> Callable[[], object]:
        def write() -> None:
            with open(f"{root}/floor/p{next(counter)}.bin", "wb") as f:
                f.write(DATA)

        return write

    def store_open_atomic() -> Callable[[], object]:
        def write() -> None:
            with store.open_atomic(f"oa/k{next(counter)}.bin") as f:
                f.write(DATA)

        return write

    rows = [
        ("LocalStore.write_bytes, 100 B, new key", store_write),
        ("floor: open/write/close tmp + os.replace", floor_write),
        ("floor: open/write/close, no rename", floor_plain),
        ("LocalStore.open_atomic, 100 B, new key", store_open_atomic),
    ]
    for name, value in _interleaved_medians(rows, WRITES).items():
        print(f"{name:48s} {value:8.1f} us")

    store.write_bytes("mod/hit.bin", DATA)
    hit = f"{root}/mod/hit.bin"
    checks = [
        ("LocalStore.exists, present", lambda: lambda: store.exists("mod/hit.bin")),
        ("LocalStore.exists, missing", lambda: lambda: store.exists("mod/miss.bin")),
        ("floor: os.path.exists, present", lambda: lambda: os.path.exists(hit)),
    ]
    for name, value in _interleaved_medians(checks, CHECKS).items():
        print(f"{name:48s} {value:8.2f} us")


if __name__ == "__main__":
    main()
