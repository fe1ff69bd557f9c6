"""The catalog end to end on an embedded DuckDB warehouse: sync its metadata, write a
description (every edit kept), search in Japanese, merge lineage from tasuki's records and
print where a table came from, export the lineage as OpenLineage events.

From the repository root (offline; DuckDB is the only part)::

    python -m examples.catalog.run             # ./workspace, ./catalog.db, ./warehouse.duckdb
    tasuki web --insecure-local                # then browse http://127.0.0.1:8080/tables/
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import tasuki
from examples.catalog.tasks import publish
from tasuki.catalog import (
    Catalog,
    export_openlineage,
    refresh_lineage,
    sync,
    table_key,
    upstream,
)
from tasuki.lineage import to_text


def make_warehouse(path: str) -> None:
    """``orders`` and ``users`` with the warehouse's own COMMENTs (the same rows everywhere)."""
    import duckdb

    if os.path.exists(path):
        return
    con = duckdb.connect(path)
    try:
        con.execute(
            """
            CREATE TABLE users AS SELECT range AS user_id, 'user' || range || '@example.com'
                AS email FROM range(50);
            CREATE TABLE orders AS SELECT range AS order_id, range % 50 AS user_id,
                range % 7 AS day, CASE WHEN range % 13 = 0 THEN -500 ELSE 1200 END AS amount
                FROM range(1000);
            COMMENT ON TABLE orders IS '注文明細。一行が一注文行。';
            COMMENT ON COLUMN orders.amount IS '税込金額（円）。返品はマイナス。';
            """
        )
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    """Run every step and print what the catalog knows.

    Returns:
        0 when the written table's upstream leads back to ``orders``.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--folder", default=".", help="where the workspace, catalog and warehouse go"
    )
    args = parser.parse_args(argv)
    folder = Path(args.folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    warehouse = str(folder / "warehouse.duckdb")
    make_warehouse(warehouse)
    settings = tasuki.load_settings(
        {
            "workspace": str(folder / "workspace"),
            "catalog": f"sqlite:///{folder / 'catalog.db'}",
            "warehouses": {"dwh": f"duckdb:///{warehouse}"},
        }
    )
    result = tasuki.run_build(publish(), settings=settings, progress="off")
    print(result.summary())
    if not result.ok:
        return 1

    with Catalog.open(settings=settings) as catalog:
        report = sync(catalog, "dwh", settings=settings)
        print(f"synced dwh: {report.tables} tables, {report.columns} columns")
        table = catalog.get("dwh/main/daily_revenue")
        catalog.edit(
            table.path,
            author="example@tasuki",
            expected_version=table.version,
            description="売上の日次集計。Revenue per day, refunds included.",
            owner="ml-team",
            tags=["finance"],
        )
        for hit in catalog.search("返品"):  # in the warehouse's COMMENT on orders.amount
            print(f"search 返品: {hit.object.path}  {hit.snippet}")
        for hit in catalog.search("日次集計"):
            print(f"search 日次集計: {hit.object.path}")
        print(f"history of {table.path}:")
        for edit in catalog.history(table.path):
            print(f"  v{edit.version} {edit.field} by {edit.author}")

        refresh_lineage(catalog, settings=settings)
        key = table_key("dwh", "main", "daily_revenue")
        found = upstream(catalog, key)
        print()
        print(to_text(found))
        events = export_openlineage(catalog)
        (folder / "openlineage.json").write_text(json.dumps(events, indent=2))
        print(f"\n{len(events)} OpenLineage events in {folder / 'openlineage.json'}")
    return 0 if table_key("dwh", "main", "orders") in found.nodes else 1


if __name__ == "__main__":
    raise SystemExit(main())
