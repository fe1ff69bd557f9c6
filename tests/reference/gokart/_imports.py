"""``gokart`` and ``luigi`` for the reference examples: the real ones where gokart is installed
(the peer environment ``benchmarks/.venv-gokart``), ``tasuki.compat``'s otherwise.

``GOKART_REFERENCE_SIDE=gokart|compat`` forces a side.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from typing import Any

SIDE = os.environ.get("GOKART_REFERENCE_SIDE") or (
    "gokart" if importlib.util.find_spec("gokart") is not None else "compat"
)

gokart: Any
luigi: Any
if SIDE == "gokart":
    gokart = importlib.import_module("gokart")
    luigi = importlib.import_module("luigi")
else:
    gokart = importlib.import_module("tasuki.compat.gokart")
    luigi = importlib.import_module("tasuki.compat.luigi")


def from_gokart(module: str, name: str) -> Any:
    """``from gokart.<module> import <name>`` on this side (``module`` may be ``""``)."""
    base = gokart.__name__
    return getattr(importlib.import_module(f"{base}.{module}" if module else base), name)


__all__ = ["SIDE", "from_gokart", "gokart", "luigi"]
