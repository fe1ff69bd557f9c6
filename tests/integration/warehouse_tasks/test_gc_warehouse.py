"""``tasuki gc`` says exactly what it removes and does exactly that (issue 9, bug 2).

Warehouse tables written by ``WriteTableTask`` live outside the workspace: gc keeps them
(and their lineage rows), lists them as kept with how to drop one, and never prints
"removed" for them. It did: ``removed postgresql:recs_log`` while the table stayed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import tasuki
from tasuki.cli import app
from tasuki.warehouse import WriteTableTask, read_lineage
from tests.integration.warehouse_tasks.test_write_table_task import Predictions, _sql


@pytest.fixture(params=["duckdb", "postgresql"])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "duckdb":
        return f"duckdb://{tmp_path / 'dwh.duckdb'}"
    return str(request.getfixturevalue("postgres_url"))


def _gc(ws: str, *args: str) -> Any:
    return CliRunner().invoke(
        app,
        ["gc", *args, "--keep-newer-than", "0", "--workspace", ws],
        catch_exceptions=False,
        env={"COLUMNS": "200"},
    )


def test_gc_keeps_warehouse_tables_and_says_so(warehouse_url: str, tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    keep = Predictions(day="keep")
    tasuki.build(keep, workspace=ws)
    write = WriteTableTask(
        data=Predictions(day="gone"), table="recs_log", warehouse=warehouse_url, mode="append"
    )
    tasuki.build(write, workspace=ws)
    scheme = warehouse_url.split("://", 1)[0]
    external = f"{scheme}:recs_log"

    dry = _gc(ws, keep.unique_id)
    assert dry.exit_code == 0, dry.output
    assert f"would remove {external}" not in dry.output
    assert re.search(rf"kept {re.escape(external)}\b", dry.output)

    done = _gc(ws, keep.unique_id, "--delete")
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    # Not one "removed" line names the table.
    assert not [ln for ln in lines if ln.startswith("removed") and "recs_log" in ln]
    kept = [ln for ln in lines if ln.startswith("kept") and external in ln]
    assert kept, done.output
    assert "DROP TABLE" in done.output  # how to drop one, if that is what was wanted
    # The table and its lineage row are still there...
    assert _sql(warehouse_url, "SELECT count(*) FROM recs_log") == [(3,)]
    assert {r["unique_id"] for r in read_lineage(warehouse_url, "recs_log")} == {write.unique_id}
    # ...and every "removed" line is true: those keys are gone from the workspace.
    removed = [ln.split(" ", 1)[1] for ln in lines if ln.startswith("removed ")]
    files = [k for k in removed if not re.match(r"\d+ files", k)]
    assert len(files) == 3  # the dropped Predictions' record and output, the write's record
    assert all(not (Path(ws) / k).exists() for k in files)
    # The write is still complete by its lineage row: nothing is appended again.
    again = tasuki.build(write, workspace=ws, return_value=False)
    assert again.ok and again.counts()["ran"] == 0
    assert _sql(warehouse_url, "SELECT count(*) FROM recs_log") == [(3,)]


def test_what_counts_as_a_warehouse_output() -> None:
    from tasuki.report.inventory import is_external

    assert is_external({"key": "postgresql:recs_log", "size": 0})  # records before `kind`
    assert is_external({"key": "duckdb:ml.scores", "size": 0, "kind": "file"})  # by its key
    assert is_external({"key": "recs", "kind": "table"})
    assert not is_external({"key": "pkg/mod/scores_ab12.parquet", "size": 10, "kind": "file"})
    assert not is_external({"key": "pkg/x:y/scores.parquet"})  # a colon deeper in the path
