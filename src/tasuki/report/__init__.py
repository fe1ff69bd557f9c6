"""Reports on graphs and builds: dependency trees in several forms, and `why`."""

from __future__ import annotations

from tasuki.report.tree import NodeView, TreeView, tree_from_result, tree_from_store
from tasuki.report.why import explain

__all__ = ["NodeView", "TreeView", "explain", "tree_from_result", "tree_from_store"]
