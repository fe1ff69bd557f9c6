"""The Arrow memory pool that result reads allocate from.

pyarrow's default pool on Linux is mimalloc, which asks the kernel for transparent huge pages.
A table read back from the parts is hundreds of megabytes of memory the process has not
touched yet, and on a virtual machine with ``transparent_hugepage=madvise`` (the default of
Debian's and Ubuntu's cloud images) faulting in and zeroing those huge pages cost more than
decoding the Parquet itself: 5 M rows x 10 columns read in 0.94 s from mimalloc, 0.35 s from
jemalloc and 0.41 s from the system allocator, with 180 MB less peak RSS (benchmarks in
docs/benchmarks.md). Reads therefore allocate from jemalloc where pyarrow was built with it,
else from the system allocator. A user who picked a pool with ``ARROW_DEFAULT_MEMORY_POOL``
keeps it.
"""

from __future__ import annotations

import functools
import os

import pyarrow as pa

__all__ = ["read_pool"]


@functools.cache
def read_pool() -> pa.MemoryPool:
    """The pool result reads allocate from (see the module docstring)."""
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return pa.default_memory_pool()
    try:
        return pa.jemalloc_memory_pool()
    except NotImplementedError:  # pyarrow built without jemalloc (Windows, some macOS wheels)
        return pa.system_memory_pool()
