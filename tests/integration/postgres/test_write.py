"""write_table on PostgreSQL: binary COPY into staging, then swap / append / merge, atomically."""

from __future__ import annotations

import decimal
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

from tasuki.errors import WarehouseConnectionError, WarehouseError
from tasuki.warehouse import PostgresWarehouse

pytestmark = pytest.mark.services


def _rows(admin: Any, sql: str) -> list[tuple[Any, ...]]:
    return admin.execute(sql).fetchall()


def test_replace_append_merge(writer: PostgresWarehouse, admin: Any) -> None:
    first = pa.table(
        {
            "id": pa.array([1, 2], pa.int64()),
            "name": ["a", ""],
            "price": pa.array([decimal.Decimal("1.50"), None], pa.decimal128(12, 2)),
        }
    )
    assert writer.write_table("public.items", first) == 2
    assert _rows(admin, "SELECT id, name, price FROM items ORDER BY id") == [
        (1, "a", decimal.Decimal("1.50")),
        (2, "", None),
    ]
    writer.write_table(
        "items", pa.table({"id": [3], "name": [None], "price": [None]}), mode="append"
    )
    writer.write_table(
        "items",
        pa.table({"id": [2, 4], "name": ["B", "d"], "price": [None, None]}),
        mode="merge",
        key=["id"],
    )
    assert _rows(admin, "SELECT id, name FROM items ORDER BY id") == [
        (1, "a"),
        (2, "B"),
        (3, None),
        (4, "d"),
    ]
    writer.write_table("items", pa.table({"id": [9]}), mode="replace")
    assert _rows(admin, "SELECT * FROM items") == [(9,)]
    # No staging table is left behind.
    assert _rows(admin, "SELECT count(*) FROM pg_tables WHERE tablename LIKE '_tasuki_stage%'") == [
        (0,)
    ]


def test_query_results_round_trip_through_write_table(
    wh: PostgresWarehouse, writer: PostgresWarehouse, admin: Any
) -> None:
    admin.execute(
        "CREATE TABLE src AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 5000) g"
    )
    # Read as the reader role, written as the superuser (write_table is never refused).
    writer.write_table("copy", wh.query("SELECT id, h FROM src"))
    assert _rows(admin, "SELECT count(*), count(DISTINCT h) FROM copy") == [(5000, 5000)]


def test_a_failed_merge_leaves_the_table_as_it_was(writer: PostgresWarehouse, admin: Any) -> None:
    writer.write_table("items", pa.table({"id": [1, 2], "n": [10, 20]}))
    # The DELETE of the merge succeeds, the INSERT cannot cast text to bigint: rollback. (The
    # message proves it failed there, not in a check before anything was written.)
    with pytest.raises(WarehouseError, match="invalid input syntax for type bigint"):
        writer.write_table("items", pa.table({"id": [1], "n": ["abc"]}), mode="merge", key=["id"])
    assert _rows(admin, "SELECT id, n FROM items ORDER BY id") == [(1, 10), (2, 20)]


def test_a_connection_dropped_mid_load_leaves_the_table_intact(
    writer: PostgresWarehouse, admin: Any
) -> None:
    writer.write_table("items", pa.table({"id": [1, 2, 3]}))
    batch = pa.record_batch({"id": pa.array(range(10_000), pa.int64())})

    def batches() -> Iterator[pa.RecordBatch]:
        for i in range(20):
            if i == 5:  # the COPY is under way: kill the backend running it
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE query LIKE 'COPY%' AND pid <> pg_backend_pid() "
                    "AND datname = current_database()"  # never another test's COPY
                )
            yield batch

    reader = pa.RecordBatchReader.from_batches(batch.schema, batches())
    with pytest.raises(WarehouseConnectionError):
        writer.write_table("items", reader)
    assert _rows(admin, "SELECT id FROM items ORDER BY id") == [(1,), (2,), (3,)]
    assert _rows(admin, "SELECT count(*) FROM pg_tables WHERE tablename LIKE '_tasuki_stage%'") == [
        (0,)
    ]
    writer.write_table("items", pa.table({"id": [7]}), mode="append")  # the warehouse recovers
    assert _rows(admin, "SELECT count(*) FROM items") == [(4,)]
