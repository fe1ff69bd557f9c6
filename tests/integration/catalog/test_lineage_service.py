"""The query service records "read by" lineage in the catalog: a real uvicorn server over a
DuckDB warehouse, queried through QueryClient; a catalog that is down fails no query."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasuki.catalog._lineage import downstream, upstream
from tasuki.catalog._store import Catalog
from tasuki.errors import CatalogNotFoundError, ConfigError
from tasuki.service import QueryClient, QueryService, ServiceConfig, add_client
from tests.integration.service.conftest import make_duckdb, running_service


def _config(tmp_path: Path, catalog: str, *, warehouse: str = "dwh") -> tuple[ServiceConfig, str]:
    duck = make_duckdb(tmp_path / "dwh.duckdb", rows=100)
    tokens = tmp_path / "clients.json"
    token = add_client(tokens, "alice")
    config = ServiceConfig(
        warehouse=warehouse,
        warehouses={"dwh": f"duckdb://{duck}"},
        results_dir=str(tmp_path / "results"),
        tokens_file=str(tokens),
        workers=1,
        catalog=catalog,
    )
    return config, token


def test_each_succeeded_query_records_the_tables_it_read(tmp_path):
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    config, token = _config(tmp_path, url)
    with running_service(config) as (base, app), QueryClient(base, token) as client:
        sql = "WITH t AS (SELECT * FROM tiny) SELECT * FROM t JOIN events ON events.id = t.k"
        assert client.query(sql).to_arrow().num_rows == 3
        with pytest.raises(Exception, match="nope"):  # a failed query read nothing
            client.query("SELECT * FROM nope")
        reads = app.state.service.reads
        assert reads.flush(30) and reads.recorded == 1 and reads.dropped == 0
    with Catalog.open(url) as cat:
        read = upstream(cat, "client:alice")
        assert {(e.source, e.relation) for e in read.edges} == {
            ("table:dwh/main/events", "read"),
            ("table:dwh/main/tiny", "read"),
        }
        assert "client:alice" in downstream(cat, "table:dwh/main/tiny").nodes
        with pytest.raises(CatalogNotFoundError):
            upstream(cat, "table:dwh/main/nope")


def test_a_catalog_that_is_down_fails_no_query(tmp_path, caplog):
    config, token = _config(tmp_path, "postgresql+psycopg://postgres@127.0.0.1:9/nope")
    with running_service(config) as (base, app), QueryClient(base, token) as client:
        assert client.query("SELECT * FROM tiny").to_arrow().num_rows == 3
        reads = app.state.service.reads
        assert reads.flush(30) and reads.recorded == 0 and reads.dropped == 1
        assert client.query("SELECT k FROM tiny").to_arrow().num_rows == 3
    assert "cannot open the catalog" in caplog.text


def test_a_catalog_needs_the_warehouse_by_name(tmp_path):
    config, _ = _config(tmp_path, f"sqlite:///{tmp_path / 'c.db'}")
    unnamed = ServiceConfig(
        warehouse="duckdb:///elsewhere.duckdb",
        warehouses=config.warehouses,
        results_dir=config.results_dir,
        tokens_file=config.tokens_file,
        catalog=config.catalog,
    )
    with pytest.raises(ConfigError, match="pass the warehouse by name"):
        QueryService(unnamed)
    # A URL that a configured name has is fine; no catalog, no recorder.
    named = ServiceConfig(
        warehouse=config.warehouses["dwh"],
        warehouses=config.warehouses,
        results_dir=config.results_dir,
        tokens_file=config.tokens_file,
        catalog=config.catalog,
    )
    assert QueryService(named).reads.warehouse == "dwh"
    plain = ServiceConfig(
        warehouse="dwh",
        warehouses=config.warehouses,
        results_dir=config.results_dir,
        tokens_file=config.tokens_file,
    )
    assert QueryService(plain).reads is None
