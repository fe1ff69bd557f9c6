"""Results kept in object storage: the service over an S3 results_dir (moto on loopback)."""

from __future__ import annotations

from pathlib import Path

import httpx

from tasuki.service import QueryClient, ServiceConfig
from tests._s3 import s3_client
from tests.integration.service.conftest import EVENT_ROWS, running_service


def keys(endpoint: str, url: str) -> list[str]:
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    listing = s3_client(endpoint).list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def test_results_in_s3(
    duck_file: Path,
    tokens: tuple[Path, dict[str, str]],
    s3_workspace: str,
    s3_endpoint: str,
) -> None:
    results = f"{s3_workspace}/results"
    config = ServiceConfig(
        warehouse=f"duckdb://{duck_file}",
        results_dir=results,
        tokens_file=str(tokens[0]),
        workers=1,
        warehouse_options={"part_rows": 50_000},
    )
    with running_service(config) as (url, _app), QueryClient(url, tokens[1]["alice"]) as client:
        result = client.query("SELECT * FROM events ORDER BY id")
        assert [p.rows for p in result.parts] == [50_000, 50_000, EVENT_ROWS - 100_000]
        table = result.to_arrow()
        assert table.column("id").to_pylist() == list(range(EVENT_ROWS))
        stored = keys(s3_endpoint, results)
        query_id = result.query_id
        assert any(k.endswith(f"{query_id}/job.json") for k in stored)
        assert sum(k.endswith(".parquet") for k in stored) == 3
        # a Range request is served from the object store too
        headers = {"Authorization": f"Bearer {tokens[1]['alice']}", "Range": "bytes=-8"}
        tail = httpx.get(f"{url}/v1/queries/{query_id}/parts/1", headers=headers)
        assert tail.status_code == 206 and tail.content.endswith(b"PAR1")
        assert client.cancel(query_id) is None  # deletes the finished result
        assert not [k for k in keys(s3_endpoint, results) if query_id in k]
