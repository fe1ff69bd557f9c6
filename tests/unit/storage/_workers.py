"""Functions run in child processes (multiprocessing) by the storage tests."""

from __future__ import annotations

import os
import time
from typing import Any

from tasuki.storage import open_store


def hold_lease(
    url: str,
    key: str,
    redis_url: str | None,
    ttl: float,
    ready: Any,
    release: Any,
    lease_kind: str = "auto",
) -> None:
    """Acquire the lease, report our pid, hold it until ``release`` is set (or we are killed)."""
    store: Any = open_store(url, redis_url=redis_url, lease=lease_kind)
    store.lease_ttl = ttl
    lease = store.lease(key)
    lease.acquire(timeout=60)
    ready.put(os.getpid())
    release.wait(120)
    lease.release()


def count_under_lease(
    url: str, key: str, redis_url: str | None, counter: str, times: int, lease_kind: str = "auto"
) -> None:
    """Increment a counter object ``times`` times, each read-modify-write under the lease."""
    store = open_store(url, redis_url=redis_url, lease=lease_kind)
    for _ in range(times):
        lease = store.lease(key)
        lease.acquire(timeout=120)
        try:
            value = int(store.read_bytes(counter)) if store.exists(counter) else 0
            time.sleep(0.001)  # widen the window a missing lock would let others into
            store.write_bytes(counter, str(value + 1).encode())
        finally:
            lease.release()


def write_and_hang(url: str, key: str, size: int, started: Any) -> None:
    """Write ``size`` bytes through open_atomic, then hang inside the block until killed."""
    store = open_store(url)
    chunk = b"z" * (1 << 20)
    with store.open_atomic(key) as f:
        written = 0
        while written < size:
            written += f.write(chunk)
        f.flush()
        started.set()
        time.sleep(120)  # the parent kills us here, mid-write
        f.write(b"never")


def write_with(store: Any, key: str, data: bytes) -> None:
    """Write through a store object inherited from the parent (fork)."""
    store.write_bytes(key, data)
    if store.read_bytes(key) != data:
        raise SystemExit(3)
