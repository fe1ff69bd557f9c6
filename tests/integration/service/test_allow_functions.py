"""The service checks queries with the warehouse's ``allow_functions`` too (issue 10)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tasuki.errors import WarehouseError
from tasuki.service import QueryClient, ServiceConfig
from tasuki.service._service import QueryService
from tests.integration.service.conftest import running_service


@pytest.fixture
def dwh(tmp_path: Path) -> Path:
    import duckdb

    path = tmp_path / "dwh.duckdb"
    with duckdb.connect(str(path)) as db:
        db.execute("CREATE MACRO twice(x) AS x * 2")
    return path


def config(dwh: Path, tmp_path: Path, tokens: tuple[Path, dict[str, str]], **options: object):  # type: ignore[no-untyped-def]
    return ServiceConfig(
        warehouse=f"duckdb:///{dwh}",
        results_dir=str(tmp_path / "results"),
        tokens_file=str(tokens[0]),
        workers=1,
        warehouse_options=options,
    )


def test_allowed_functions_pass_the_service_and_its_worker(
    dwh: Path, tmp_path: Path, tokens: tuple[Path, dict[str, str]]
) -> None:
    token = tokens[1]["alice"]
    with running_service(config(dwh, tmp_path, tokens, allow_functions=["twice"])) as (url, _):
        with QueryClient(url, token) as qc:
            assert qc.query("SELECT twice(4) AS v").to_arrow().column("v").to_pylist() == [8]
        refused = httpx.post(
            f"{url}/v1/queries",
            json={"sql": "SELECT thrice(4)"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert refused.status_code == 400
        assert "thrice" in refused.json()["error"]["message"]


def test_a_refused_name_stops_the_service_at_start(
    dwh: Path, tmp_path: Path, tokens: tuple[Path, dict[str, str]]
) -> None:
    with pytest.raises(WarehouseError, match="allow_functions"):
        QueryService(config(dwh, tmp_path, tokens, allow_functions=["pg_read_file"]))
