"""A versioned private dataset registry: builders as classes, immutable published versions,
loading by name and version like ``tfds.load`` (without TensorFlow).

Nothing heavy is imported here: the public names load their modules on first use.
"""

from __future__ import annotations

from tasuki.datasets._info import ColumnInfo, DatasetInfo, ShardInfo, SplitInfo

__all__ = ["ColumnInfo", "DatasetInfo", "ShardInfo", "SplitInfo"]
