"""Catalog: search over 1,000,000 columns, upstream lineage through 1,000 nodes, metadata sync
of a PostgreSQL warehouse with 5,000 tables and 100,000 columns.

    python benchmarks/run.py catalog [--quick] [--repeat N]

Search. A SQLite catalog of 20,000 tables x 50 columns (``--quick``: 2,000 x 50) with English
names and Japanese and English descriptions is filled once. Each repeat runs every query of
``QUERIES`` through ``Catalog.search`` (ranked, trigram index) and, interleaved query by
query, the peer: Dmemo's search, an unranked ``LIKE '%word%'`` over names and descriptions
(``LIMIT 20``, as Dmemo pages). Per query the wall time is the server time: the call, rows
turned into objects included. p50 / p95 over every query and repeat.

Lineage. Into the same catalog, a lineage graph of ~1,000,000 edges (chains of tasks and tables,
each table read by several tasks) with one table whose full upstream is 1,000 nodes; the
closure through ``tasuki.catalog`` (``upstream``) against a recursive CTE with ``UNION``
(duplicates removed, the architecture's 78 ms anchor; the naive ``UNION ALL`` form took 18 s
and is not rerun).

Sync. A scratch PostgreSQL database with 5,000 tables of 20 columns (100,000 columns); the
first ``sync`` into an empty SQLite catalog, then a re-sync with nothing changed, then one
after 50 tables changed. Skipped with the reason when PostgreSQL is not reachable.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SEARCH_P95_MS = 50.0
LINEAGE_MS = 100.0
FIRST_SYNC_S = 30.0
RESYNC_S = 5.0

WORDS = (
    "user order item price amount created updated session click view cart payment coupon "
    "shop store region category brand campaign device browser referrer score rank label "
    "recipe ingredient author comment rating follower message inventory shipment invoice"
).split()
JA = (
    "売上金額 会員番号 注文日時 商品カテゴリ 退会フラグ 配送先住所 決済方法 在庫数 閲覧履歴 "
    "レシピ投稿 検索キーワード 広告効果 購入回数 ポイント残高 評価スコア 推薦順位"
).split()
# What people type: English words and names, Japanese substrings (3+ characters, inside longer
# runs of kana and kanji), two words, one rare word, 2-character words (no trigram: a scan).
QUERIES = (
    "user",
    "payment",
    "created_at",
    "inventory",
    "売上金",
    "注文日時",
    "カテゴリ",
    "ポイント残高",
    "order amount",
    "coupon shop",
    "recipe",
    "zanzibar",
    "決済",
    "id",
)


def _time(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def _fill_columns(catalog: Any, tables: int, columns: int, seed: int = 7) -> int:
    """``tables`` x ``columns`` objects written as a sync would (through the triggers that
    keep the search index)."""
    import datetime as dt

    rng = random.Random(seed)
    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC).isoformat(sep=" ")
    raw = catalog.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(
            "INSERT INTO catalog_objects (path, kind, warehouse, first_seen, last_seen) "
            "VALUES ('dwh', 'database', 'dwh', ?, ?)",
            (now, now),
        )
        db_id = cur.lastrowid
        schema_ids = {}
        for s in range(20):
            cur.execute(
                "INSERT INTO catalog_objects (path, kind, warehouse, schema_name, parent_id, "
                "first_seen, last_seen) VALUES (?, 'schema', 'dwh', ?, ?, ?, ?)",
                (f"dwh/s{s:02d}", f"s{s:02d}", db_id, now, now),
            )
            schema_ids[s] = cur.lastrowid
        made = 0
        for i in range(tables):
            s = i % 20
            tname = f"{rng.choice(WORDS)}_{rng.choice(WORDS)}_{i}"
            desc = f"{rng.choice(JA)}の集計。{rng.choice(WORDS)} by {rng.choice(WORDS)}."
            cur.execute(
                "INSERT INTO catalog_objects (path, kind, warehouse, schema_name, table_name, "
                "parent_id, description, first_seen, last_seen) "
                "VALUES (?, 'table', 'dwh', ?, ?, ?, ?, ?, ?)",
                (f"dwh/s{s:02d}/{tname}", f"s{s:02d}", tname, schema_ids[s], desc, now, now),
            )
            table_id = cur.lastrowid
            rows = []
            for c in range(columns):
                cname = f"{rng.choice(WORDS)}_{rng.choice(WORDS)}" if c else "id"
                cname = f"{cname}_{c}" if c else cname
                if rng.random() < 0.3:
                    cdesc = f"{rng.choice(JA)}（{rng.choice(JA)}を含む）"
                elif rng.random() < 0.5:
                    cdesc = f"The {rng.choice(WORDS)} of the {rng.choice(WORDS)}, in yen."
                else:
                    cdesc = ""
                rows.append(
                    (
                        f"dwh/s{s:02d}/{tname}/{cname}",
                        f"s{s:02d}",
                        tname,
                        cname,
                        table_id,
                        c + 1,
                        "bigint",
                        cdesc,
                        now,
                        now,
                    )
                )
            cur.executemany(
                "INSERT INTO catalog_objects (path, kind, warehouse, schema_name, table_name, "
                "column_name, parent_id, position, data_type, description, first_seen, "
                "last_seen) VALUES (?, 'column', 'dwh', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            made += columns
        raw.commit()
    finally:
        raw.close()
    return made


def _like_peer(catalog: Any, query: str) -> list[Any]:
    """Dmemo's search: unranked LIKE over names and descriptions, a page of 20."""
    from sqlalchemy import text

    words = query.split()
    where = " AND ".join(f"(path LIKE :w{i} OR description LIKE :w{i})" for i in range(len(words)))
    params = {f"w{i}": f"%{w}%" for i, w in enumerate(words)}
    with catalog.engine.connect() as conn:
        return list(
            conn.execute(
                text(f"SELECT * FROM catalog_objects WHERE {where} LIMIT 20"), params
            ).mappings()
        )


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def search_rows(quick: bool, repeat: int, folder: Path) -> tuple[list[dict[str, Any]], Any]:
    """Fill a catalog and time the queries; the rows and the open catalog."""
    from tasuki.catalog import Catalog

    tables = 2_000 if quick else 20_000
    catalog = Catalog.open(f"sqlite:///{folder}/catalog.db")
    fill_wall, _, columns = _time(lambda: _fill_columns(catalog, tables, 50))
    ours: list[float] = []
    peer: list[float] = []
    ours_cpu: list[float] = []
    per_query: dict[str, list[float]] = {}
    found: dict[str, int] = {}
    for _ in range(repeat):
        for query in QUERIES:
            wall, cpu, hits = _time(lambda q=query: catalog.search(q))
            ours.append(wall)
            ours_cpu.append(cpu)
            per_query.setdefault(query, []).append(wall)
            found[query] = len(hits)
            wall, _, _ = _time(lambda q=query: _like_peer(catalog, q))
            peer.append(wall)
    rows = [
        {
            "case": "search, tasuki (ranked, trigram)",
            "objects": columns,
            "queries": len(ours),
            "p50 ms": _pct(ours, 0.5) * 1e3,
            "p95 ms": _pct(ours, 0.95) * 1e3,
            "cpu p50 ms": _pct(ours_cpu, 0.5) * 1e3,
            "note": f"filled in {fill_wall:.0f} s",
        },
        {
            "case": "search, Dmemo-style LIKE (unranked)",
            "objects": columns,
            "queries": len(peer),
            "p50 ms": _pct(peer, 0.5) * 1e3,
            "p95 ms": _pct(peer, 0.95) * 1e3,
        },
    ]
    for query, got in per_query.items():
        rows.append(
            {
                "case": f"  query {query!r}",
                "objects": columns,
                "queries": len(got),
                "p50 ms": statistics.median(got) * 1e3,
                "p95 ms": max(got) * 1e3,
                "note": f"{found[query]} hits",
            }
        )
    p95 = rows[0]["p95 ms"]
    rows.append(
        {
            "case": "verdict: search",
            "objects": columns,
            "p95 ms": p95,
            "verdict": (
                f"p95 {p95:.1f} ms over {columns:,} columns "
                + ("<= 50 ms, met" if p95 <= SEARCH_P95_MS else "> 50 ms, NOT met")
                + f"; Dmemo-style LIKE p95 {rows[1]['p95 ms']:.1f} ms"
                + f"; Japanese substrings found: {all(found[q] for q in JA_QUERIES)}"
            ),
        }
    )
    return rows, catalog


JA_QUERIES = ("売上金", "注文日時", "カテゴリ", "ポイント残高", "決済")


def _fill_lineage(catalog: Any, components: int, size: int, seed: int = 11) -> tuple[str, int]:
    """``components`` separate lineage graphs of ``size`` nodes, each node fed by the one
    before it and two random earlier ones (diamonds everywhere, as tasks sharing inputs
    make); the key of component 0's last node and the number of edges."""
    import datetime as dt

    rng = random.Random(seed)
    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC).isoformat(sep=" ")
    raw = catalog.engine.raw_connection()
    edges = 0
    try:
        cur = raw.cursor()
        base = cur.execute("SELECT coalesce(max(id), 0) FROM lineage_nodes").fetchone()[0] + 1
        for comp in range(components):
            first = base + comp * size
            cur.executemany(
                "INSERT INTO lineage_nodes (id, key, kind, label, detail, updated_at) "
                "VALUES (?, ?, ?, ?, '{}', ?)",
                [
                    (
                        first + i,
                        f"{'table' if i % 2 else 'task'}:c{comp}/n{i}",
                        "table" if i % 2 else "task",
                        f"c{comp}/n{i}",
                        now,
                    )
                    for i in range(size)
                ],
            )
            pairs = set()
            for i in range(1, size):
                pairs.add((first + i - 1, first + i))
                for _ in range(2):
                    pairs.add((first + rng.randrange(i), first + i))
            cur.executemany(
                "INSERT INTO lineage_edges (source_id, target_id, relation, seen_at) "
                "VALUES (?, ?, 'requires', ?)",
                [(a, b, now) for a, b in pairs],
            )
            edges += len(pairs)
        raw.commit()
    finally:
        raw.close()
    return f"table:c0/n{size - 1}", edges


def _cte_peer(catalog: Any, key: str) -> int:
    """The closure as one recursive query with UNION (duplicates removed each step)."""
    from sqlalchemy import text

    with catalog.engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "WITH RECURSIVE up(id) AS ("
                    "SELECT id FROM lineage_nodes WHERE key = :key "
                    "UNION SELECT e.source_id FROM lineage_edges e JOIN up ON e.target_id = up.id"
                    ") SELECT count(*) FROM up"
                ),
                {"key": key},
            ).scalar_one()
        )


def lineage_rows(catalog: Any, quick: bool, repeat: int) -> list[dict[str, Any]]:
    """Upstream of a 1,000-node graph among ~1 M edges (``--quick``: ~100 k)."""
    from tasuki.catalog._lineage import upstream

    size = 1_000
    components = 30 if quick else 330
    fill_wall, _, (key, edges) = _time(lambda: _fill_lineage(catalog, components, size))
    ours: list[tuple[float, float]] = []
    peer: list[tuple[float, float]] = []
    for _ in range(repeat):
        wall, cpu, graph = _time(lambda: upstream(catalog, key))
        ours.append((wall, cpu))
        if len(graph.nodes) != size:
            raise RuntimeError(f"upstream found {len(graph.nodes)} nodes, expected {size}")
        wall, cpu, count = _time(lambda: _cte_peer(catalog, key))
        peer.append((wall, cpu))
        if count != size:
            raise RuntimeError(f"the recursive query found {count} nodes, expected {size}")
    ms = statistics.median(w for w, _ in ours) * 1e3
    rows = [
        {
            "case": "lineage upstream, tasuki (nodes and edges returned)",
            "objects": edges,
            "queries": repeat,
            "p50 ms": ms,
            "cpu p50 ms": statistics.median(c for _, c in ours) * 1e3,
            "note": f"{size} nodes upstream; {edges:,} edges in all, filled in {fill_wall:.0f} s",
        },
        {
            "case": "lineage upstream, recursive CTE with UNION (count only)",
            "objects": edges,
            "queries": repeat,
            "p50 ms": statistics.median(w for w, _ in peer) * 1e3,
            "cpu p50 ms": statistics.median(c for _, c in peer) * 1e3,
        },
        {
            "case": "verdict: lineage",
            "objects": edges,
            "p50 ms": ms,
            "verdict": f"full upstream through {size} nodes {ms:.1f} ms "
            + ("<= 100 ms, met" if ms <= LINEAGE_MS else "> 100 ms, NOT met"),
        },
    ]
    return rows


def _scratch_warehouse(tables: int, columns: int) -> tuple[str, Callable[[], None]]:
    """A PostgreSQL database with ``tables`` x ``columns``; its URL and a function dropping it."""
    import uuid

    import psycopg

    dsn = "postgresql://postgres@127.0.0.1:5432"
    name = f"tasuki_bench_catalog_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{dsn}/postgres", autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    types = ("bigint", "text", "numeric(12,2)", "timestamptz", "boolean", "date", "jsonb")
    with psycopg.connect(f"{dsn}/{name}") as conn:
        for schema in range(10):
            conn.execute(f"CREATE SCHEMA s{schema}")
        for i in range(tables):
            cols = ", ".join(
                f"{WORDS[(i + c) % len(WORDS)]}_{c} {types[(i + c) % len(types)]}"
                for c in range(columns)
            )
            conn.execute(f"CREATE TABLE s{i % 10}.t{i} ({cols})")
            if i % 10 == 0:
                conn.execute(f"COMMENT ON TABLE s{i % 10}.t{i} IS '売上の集計 {i}'")
            if i % 250 == 249:  # each CREATE holds a lock until commit: stay under the limit
                conn.commit()
        conn.commit()

    def drop() -> None:
        with psycopg.connect(f"{dsn}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"{dsn}/{name}", drop


def sync_rows(folder: Path, quick: bool, repeat: int) -> list[dict[str, Any]]:
    """First sync, unchanged re-sync and a re-sync after 50 changed tables, ``repeat`` times
    each into a fresh catalog."""
    import psycopg

    from tasuki.catalog import Catalog
    from tasuki.catalog._sync import sync

    tables, columns = (500, 20) if quick else (5_000, 20)
    try:
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", connect_timeout=3):
            pass
    except psycopg.OperationalError as exc:
        return [{"case": "sync", "note": f"skipped: PostgreSQL not reachable ({exc})"}]
    fill_wall, _, (url, drop) = _time(lambda: _scratch_warehouse(tables, columns))
    samples: dict[str, list[tuple[float, float]]] = {}
    try:
        for r in range(repeat):
            catalog = Catalog.open(f"sqlite:///{folder}/sync-{r}.db")
            for case in ("first sync", "re-sync, nothing changed", "re-sync, 50 tables changed"):
                if case.endswith("changed") and "50" in case:
                    with psycopg.connect(url, autocommit=True) as conn:
                        for i in range(50):
                            conn.execute(f"ALTER TABLE s{i % 10}.t{i} ADD COLUMN extra_{r} int")
                wall, cpu, report = _time(lambda c=catalog: sync(c, "pg", url=url))
                samples.setdefault(case, []).append((wall, cpu))
                if report.columns < tables * columns:
                    raise RuntimeError(f"sync saw {report.columns} columns")
            catalog.close()
    finally:
        drop()
    rows: list[dict[str, Any]] = []
    for case, got in samples.items():
        rows.append(
            {
                "case": f"sync PostgreSQL, {case}",
                "objects": tables * columns,
                "queries": len(got),
                "p50 ms": statistics.median(w for w, _ in got) * 1e3,
                "cpu p50 ms": statistics.median(c for _, c in got) * 1e3,
                "note": f"{tables:,} tables; made in {fill_wall:.0f} s",
            }
        )
    first = rows[0]["p50 ms"] / 1e3
    again = rows[1]["p50 ms"] / 1e3
    rows.append(
        {
            "case": "verdict: sync",
            "objects": tables * columns,
            "verdict": f"first sync {first:.1f} s "
            + ("<= 30 s, met" if first <= FIRST_SYNC_S else "> 30 s, NOT met")
            + f"; re-sync unchanged {again:.2f} s "
            + ("<= 5 s, met" if again <= RESYNC_S else "> 5 s, NOT met"),
        }
    )
    return rows


def run(quick: bool = False, repeat: int = 3) -> list[dict[str, Any]]:
    """Every case's rows, verdicts last in each part."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-catalog-") as tmp:
        found, catalog = search_rows(quick, repeat, Path(tmp))
        rows += found
        rows += lineage_rows(catalog, quick, repeat)
        catalog.close()
        rows += sync_rows(Path(tmp), quick, repeat)
    return rows


if __name__ == "__main__":
    import sys

    for row in run(quick="--quick" in sys.argv):
        print(row)
