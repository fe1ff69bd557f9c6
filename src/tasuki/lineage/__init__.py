"""Lineage end to end: from a model version to the task that trained it, the dataset
versions it was trained on and the tasks and warehouse queries that built them; from a
dataset version to every task and model that used it.

    from tasuki.lineage import lineage, to_text, to_mermaid
    print(to_text(lineage("model:bert-ja@champion", store=store)))

``tasuki lineage REF`` prints the same (``--format mermaid`` / ``json``). It reads what
tasuki already keeps: run records, ``dataset_info.json`` files and the zoo's
``version.json`` files; nothing is written.
"""

from __future__ import annotations

from tasuki.lineage._graph import Edge, Lineage, Node, lineage
from tasuki.lineage._render import to_json, to_mermaid, to_text

__all__ = ["Edge", "Lineage", "Node", "lineage", "to_json", "to_mermaid", "to_text"]
