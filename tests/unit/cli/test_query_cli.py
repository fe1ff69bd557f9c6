"""`tasuki query` and `tasuki add-client` on a DuckDB warehouse, in-process."""

from __future__ import annotations

import json

import duckdb
import pyarrow.parquet as pq
from typer.testing import CliRunner

from tasuki.cli import app


def test_query_preview_and_output(tmp_path):
    db = tmp_path / "dwh.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE t AS SELECT range AS id, 'x' || range AS name FROM range(30)")
    runner = CliRunner()
    url = f"duckdb:///{db}"
    preview = runner.invoke(
        app, ["query", "SELECT id, name FROM t ORDER BY id", "--warehouse", url]
    )
    assert preview.exit_code == 0, preview.output
    assert "x0" in preview.output
    out = tmp_path / "out.parquet"
    written = runner.invoke(app, ["query", "SELECT id FROM t", "--warehouse", url, "-o", str(out)])
    assert written.exit_code == 0, written.output
    assert pq.read_table(out).num_rows == 30
    refused = runner.invoke(app, ["query", "DELETE FROM t", "--warehouse", url])
    assert refused.exit_code == 1
    assert "UnsafeQueryError" in refused.output


def test_add_client_prints_a_token_and_stores_a_hash(tmp_path):
    tokens = tmp_path / "clients.json"
    result = CliRunner().invoke(app, ["add-client", "alice", "--tokens-file", str(tokens)])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert len(token) >= 20
    assert token not in tokens.read_text()
    assert "alice" in json.dumps(json.loads(tokens.read_text()))
