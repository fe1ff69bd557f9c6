"""Run gokart and luigi code on tasuki by changing one import.

>>> import tasuki.compat.gokart as gokart  # doctest: +SKIP
>>> import tasuki.compat.luigi as luigi  # doctest: +SKIP

Every ``TaskOnKart`` subclass is a real :class:`tasuki.Task` (same caching, records, ``why``,
executors); ``tasuki upgrade-gokart`` then rewrites the classes as native typed tasks with the
same unique ids, and ``tasuki adopt-gokart`` reuses outputs gokart already computed. See
``docs/gokart.md``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["AdoptReport", "adopt_gokart", "gokart_params", "gokart_unique_id"]

_LAZY = {
    "AdoptReport": "tasuki.compat._adopt_report",
    "adopt_gokart": "tasuki.compat._adopt",
    "gokart_params": "tasuki.compat._gokart_id",
    "gokart_unique_id": "tasuki.compat._gokart_id",
}


def __getattr__(name: str) -> Any:
    # Imported on first use: `import tasuki.compat.gokart` loads this package, and gokart
    # code should not pay for the adoption machinery.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tasuki.compat' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
