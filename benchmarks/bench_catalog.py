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


def run(quick: bool = False, repeat: int = 3) -> list[dict[str, Any]]:
    """Every case's rows, verdicts last in each part."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-catalog-") as tmp:
        found, catalog = search_rows(quick, repeat, Path(tmp))
        rows += found
        catalog.close()
    return rows


if __name__ == "__main__":
    import sys

    for row in run(quick="--quick" in sys.argv):
        print(row)
