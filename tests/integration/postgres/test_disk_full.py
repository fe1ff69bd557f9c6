"""A full results folder during a PostgreSQL unload is a StorageError, not a PostgreSQL error."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tasuki.errors import StorageError, WarehouseError
from tasuki.warehouse import PostgresWarehouse
from tests.unit.warehouse.test_parts_disk import full_disk

pytestmark = [
    pytest.mark.services,
    pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full"),
]


@pytest.fixture
def table(admin: Any) -> Iterator[str]:
    name = f"disk_full_{os.getpid()}"
    admin.execute(
        f"CREATE TABLE {name} AS SELECT i, md5(i::text) AS h FROM generate_series(1, 300000) i"
    )
    yield name
    admin.execute(f"DROP TABLE {name}")


@pytest.mark.parametrize("parallel", [False, 2])
def test_full_results_folder_is_a_storage_error(
    postgres_reader_url: str,
    table: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    parallel: int | bool,
) -> None:
    full_disk(monkeypatch)
    results = tmp_path / "results"
    with (
        PostgresWarehouse(postgres_reader_url, parts_dir=results, parallel=parallel) as wh,
        pytest.raises(StorageError, match="disk is full") as caught,
    ):
        wh.query(f"SELECT i, h FROM {table}")
    error = caught.value
    assert not isinstance(error, WarehouseError)
    assert "PostgreSQL" not in str(error)
    assert f"results folder {str(results)!r}" in str(error)
    assert ".parquet" in str(error)
