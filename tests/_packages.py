"""Helpers for tests that write a package into a folder and import it again after edits."""

from __future__ import annotations

import importlib
import linecache
import sys

from tasuki.core import code


def forget_package(name: str) -> None:
    """Drop package ``name`` and its modules from this process, and what tasuki parsed of
    them, so that the next import reads the files as they are now."""
    for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[module]
    code.forget()
    linecache.checkcache()
    importlib.invalidate_caches()
