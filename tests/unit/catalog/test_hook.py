"""catalog_lineage = true: a build's records reach the catalog's lineage when it ends."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from examples.catalog.run import make_warehouse
from examples.catalog.tasks import publish

import tasuki
from tasuki.catalog import Catalog, table_key, upstream


def _settings(tmp_path: Path, **extra: object) -> tasuki.Settings:
    make_warehouse(str(tmp_path / "wh.duckdb"))
    return tasuki.load_settings(
        {
            "workspace": str(tmp_path / "ws"),
            "catalog": f"sqlite:///{tmp_path / 'catalog.db'}",
            "warehouses": {"dwh": f"duckdb:///{tmp_path / 'wh.duckdb'}"},
            **extra,
        }
    )


def test_a_build_writes_its_lineage_into_the_catalog(tmp_path: Path) -> None:
    settings = _settings(tmp_path, catalog_lineage=True)
    assert tasuki.run_build(publish(), settings=settings, progress="off").ok
    with Catalog.open(settings=settings) as catalog:
        found = upstream(catalog, table_key("dwh", "main", "daily_revenue"))
    kinds = sorted(n.kind for n in found.nodes.values())
    assert kinds == ["table", "table", "task", "task", "task"]
    assert table_key("dwh", "main", "orders") in found.nodes
    relations = {e.relation for e in found.edges}
    assert relations == {"wrote", "requires", "read"}


def test_off_by_default_nothing_is_written(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert tasuki.run_build(publish(), settings=settings, progress="off").ok
    assert not (tmp_path / "catalog.db").exists()


def test_a_catalog_that_cannot_be_written_never_fails_the_build(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "file").write_text("not a folder")
    settings = _settings(
        tmp_path, catalog_lineage=True, catalog=f"sqlite:///{tmp_path / 'file' / 'c.db'}"
    )
    with caplog.at_level(logging.WARNING, logger="tasuki.catalog._hook"):
        assert tasuki.run_build(publish(), settings=settings, progress="off").ok
    assert "catalog lineage of this build not written" in caplog.text
