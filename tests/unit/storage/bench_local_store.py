"""Measure LocalStore's hot path beside plain-Python floors (not collected by pytest).

Run: ``.venv/bin/python -m tests.unit.storage.bench_local_store``. Prints medians of 9 rounds
in microseconds per call. Each row is measured in the same run as its floor, because these
machines are shared and noisy: compare rows to each other, not to another run.
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


def _median_us(make: Callable[[], Callable[[], object]], number: int) -> float:
    return statistics.median(
        timeit.timeit(make(), number=number) / number * 1e6 for _ in range(ROUNDS)
    )


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
    for name, make in rows:
        print(f"{name:48s} {_median_us(make, WRITES):8.1f} us")

    store.write_bytes("mod/hit.bin", DATA)
    hit = f"{root}/mod/hit.bin"
    checks = [
        ("LocalStore.exists, present", lambda: lambda: store.exists("mod/hit.bin")),
        ("LocalStore.exists, missing", lambda: lambda: store.exists("mod/miss.bin")),
        ("floor: os.path.exists, present", lambda: lambda: os.path.exists(hit)),
    ]
    for name, make in checks:
        print(f"{name:48s} {_median_us(make, CHECKS):8.2f} us")


if __name__ == "__main__":
    main()
