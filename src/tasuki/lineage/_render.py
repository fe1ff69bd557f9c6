"""A lineage as text (an indented tree each way), Mermaid and JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tasuki.lineage._graph import Lineage, Node

__all__ = ["to_json", "to_mermaid", "to_text"]

_KIND = {"task": "task", "dataset": "dataset", "model": "model", "query": "query"}


def _describe(node: Node) -> str:
    d = node.detail
    bits: list[str] = []
    if node.kind == "task":
        if d.get("status"):
            bits.append(str(d["status"]))
        if d.get("finished_at"):
            bits.append(str(d["finished_at"])[:19])
    elif node.kind == "dataset" and d.get("rows"):
        bits.append(", ".join(f"{k} {v:,}" for k, v in sorted(d["rows"].items())))
    elif node.kind == "model" and d.get("metrics"):
        bits.append(", ".join(f"{k} {v:g}" for k, v in sorted(d["metrics"].items())))
    elif node.kind == "query":
        if d.get("warehouse"):
            bits.append(f"warehouse {d['warehouse']}")
        if d.get("snapshot_at"):
            bits.append(f"snapshot {d['snapshot_at']}")
    text = f"{_KIND.get(node.kind, node.kind)} {node.label}"
    return f"{text}  ({'; '.join(bits)})" if bits else text


def to_text(lin: Lineage) -> str:
    """The root, then what made it (``<-``) and what used it (``->``), as indented trees.
    A node met again is named with ``(above)`` instead of repeating its branch."""
    root = lin.nodes[lin.root]
    lines = [_describe(root)]
    for up, title, arrow in ((True, "made from:", "<-"), (False, "used by:", "->")):
        edges = lin.upstream_of(lin.root) if up else lin.downstream_of(lin.root)
        if edges:
            lines.append(title)
            _tree(lin, lin.root, 1, up, arrow, {lin.root}, lines)
    return "\n".join(lines)


def _tree(
    lin: Lineage, key: str, depth: int, up: bool, arrow: str, seen: set[str], lines: list[str]
) -> None:
    edges = lin.upstream_of(key) if up else lin.downstream_of(key)
    for edge in sorted(edges, key=lambda e: (e.relation, e.source, e.target)):
        other = edge.source if up else edge.target
        again = other in seen
        lines.append(
            f"{'  ' * depth}{arrow} {edge.relation}: {_describe(lin.nodes[other])}"
            + ("  (above)" if again else "")
        )
        if not again:
            seen.add(other)
            _tree(lin, other, depth + 1, up, arrow, seen, lines)


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def to_mermaid(lin: Lineage) -> str:
    """A Mermaid flowchart (``graph LR``), data flowing left to right; paste it into a pull
    request or a Markdown page."""
    ids = {key: f"n{i}" for i, key in enumerate(lin.nodes)}
    shapes = {"task": ('["', '"]'), "dataset": ('[("', '")]'), "model": ('{{"', '"}}')}
    lines = ["graph LR"]
    for key, node in lin.nodes.items():
        left, right = shapes.get(node.kind, ('(["', '"])'))
        lines.append(f"  {ids[key]}{left}{_mermaid_text(node.kind + ' ' + node.label)}{right}")
    for edge in lin.edges:
        lines.append(f"  {ids[edge.source]} -->|{_mermaid_text(edge.relation)}| {ids[edge.target]}")
    lines.append(f"  style {ids[lin.root]} stroke-width:3px")
    return "\n".join(lines)


def to_json(lin: Lineage) -> dict[str, Any]:
    """Nodes and edges as plain data (full ids and hashes; types kept)."""
    return {
        "root": lin.root,
        "nodes": [
            {"key": n.key, "kind": n.kind, "label": n.label, "detail": n.detail}
            for n in lin.nodes.values()
        ],
        "edges": [
            {"source": e.source, "target": e.target, "relation": e.relation} for e in lin.edges
        ],
    }
