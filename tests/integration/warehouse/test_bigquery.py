"""BigQuery: the EXPORT DATA statement emitted, and parts read back from object storage."""

from __future__ import annotations

import concurrent.futures
from typing import Any

import pytest
import sqlglot

from tasuki.errors import ConfigError, QueryTimeoutError, TableNotFoundError
from tasuki.warehouse import BigQueryWarehouse, connect

from .conftest import RecordingBigQuery


def _wh(client: Any, staging: str, storage_options: dict[str, Any]) -> BigQueryWarehouse:
    wh = connect(
        "bigquery://proj/ds", gcs_staging=staging, storage_options=storage_options, client=client
    )
    assert isinstance(wh, BigQueryWarehouse)
    return wh


def test_export_statement_and_parts(
    sales: Any, staging: str, storage_options: dict[str, Any]
) -> None:
    client = RecordingBigQuery(sales, storage_options)
    wh = _wh(client, staging, storage_options)
    result = wh.query("SELECT id, seller FROM sales WHERE seller = @s", {"s": "o'brien"})
    (statement,) = client.statements
    location = f"{staging}/{result.query_id}"
    assert statement == (
        f"EXPORT DATA OPTIONS(uri='{location}/part-*.parquet', format='PARQUET', "
        "compression='ZSTD', overwrite=true) AS "
        "SELECT id, seller FROM proj.ds.sales AS sales WHERE seller = 'o\\'brien'"
    )
    assert result.to_arrow().to_pylist() == [{"id": 1, "seller": "o'brien"}]
    assert result.manifest.backend == "bigquery" and result.parts[0].path.startswith(location)


def test_positional_parameters_and_many_parts(
    sales: Any, staging: str, storage_options: dict[str, Any]
) -> None:
    client = RecordingBigQuery(sales, storage_options)
    result = _wh(client, staging, storage_options).query(
        "SELECT id FROM other.sales WHERE amount > ? AND seller <> ?", [20, "x\\'y"]
    )
    statement = client.statements[0]
    select = statement.split(" AS ", 1)[1]
    tree = sqlglot.parse_one(select, read="bigquery")
    assert tree.args["where"].this.expression.expression.this == "x\\'y"
    assert "proj.other.sales" in statement  # a dataset given in the query is kept
    # ids 3..10, less the NULL seller (NULL <> 'x' is not true)
    assert len(result.parts) == 2 and sum(p.rows for p in result.parts) == 7
    assert all(p.bytes > 0 for p in result.parts)


def test_timeouts_cancel_the_job_and_errors_are_translated(
    sales: Any, staging: str, storage_options: dict[str, Any]
) -> None:
    class Slow(RecordingBigQuery):
        def query(self, sql: str, job_config: Any = None) -> Any:
            job = super().query(sql, job_config)

            def result(timeout: float | None = None) -> None:
                raise concurrent.futures.TimeoutError

            job.result = result  # type: ignore[method-assign]
            self.last = job
            return job

    slow = Slow(sales, storage_options)
    with pytest.raises(QueryTimeoutError, match=r"timeout of 2 s"):
        _wh(slow, staging, storage_options).query("SELECT 1 AS a", timeout=2)
    assert slow.last.cancelled

    class NotFound(Exception):  # google.api_core.exceptions.NotFound is matched by name
        pass

    class Missing(RecordingBigQuery):
        def query(self, sql: str, job_config: Any = None) -> Any:
            raise NotFound("Not found: Table proj:ds.nope was not found in location US")

    with pytest.raises(TableNotFoundError, match="nope") as info:
        _wh(Missing(sales, storage_options), staging, storage_options).query("SELECT * FROM nope")
    assert info.value.table == "proj:ds.nope"


def test_configuration_is_checked() -> None:
    with pytest.raises(ConfigError, match="gcs_staging"):
        connect("bigquery://proj/ds")
    wh = BigQueryWarehouse.from_url("bigquery://proj/ds", parts_dir="gs://b/p")
    assert wh.gcs_staging == "gs://b/p" and wh.url == "bigquery://proj/ds"
    with pytest.raises(ConfigError, match="google-cloud-bigquery"):
        wh._get_client()
