"""The DuckDB backend, for real: queries, parameters, types, writes, errors, timeouts."""

from __future__ import annotations

import datetime as dt
import decimal
import os
from pathlib import Path

import pyarrow as pa
import pytest

from tasuki.errors import (
    PermissionDeniedError,
    QuerySyntaxError,
    QueryTimeoutError,
    TableNotFoundError,
    UnsafeQueryError,
    WarehouseConnectionError,
    WarehouseError,
)
from tasuki.warehouse import DuckDBWarehouse, QueryResult, connect


@pytest.fixture
def wh(tmp_path: Path):
    with connect(f"duckdb://{tmp_path / 'wh.db'}", parts_dir=tmp_path / "parts") as w:
        w.write_table(
            "events",
            pa.table(
                {
                    "id": pa.array(range(1, 7), pa.int64()),
                    "name": ["a", "", None, "d", "it's", "f"],
                    "amount": pa.array([decimal.Decimal("1.50")] * 6, pa.decimal128(12, 2)),
                    "at": pa.array(
                        [dt.datetime(2024, 1, i, tzinfo=dt.UTC) for i in range(1, 7)],
                        pa.timestamp("us", tz="UTC"),
                    ),
                }
            ),
        )
        yield w


def test_query_writes_parts_and_a_manifest(wh: DuckDBWarehouse, tmp_path: Path) -> None:
    result = wh.query("SELECT id, name FROM events ORDER BY id")
    assert result.num_rows == 6 and result.manifest.backend == "duckdb"
    assert result.manifest.location.startswith(str(tmp_path / "parts"))
    assert (Path(result.manifest.location) / "_manifest.json").exists()
    assert result.manifest.sql == "SELECT id, name FROM events ORDER BY id"
    names = result.to_arrow().column("name").to_pylist()
    assert names[1] == "" and names[2] is None  # empty string and NULL stay distinct
    again = QueryResult.from_manifest(f"{result.manifest.location}/_manifest.json")
    assert again.to_arrow().equals(result.to_arrow())


def test_named_and_positional_parameters_are_bound(wh: DuckDBWarehouse) -> None:
    r = wh.query(
        "SELECT id FROM events WHERE name = :n OR id = :i ORDER BY id", {"n": "it's", "i": 1}
    )
    assert r.to_arrow().column("id").to_pylist() == [1, 5]
    r = wh.query(
        "SELECT id FROM events WHERE at >= ? AND id < ? ORDER BY id",
        [dt.datetime(2024, 1, 3, tzinfo=dt.UTC), 5],
    )
    assert r.to_arrow().column("id").to_pylist() == [3, 4]
    assert r.manifest.params == ["2024-01-03T00:00:00+00:00", 5]
    hostile = "x' OR '1'='1"
    assert wh.query("SELECT id FROM events WHERE name = :n", {"n": hostile}).num_rows == 0


def test_types_map_as_documented(wh: DuckDBWarehouse) -> None:
    r = wh.query(
        "SELECT amount, at, INTERVAL 1 DAY AS i, [1, 2] AS l, {'a': 1} AS s, "
        "'{\"k\": 1}'::JSON AS j, 1::HUGEINT AS h FROM events LIMIT 1"
    )
    types = dict(zip(r.schema.names, r.schema.types, strict=True))
    assert types["amount"] == pa.decimal128(12, 2)
    assert types["at"] == pa.timestamp("us", tz="UTC")
    assert types["i"] == pa.struct(
        [("months", pa.int32()), ("days", pa.int32()), ("nanoseconds", pa.int64())]
    )
    assert types["l"] == pa.list_(pa.field("element", pa.int32()))
    assert types["j"] == pa.string()
    row = next(r.iter_rows())
    assert row["i"] == {"months": 0, "days": 1, "nanoseconds": 0}
    assert row["j"] == '{"k": 1}'


def test_large_results_stream_into_many_parts(tmp_path: Path) -> None:
    with DuckDBWarehouse(parts_dir=tmp_path, part_rows=40_000, batch_size=10_000) as w:
        r = w.query("SELECT range AS id, md5(range::VARCHAR) AS h FROM range(100000)")
        assert [p.rows for p in r.parts] == [40_000, 40_000, 20_000]
        total = sum(b.num_rows for b in r.iter_batches(batch_size=7_000))
        assert total == 100_000


def test_an_existing_file_is_opened_read_only_until_a_write(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    with DuckDBWarehouse(path) as w:
        w.write_table("t", pa.table({"a": [1]}))
    with DuckDBWarehouse(path) as w:
        assert w.query("SELECT a FROM t").num_rows == 1
        assert w._db_read_only is True
        w.write_table("t", pa.table({"a": [2]}), mode="append")
        assert w._db_read_only is False
        assert sorted(w.query("SELECT a FROM t").to_arrow().column("a").to_pylist()) == [1, 2]


def test_write_modes_replace_append_merge(wh: DuckDBWarehouse) -> None:
    rows = wh.write_table("k", pa.table({"id": [1, 2], "v": ["a", "b"]}))
    assert rows == 2
    wh.write_table("k", pa.table({"id": [3], "v": ["c"]}), mode="append")
    wh.write_table("k", pa.table({"id": [2, 4], "v": ["B", "d"]}), mode="merge", key=["id"])
    got = wh.query("SELECT id, v FROM k ORDER BY id").to_arrow().to_pylist()
    assert got == [
        {"id": 1, "v": "a"},
        {"id": 2, "v": "B"},
        {"id": 3, "v": "c"},
        {"id": 4, "v": "d"},
    ]
    wh.write_table("k", pa.table({"id": [9], "v": ["z"]}), mode="replace")
    assert wh.query("SELECT count(*) AS n FROM k").to_arrow().column("n").to_pylist() == [1]
    # A QueryResult and pandas / polars frames are accepted as data.
    wh.write_table("k2", wh.query("SELECT * FROM k"))
    wh.write_table("k3", wh.query("SELECT * FROM k").to_pandas())
    wh.write_table("k4", wh.query("SELECT * FROM k").to_polars(), mode="append")
    assert wh.query("SELECT * FROM k4").num_rows == 1


def test_a_failed_write_leaves_the_table_as_it_was(wh: DuckDBWarehouse) -> None:
    wh.write_table("k", pa.table({"id": [1, 2], "v": [10, 20]}))
    # v cannot hold 'abc': the merge fails after its DELETE, which is rolled back. (The message
    # proves it failed there, not in a check before anything was written.)
    with pytest.raises(WarehouseError, match="Could not convert string 'abc' to INT64"):
        wh.write_table("k", pa.table({"id": [1], "v": ["abc"]}), mode="merge", key=["id"])
    assert wh.query("SELECT id FROM k ORDER BY id").to_arrow().column("id").to_pylist() == [1, 2]
    with pytest.raises(WarehouseError, match="needs key"):
        wh.write_table("k", pa.table({"id": [1]}), mode="merge")
    with pytest.raises(WarehouseError, match="unknown write mode"):
        wh.write_table("k", pa.table({"id": [1]}), mode="upsert")  # type: ignore[arg-type]
    with pytest.raises(WarehouseError, match="not in the data"):
        wh.write_table("k", pa.table({"id": [1]}), mode="merge", key=["nope"])
    with pytest.raises(WarehouseError, match="not a table name"):
        wh.write_table("db.schema.t", pa.table({"id": [1]}))
    # Anything else is one identifier, quoted: no SQL can ride in on a table name.
    wh.write_table("t; DROP TABLE k", pa.table({"id": [1]}))
    assert wh.query('SELECT * FROM "t; DROP TABLE k"').num_rows == 1
    assert wh.query("SELECT * FROM k").num_rows == 2
    with pytest.raises(WarehouseError, match="cannot write a int"):
        wh.write_table("k", 5)


def test_unsafe_queries_never_reach_duckdb(wh: DuckDBWarehouse) -> None:
    with pytest.raises(UnsafeQueryError):
        wh.query("DROP TABLE events")
    with pytest.raises(UnsafeQueryError):
        wh.query(f"SELECT * FROM read_csv('{os.devnull}')")
    assert wh.query("SELECT count(*) AS n FROM events").to_arrow().column("n")[0].as_py() == 6


def test_external_access_is_off_even_past_the_check(wh: DuckDBWarehouse) -> None:
    # The second layer: were a file function to slip past the check, DuckDB refuses it.
    import duckdb

    from tasuki.warehouse.duckdb._errors import translate

    with pytest.raises(duckdb.PermissionException) as info:
        wh._connection(write=False).sql("SELECT * FROM read_text('/etc/hostname')").fetchall()
    error = translate(info.value, database="x")
    assert isinstance(error, PermissionDeniedError)
    assert "file system operations are disabled" in str(error)


def test_errors_name_what_went_wrong(wh: DuckDBWarehouse) -> None:
    with pytest.raises(TableNotFoundError, match="nope") as missing:
        wh.query("SELECT * FROM nope")
    assert missing.value.table == "nope"
    with pytest.raises(QuerySyntaxError, match="nosuchcolumn"):
        wh.query("SELECT nosuchcolumn FROM events")
    with pytest.raises(QuerySyntaxError) as syntax:
        wh.query("SELECT 1 +")
    assert syntax.value.line == 1


def test_a_long_query_is_interrupted_at_its_timeout(tmp_path: Path) -> None:
    with DuckDBWarehouse(parts_dir=tmp_path / "parts") as w:
        with pytest.raises(QueryTimeoutError, match=r"timeout of 0\.2 s") as info:
            w.query("SELECT count(*) FROM range(1000000000000) a", timeout=0.2)
        assert info.value.retryable
        # nothing half-written stays behind
        assert not (tmp_path / "parts").exists() or not any((tmp_path / "parts").iterdir())
        with pytest.raises(WarehouseError, match="positive number"):
            w.query("SELECT 1", timeout=0)


def test_read_only_warehouses_refuse_writes(tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    with DuckDBWarehouse(path) as w:
        w.write_table("t", pa.table({"a": [1]}))
    with DuckDBWarehouse(path, read_only=True) as w:
        with pytest.raises(PermissionDeniedError, match="read_only=True"):
            w.write_table("t", pa.table({"a": [2]}))
        assert w.query("SELECT * FROM t").num_rows == 1


def test_an_unopenable_database_is_a_connection_error(tmp_path: Path) -> None:
    (tmp_path / "junk.db").write_text("not a database")
    with DuckDBWarehouse(tmp_path / "junk.db") as w, pytest.raises(WarehouseConnectionError):
        w.query("SELECT 1")
    with DuckDBWarehouse(tmp_path / "no" / "such" / "dir.db", read_only=False) as w:
        with pytest.raises(WarehouseConnectionError, match=r"dir\.db"):
            w.query("SELECT 1")


def test_close_removes_a_temporary_parts_directory() -> None:
    w = connect("duckdb://")
    result = w.query("SELECT 1 AS a")
    location = result.manifest.location
    assert Path(location).exists()
    w.close()
    assert not Path(location).exists()


def test_urls() -> None:
    assert DuckDBWarehouse.from_url("duckdb://").database == ":memory:"
    assert DuckDBWarehouse.from_url("duckdb:///abs/x.db").database == "/abs/x.db"
    assert DuckDBWarehouse.from_url("duckdb://rel/x.db").url == "duckdb://rel/x.db"
    with pytest.raises(WarehouseError, match="not a DuckDB URL"):
        DuckDBWarehouse.from_url("postgresql://x")


def test_a_replace_or_append_with_the_table_s_columns_keeps_the_table(tmp_path: Path) -> None:
    """A replace used to drop the table and rename a new one in, taking its COMMENT (which
    the catalog shows), its column comments and its constraints with it."""
    import duckdb

    path = tmp_path / "wh.db"
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE TABLE k (id BIGINT PRIMARY KEY, v VARCHAR)")
        conn.execute("INSERT INTO k VALUES (1, 'a')")
        conn.execute("COMMENT ON TABLE k IS 'one row per key'")
        conn.execute("COMMENT ON COLUMN k.v IS 'the value'")
    with connect(f"duckdb://{path}", parts_dir=tmp_path / "parts") as wh:
        data = pa.table({"id": pa.array([7, 8], pa.int64()), "v": ["x", "y"]})
        assert wh.write_table("k", data, mode="replace") == 2
        assert wh.write_table("k", pa.table({"id": [9], "v": ["z"]}), mode="append") == 1
        with pytest.raises(WarehouseError, match=r"PRIMARY KEY|primary key|Duplicate key"):
            wh.write_table("k", pa.table({"id": [9], "v": ["again"]}), mode="append")
    with duckdb.connect(str(path), read_only=True) as conn:
        assert conn.execute("SELECT id, v FROM k ORDER BY id").fetchall() == [
            (7, "x"),
            (8, "y"),
            (9, "z"),
        ]
        assert conn.execute(
            "SELECT comment FROM duckdb_tables() WHERE table_name = 'k'"
        ).fetchall() == [("one row per key",)]
        comments = conn.execute(
            "SELECT comment FROM duckdb_columns() WHERE table_name = 'k' AND column_name = 'v'"
        ).fetchall()
        assert comments == [("the value",)]
        tables = conn.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()
        assert tables == [("k",)]  # no staging table left
