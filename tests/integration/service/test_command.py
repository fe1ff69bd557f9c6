"""run_query_command: what `tasuki query` prints and writes, locally and through the service."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from rich.console import Console

from tasuki.errors import ConfigError
from tasuki.service import ServiceConfig, run_query_command
from tasuki.service._config import resolve_warehouse
from tests.integration.service.conftest import EVENT_ROWS, running_service


def console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=200, color_system=None), buffer


@pytest.fixture(scope="module")
def service(
    duck_file: Path, tokens: tuple[Path, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Any]]:
    config = ServiceConfig(
        warehouse=f"duckdb://{duck_file}",
        results_dir=str(tmp_path_factory.mktemp("results")),
        tokens_file=str(tokens[0]),
        workers=1,
        warehouse_options={"part_rows": 50_000},
    )
    with running_service(config) as running:
        yield running


def test_preview_from_the_warehouse(duck_file: Path) -> None:
    out, buffer = console()
    code = run_query_command(
        "SELECT * FROM tiny ORDER BY k", warehouse=f"duckdb://{duck_file}", console=out
    )
    text = buffer.getvalue()
    assert code == 0, text
    assert "k" in text and "int32" in text and "NULL" in text
    assert "3 rows in 1 part(s)" in text


def test_preview_is_limited(duck_file: Path) -> None:
    out, buffer = console()
    code = run_query_command(
        "SELECT id FROM events ORDER BY id",
        warehouse=f"duckdb://{duck_file}",
        limit_preview=5,
        console=out,
    )
    text = buffer.getvalue()
    assert code == 0
    assert f"{EVENT_ROWS:,} rows" in text and "showing the first 5" in text
    assert "│ 4 " in text and "│ 5 " not in text


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_output_files(duck_file: Path, tmp_path: Path, suffix: str) -> None:
    target = tmp_path / "out" / f"events{suffix}"
    out, buffer = console()
    code = run_query_command(
        "SELECT id, name FROM events WHERE id < 1000 ORDER BY id",
        warehouse=f"duckdb://{duck_file}",
        output=target,
        console=out,
    )
    assert code == 0, buffer.getvalue()
    assert "wrote 1,000 rows" in buffer.getvalue()
    table = pq.read_table(target) if suffix == ".parquet" else pacsv.read_csv(target)
    assert table.num_rows == 1000
    assert table.column("id").to_pylist() == list(range(1000))
    assert not list(target.parent.glob("*.tmp-*"))


def test_through_the_service(
    service: tuple[str, Any], tokens: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    out, buffer = console()
    code = run_query_command(
        "SELECT * FROM events ORDER BY id",
        service_url=service[0],
        token=tokens[1]["alice"],
        output=tmp_path / "all.parquet",
        console=out,
    )
    assert code == 0, buffer.getvalue()
    assert pq.read_table(tmp_path / "all.parquet").num_rows == EVENT_ROWS
    out, buffer = console()
    code = run_query_command(
        "SELECT k, v FROM tiny ORDER BY k",
        service_url=service[0],
        token=tokens[1]["alice"],
        console=out,
    )
    assert code == 0 and "3 rows in 1 part(s)" in buffer.getvalue()


def test_failures_have_exit_codes(
    duck_file: Path, service: tuple[str, Any], tmp_path: Path
) -> None:
    url = f"duckdb://{duck_file}"
    out, buffer = console()
    assert run_query_command("DELETE FROM events", warehouse=url, console=out) == 1
    assert "UnsafeQueryError" in buffer.getvalue()
    out, buffer = console()
    assert run_query_command("SELEC 1", warehouse=url, console=out) == 1
    assert "at character 7" in buffer.getvalue()
    out, buffer = console()
    assert (
        run_query_command("SELECT 1", warehouse=url, output=tmp_path / "x.xlsx", console=out) == 2
    )
    assert ".parquet, .csv" in buffer.getvalue()
    out, buffer = console()
    assert run_query_command("SELECT 1", service_url=service[0], console=out) == 2
    assert "token" in buffer.getvalue()
    out, buffer = console()
    assert run_query_command("SELECT 1", service_url=service[0], token="tsk_bad", console=out) == 1
    assert "401" in buffer.getvalue()
    out, buffer = console()
    assert run_query_command("SELECT 1", warehouse="nowhere", console=out) == 2
    assert "nowhere" in buffer.getvalue()


def test_warehouse_names_come_from_settings(duck_file: Path) -> None:
    Path("tasuki.toml").write_text(f'[warehouses]\ndwh = "duckdb://{duck_file}"\n')
    assert resolve_warehouse("dwh") == f"duckdb://{duck_file}"
    assert resolve_warehouse(None) == f"duckdb://{duck_file}"  # the only one configured
    out, buffer = console()
    assert run_query_command("SELECT count(*) AS n FROM tiny", warehouse="dwh", console=out) == 0
    assert "1 rows" in buffer.getvalue()
    with pytest.raises(ConfigError, match="known: dwh"):
        resolve_warehouse("dw")
    Path("tasuki.toml").write_text("")
    with pytest.raises(ConfigError, match="no warehouse given"):
        resolve_warehouse(None)


def test_service_config_is_validated(tmp_path: Path) -> None:
    base: dict[str, Any] = {"warehouse": "duckdb://", "results_dir": str(tmp_path)}
    with pytest.raises(ConfigError, match="no clients"):
        ServiceConfig(**base)
    with pytest.raises(ConfigError, match="sha256 hex digest"):
        ServiceConfig(**base, clients={"alice": "plain-token"})
    with pytest.raises(ConfigError, match="workers must be a whole number"):
        ServiceConfig(**base, clients={"a": "0" * 64}, workers=0)
    with pytest.raises(ConfigError, match="result_ttl must be a positive"):
        ServiceConfig(**base, clients={"a": "0" * 64}, result_ttl=float("nan"))
    with pytest.raises(ConfigError, match="unknown warehouse scheme"):
        from tasuki.service import create_app

        create_app(ServiceConfig(**{**base, "warehouse": "duckdbb:///x"}, clients={"a": "0" * 64}))


def test_public_names_and_light_client_import() -> None:
    import subprocess
    import sys

    import tasuki.service

    for name in tasuki.service.__all__:
        assert getattr(tasuki.service, name) is not None, name
    code = (
        "import sys; from tasuki.service import QueryClient, add_client, ServiceConfig; "
        "assert 'fastapi' not in sys.modules and 'uvicorn' not in sys.modules, 'server loaded'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
