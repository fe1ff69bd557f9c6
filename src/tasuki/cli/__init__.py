"""The ``tasuki`` command: a thin layer that parses words, builds Settings, calls the API.

Exit codes: 0 success, 1 a task failed, 2 a usage or configuration error.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tasuki.cli import (
    _adopt_gokart,  # noqa: F401  (registers `tasuki adopt-gokart`)
    _catalog,  # noqa: F401  (registers `tasuki catalog ...`)
    _catalog_lineage,  # noqa: F401  (registers `tasuki catalog lineage ...`)
    _catalog_sync,  # noqa: F401  (registers `tasuki catalog sync|search|show|describe`)
    _datasets,  # noqa: F401  (registers `tasuki datasets ...`)
    _lineage,  # noqa: F401  (registers `tasuki lineage`)
    _new,  # noqa: F401  (registers `tasuki new|update|doctor`)
    _run_one,  # noqa: F401  (registers `tasuki run-one`)
    _upgrade_gokart,  # noqa: F401  (registers `tasuki upgrade-gokart`)
    _web,  # noqa: F401  (registers `tasuki web`)
    _zoo,  # noqa: F401  (registers `tasuki zoo ...`)
)
from tasuki.cli._app import app

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``tasuki`` console script."""
    if str(Path.cwd()) not in sys.path:
        # `tasuki run mypkg.tasks:Task` from a project folder should import its modules,
        # as `python -m` would.
        sys.path.insert(0, str(Path.cwd()))
    app(args=argv, prog_name="tasuki")
