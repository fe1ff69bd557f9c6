"""Descriptions written back as the warehouse's COMMENTs, and read back by the next sync."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
import sqlglot
from sqlglot.dialects.dialect import Dialect
from sqlglot.tokens import TokenType

from tasuki.catalog import Catalog
from tasuki.catalog._comments import comment_statements, push_comments
from tasuki.catalog._sync import sync
from tasuki.errors import ConfigError

TRICKY = "It's the \"net\" amount;\nback\\slash -- not a comment */ ' OR 1=1"


@pytest.fixture
def setup(tmp_path: Path):
    wh = tmp_path / "wh.duckdb"
    with duckdb.connect(str(wh)) as con:
        con.execute(
            "CREATE TABLE orders (id INTEGER, amount DOUBLE); "
            "COMMENT ON TABLE orders IS 'old text'; "
            "CREATE VIEW big AS SELECT * FROM orders WHERE amount > 1"
        )
    url = f"duckdb://{wh}"
    with Catalog.open(f"sqlite:///{tmp_path / 'catalog.db'}") as catalog:
        sync(catalog, "dwh", url=url)
        yield catalog, url, wh


def test_descriptions_round_trip_through_duckdb_comments(setup):
    catalog, url, wh = setup
    catalog.edit("dwh/main/orders", author="ana", expected_version=1, description=TRICKY)
    catalog.edit("dwh/main/orders/amount", author="ana", expected_version=1, description="yen")
    catalog.edit("dwh/main/big", author="ana", expected_version=1, description="big ones")
    statements = push_comments(catalog, "dwh", url=url)
    assert statements == [
        'COMMENT ON VIEW "main"."big" IS \'big ones\'',
        'COMMENT ON TABLE "main"."orders" IS ' + sqlglot.exp.Literal.string(TRICKY).sql("duckdb"),
        'COMMENT ON COLUMN "main"."orders"."amount" IS \'yen\'',
    ]
    with duckdb.connect(str(wh), read_only=True) as con:
        got = con.execute("SELECT comment FROM duckdb_tables() WHERE table_name = 'orders'")
        assert got.fetchone() == (TRICKY,)
    report = sync(catalog, "dwh", url=url)
    assert report.comment_changed == 3
    assert catalog.get("dwh/main/orders").comment == TRICKY
    assert catalog.get("dwh/main/orders/amount").comment == "yen"
    # Nothing differs any more: nothing to push.
    assert push_comments(catalog, "dwh", url=url) == []


def test_dry_run_and_empty_descriptions(setup):
    catalog, url, wh = setup
    # An empty description never clears the warehouse's own comment.
    assert push_comments(catalog, "dwh", url=url, dry_run=True) == []
    catalog.edit("dwh/main/orders", author="ana", expected_version=1, description="new")
    assert push_comments(catalog, "dwh", url=url, dry_run=True) == [
        'COMMENT ON TABLE "main"."orders" IS \'new\''
    ]
    with duckdb.connect(str(wh), read_only=True) as con:
        got = con.execute("SELECT comment FROM duckdb_tables() WHERE table_name = 'orders'")
        assert got.fetchone() == ("old text",)


@pytest.mark.parametrize("dialect", ["postgres", "redshift", "duckdb", "bigquery"])
def test_statements_quote_names_and_text_in_each_dialect(dialect):
    items = [
        ("table", 'we"ird', "t'able", None, TRICKY),
        ("view", "s", "v", "c`ol", TRICKY),
    ]
    statements = comment_statements(dialect, items, project="proj")
    assert len(statements) == 2
    for statement in statements:
        # The dialect's own tokenizer finds one string, the text exactly, and the names as
        # identifiers: nothing of the text leaks out of its literal.
        tokens = Dialect.get_or_raise(dialect).tokenize(statement)
        assert [k.text for k in tokens if k.token_type == TokenType.STRING] == [TRICKY]
        names = [k.text for k in tokens if k.token_type == TokenType.IDENTIFIER]
        assert names and all("It's" not in n for n in names)
    if dialect == "bigquery":
        assert statements[0].startswith("ALTER TABLE `proj.we\"ird.t'able` SET OPTIONS(")
        assert "ALTER VIEW `proj.s.v` ALTER COLUMN `c\\`ol`" in statements[1]
    else:
        assert statements[0].startswith('COMMENT ON TABLE "we""ird"."t\'able" IS ')
        assert statements[1].startswith('COMMENT ON COLUMN "s"."v"."c`ol" IS ')


def test_backends_without_comments_are_refused(setup):
    catalog, _, _ = setup
    with pytest.raises(ConfigError, match="'mysql' is not one of"):
        push_comments(catalog, "dwh", url="mysql://root@db/app")


def test_bigquery_sync_and_push_through_a_runner(tmp_path):
    fixtures = Path(__file__).parent / "fixtures"
    sent: list[str] = []

    def bigquery(sql: str) -> list[dict]:
        sent.append(sql)
        if "INFORMATION_SCHEMA.TABLE_OPTIONS" in sql:
            return json.loads((fixtures / "bigquery_tables.json").read_text())
        if "INFORMATION_SCHEMA.COLUMN_FIELD_PATHS" in sql:
            return json.loads((fixtures / "bigquery_columns.json").read_text())
        return []  # ALTER ... SET OPTIONS

    url = "bigquery://my-project/shop"
    with Catalog.open(f"sqlite:///{tmp_path / 'catalog.db'}") as catalog:
        report = sync(catalog, "bq", url=url, runner=bigquery)
        assert (report.tables, report.columns) == (4, 6)
        items = catalog.get("bq/shop/orders/items")
        assert items.comment == "Line items"
        catalog.edit(items.path, author="ana", expected_version=1, description=TRICKY)
        catalog.edit("bq/shop/orders_by_day", author="ana", expected_version=1, description="v")
        statements = push_comments(catalog, "bq", url=url, runner=bigquery)
    assert statements == [
        "ALTER TABLE `my-project.shop.orders` ALTER COLUMN `items` SET OPTIONS(description="
        + sqlglot.exp.Literal.string(TRICKY).sql("bigquery")
        + ")",
        "ALTER VIEW `my-project.shop.orders_by_day` SET OPTIONS(description='v')",
    ]
    assert sent[-2:] == statements
