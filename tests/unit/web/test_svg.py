"""The layered DAG drawing: layers, ordering, escaping, links, cycles, errors and speed."""

from __future__ import annotations

import random
import re
import xml.etree.ElementTree as ET

import pytest

from tasuki.web._svg import NODE_WIDTH, render_dag

SVG_NS = "{http://www.w3.org/2000/svg}"


def _svg(markup: str) -> ET.Element:
    """The <svg> element of a figure, parsed (it must be well-formed XML)."""
    match = re.search(r"<svg.*</svg>", markup, re.S)
    assert match is not None
    return ET.fromstring(match.group(0))


def _boxes(markup: str) -> dict[str, tuple[float, float]]:
    """Node key -> (x, y) of its rectangle."""
    out: dict[str, tuple[float, float]] = {}
    for element in _svg(markup).iter():
        key = element.get("data-key")
        if key is None:
            continue
        rect = next(element.iter(f"{SVG_NS}rect"))
        out[key] = (float(rect.get("x", "0")), float(rect.get("y", "0")))
    return out


def _node(
    key: str, href: str | None = None, kind: str = "task"
) -> tuple[str, str, str, str | None]:
    return (key, key, kind, href)


def test_columns_follow_the_longest_path() -> None:
    # a -> b -> c and a -> c: c sits two columns right of a, not one.
    markup = render_dag([_node("c"), _node("b"), _node("a")], [("a", "b"), ("b", "c"), ("a", "c")])
    boxes = _boxes(markup)
    assert boxes["a"][0] < boxes["b"][0] < boxes["c"][0]
    # The long edge a -> c bends once (three points); the short ones are straight.
    points = [p.get("points", "").split() for p in _svg(markup).iter(f"{SVG_NS}polyline")]
    assert sorted(len(p) for p in points) == [2, 2, 3]


def test_barycentre_ordering_uncrosses_edges() -> None:
    # Given in crossing order (a1 -> b2, a2 -> b1), the sweep puts each b beside its a.
    nodes = [_node("a1"), _node("a2"), _node("b1"), _node("b2")]
    boxes = _boxes(render_dag(nodes, [("a1", "b2"), ("a2", "b1")]))
    assert (boxes["a1"][1] < boxes["a2"][1]) == (boxes["b2"][1] < boxes["b1"][1])


def test_labels_keys_and_links_are_escaped() -> None:
    evil = '<script>alert("x")</script>'
    markup = render_dag(
        [(evil, evil, "ta<b>le", 'javascript:"><img src=x>'), _node("ok")], [(evil, "ok")]
    )
    assert "<script>" not in markup
    assert "<img" not in markup
    assert "&lt;script&gt;" in markup
    _svg(markup)  # still well-formed


def test_links_tooltips_and_text_fallback() -> None:
    label = "train_model(learning_rate=0.1, epochs=20)"
    markup = render_dag([("t1", label, "task", "/tasks/t1"), _node("t0")], [("t0", "t1")])
    svg = _svg(markup)
    links = [a for a in svg.iter(f"{SVG_NS}a")]
    assert [a.get("href") for a in links] == ["/tasks/t1"]
    titles = [t.text or "" for t in svg.iter(f"{SVG_NS}title")]
    assert any(label in t for t in titles)  # whole label in the tooltip
    texts = [t.text or "" for t in svg.iter(f"{SVG_NS}text")]
    assert label not in texts and any(t.endswith("\u2026") for t in texts)  # cut in the box
    fallback = markup[markup.index("<details") :]
    assert '<a href="/tasks/t1">' in fallback and "\u2190 t0" in fallback


def test_highlight_marks_the_node_and_its_edges() -> None:
    markup = render_dag(
        [_node("a"), _node("b"), _node("c")], [("a", "b"), ("b", "c")], highlight="c"
    )
    assert markup.count("dag-node-highlight") == 1
    assert 'dag-node-highlight" data-key="c"' in markup
    assert markup.count("dag-edge-highlight") == 1


def test_a_cycle_is_drawn_with_a_dashed_back_edge() -> None:
    markup = render_dag([_node("a"), _node("b"), _node("c")], [("a", "b"), ("b", "c"), ("c", "a")])
    assert len(_boxes(markup)) == 3
    assert markup.count("dag-edge-back") == 1


def test_empty_graph_and_duplicate_edges() -> None:
    assert "No nodes" in render_dag([], [])
    markup = render_dag([_node("a"), _node("b")], [("a", "b"), ("a", "b"), ("a", "a")])
    assert markup.count("<polyline") == 1


@pytest.mark.parametrize(
    ("nodes", "edges", "highlight", "message"),
    [
        ([_node("a"), _node("a")], [], None, "'a' appears twice"),
        ([_node("a")], [("a", "zz")], None, "'zz', which is not a node"),
        ([_node("a")], [], "nope", "highlight='nope' is not one of the nodes"),
    ],
)
def test_bad_input_names_the_problem(
    nodes: list[tuple[str, str, str, str | None]],
    edges: list[tuple[str, str]],
    highlight: str | None,
    message: str,
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        render_dag(nodes, edges, highlight=highlight)


def test_a_thousand_nodes_lay_out() -> None:
    rng = random.Random(7)
    nodes = [(f"n{i}", f"family_{i % 37}(i={i})", "task", f"/tasks/{i}") for i in range(1000)]
    edges = [
        (f"n{rng.randrange(max(0, i - 40), i)}", f"n{i}") for i in range(1, 1000) for _ in (0, 1)
    ]
    # How long it takes is measured by the web benchmark (`python benchmarks/run.py web`,
    # a lineage graph's first render), not bounded here: a test's wall-clock bound fails on a
    # loaded CI machine (one of 100 ms with a 5x margin did, 2026-12-06).
    markup = render_dag(nodes, edges)
    boxes = _boxes(markup)
    assert len(boxes) == 1000
    # Every edge points rightwards (an acyclic graph has no back edges).
    assert "dag-edge-back" not in markup
    assert all(boxes[s][0] + NODE_WIDTH <= boxes[d][0] for s, d in edges)
