"""The tables a query reads (sqlglot) and the "read by" edges recorded for them."""

from __future__ import annotations

import pytest

from tasuki.catalog._lineage import downstream, upstream
from tasuki.catalog._lineage_sources import dialect_of, record_query_read, tables_read
from tasuki.catalog._store import Catalog
from tasuki.errors import CatalogError


@pytest.mark.parametrize(
    ("sql", "dialect", "want"),
    [
        # CTE names are not tables; the default schema fills in; unquoted names fold.
        (
            "WITH recent AS (SELECT * FROM Events) "
            'SELECT * FROM recent JOIN "Sales".Orders o ON true JOIN public.users USING (id)',
            "postgres",
            [("Sales", "orders"), ("public", "events"), ("public", "users")],
        ),
        # DuckDB ignores case, quoted or not; table functions and subqueries are no tables.
        (
            "SELECT * FROM Main.\"Scores\", read_parquet('x.parquet'), (SELECT 1) s",
            "duckdb",
            [("main", "scores")],
        ),
        ("SELECT 1", "duckdb", []),
        # A scalar subquery's and a UNION's tables count too.
        (
            "SELECT (SELECT max(x) FROM a) FROM b UNION ALL SELECT 1 FROM c.d",
            "postgres",
            [("c", "d"), ("public", "a"), ("public", "b")],
        ),
        # BigQuery: datasets keep their case, an unqualified name has no schema to record.
        ("SELECT * FROM `proj.ds.Tab` JOIN plain ON true", "bigquery", [("ds", "Tab")]),
    ],
)
def test_tables_read(sql, dialect, want):
    assert tables_read(sql, dialect=dialect) == want


def test_a_query_that_does_not_parse_is_named():
    with pytest.raises(CatalogError, match=r"cannot read the tables of the query 'SELEC FROM'"):
        tables_read("SELEC FROM", dialect="postgres")


def test_dialects_of_urls():
    assert dialect_of("duckdb:///x.db") == "duckdb"
    assert dialect_of("postgresql://h/db") == "postgres"
    assert dialect_of("bigquery://p") == "bigquery"


def test_record_query_read_adds_read_by_edges(tmp_path):
    with Catalog.open(f"sqlite:///{tmp_path / 'c.db'}") as cat:
        keys = record_query_read(
            cat,
            "WITH x AS (SELECT * FROM scores) SELECT * FROM x JOIN users USING (id)",
            warehouse="dwh",
            dialect="duckdb",
            reader="client:alice",
        )
        assert keys == ["table:dwh/main/scores", "table:dwh/main/users"]
        record_query_read(
            cat, "SELECT * FROM scores", warehouse="dwh", dialect="duckdb", reader="client:bob"
        )
        readers = downstream(cat, "table:dwh/main/scores")
        assert {(e.target, e.relation) for e in readers.edges} == {
            ("client:alice", "read"),
            ("client:bob", "read"),
        }
        assert readers.nodes["client:alice"].kind == "client"
        assert set(upstream(cat, "client:alice").nodes) == {"client:alice", *keys}
        with pytest.raises(CatalogError, match="a reader is a lineage key"):
            record_query_read(cat, "SELECT 1", warehouse="dwh", dialect="duckdb", reader="bob")
