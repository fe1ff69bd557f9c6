"""A query of the embedded DuckDB file sees rows written by hand.

Before: rows inserted into the file from the DuckDB shell or a notebook left the query's
result cached for the rest of its freshness bucket (a day by default), and ``tasuki why``
said "complete". The query's record now keeps the file's stamp and tasuki's own writes to it
(tasuki.warehouse._duckdb_file); a write that tasuki's writes do not account for makes it out
of date, a write-back of another table of the same file does not, and an untouched file is
not even opened to check.
"""

from __future__ import annotations

import duckdb
import pytest

import tasuki
from tasuki.report.why import explain
from tasuki.storage import open_store
from tasuki.warehouse import QueryTask, WriteTableTask
from tasuki.warehouse._duckdb_file import grew


class Double(tasuki.Task):
    """Made from the query's result; written back to another table of the same file."""

    q: tasuki.Task

    def requires(self):
        return self.q

    def output(self):
        return self.make_target("double.parquet")

    def run(self):
        frame = self.load().to_pandas()
        frame["x"] = frame["x"] * 2
        self.dump(frame)


@pytest.fixture
def dwh(tmp_path):
    path = tmp_path / "dwh.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE ev AS SELECT range AS x FROM range(3)")
    return path


def _total(q, ws):
    return tasuki.build(q, workspace=ws, progress="off").column("s").to_pylist()[0]


def _counts(task, ws):
    return dict(tasuki.build(task, workspace=ws, progress="off", return_value=False).counts())


def test_rows_inserted_by_hand_rerun_the_query(dwh, tmp_path):
    ws = str(tmp_path / "ws")
    q = QueryTask(sql="SELECT sum(x) AS s FROM ev", warehouse=f"duckdb://{dwh}")
    assert _total(q, ws) == 3
    with duckdb.connect(str(dwh), read_only=True) as con:  # reading changes nothing
        con.execute("SELECT * FROM ev").fetchall()
    with duckdb.connect(str(dwh)) as con:  # nor does a read-write session that only reads
        con.execute("SELECT * FROM ev").fetchall()
    assert _counts(q, ws) == {"cached": 1}
    with duckdb.connect(str(dwh)) as con:
        con.execute("INSERT INTO ev VALUES (100)")
    lines = explain(q, open_store(ws))
    assert "will run" in lines[0]
    assert f"the DuckDB file {dwh} was written since it ran, not by a tasuki write-back" in (
        "\n".join(lines)
    )
    assert _total(q, ws) == 103
    assert _counts(q, ws) == {"cached": 1}  # and then cached again


def test_rows_written_while_the_connection_is_still_open_count(dwh, tmp_path):
    # A notebook that inserted rows and keeps its connection: the rows are in the log.
    ws = str(tmp_path / "ws")
    q = QueryTask(sql="SELECT count(*) AS s FROM ev", warehouse=f"duckdb://{dwh}")
    assert _total(q, ws) == 3
    con = duckdb.connect(str(dwh))
    try:
        con.execute("INSERT INTO ev VALUES (7)")
        assert "will run" in explain(q, open_store(ws))[0]
    finally:
        con.close()
    assert _total(q, ws) == 4


def test_a_write_back_of_another_table_of_the_file_keeps_the_query_cached(dwh, tmp_path):
    ws, url = str(tmp_path / "ws"), f"duckdb://{dwh}"
    q = QueryTask(sql="SELECT x FROM ev", warehouse=url)
    write = WriteTableTask(data=Double(q=q), table="doubled", warehouse=url, mode="replace")
    assert _counts(write, ws) == {"ran": 3}
    assert _counts(write, ws)["cached"] == 1  # the file was written, by tasuki, elsewhere
    assert _counts(write, ws)["cached"] == 1
    with duckdb.connect(str(dwh)) as con:
        con.execute("INSERT INTO ev VALUES (10)")
    assert _counts(write, ws) == {"ran": 3}  # a hand-made write of what it reads
    with duckdb.connect(str(dwh), read_only=True) as con:
        assert sorted(r[0] for r in con.execute("SELECT x FROM doubled").fetchall()) == [
            0,
            2,
            4,
            20,
        ]


def test_an_untouched_file_is_not_opened_to_check(dwh, tmp_path, monkeypatch):
    ws = str(tmp_path / "ws")
    q = QueryTask(sql="SELECT sum(x) AS s FROM ev", warehouse=f"duckdb://{dwh}")
    _total(q, ws)
    from tasuki.warehouse import _lineage

    opened = []
    real = _lineage._Conn.__init__

    def count(self, *args, **kwargs):
        opened.append(args)
        real(self, *args, **kwargs)

    monkeypatch.setattr(_lineage._Conn, "__init__", count)
    assert _counts(q, ws) == {"cached": 1}
    assert opened == []  # neither the lineage rows nor tasuki's writes were read


def test_a_file_that_is_gone_or_replaced_reruns_the_query(dwh, tmp_path):
    ws = str(tmp_path / "ws")
    q = QueryTask(sql="SELECT sum(x) AS s FROM ev", warehouse=f"duckdb://{dwh}")
    _total(q, ws)
    moved = tmp_path / "moved.duckdb"
    dwh.rename(moved)
    assert f"the DuckDB file {dwh} it reads is gone since it ran" in "\n".join(
        explain(q, open_store(ws))
    )
    with duckdb.connect(str(dwh)) as con:  # another file in its place
        con.execute("CREATE TABLE ev AS SELECT 40 AS x")
    assert _total(q, ws) == 40


def test_grew_only_when_tasuki_wrote_later():
    before = ["2026-01-02 00:00:00", ""]
    assert grew(before, ["2026-01-03 00:00:00", ""])  # a write-back (a replace keeps 1 row)
    assert grew(before, ["2026-01-02 00:00:00", "2026-01-04 00:00:00"])  # a migration
    assert not grew(before, before)  # nothing by tasuki: someone else wrote
    assert not grew(before, ["2026-01-01 00:00:00", "2026-01-05 00:00:00"])  # rows removed
    assert not grew([3, "2026-01-02", ""], ["2026-01-03", ""])  # another shape: not compared
