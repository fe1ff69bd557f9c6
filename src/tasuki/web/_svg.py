"""A layered drawing of a directed acyclic graph as an inline SVG string.

Server-rendered pages (a run's task graph, a table's lineage) need a picture without a
JavaScript layout library. The layout is the classic layered one, kept simple so that a
thousand nodes lay out in a few milliseconds:

- layers by longest path from the sources (a node sits one column right of its furthest
  upstream node), read left to right because labels are wide;
- the order inside each column by a few barycentre sweeps, which removes most crossings;
- edges straight between neighbouring columns and with one bend otherwise (no dummy
  nodes, so the cost stays linear in edges per sweep).

A cycle does not stop the drawing: a node is forced into the next column when nothing else
can go, and the edges that then point backwards are drawn dashed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from html import escape

__all__ = ["NODE_HEIGHT", "NODE_WIDTH", "render_dag", "render_timeline"]

NODE_WIDTH = 184
NODE_HEIGHT = 30
_COLUMN_GAP = 64
_ROW_GAP = 12
_MARGIN = 8
_LABEL_CHARS = 24
_SWEEPS = 4

# Fill colours by kind; the page's CSS may override them through the dag-kind-* classes.
_FILLS = {
    "task": "#e8f0fe",
    "family": "#e8f0fe",
    "table": "#e6f4ea",
    "view": "#e6f4ea",
    "query": "#fef7e0",
    "dataset": "#f3e8fd",
    "model": "#fce8e6",
    "failed": "#f6aea9",
    "cached": "#ffffff",
}
_DEFAULT_FILL = "#f1f3f4"

Node = tuple[str, str, str, str | None]
Edge = tuple[str, str]


def render_dag(
    nodes: Sequence[Node],
    edges: Sequence[Edge],
    *,
    highlight: str | None = None,
) -> str:
    """Draw a graph as an HTML ``<figure>`` holding an inline SVG and a text fallback.

    Args:
        nodes: ``(key, label, kind, href)`` per node; ``key`` identifies the node in
            ``edges``, ``label`` is shown (cut to fit, whole in the tooltip), ``kind``
            picks the colour and a ``dag-kind-<kind>`` class, ``href`` (or None) makes
            the node a link.
        edges: ``(source_key, target_key)``: the source is upstream of the target.
        highlight: the key of a node to emphasise (the page's own subject), or None.

    Returns:
        HTML safe to insert unescaped: every label, key and link is escaped here.

    Raises:
        ValueError: a key appears twice in ``nodes``, an edge names a key that is not a
            node, or ``highlight`` is not a node.
    """
    index: dict[str, int] = {}
    for i, (key, _label, _kind, _href) in enumerate(nodes):
        if key in index:
            raise ValueError(
                f"render_dag: node key {key!r} appears twice; each node needs a unique key "
                "(merge the duplicates before drawing)"
            )
        index[key] = i
    if highlight is not None and highlight not in index:
        raise ValueError(
            f"render_dag: highlight={highlight!r} is not one of the nodes; pass a node key or None"
        )
    pairs: list[tuple[int, int]] = []
    seen: set[tuple[int, int]] = set()
    for src, dst in edges:
        for end in (src, dst):
            if end not in index:
                raise ValueError(
                    f"render_dag: edge {src!r} -> {dst!r} names {end!r}, which is not a node; "
                    "add the node or drop the edge"
                )
        pair = (index[src], index[dst])
        if pair[0] != pair[1] and pair not in seen:
            seen.add(pair)
            pairs.append(pair)
    if not nodes:
        return '<figure class="dag dag-empty"><p>No nodes to draw.</p></figure>'
    layer_of = _layers(len(nodes), pairs)
    columns = _order(len(nodes), pairs, layer_of)
    return _draw(nodes, pairs, columns, layer_of, highlight)


def _layers(count: int, pairs: list[tuple[int, int]]) -> list[int]:
    """Longest-path layer per node (Kahn's order; a stuck cycle releases its first node)."""
    succ: list[list[int]] = [[] for _ in range(count)]
    indegree = [0] * count
    for src, dst in pairs:
        succ[src].append(dst)
        indegree[dst] += 1
    layer = [0] * count
    done = [False] * count
    ready = [i for i in range(count) if indegree[i] == 0]
    next_forced = 0
    finished = 0
    while finished < count:
        if not ready:
            # A cycle: release the first node not yet placed; its remaining in-edges
            # become back edges.
            while done[next_forced]:
                next_forced += 1
            ready.append(next_forced)
            indegree[next_forced] = 0
        node = ready.pop()
        if done[node]:
            continue
        done[node] = True
        finished += 1
        for dst in succ[node]:
            if done[dst]:
                continue
            if layer[node] + 1 > layer[dst]:
                layer[dst] = layer[node] + 1
            indegree[dst] -= 1
            if indegree[dst] == 0:
                ready.append(dst)
    return layer


def _order(count: int, pairs: list[tuple[int, int]], layer_of: list[int]) -> list[list[int]]:
    """Nodes per column, ordered by barycentre sweeps (down, then up, repeated)."""
    depth = max(layer_of) + 1
    columns: list[list[int]] = [[] for _ in range(depth)]
    for node in range(count):
        columns[layer_of[node]].append(node)
    preds: list[list[int]] = [[] for _ in range(count)]
    succs: list[list[int]] = [[] for _ in range(count)]
    for src, dst in pairs:
        preds[dst].append(src)
        succs[src].append(dst)
    # Positions are centred per column so that columns of different heights compare.
    position = [0.0] * count

    def place(column: list[int]) -> None:
        middle = (len(column) - 1) / 2
        for rank, node in enumerate(column):
            position[node] = rank - middle

    for column in columns:
        place(column)
    for sweep in range(_SWEEPS):
        downward = sweep % 2 == 0
        span = range(1, depth) if downward else range(depth - 2, -1, -1)
        neighbours = preds if downward else succs
        for at in span:
            column = columns[at]
            keys: dict[int, float] = {}
            for node in column:
                around = neighbours[node]
                if around:
                    keys[node] = sum(position[n] for n in around) / len(around)
                else:
                    keys[node] = position[node]
            column.sort(key=keys.__getitem__)
            place(column)
    return columns


def _draw(
    nodes: Sequence[Node],
    pairs: list[tuple[int, int]],
    columns: list[list[int]],
    layer_of: list[int],
    highlight: str | None,
) -> str:
    """The figure's markup: SVG edges under nodes, then a text list of the same graph."""
    tallest = max(len(column) for column in columns)
    width = _MARGIN * 2 + len(columns) * NODE_WIDTH + (len(columns) - 1) * _COLUMN_GAP
    height = _MARGIN * 2 + tallest * NODE_HEIGHT + (tallest - 1) * _ROW_GAP
    x = [0] * len(nodes)
    y = [0] * len(nodes)
    for at, column in enumerate(columns):
        # Shorter columns sit centred against the tallest one.
        top = _MARGIN + (tallest - len(column)) * (NODE_HEIGHT + _ROW_GAP) // 2
        for rank, node in enumerate(column):
            x[node] = _MARGIN + at * (NODE_WIDTH + _COLUMN_GAP)
            y[node] = top + rank * (NODE_HEIGHT + _ROW_GAP)
    keys = "\x00".join(node[0] for node in nodes)
    marker = "dag-arrow-" + hashlib.sha1(keys.encode(), usedforsecurity=False).hexdigest()[:10]
    out: list[str] = [
        '<figure class="dag">',
        '<div class="dag-scroll graph" style="overflow:auto;max-width:100%">',
        f'<svg xmlns="http://www.w3.org/2000/svg" class="dag-svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" '
        f'font-size="12" aria-label="Graph of {len(nodes)} nodes and {len(pairs)} edges">',
        f'<defs><marker id="{marker}" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,0L10,5L0,10z" fill="#5f6368"/></marker></defs>',
        '<g class="dag-edges" fill="none" stroke="#80868b" stroke-width="1.2">',
    ]
    half = NODE_HEIGHT // 2
    hot = -1 if highlight is None else next(i for i, n in enumerate(nodes) if n[0] == highlight)
    for src, dst in pairs:
        sx, sy = x[src] + NODE_WIDTH, y[src] + half
        dx, dy = x[dst], y[dst] + half
        span = layer_of[dst] - layer_of[src]
        classes = "dag-edge"
        if hot in (src, dst):
            classes += " dag-edge-highlight"
        extra = f' marker-end="url(#{marker})"'
        if span == 1:
            points = f"{sx},{sy} {dx},{dy}"
        elif span > 1:
            # One bend: run level with the target through the last gap before it.
            points = f"{sx},{sy} {dx - _COLUMN_GAP // 2},{dy} {dx},{dy}"
        else:
            # A back edge of a cycle: leave from the left, arrive at the right, dashed.
            classes += " dag-edge-back"
            extra += ' stroke-dasharray="4 3"'
            sx, dx = x[src], x[dst] + NODE_WIDTH
            points = f"{sx},{sy} {sx - _COLUMN_GAP // 2},{dy} {dx},{dy}"
        out.append(f'<polyline class="{classes}" points="{points}"{extra}/>')
    out.append("</g>")
    out.append('<g class="dag-nodes">')
    for i, (key, label, kind, href) in enumerate(nodes):
        out.append(_node_markup(key, label, kind, href, x[i], y[i], key == highlight))
    out.append("</g></svg></div>")
    out.append(_text_fallback(nodes, pairs, columns))
    out.append("</figure>")
    return "".join(out)


def _node_markup(
    key: str, label: str, kind: str, href: str | None, x: int, y: int, hot: bool
) -> str:
    """One node: a rounded box, a cut label, a tooltip, inside a link when there is one."""
    shown = label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "\u2026"
    kind_class = "".join(c if c.isalnum() or c in "-_" else "-" for c in kind)
    classes = f"dag-node dag-kind-{kind_class}" + (" dag-node-highlight" if hot else "")
    fill = _FILLS.get(kind, _DEFAULT_FILL)
    stroke = ' stroke="#d93025" stroke-width="2.5"' if hot else ' stroke="#5f6368"'
    tooltip = escape(label if label == key else f"{label} ({kind})\n{key}")
    body = (
        f"<title>{tooltip}</title>"
        f'<rect x="{x}" y="{y}" width="{NODE_WIDTH}" height="{NODE_HEIGHT}" rx="5" '
        f'fill="{fill}"{stroke}/>'
        f'<text x="{x + 8}" y="{y + NODE_HEIGHT // 2 + 4}" fill="#202124">{escape(shown)}</text>'
    )
    if href is None:
        return f'<g class="{classes}" data-key="{escape(key)}">{body}</g>'
    return f'<a href="{escape(href)}" class="{classes}" data-key="{escape(key)}"><g>{body}</g></a>'


def _text_fallback(
    nodes: Sequence[Node], pairs: list[tuple[int, int]], columns: list[list[int]]
) -> str:
    """The same graph as a list (column order), for screen readers and text browsers."""
    preds: list[list[int]] = [[] for _ in nodes]
    for src, dst in pairs:
        preds[dst].append(src)
    items: list[str] = []
    for column in columns:
        for node in column:
            _key, label, kind, href = nodes[node]
            name = escape(label)
            if href is not None:
                name = f'<a href="{escape(href)}">{name}</a>'
            upstream = ", ".join(escape(nodes[p][1]) for p in preds[node])
            after = f" \u2190 {upstream}" if upstream else ""
            items.append(f"<li>{name} <small>({escape(kind)})</small>{after}</li>")
    return (
        '<details class="dag-text"><summary>The graph as text</summary>'
        f"<ol>{''.join(items)}</ol></details>"
    )


_STATUS_FILLS = {"done": "#81c995", "failed": "#f28b82", "cached": "#dadce0"}
_BAR_HEIGHT = 18
_LABEL_WIDTH = 200
_PLOT_WIDTH = 720

Bar = tuple[str, float, float, str, str | None]


def render_timeline(bars: Sequence[Bar]) -> str:
    """Draw runs as horizontal bars on one time axis, as an HTML ``<figure>`` with an SVG.

    Args:
        bars: ``(label, start_s, end_s, status, href)`` per row, times in seconds on any
            common origin (the earliest start is drawn at the left edge). ``status`` picks
            the colour (``done``, ``failed``...), ``href`` (or None) makes the row a link.

    Returns:
        HTML safe to insert unescaped; a short paragraph when there are no bars.
    """
    if not bars:
        return '<figure class="timeline timeline-empty"><p>No runs to draw.</p></figure>'
    origin = min(b[1] for b in bars)
    span = max(max(b[2] for b in bars) - origin, 1e-6)
    scale = _PLOT_WIDTH / span
    width = _LABEL_WIDTH + _PLOT_WIDTH + _MARGIN * 2 + 32  # room for the last tick's label
    height = _MARGIN * 2 + len(bars) * (_BAR_HEIGHT + 4) + 16
    out = [
        '<figure class="timeline">',
        '<div class="dag-scroll graph" style="overflow:auto;max-width:100%">',
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline-svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" '
        f'font-size="11" aria-label="Timeline of {len(bars)} rows over {span:.3f} s">',
    ]
    axis_y = height - _MARGIN - 4
    left = _MARGIN + _LABEL_WIDTH
    for tick in range(5):
        at = left + tick * _PLOT_WIDTH / 4
        out.append(
            f'<line x1="{at:.1f}" y1="{_MARGIN}" x2="{at:.1f}" y2="{axis_y - 10}" '
            'stroke="#e8eaed"/>'
            f'<text x="{at:.1f}" y="{axis_y}" text-anchor="middle" fill="#5f6368">'
            f"{_seconds(span * tick / 4)}</text>"
        )
    for row, (label, start, end, status, href) in enumerate(bars):
        y = _MARGIN + row * (_BAR_HEIGHT + 4)
        x = left + (start - origin) * scale
        w = max((end - start) * scale, 1.5)  # an instant task still shows
        shown = label if len(label) <= 30 else label[:29] + "\u2026"
        fill = _STATUS_FILLS.get(status, _DEFAULT_FILL)
        tip = escape(f"{label}: {status}, {_seconds(end - start)} from +{_seconds(start - origin)}")
        body = (
            f"<title>{tip}</title>"
            f'<text x="{_MARGIN}" y="{y + 13}" fill="#202124">{escape(shown)}</text>'
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{_BAR_HEIGHT}" rx="2" '
            f'fill="{fill}" class="timeline-bar timeline-{escape(status)}"/>'
        )
        if href is None:
            out.append(f"<g>{body}</g>")
        else:
            out.append(f'<a href="{escape(href)}"><g>{body}</g></a>')
    out.append("</svg></div></figure>")
    return "".join(out)


def _seconds(value: float) -> str:
    """A duration in a short readable form (``850 ms``, ``12.3 s``, ``4 min 05 s``)."""
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.1f} s"
    minutes, seconds = divmod(int(value), 60)
    return f"{minutes} min {seconds:02d} s"
