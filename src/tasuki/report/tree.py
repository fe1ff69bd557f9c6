"""Dependency trees: text (like gokart's), JSON, Mermaid and Graphviz DOT.

Every renderer walks the graph with an explicit stack, so a chain 10,000 tasks deep renders
without recursion; the text form caps its indentation and prints a shared subtree once,
pointing back to it afterwards.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tasuki.core.execute import Completeness
from tasuki.report._values import value_json

if TYPE_CHECKING:
    from tasuki.core.graph import Graph
    from tasuki.core.results import BuildResult
    from tasuki.storage.base import Store

__all__ = ["NodeView", "TreeView", "tree_from_result", "tree_from_store"]

_MAX_INDENT = 30


@dataclass(frozen=True)
class NodeView:
    """What the tree shows of one task."""

    uid: str
    name: str
    status: str
    params: dict[str, str]
    outputs: list[str]
    duration_s: float | None
    deps: list[str]
    error: str | None = None
    param_values: dict[str, Any] = field(default_factory=dict)
    """``params`` as typed JSON (``value_json``): what ``to_json`` gives, with full task ids."""

    @property
    def short(self) -> str:
        """``TaskB[3d5b7a50a2]``."""
        return f"{self.name.rpartition(':')[2]}[{self.uid[:10]}]"


@dataclass(frozen=True)
class TreeView:
    """A rendered-ready view of a graph with statuses."""

    roots: list[str]
    nodes: dict[str, NodeView]

    def text(self, *, details: bool = True) -> str:
        """An indented tree; shared subtrees are printed once."""
        lines: list[str] = []
        printed: set[str] = set()
        # (uid, prefix drawn so far, last child of its parent, depth)
        stack: list[tuple[str, str, bool, int]] = [
            (r, "", i == 0, 0) for i, r in enumerate(reversed(self.roots))
        ]
        while stack:
            uid, prefix, last, depth = stack.pop()
            node = self.nodes[uid]
            deeper = f"(depth {depth}) " if depth > _MAX_INDENT else ""
            branch = "└─" if last else "├─"
            head = f"{prefix}{branch}-({node.status.upper()}) {deeper}{node.short}"
            if uid in printed:
                lines.append(head + " (shown above)")
                continue
            printed.add(uid)
            lines.append(head)
            child_prefix = prefix + ("   " if last else "|  ")
            if depth >= _MAX_INDENT:  # keep very deep chains readable: stop indenting
                child_prefix = prefix
            if details:
                body = child_prefix + ("|  " if node.deps else "   ")
                if node.params:
                    params = ", ".join(f"{k}={v}" for k, v in node.params.items())
                    lines.append(f"{body}params: {params}")
                for key in node.outputs:
                    lines.append(f"{body}output: {key}")
                if node.duration_s is not None:
                    lines.append(f"{body}time: {node.duration_s:.3f}s")
                if node.error:
                    lines.append(f"{body}error: {node.error}")
            for i, dep in enumerate(reversed(node.deps)):
                stack.append((dep, child_prefix, i == 0, depth + 1))
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """Flat nodes with their dependency ids (nesting would not survive deep chains)."""
        return {
            "roots": self.roots,
            "nodes": [
                {
                    "unique_id": n.uid,
                    "task": n.name,
                    "status": n.status,
                    "params": n.param_values,
                    "outputs": n.outputs,
                    "duration_s": n.duration_s,
                    "requires": n.deps,
                    "error": n.error,
                }
                for n in self.nodes.values()
            ],
        }

    def json(self) -> str:
        """``to_json`` as indented text."""
        return json.dumps(self.to_json(), indent=2)

    def mermaid(self) -> str:
        """A Mermaid flowchart: arrows from each requirement to what uses it."""
        lines = ["flowchart BT"]
        colours = {
            "ran": "fill:#c8e6c9",
            "complete": "fill:#c8e6c9",
            "cached": "fill:#e3f2fd",
            "failed": "fill:#ffcdd2",
            "upstream_failed": "fill:#ffe0b2",
            "pending": "fill:#fff9c4",
        }
        for node in self.nodes.values():
            label = f"{node.name.rpartition(':')[2]}<br/>{node.uid[:10]}<br/>{node.status}"
            lines.append(f'    n{node.uid[:12]}["{label}"]')
            if node.status in colours:
                lines.append(f"    style n{node.uid[:12]} {colours[node.status]}")
        for node in self.nodes.values():
            lines.extend(f"    n{dep[:12]} --> n{node.uid[:12]}" for dep in node.deps)
        return "\n".join(lines)

    def dot(self) -> str:
        """Graphviz DOT source."""
        colours = {
            "ran": "palegreen",
            "complete": "palegreen",
            "cached": "lightblue",
            "failed": "salmon",
            "upstream_failed": "orange",
            "pending": "lightyellow",
        }
        lines = ["digraph tasuki {", "  rankdir=BT;", '  node [shape=box, style="rounded,filled"];']
        for node in self.nodes.values():
            label = f"{node.name.rpartition(':')[2]}\\n{node.uid[:10]}\\n{node.status}"
            colour = colours.get(node.status, "white")
            lines.append(f'  "{node.uid[:12]}" [label="{label}", fillcolor={colour}];')
        for node in self.nodes.values():
            lines.extend(f'  "{dep[:12]}" -> "{node.uid[:12]}";' for dep in node.deps)
        lines.append("}")
        return "\n".join(lines)

    def render(self, fmt: str) -> str:
        """Render as ``text``, ``json``, ``mermaid`` or ``dot``."""
        renderers = {"text": self.text, "json": self.json, "mermaid": self.mermaid, "dot": self.dot}
        if fmt not in renderers:
            raise ValueError(f"unknown tree format {fmt!r}; choose one of {', '.join(renderers)}")
        return renderers[fmt]()


def _params_of(graph: Graph, uid: str) -> dict[str, str]:
    from tasuki.core.task import Task

    out = {}
    for name, value in graph.nodes[uid].task.param_values.items():
        out[name] = (
            f"{type(value).__name__}[{value.unique_id[:10]}]"
            if isinstance(value, Task)
            else repr(value)
        )
    return out


def _param_json(graph: Graph, uid: str) -> dict[str, Any]:
    return {k: value_json(v) for k, v in graph.nodes[uid].task.param_values.items()}


def tree_from_result(result: BuildResult) -> TreeView:
    """The tree of a finished build, with each task's status and time in that build."""
    graph = result.graph
    nodes = {}
    for uid in graph.order:
        r = result.results[uid]
        nodes[uid] = NodeView(
            uid=uid,
            name=r.name,
            status=r.status,
            params=_params_of(graph, uid),
            param_values=_param_json(graph, uid),
            outputs=graph.nodes[uid].output_keys(),
            duration_s=r.duration_s if r.status == "ran" else None,
            deps=list(graph.nodes[uid].deps),
            error=f"{r.error.type}: {r.error.message}" if r.error else None,
        )
    return TreeView(list(graph.roots), nodes)


def tree_from_store(graph: Graph, store: Store, *, on_code_change: str = "ignore") -> TreeView:
    """The tree of a graph as the workspace holds it: complete or pending, with recorded times."""
    from tasuki.core.records import RunRecord

    check = Completeness(store, on_code_change)
    done = check.check_many([graph.nodes[u] for u in graph.order])
    # Complete on its own, yet made from an upstream output that changed since: pending,
    # as a build would run it.
    stale = check.stale_upstream(graph, [u for u, ok in zip(graph.order, done, strict=True) if ok])
    done = [ok and uid not in stale for uid, ok in zip(graph.order, done, strict=True)]
    nodes = {}
    for uid, complete in zip(graph.order, done, strict=True):
        duration = None
        if complete:
            try:
                duration = RunRecord.read(store, uid).duration_s
            except (FileNotFoundError, ValueError):
                duration = None
        node = graph.nodes[uid]
        nodes[uid] = NodeView(
            uid=uid,
            name=type(node.task).task_name(),
            status="complete" if complete else "pending",
            params=_params_of(graph, uid),
            param_values=_param_json(graph, uid),
            outputs=node.output_keys(),
            duration_s=duration,
            deps=list(node.deps),
        )
    return TreeView(list(graph.roots), nodes)
