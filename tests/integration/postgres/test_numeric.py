"""numeric(p <= 18, s) columns fetched as scaled bigints: exact values, names, errors."""

from __future__ import annotations

import decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from tasuki.errors import WarehouseError
from tasuki.warehouse import PostgresWarehouse

pytestmark = pytest.mark.services

D = decimal.Decimal


@pytest.fixture
def amounts(admin: Any) -> None:
    admin.execute(
        "CREATE TABLE amounts (id int PRIMARY KEY, a numeric(18, 4), b numeric(5, 0), "
        "c numeric(19, 2), d numeric(3, 3), e numeric)"
    )
    admin.execute(
        """
        INSERT INTO amounts VALUES
        (1, 99999999999999.9999, 99999, 99999999999999999.99, 0.999, 1.5),
        (2, -99999999999999.9999, -99999, -99999999999999999.99, -0.999, -2),
        (3, 0, 0, 0, 0, 0),
        (4, NULL, NULL, NULL, NULL, NULL),
        (5, 0.0001, 1, 0.01, 0.001, 1e-20)
        """
    )


def test_values_are_exact_at_the_edges_of_each_precision(
    wh: PostgresWarehouse, amounts: None
) -> None:
    result = wh.query("SELECT * FROM amounts ORDER BY id")
    types = dict(zip(result.schema.names, result.schema.types, strict=True))
    assert types["a"] == pa.decimal128(18, 4) and types["b"] == pa.decimal128(5, 0)
    assert types["c"] == pa.decimal128(19, 2)  # too wide for a bigint: the text path
    assert types["d"] == pa.decimal128(3, 3) and types["e"] == pa.string()
    rows = result.to_arrow().to_pylist()
    assert [r["a"] for r in rows] == [
        D("99999999999999.9999"),
        D("-99999999999999.9999"),
        D("0.0000"),
        None,
        D("0.0001"),
    ]
    assert [r["b"] for r in rows] == [D(99999), D(-99999), D(0), None, D(1)]
    assert [r["c"] for r in rows] == [
        D("99999999999999999.99"),
        D("-99999999999999999.99"),
        D("0.00"),
        None,
        D("0.01"),
    ]
    assert [r["d"] for r in rows] == [D("0.999"), D("-0.999"), D("0.000"), None, D("0.001")]
    assert rows[4]["e"] == "0.00000000000000000001"


def test_unnamed_columns_keep_their_names(wh: PostgresWarehouse) -> None:
    result = wh.query("SELECT 1.5::numeric(3, 1), 2.25::numeric(4, 2) AS x, 3::numeric(2) AS y")
    assert result.schema.names == ["numeric", "x", "y"]
    assert result.to_arrow().to_pylist() == [{"numeric": D("1.5"), "x": D("2.25"), "y": D("3")}]


def test_two_columns_of_one_name_are_refused_before_anything_is_written(
    wh: PostgresWarehouse, tmp_path: Path
) -> None:
    with pytest.raises(WarehouseError, match=r"more than one column named 'x'.*AS"):
        wh.query("SELECT 1 AS x, 2.5::numeric(3, 1) AS x")
    assert not list((tmp_path / "parts").rglob("*.parquet"))


def test_parameters_and_parallel_ranges_go_through_the_same_path(
    postgres_reader_url: str, admin: Any, tmp_path: Path
) -> None:
    admin.execute(
        "CREATE TABLE money AS SELECT g AS id, (g * 1.25)::numeric(12, 2) AS amount "
        "FROM generate_series(1, 30000) g"
    )
    with PostgresWarehouse(postgres_reader_url, parts_dir=tmp_path, parallel=3) as w:
        result = w.query("SELECT id, amount FROM money WHERE id > :low", {"low": 10})
        assert result.manifest.extra["connections"] == 3
        table = result.to_arrow().sort_by("id")
    assert table.schema.field("amount").type == pa.decimal128(12, 2)
    assert table.num_rows == 29990
    assert table.column("amount")[0].as_py() == D("13.75")
    assert table.column("amount")[-1].as_py() == D("37500.00")


def test_nan_in_a_scaled_column_is_a_clear_error(
    wh: PostgresWarehouse, admin: Any, tmp_path: Path
) -> None:
    # numeric(p, s) can hold NaN (not infinity); decimal128 has no NaN.
    admin.execute("CREATE TABLE odd (id int, amount numeric(12, 2))")
    admin.execute("INSERT INTO odd VALUES (1, 1.5), (2, 'NaN')")
    with pytest.raises(WarehouseError) as info:
        wh.query("SELECT * FROM odd")
    text = str(info.value)
    assert "holds NaN" in text and "'amount'" in text and "amount::float8" in text
    assert not [p for p in (tmp_path / "parts").rglob("*.parquet")]  # nothing half-written
    # The advice works: cast in the query and the value comes through.
    rows = wh.query("SELECT id, amount::float8 AS amount FROM odd ORDER BY id").to_arrow()
    assert rows.column("amount")[0].as_py() == 1.5
