"""Sync of a real DuckDB warehouse into a real SQLite catalog: incremental, one transaction,
never losing a description."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from sqlalchemy import select, text

from tasuki.catalog import Catalog
from tasuki.catalog import _schema as t
from tasuki.catalog._sync import sync
from tasuki.config import Settings
from tasuki.errors import CatalogError, CatalogNotFoundError, ConfigError, WarehouseConnectionError


@pytest.fixture
def wh(tmp_path: Path) -> Path:
    path = tmp_path / "wh.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(
            """
            CREATE SCHEMA sales;
            CREATE TABLE sales.orders (id INTEGER NOT NULL, amount DECIMAL(10, 2), note VARCHAR);
            COMMENT ON TABLE sales.orders IS 'one row per order';
            COMMENT ON COLUMN sales.orders.amount IS 'in yen';
            CREATE TABLE sales.users (id INTEGER, name VARCHAR);
            CREATE VIEW sales.big AS SELECT * FROM sales.orders WHERE amount > 100;
            INSERT INTO sales.orders VALUES (1, 10, 'a'), (2, 200, 'b');
            """
        )
    return path


def run(path: Path, sql: str) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute(sql)


@pytest.fixture
def catalog(tmp_path: Path):
    with Catalog.open(f"sqlite:///{tmp_path / 'catalog.db'}") as cat:
        yield cat


def do_sync(catalog: Catalog, wh: Path, **kw):
    return sync(catalog, "dwh", url=f"duckdb://{wh}", **kw)


def events(catalog: Catalog, path: str) -> list[tuple[str, dict]]:
    return [(e.kind, e.detail) for e in catalog.events(path)]


def snapshot(catalog: Catalog) -> list[dict]:
    with catalog.engine.connect() as conn:
        rows = [
            dict(r)
            for table in (t.objects, t.events)
            for r in conn.execute(select(table).order_by(table.c.id)).mappings()
        ]
    return rows


def test_first_sync_builds_every_level(catalog, wh):
    report = do_sync(catalog, wh)
    assert report.first and report.tables == 3 and report.columns == 3 + 2 + 3
    # database + schema + 3 tables + 8 columns
    assert report.inserted == 13 and report.appeared == 0
    db = catalog.get("dwh")
    assert db.kind == "database"
    schema = catalog.get("dwh/sales")
    assert schema.parent_id == db.id
    orders = catalog.get("dwh/sales/orders")
    assert orders.parent_id == schema.id and orders.table_type == "table"
    assert orders.comment == "one row per order" and orders.description == ""
    assert orders.row_estimate == 2
    assert catalog.get("dwh/sales/big").table_type == "view"
    amount = catalog.get("dwh/sales/orders/amount")
    assert (amount.data_type, amount.position, amount.comment) == ("DECIMAL(10,2)", 2, "in yen")
    assert catalog.get("dwh/sales/orders/id").nullable is False
    assert [c.name for c in catalog.children("dwh/sales/orders")] == ["id", "amount", "note"]
    # The first sync leaves one summary (its catalog_syncs row), no event per object.
    assert events(catalog, "dwh/sales/orders") == []
    with catalog.engine.connect() as conn:
        row = conn.execute(select(t.syncs)).mappings().one()
    assert row["status"] == "ok" and json.loads(row["counts"])["inserted"] == 13


def test_resync_with_nothing_changed_writes_nothing(catalog, wh):
    do_sync(catalog, wh)
    before = snapshot(catalog)
    report = do_sync(catalog, wh)
    assert not report.first
    assert (report.inserted, report.updated, report.gone, report.unchanged) == (0, 0, 0, 13)
    assert snapshot(catalog) == before


def test_new_table_and_column_appear_with_one_event_each(catalog, wh):
    do_sync(catalog, wh)
    run(
        wh,
        "CREATE TABLE sales.refunds (id INTEGER, why VARCHAR); "
        "ALTER TABLE sales.users ADD COLUMN email VARCHAR",
    )
    report = do_sync(catalog, wh)
    assert report.inserted == 4 and report.appeared == 2  # table + 2 columns, 1 column
    assert events(catalog, "dwh/sales/refunds") == [("appeared", {})]
    assert events(catalog, "dwh/sales/refunds/why") == []  # its table's event stands for it
    assert events(catalog, "dwh/sales/users/email") == [("appeared", {})]


def test_dropped_table_is_gone_with_its_text_and_comes_back(catalog, wh):
    do_sync(catalog, wh)
    users = catalog.get("dwh/sales/users")
    catalog.edit(users.path, author="ana", expected_version=users.version, description="people")
    col = catalog.get("dwh/sales/users/name")
    catalog.edit(col.path, author="ana", expected_version=col.version, description="full name")
    run(wh, "DROP TABLE sales.users")
    report = do_sync(catalog, wh)
    assert report.gone == 3  # the table and its two columns
    gone = catalog.get("dwh/sales/users")
    assert gone.gone and gone.description == "people"
    assert catalog.get("dwh/sales/users/name").gone
    assert [c.name for c in catalog.children("dwh/sales")] == ["big", "orders"]
    assert events(catalog, "dwh/sales/users") == [("gone", {})]
    assert events(catalog, "dwh/sales/users/name") == []
    assert len(catalog.history("dwh/sales/users")) == 1

    run(wh, "CREATE TABLE sales.users (id INTEGER, name VARCHAR)")
    report = do_sync(catalog, wh)
    assert report.returned == 3 and report.inserted == 0
    back = catalog.get("dwh/sales/users")
    assert not back.gone and back.id == users.id and back.description == "people"
    assert catalog.get("dwh/sales/users/name").description == "full name"
    assert [k for k, _ in events(catalog, "dwh/sales/users")] == ["returned", "gone"]
    assert events(catalog, "dwh/sales/users/name") == []  # its table's events stand for it


def test_changed_type_is_an_event_with_before_and_after(catalog, wh):
    do_sync(catalog, wh)
    run(wh, "ALTER TABLE sales.users ALTER COLUMN id TYPE BIGINT")
    report = do_sync(catalog, wh)
    assert report.type_changed == 1
    assert catalog.get("dwh/sales/users/id").data_type == "BIGINT"
    assert events(catalog, "dwh/sales/users/id") == [
        ("type_changed", {"before": "INTEGER", "after": "BIGINT"})
    ]


def test_changed_comment_is_an_event_and_leaves_the_description(catalog, wh):
    do_sync(catalog, wh)
    orders = catalog.get("dwh/sales/orders")
    catalog.edit(orders.path, author="ana", expected_version=1, description="Orders, **all**")
    run(wh, "COMMENT ON TABLE sales.orders IS 'orders since 2020'")
    do_sync(catalog, wh)
    now = catalog.get("dwh/sales/orders")
    assert now.comment == "orders since 2020" and now.description == "Orders, **all**"
    assert events(catalog, orders.path) == [
        ("comment_changed", {"before": "one row per order", "after": "orders since 2020"})
    ]


def test_renamed_column_keeps_its_description_and_history(catalog, wh):
    do_sync(catalog, wh)
    note = catalog.get("dwh/sales/orders/note")
    catalog.edit(note.path, author="ana", expected_version=1, description="free text", tags=["pii"])
    run(wh, "ALTER TABLE sales.orders RENAME COLUMN note TO memo")
    report = do_sync(catalog, wh)
    assert report.renamed == 1 and report.gone == 0 and report.inserted == 0
    memo = catalog.get("dwh/sales/orders/memo")
    assert memo.id == note.id and memo.description == "free text" and memo.tags == ["pii"]
    assert sorted(e.field for e in catalog.history(memo.path)) == ["description", "tags"]
    assert events(catalog, memo.path) == [
        ("renamed", {"before": "dwh/sales/orders/note", "after": "dwh/sales/orders/memo"})
    ]
    with pytest.raises(CatalogNotFoundError):
        catalog.get("dwh/sales/orders/note")
    # The search index follows the new name.
    assert [h.object.path for h in catalog.search("memo")] == [memo.path]
    assert "dwh/sales/orders/note" not in [h.object.path for h in catalog.search("note")]


def test_renamed_table_keeps_its_text_and_its_columns_text(catalog, wh):
    do_sync(catalog, wh)
    users = catalog.get("dwh/sales/users")
    catalog.edit(users.path, author="ana", expected_version=1, description="people")
    catalog.edit(users.path + "/name", author="ana", expected_version=1, description="full name")
    run(wh, "ALTER TABLE sales.users RENAME TO customers")
    report = do_sync(catalog, wh)
    assert report.renamed == 1 and report.gone == 0
    customers = catalog.get("dwh/sales/customers")
    assert customers.id == users.id and customers.description == "people"
    assert catalog.get("dwh/sales/customers/name").description == "full name"
    assert catalog.get("dwh/sales/customers/name").table_name == "customers"
    assert events(catalog, customers.path) == [
        ("renamed", {"before": "dwh/sales/users", "after": "dwh/sales/customers"})
    ]


def test_ambiguous_column_changes_are_not_taken_for_renames(catalog, wh):
    do_sync(catalog, wh)
    note = catalog.get("dwh/sales/orders/note")
    catalog.edit(note.path, author="ana", expected_version=1, description="free text")
    # One VARCHAR gone; two columns new, the VARCHAR one not where `note` was: not a
    # single gone/appeared pair, so not a rename.
    run(
        wh,
        "ALTER TABLE sales.orders DROP COLUMN note; "
        "ALTER TABLE sales.orders ADD COLUMN a INTEGER; "
        "ALTER TABLE sales.orders ADD COLUMN b VARCHAR",
    )
    report = do_sync(catalog, wh)
    assert report.renamed == 0 and report.gone == 1 and report.inserted == 2
    assert catalog.get(note.path).gone and catalog.get(note.path).description == "free text"


def test_a_sync_that_fails_half_way_keeps_the_previous_state(catalog, wh):
    do_sync(catalog, wh)
    before = snapshot(catalog)
    run(
        wh,
        "CREATE TABLE sales.refunds (id INTEGER); DROP TABLE sales.users; "
        "COMMENT ON TABLE sales.orders IS 'changed'",
    )
    # A real failure inside the catalog database, after the new table's rows went in: the
    # update of `orders` (which comes after the inserts) is refused.
    with catalog.engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TRIGGER refuse BEFORE UPDATE ON catalog_objects "
                "WHEN NEW.path = 'dwh/sales/orders' BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
            )
        )
    with pytest.raises(CatalogError, match="disk on fire") as info:
        do_sync(catalog, wh)
    assert "rolled back" in str(info.value)
    assert snapshot(catalog) == before
    with catalog.engine.connect() as conn:
        rows = conn.execute(select(t.syncs).order_by(t.syncs.c.id)).mappings().all()
    assert [r["status"] for r in rows] == ["ok", "failed"]
    assert "disk on fire" in rows[1]["error"] and rows[1]["finished_at"] is not None

    with catalog.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER refuse"))
    report = do_sync(catalog, wh)
    assert (report.inserted, report.gone, report.comment_changed) == (2, 3, 1)


def test_a_warehouse_that_is_down_fails_the_sync_and_keeps_the_catalog(catalog, wh, tmp_path):
    do_sync(catalog, wh)
    before = snapshot(catalog)
    with pytest.raises(WarehouseConnectionError, match="'dwh'"):
        sync(catalog, "dwh", url=f"duckdb://{tmp_path / 'moved.duckdb'}")
    assert snapshot(catalog) == before
    with catalog.engine.connect() as conn:
        last = conn.execute(select(t.syncs).order_by(t.syncs.c.id.desc())).mappings().first()
    assert last["status"] == "failed" and "moved.duckdb" in last["error"]


def test_unknown_warehouse_name_lists_the_configured_ones(catalog):
    settings = Settings(warehouses={"dwh": "duckdb://", "lake": "duckdb://"})
    with pytest.raises(ConfigError, match=r"no warehouse named 'nope'.*dwh, lake"):
        sync(catalog, "nope", settings=settings)


def test_bad_names_and_schemes_are_refused(catalog):
    with pytest.raises(ConfigError, match="'mysql' is not one of duckdb"):
        sync(catalog, "dwh", url="mysql://root@localhost/db")
    with pytest.raises(ConfigError, match="no '/'"):
        sync(catalog, "a/b", url="duckdb://")


def test_syncing_some_schemas_leaves_the_others_alone(catalog, wh):
    run(wh, "CREATE SCHEMA hr; CREATE TABLE hr.staff (id INTEGER)")
    do_sync(catalog, wh)
    run(wh, "DROP TABLE sales.users; DROP TABLE hr.staff")
    report = do_sync(catalog, wh, schemas=["hr"])
    assert report.gone == 3 and report.tables == 0  # hr/staff, its column, hr itself
    assert not catalog.get("dwh/sales/users").gone
    assert catalog.get("dwh/hr/staff").gone


def test_a_table_moved_to_a_new_schema_keeps_its_text_under_its_new_parent(catalog, wh):
    do_sync(catalog, wh)
    catalog.edit("dwh/sales/users", author="ana", expected_version=1, description="people")
    run(
        wh,
        "CREATE SCHEMA archive; CREATE TABLE archive.users_2023 AS SELECT * FROM sales.users; "
        "DROP TABLE sales.users",
    )
    report = do_sync(catalog, wh)
    assert (report.renamed, report.gone, report.inserted) == (1, 0, 1)  # the schema is new
    moved = catalog.get("dwh/archive/users_2023")
    assert moved.description == "people" and moved.schema_name == "archive"
    assert moved.parent_id == catalog.get("dwh/archive").id
    assert [c.path for c in catalog.children("dwh/archive/users_2023")] == [
        "dwh/archive/users_2023/id",
        "dwh/archive/users_2023/name",
    ]
    assert events(catalog, "dwh/archive") == [("appeared", {})]
