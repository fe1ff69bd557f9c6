"""``tasuki catalog sync|search|show|describe|push-comments`` on real DuckDB warehouses and a
SQLite catalog, configured in tasuki.toml."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name, sql in {
        "shop": "CREATE TABLE orders (id INTEGER, amount DOUBLE); "
        "COMMENT ON TABLE orders IS '注文: one row per order'",
        "ml": "CREATE TABLE scores (user_id INTEGER, score DOUBLE)",
    }.items():
        with duckdb.connect(str(tmp_path / f"{name}.duckdb")) as con:
            con.execute(sql)
    Path("tasuki.toml").write_text(
        f'catalog = "sqlite:///{tmp_path / "catalog.db"}"\n'
        "[warehouses]\n"
        f'shop = "duckdb://{tmp_path / "shop.duckdb"}"\n'
        f'ml = "duckdb://{tmp_path / "ml.duckdb"}"\n'
    )
    return tmp_path


def test_sync_every_configured_warehouse(cli, project):
    result = cli("catalog", "sync")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("shop: 1 tables, 2 columns (first sync); 5 inserted in")
    assert lines[1].startswith("ml: 1 tables, 2 columns (first sync)")
    again = cli("catalog", "sync", "--warehouse", "shop", "--format", "json")
    assert again.exit_code == 0, again.output
    (report,) = json.loads(again.stdout)
    assert (report["warehouse"], report["unchanged"], report["first"]) == ("shop", 5, False)


def test_sync_errors_exit_2(cli, project):
    result = cli("catalog", "sync", "--warehouse", "nope")
    assert result.exit_code == 2
    assert "no warehouse named 'nope'" in result.stderr and "ml, shop" in result.stderr
    (project / "ml.duckdb").unlink()
    result = cli("catalog", "sync")
    assert result.exit_code == 2
    assert "shop: 1 tables" in result.stdout  # the other warehouse was still synced
    assert "error: ml: cannot read warehouse 'ml'" in result.stderr
    assert cli("catalog", "sync", "--format", "xml").exit_code == 2


def test_no_warehouses_configured(cli, tmp_path):
    Path("tasuki.toml").write_text(f'catalog = "sqlite:///{tmp_path / "c.db"}"\n')
    result = cli("catalog", "sync")
    assert result.exit_code == 2 and "no warehouses to sync" in result.stderr


def test_describe_show_search_and_push(cli, project):
    assert cli("catalog", "sync").exit_code == 0
    result = cli(
        "catalog",
        "describe",
        "shop/main/orders",
        "--text",
        "Orders. Refunds are negative.",
        "--owner",
        "sales-team",
        "--tag",
        "pii",
        "--author",
        "ana@example.com",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "shop/main/orders: version 2"

    shown = cli("catalog", "show", "shop/main/orders")
    assert shown.exit_code == 0, shown.output
    assert "Refunds are negative." in shown.stdout and "owner: sales-team" in shown.stdout
    assert "comment: 注文: one row per order" in shown.stdout
    assert "- amount  DOUBLE" in shown.stdout
    doc = json.loads(cli("catalog", "show", "shop/main/orders", "--format", "json").stdout)
    assert doc["object"]["tags"] == ["pii"] and doc["object"]["version"] == 2
    children = [c["path"] for c in doc["children"]]
    assert children == ["shop/main/orders/id", "shop/main/orders/amount"]

    hits = json.loads(cli("catalog", "search", "refunds", "--format", "json").stdout)
    assert hits[0]["path"] == "shop/main/orders"
    assert "shop/main/orders" in cli("catalog", "search", "注文").stdout

    pushed = cli("catalog", "push-comments", "--warehouse", "shop", "--dry-run")
    assert pushed.exit_code == 0, pushed.output
    assert pushed.stdout.strip() == (
        'COMMENT ON TABLE "main"."orders" IS \'Orders. Refunds are negative.\';'
    )


def test_describe_and_show_errors_exit_2(cli, project):
    assert cli("catalog", "sync").exit_code == 0
    missing = cli("catalog", "show", "shop/main/nope")
    assert missing.exit_code == 2 and "nothing in the catalog at 'shop/main/nope'" in missing.stderr
    nothing = cli("catalog", "describe", "shop/main/orders", "--author", "ana")
    assert nothing.exit_code == 2 and "--text, --owner or --tag" in nothing.output


def test_the_nightly_cron_line(cli, project):
    result = cli(
        "run", "tasuki.catalog:SyncCatalogTask", "--warehouse", "shop", "--day", "2024-06-01"
    )
    assert result.exit_code == 0, result.output
    shown = cli("catalog", "show", "shop/main/orders", "--format", "json")
    assert json.loads(shown.stdout)["object"]["comment"] == "注文: one row per order"
