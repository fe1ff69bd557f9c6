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
    "DatasetInput": "tasuki.datasets._input",
    "ResolvedVersion": "tasuki.datasets._versions",
    "as_numpy_batches": "tasuki.datasets._numpy",
    "even_splits": "tasuki.datasets._splits",
    "info": "tasuki.datasets._versions",
    "iter_batches": "tasuki.datasets._load",
    "list_datasets": "tasuki.datasets._versions",
    "list_versions": "tasuki.datasets._versions",
    "load": "tasuki.datasets._load",
    "resolve": "tasuki.datasets._versions",
}


def __getattr__(name: str) -> Any:
    return lazy_attribute(__name__, _LAZY, name)


__all__ = [
    "ColumnInfo",
    "DatasetBuilder",
    "DatasetInfo",
    "DatasetInput",
    "ResolvedVersion",
    "ShardInfo",
    "SplitInfo",
    "as_numpy_batches",
    "build",
    "builder_names",
    "even_splits",
    "find_builder",
    "info",
    "iter_batches",
    "list_datasets",
    "list_versions",
    "load",
    "register_builder",
    "resolve",
]
