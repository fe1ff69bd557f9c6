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


@pytest.mark.parametrize("mode", ["replace", "append"])
def test_a_connection_dropped_mid_load_leaves_the_table_intact(
    writer: PostgresWarehouse, admin: Any, mode: str
) -> None:
    """Replace and append copy straight into a table with the data's columns (TRUNCATE
    first for a replace): a COPY cut off there rolls back to the rows the table had."""
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
        writer.write_table("items", reader, mode=mode)
    assert _rows(admin, "SELECT id FROM items ORDER BY id") == [(1,), (2,), (3,)]
    assert _rows(admin, "SELECT count(*) FROM pg_tables WHERE tablename LIKE '_tasuki_stage%'") == [
        (0,)
    ]
    writer.write_table("items", pa.table({"id": [7]}), mode="append")  # the warehouse recovers
    assert _rows(admin, "SELECT count(*) FROM items") == [(4,)]


def test_a_replace_keeps_the_views_grants_and_comments_of_the_table(
    writer: PostgresWarehouse, admin: Any
) -> None:
    """Teams put views over the tables pipelines write, grant them to analysts and document
    them; a replace used to drop the table and rename a new one in: refused by PostgreSQL
    under a view ("cannot drop table items because other objects depend on it"), and
    without one taking the grants and comments with it."""
    import uuid

    writer.write_table("items", pa.table({"id": pa.array([1, 2], pa.int64()), "name": ["a", "b"]}))
    role = f"tasuki_analyst_{uuid.uuid4().hex[:8]}"
    admin.execute("CREATE VIEW v_items AS SELECT id, name FROM items WHERE id > 0")
    admin.execute(f"CREATE ROLE {role}")
    admin.execute(f"GRANT SELECT ON items TO {role}")
    admin.execute("COMMENT ON TABLE items IS 'one row per item'")
    try:
        new = pa.table({"id": pa.array([7, 8, 9], pa.int64()), "name": ["x", "y", "z"]})
        assert writer.write_table("items", new, mode="replace") == 3
        assert _rows(admin, "SELECT id FROM v_items ORDER BY id") == [(7,), (8,), (9,)]
        assert _rows(admin, f"SELECT has_table_privilege('{role}', 'items', 'SELECT')") == [(True,)]
        assert _rows(admin, "SELECT obj_description('items'::regclass)") == [("one row per item",)]
        assert _rows(admin, "SELECT count(*) FROM pg_tables WHERE tablename LIKE '%stage%'") == [
            (0,)
        ]
    finally:
        admin.execute(f"REVOKE ALL ON items FROM {role}")
        admin.execute(f"DROP ROLE {role}")


def test_a_replace_with_other_columns_under_a_view_names_the_view(
    writer: PostgresWarehouse, admin: Any
) -> None:
    writer.write_table("items", pa.table({"id": pa.array([1], pa.int64()), "name": ["a"]}))
    admin.execute("CREATE SCHEMA reports")
    admin.execute("CREATE VIEW reports.v_items AS SELECT id, name FROM items")
    other = pa.table({"id": pa.array([5], pa.int64()), "title": ["t"]})
    with pytest.raises(WarehouseError) as caught:
        writer.write_table("items", other, mode="replace")
    said = str(caught.value)
    assert "reports.v_items" in said and "id bigint, name text" in said, said
    assert "id bigint, title text" in said and "mode='replace'" in said, said
    assert _rows(admin, "SELECT id, name FROM items") == [(1, "a")]  # unchanged
    # With no view in the way, a replace with other columns makes the table anew.
    admin.execute("DROP VIEW reports.v_items")
    writer.write_table("items", other, mode="replace")
    assert _rows(admin, "SELECT id, title FROM items") == [(5, "t")]
