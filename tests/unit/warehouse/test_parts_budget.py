"""Issue 10: a byte limit on a query's parts (the service's ``max_result_bytes``).

The part writer charges a shared budget after every row group, and fails once the budget
is spent; the backend then deletes what was written.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from tasuki.errors import WarehouseError
from tasuki.warehouse import connect
from tasuki.warehouse._parts import ByteBudget, PartWriter, ResultTooLargeError, result_byte_limit


def noise(rows: int, seed: int = 0) -> pa.RecordBatch:
    """Random doubles: zstd cannot shrink them, so Parquet bytes ~ 8 per row."""
    values = np.random.default_rng(seed).random(rows)
    return pa.RecordBatch.from_pydict({"x": pa.array(values)})


@pytest.mark.parametrize("threaded", [True, False])
def test_the_writer_fails_once_the_budget_is_spent(tmp_path: Path, threaded: bool) -> None:
    budget = ByteBudget(200_000)
    writer = PartWriter(
        str(tmp_path / "q"), noise(1).schema, threaded=threaded, budget=budget, part_rows=50_000
    )
    with pytest.raises(ResultTooLargeError) as info:
        for seed in range(100):  # 100 x 8 kB rows x 8 bytes: 6.4 MB, far past the budget
            writer.write(noise(8192, seed))
        writer.close()
    writer.abort()
    assert isinstance(info.value, WarehouseError)
    assert "200,000" in str(info.value) and "max_result_bytes" in str(info.value)
    assert info.value.fields["limit"] == 200_000
    # Stopped within a row group (256k rows) and a part of the limit, not at the end.
    assert budget.used < 200_000 + 256 * 1024 * 8 + 100_000
    assert not (tmp_path / "q").exists()


def test_writers_of_one_query_share_the_budget(tmp_path: Path) -> None:
    budget = ByteBudget(10_000_000)
    parts = []
    for prefix in ("a", "b"):
        writer = PartWriter(str(tmp_path / "q"), noise(1).schema, prefix=prefix, budget=budget)
        writer.write(noise(100_000))
        parts += writer.close()
    assert budget.used == sum(p.bytes for p in parts)
    assert budget.used == sum(os.path.getsize(p.path) for p in parts)


def test_result_byte_limit_reaches_the_backends_writers(tmp_path: Path) -> None:
    sql = "SELECT random() AS x FROM range(1000000)"  # ~8 MB of Parquet
    with connect("duckdb://", parts_dir=tmp_path / "parts") as wh:
        with result_byte_limit(1_000_000) as budget, pytest.raises(ResultTooLargeError):
            wh.query(sql)
        assert budget is not None and budget.used > 1_000_000
        assert not [p for p in (tmp_path / "parts").rglob("*") if p.is_file()]
        # Outside the block there is no limit again; inside, a small result is kept whole.
        assert wh.query(sql).manifest.total_rows == 1_000_000
        with result_byte_limit(1_000_000) as budget:
            result = wh.query("SELECT * FROM range(1000) t(i)")
        assert budget is not None and budget.used == result.manifest.total_bytes


def test_no_limit_and_bad_limits() -> None:
    with result_byte_limit(None) as budget:
        assert budget is None
    for bad in (0, -1, True, 1.5):
        with pytest.raises(WarehouseError, match="max_bytes"):
            ByteBudget(bad)  # type: ignore[arg-type]
