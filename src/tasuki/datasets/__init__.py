"""A versioned private dataset registry: builders as classes, immutable published versions,
loading by name and version like ``tfds.load`` (without TensorFlow).

Nothing heavy is imported here: the public names load their modules on first use.
"""

from __future__ import annotations

from typing import Any

from tasuki._registry import lazy_attribute
from tasuki.datasets._info import ColumnInfo, DatasetInfo, ShardInfo, SplitInfo

# Public names whose modules load on first use (they import the runner and pyarrow).
_LAZY = {
    "DatasetBuilder": "tasuki.datasets._builder",
    "build": "tasuki.datasets._build",
    "builder_names": "tasuki.datasets._discover",
    "find_builder": "tasuki.datasets._discover",
    "register_builder": "tasuki.datasets._discover",
}


def __getattr__(name: str) -> Any:
    return lazy_attribute(__name__, _LAZY, name)


__all__ = [
    "ColumnInfo",
    "DatasetBuilder",
    "DatasetInfo",
    "ShardInfo",
    "SplitInfo",
    "build",
    "builder_names",
    "find_builder",
    "register_builder",
]
