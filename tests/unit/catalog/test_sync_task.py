"""SyncCatalogTask: the daily sync as a tasuki task, built on a real DuckDB warehouse."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
from sqlalchemy import func, select

import tasuki
from tasuki.catalog import Catalog
from tasuki.catalog import _schema as t
from tasuki.catalog._sync_task import SyncCatalogTask
from tasuki.config import Settings


def test_a_daily_sync_task_syncs_once_a_day(tmp_path: Path):
    wh = tmp_path / "wh.duckdb"
    with duckdb.connect(str(wh)) as con:
        con.execute("CREATE TABLE events (id INTEGER, kind VARCHAR)")
    catalog_url = f"sqlite:///{tmp_path / 'catalog.db'}"
    settings = Settings(
        workspace=str(tmp_path / "ws"),
        warehouses={"dwh": f"duckdb://{wh}"},
        catalog=catalog_url,
        progress="off",
    )
    day = dt.date(2024, 6, 1)
    report = tasuki.build(SyncCatalogTask(warehouse="dwh", day=day), settings=settings)
    assert report["warehouse"] == "dwh" and report["first"] is True
    assert (report["tables"], report["columns"], report["inserted"]) == (1, 2, 5)

    # Same day again: cached, no second sync. The next day: a new sync.
    tasuki.build(SyncCatalogTask(warehouse="dwh", day=day), settings=settings)
    with duckdb.connect(str(wh)) as con:
        con.execute("ALTER TABLE events ADD COLUMN seen_at TIMESTAMP")
    nxt = tasuki.build(
        SyncCatalogTask(warehouse="dwh", day=day + dt.timedelta(days=1)), settings=settings
    )
    assert (nxt["first"], nxt["inserted"], nxt["appeared"]) == (False, 1, 1)
    with Catalog.open(catalog_url) as catalog:
        with catalog.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(t.syncs)).scalar() == 2
        assert catalog.get("dwh/main/events/seen_at").data_type == "TIMESTAMP"
