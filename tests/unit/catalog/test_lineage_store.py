"""The catalog's lineage store: bulk upserts, exact walks through a large graph, bad keys.

Every test runs on the embedded SQLite catalog and on PostgreSQL (marked ``services``).
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tasuki.catalog import _schema as t
from tasuki.catalog._lineage import (
    Batch,
    around,
    downstream,
    node,
    resolve_key,
    split_table_key,
    table_key,
    upstream,
    write_batch,
)
from tasuki.catalog._store import Catalog
from tasuki.errors import CatalogError, CatalogNotFoundError


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def catalog(request: pytest.FixtureRequest, tmp_path) -> Iterator[Catalog]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'catalog.db'}"
    else:
        url = request.getfixturevalue("postgres_url").replace(
            "postgresql://", "postgresql+psycopg://", 1
        )
    with Catalog.open(url) as cat:
        yield cat


def _write(cat: Catalog, batch: Batch) -> int:
    with cat.engine.begin() as conn:
        return write_batch(conn, batch)


def _count(cat: Catalog, table: sa.Table) -> int:
    with cat.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_table_keys_round_trip_and_refuse_slashes():
    key = table_key("dwh", "main", "scores")
    assert key == "table:dwh/main/scores"
    assert split_table_key(key) == ("dwh", "main", "scores")
    with pytest.raises(CatalogError, match="schema name without '/'"):
        table_key("dwh", "a/b", "scores")
    with pytest.raises(CatalogError, match="not a table key"):
        split_table_key("task:abc")


def test_upserts_are_idempotent_and_placeholders_never_erase_details(catalog):
    batch = Batch()
    batch.node("task:a", "task", "mod:A [a]", {"params": {"day": "2024-01-01"}})
    batch.placeholder("table:dwh/main/scores", "table", "dwh/main/scores")
    batch.edge("task:a", "table:dwh/main/scores", "wrote")
    assert _write(catalog, batch) == 1
    assert _write(catalog, batch) == 1
    assert _count(catalog, t.lineage_nodes) == 2
    assert _count(catalog, t.lineage_edges) == 1
    # A later source that only names the task (an edge's end) keeps its parameters...
    later = Batch()
    later.placeholder("task:a", "task", "task [a]")
    later.node("table:dwh/main/scores", "table", "dwh/main/scores", {"warehouse": "dwh"})
    later.edge("task:a", "table:dwh/main/scores", "wrote")
    _write(catalog, later)
    assert node(catalog, "task:a").detail == {"params": {"day": "2024-01-01"}}
    # ...and a fuller one fills a placeholder in.
    assert node(catalog, "table:dwh/main/scores").detail == {"warehouse": "dwh"}
    assert _count(catalog, t.lineage_edges) == 1


def test_an_edge_to_a_node_never_added_writes_nothing(catalog):
    batch = Batch()
    batch.node("task:a", "task", "A")
    batch.edge("task:a", "table:dwh/main/nowhere", "wrote")
    with pytest.raises(CatalogError, match="table:dwh/main/nowhere"):
        _write(catalog, batch)
    assert _count(catalog, t.lineage_nodes) == 0  # the transaction took the node back


def _big_graph(cat: Catalog, *, up: int, noise: int, edges: int, seed: int = 7):
    """``up`` nodes upstream of ``task:u0`` (a DAG with diamonds, several steps deep) inside a
    graph of ``noise`` more nodes; noise edges never lead into the upstream set, but upstream
    nodes also feed noise nodes (which a walk up must leave out). Returns every edge."""
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    keys = [f"task:u{i}" for i in range(up)] + [f"table:dwh/s/n{i}" for i in range(noise)]
    with cat.engine.begin() as conn:
        conn.execute(
            t.lineage_nodes.insert(),
            [
                {"key": k, "kind": k.split(":")[0], "label": k[5:], "detail": '{"i": 1}',
                 "updated_at": now}
                for k in keys
            ],
        )  # fmt: skip
        ids = dict(conn.execute(sa.select(t.lineage_nodes.c.key, t.lineage_nodes.c.id)).all())
        found: set[tuple[str, str, str]] = set()
        for i in range(1, up):
            # Into a node at most 40 places before: a chain of many steps, with diamonds.
            for j in rng.sample(range(max(0, i - 40), i), min(i, 2)):
                found.add((f"task:u{i}", f"task:u{j}", rng.choice(["requires", "wrote"])))
        while len(found) < edges:
            a, b = rng.randrange(noise), rng.randrange(noise)
            if rng.random() < 0.2:
                found.add((f"task:u{rng.randrange(up)}", f"table:dwh/s/n{b}", "read"))
            elif a != b:
                found.add((f"table:dwh/s/n{a}", f"table:dwh/s/n{b}", "read"))
        conn.execute(
            t.lineage_edges.insert(),
            [
                {"source_id": ids[s], "target_id": ids[d], "relation": r, "seen_at": now}
                for s, d, r in found
            ],
        )
    return found


def _reach(edges: set[tuple[str, str, str]], root: str, *, up: bool, depth: int | None):
    """The expected answer, by a plain breadth-first search over the edge list."""
    index: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for e in edges:
        index[e[1] if up else e[0]].append(e)
    seen, frontier, out, steps = {root}, [root], set(), 0
    while frontier and (depth is None or steps < depth):
        nxt = []
        for k in frontier:
            for e in index[k]:
                out.add(e)
                other = e[0] if up else e[1]
                if other not in seen:
                    seen.add(other)
                    nxt.append(other)
        frontier, steps = nxt, steps + 1
    return seen, out


def test_full_upstream_through_1000_nodes_in_a_bigger_graph_is_exact(catalog):
    edges = _big_graph(catalog, up=1000, noise=20_000, edges=60_000)
    want_nodes, want_edges = _reach(edges, "task:u0", up=True, depth=None)
    assert len(want_nodes) == 1000  # every upstream node reaches the root
    lin = upstream(catalog, "task:u0")
    assert lin.root == "task:u0"
    assert set(lin.nodes) == want_nodes
    assert {(e.source, e.target, e.relation) for e in lin.edges} == want_edges
    assert lin.nodes["task:u5"].detail == {"i": 1} and lin.nodes["task:u5"].kind == "task"
    # Limited to 3 steps: exactly what a breadth-first search of 3 steps finds.
    want_nodes, want_edges = _reach(edges, "task:u0", up=True, depth=3)
    lin = upstream(catalog, "task:u0", depth=3)
    assert set(lin.nodes) == want_nodes
    assert {(e.source, e.target, e.relation) for e in lin.edges} == want_edges
    # Downstream of a noise node, and both ways around an upstream node.
    start = next(d for s, d, _ in sorted(edges) if s.startswith("task:u"))
    want_nodes, want_edges = _reach(edges, start, up=False, depth=None)
    lin = downstream(catalog, start)
    assert set(lin.nodes) == want_nodes
    assert {(e.source, e.target, e.relation) for e in lin.edges} == want_edges
    up_nodes, up_edges = _reach(edges, "task:u500", up=True, depth=2)
    down_nodes, down_edges = _reach(edges, "task:u500", up=False, depth=2)
    lin = around(catalog, "task:u500", depth=2)
    assert set(lin.nodes) == up_nodes | down_nodes
    assert {(e.source, e.target, e.relation) for e in lin.edges} == up_edges | down_edges


def test_an_unknown_key_names_itself_and_near_keys(catalog):
    batch = Batch()
    for name in ("scores", "scores_daily", "users"):
        batch.node(table_key("dwh", "main", name), "table", f"dwh/main/{name}")
    _write(catalog, batch)
    with pytest.raises(CatalogNotFoundError) as err:
        upstream(catalog, "table:dwh/main/scorez")
    assert "table:dwh/main/scorez" in str(err.value)
    assert "table:dwh/main/scores" in err.value.fields["suggestions"]
    assert "lineage-refresh" in str(err.value)
    with pytest.raises(CatalogError, match="depth must be 0 or more"):
        downstream(catalog, "table:dwh/main/scores", depth=-1)


def test_resolve_key_accepts_tables_by_path_name_or_case(catalog):
    batch = Batch()
    for wh, name in (("dwh", "scores"), ("dwh", "Users"), ("lake", "users")):
        batch.node(table_key(wh, "main", name), "table", name)
    _write(catalog, batch)
    assert resolve_key(catalog, "table:dwh/main/scores") == "table:dwh/main/scores"
    assert resolve_key(catalog, "dwh/main/scores") == "table:dwh/main/scores"
    assert resolve_key(catalog, "dwh.main.scores") == "table:dwh/main/scores"
    assert resolve_key(catalog, "main.scores") == "table:dwh/main/scores"
    assert resolve_key(catalog, "scores") == "table:dwh/main/scores"
    assert resolve_key(catalog, "dwh/main/users") == "table:dwh/main/Users"  # case folded
    with pytest.raises(CatalogNotFoundError, match="names 2 tables"):
        resolve_key(catalog, "main.users")
    with pytest.raises(CatalogNotFoundError, match="did you mean table:dwh/main/scores"):
        resolve_key(catalog, "dwh/main/scorez")


@pytest.mark.services
def test_a_large_batch_refreshes_postgres_statistics(postgres_url):
    url = postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)
    with Catalog.open(url) as cat:
        small, large = Batch(), Batch()
        small.node("task:x", "task", "x")
        for i in range(5_000):
            large.node(f"task:{i}", "task", str(i))
            large.node(f"table:dwh/s/{i}", "table", str(i))
            large.edge(f"task:{i}", f"table:dwh/s/{i}", "wrote")

        def analysed() -> int:
            with cat.engine.connect() as conn:
                return int(
                    conn.exec_driver_sql(
                        "SELECT count(*) FROM pg_stat_user_tables WHERE relname IN "
                        "('lineage_nodes', 'lineage_edges') AND last_analyze IS NOT NULL"
                    ).scalar_one()
                )

        _write(cat, small)
        assert analysed() == 0  # a small batch leaves it to autovacuum
        _write(cat, large)
        assert analysed() == 2


def test_a_node_written_again_unchanged_keeps_its_time(catalog):
    n = t.lineage_nodes

    def stamp() -> dt.datetime:
        with catalog.engine.connect() as conn:
            query = sa.select(n.c.updated_at).where(n.c.key == "task:a")
            value = conn.execute(query).scalar_one()
        # SQLite gives back naive UTC, PostgreSQL an aware time in the session's zone.
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)

    batch = Batch()
    batch.node("task:a", "task", "A", {"status": "done"})
    with catalog.engine.begin() as conn:
        write_batch(conn, batch, now=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    with catalog.engine.begin() as conn:
        write_batch(conn, batch, now=dt.datetime(2024, 2, 1, tzinfo=dt.UTC))
    assert stamp().month == 1
    batch.node("task:a", "task", "A", {"status": "failed"})
    with catalog.engine.begin() as conn:
        write_batch(conn, batch, now=dt.datetime(2024, 3, 1, tzinfo=dt.UTC))
    assert stamp().month == 3
    assert node(catalog, "task:a").detail == {"status": "failed"}


def test_a_long_chain_and_a_cycle(catalog):
    batch = Batch()
    for i in range(300):
        batch.node(f"task:c{i}", "task", f"c{i}")
        if i:
            batch.edge(f"task:c{i}", f"task:c{i - 1}", "requires")
    batch.edge("task:c0", "task:c299", "requires")  # a cycle: each node still once
    _write(catalog, batch)
    assert len(upstream(catalog, "task:c0").nodes) == 300
    assert len(upstream(catalog, "task:c0").edges) == 300
    near = upstream(catalog, "task:c0", depth=10)
    assert set(near.nodes) == {f"task:c{i}" for i in range(11)}
    assert set(downstream(catalog, "task:c5", depth=0).nodes) == {"task:c5"}
