"""Metadata sync from a real PostgreSQL warehouse, into SQLite and PostgreSQL catalogs;
COMMENTs round trip; a warehouse that is down; a failure half-way on a PostgreSQL catalog."""

from __future__ import annotations

import contextlib
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import select, text

from tasuki.catalog import Catalog
from tasuki.catalog import _schema as t
from tasuki.catalog._comments import push_comments
from tasuki.catalog._introspect import read_metadata
from tasuki.catalog._sync import sync
from tasuki.errors import CatalogError, WarehouseConnectionError
from tests._services import PG_DSN, service_unavailable

pytestmark = pytest.mark.services

TRICKY = "It's the \"net\" amount;\nback\\slash 100% -- not a comment ' OR 1=1"


@pytest.fixture
def warehouse(postgres_url: str) -> str:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(
            """
            CREATE SCHEMA sales;
            CREATE TABLE sales.orders (id bigint NOT NULL, amount numeric(10,2),
                                       note varchar(40), gone_col int);
            ALTER TABLE sales.orders DROP COLUMN gone_col;
            ALTER TABLE sales.orders ADD COLUMN status text;
            COMMENT ON TABLE sales.orders IS 'one row per order';
            COMMENT ON COLUMN sales.orders.amount IS 'in yen';
            INSERT INTO sales.orders SELECT g, g, 'x', 'ok' FROM generate_series(1, 1000) g;
            ANALYZE sales.orders;
            CREATE VIEW sales.big AS SELECT id FROM sales.orders WHERE amount > 100;
            CREATE MATERIALIZED VIEW sales.daily AS SELECT count(*) AS n FROM sales.orders;
            CREATE TABLE public.events (day date, n int) PARTITION BY RANGE (day);
            CREATE TABLE public.events_2024 PARTITION OF public.events
                FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
            CREATE TABLE public.events_2025 PARTITION OF public.events
                FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
            INSERT INTO public.events SELECT DATE '2024-12-01' + g % 60, g
                FROM generate_series(1, 600) g;
            ANALYZE public.events_2024, public.events_2025;
            """
        )
    return postgres_url


@contextlib.contextmanager
def pg_catalog_at() -> Iterator[Catalog]:
    """A catalog in a fresh PostgreSQL database of its own, dropped afterwards."""
    name = f"tasuki_catalog_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(f"{PG_DSN}/postgres", autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        service_unavailable("PostgreSQL", exc)
    url = PG_DSN.replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
    try:
        with Catalog.open(url) as cat:
            yield cat
    finally:
        with psycopg.connect(f"{PG_DSN}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Catalog]:
    if request.param == "sqlite":
        with Catalog.open(f"sqlite:///{tmp_path / 'catalog.db'}") as cat:
            yield cat
    else:
        with pg_catalog_at() as cat:
            yield cat


@pytest.fixture
def pg_catalog() -> Iterator[Catalog]:
    with pg_catalog_at() as cat:
        yield cat


def test_reads_tables_views_and_columns_from_pg_catalog(warehouse):
    tables = {(t.schema, t.name): t for t in read_metadata(warehouse)}
    assert set(tables) == {
        ("sales", "orders"),
        ("sales", "big"),
        ("sales", "daily"),
        ("public", "events"),  # partitions are left out: their parent stands for them
    }
    orders = tables["sales", "orders"]
    assert orders.table_type == "table" and orders.comment == "one row per order"
    assert orders.row_estimate == 1000 and orders.size_bytes and orders.size_bytes > 8192
    assert [(c.name, c.position, c.data_type, c.nullable) for c in orders.columns] == [
        ("id", 1, "bigint", False),
        ("amount", 2, "numeric(10,2)", True),
        ("note", 3, "character varying(40)", True),
        ("status", 5, "text", True),  # attnum: the dropped column's 4 stays a gap
    ]
    assert orders.columns[1].comment == "in yen"
    assert tables["sales", "big"].table_type == "view"
    assert tables["sales", "big"].size_bytes is None
    assert tables["sales", "daily"].table_type == "materialized view"
    events = tables["public", "events"]  # partitioned: the sums of its partitions
    assert events.row_estimate == 600 and events.size_bytes and events.size_bytes > 16384
    assert [t.name for t in read_metadata(warehouse, schemas=["public"])] == ["events"]


def test_sync_rename_and_comment_round_trip(warehouse, catalog):
    first = sync(catalog, "dwh", url=warehouse)
    assert first.first and first.tables == 4
    note = catalog.get("dwh/sales/orders/note")
    catalog.edit(note.path, author="ana", expected_version=1, description="free text")
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute("ALTER TABLE sales.orders RENAME COLUMN note TO memo")
        conn.execute("ALTER TABLE sales.orders ALTER COLUMN status TYPE varchar(20)")
    report = sync(catalog, "dwh", url=warehouse)
    assert (report.renamed, report.type_changed, report.gone) == (1, 1, 0)
    memo = catalog.get("dwh/sales/orders/memo")
    assert memo.id == note.id and memo.description == "free text"

    catalog.edit(memo.path, author="ana", expected_version=memo.version, description=TRICKY)
    orders = catalog.get("dwh/sales/orders")
    catalog.edit(orders.path, author="ana", expected_version=1, description="Orders.")
    view = catalog.get("dwh/sales/big")
    catalog.edit(view.path, author="ana", expected_version=1, description="Big 'uns")
    statements = push_comments(catalog, "dwh", url=warehouse)
    assert len(statements) == 3
    with psycopg.connect(warehouse) as conn:
        got = conn.execute(
            "SELECT col_description('sales.orders'::regclass, 3), "
            "obj_description('sales.big'::regclass, 'pg_class')"
        ).fetchone()
    assert got == (TRICKY, "Big 'uns")
    sync(catalog, "dwh", url=warehouse)
    assert catalog.get(memo.path).comment == TRICKY
    assert catalog.get(orders.path).comment == "Orders."
    assert push_comments(catalog, "dwh", url=warehouse, dry_run=True) == []


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_warehouse_that_is_down(warehouse, catalog):
    sync(catalog, "dwh", url=warehouse)
    before = [o.path for o in catalog.children("dwh/sales")]
    down = f"postgresql://reader:s3cret@127.0.0.1:{_closed_port()}/dwh"
    with pytest.raises(WarehouseConnectionError) as info:
        sync(catalog, "dwh", url=down)
    message = str(info.value)
    assert "'dwh'" in message and "127.0.0.1" in message and "s3cret" not in message
    assert [o.path for o in catalog.children("dwh/sales")] == before
    with catalog.engine.connect() as conn:
        last = conn.execute(select(t.syncs).order_by(t.syncs.c.id.desc())).mappings().first()
    assert last["status"] == "failed" and "s3cret" not in last["error"]


def test_a_failure_half_way_rolls_back_on_a_postgresql_catalog(warehouse, pg_catalog):
    # (The SQLite catalog's is in tests/unit/catalog/test_sync.py.)
    catalog = pg_catalog
    sync(catalog, "dwh", url=warehouse)
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute("CREATE TABLE sales.refunds (id int, why text); DROP VIEW sales.big")
        conn.execute("COMMENT ON TABLE sales.orders IS 'changed'")
    with catalog.engine.begin() as conn:
        conn.execute(
            text(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "RAISE EXCEPTION 'disk on fire'; END $$; "
                "CREATE TRIGGER refuse BEFORE UPDATE ON catalog_objects FOR EACH ROW "
                "WHEN (NEW.path = 'dwh/sales/orders') EXECUTE FUNCTION refuse()"
            )
        )
    with pytest.raises(CatalogError, match="disk on fire"):
        sync(catalog, "dwh", url=warehouse)
    # The COPY of the new table's rows came first and was rolled back with the rest.
    assert [o.name for o in catalog.children("dwh/sales")] == ["big", "daily", "orders"]
    assert catalog.get("dwh/sales/orders").comment == "one row per order"
    with catalog.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER refuse ON catalog_objects"))
    report = sync(catalog, "dwh", url=warehouse)
    assert (report.inserted, report.gone, report.comment_changed) == (3, 2, 1)
