"""QueryTask: a warehouse pull as a cached pipeline step (DuckDB file and real PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import duckdb
import psycopg
import pytest

import tasuki
from tasuki.errors import UnsafeQueryError
from tasuki.warehouse._task import QueryTask, freshness_bucket


class Scores(tasuki.Task):
    """Downstream of a query: uses its result like any other upstream output."""

    query: tasuki.Task

    def requires(self):
        return self.query

    def run(self):
        table = self.load()
        self.dump(sorted(table.column("score").to_pylist()))


@pytest.fixture
def duck_url(tmp_path):
    path = tmp_path / "dwh.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE scores AS SELECT range AS id, range * 10 AS score FROM range(5)")
    return f"duckdb:///{path}"


def test_query_task_caches_by_normalised_sql(duck_url, tmp_path):
    ws = str(tmp_path / "ws")
    q = QueryTask(sql="SELECT id, score FROM scores WHERE id >= $1", params=[2], warehouse=duck_url)
    assert tasuki.build(Scores(query=q), workspace=ws) == [20, 30, 40]
    same = QueryTask(
        sql="select   id, score\n  from scores -- comment\n where id >= $1",
        params=[2],
        warehouse=duck_url,
    )
    assert same.unique_id == q.unique_id
    again = tasuki.build(Scores(query=same), workspace=ws, return_value=False)
    assert again.counts()["cached"] == 1
    other = QueryTask(sql=q.sql, params=[3], warehouse=duck_url)
    assert other.unique_id != q.unique_id


def test_freshness_buckets_and_as_of(duck_url):
    day = dt.timedelta(days=1)
    assert freshness_bucket(day, dt.datetime(2024, 1, 31, 15, tzinfo=dt.UTC)).startswith(
        "2024-01-31T00:00:00"
    )
    q = QueryTask(sql="SELECT 1 AS x", warehouse=duck_url)
    assert q.as_of == freshness_bucket(day)
    pinned = QueryTask(sql="SELECT 1 AS x", warehouse=duck_url, as_of="table-version-7")
    assert pinned.as_of == "table-version-7" and pinned.unique_id != q.unique_id


def test_why_says_how_long_a_cached_result_is_kept_and_how_to_pull_it_again(duck_url, tmp_path):
    # A user who inserted rows by hand and sees "complete" learns why, and what to do.
    from tasuki.core.records import RunRecord
    from tasuki.report.why import explain
    from tasuki.storage import open_store

    ws = str(tmp_path / "ws")
    hourly = QueryTask(
        sql="SELECT id FROM scores", warehouse=duck_url, freshness=dt.timedelta(hours=6)
    )
    pinned = QueryTask(sql="SELECT id FROM scores", warehouse=duck_url, as_of="snapshot-7")
    tasuki.build([hourly, pinned], workspace=ws, progress="off")
    lines = explain(hourly, open_store(ws))
    assert "will not run: complete" in lines[0]
    until = dt.datetime.fromisoformat(hourly.as_of) + dt.timedelta(hours=6)
    assert f"kept until {until.isoformat()} (freshness 6 hours" in lines[1]
    assert "a write to the DuckDB file, by hand or by tasuki, reruns it sooner" in lines[1]
    assert "--rerun QueryTask" in lines[1]
    (note,) = explain(pinned, open_store(ws))[1:]
    assert "kept for as_of='snapshot-7'" in note
    # On a server, writes by others are not seen: the note says so.
    on_server = QueryTask(sql="SELECT id FROM scores", warehouse="postgresql://h/db")
    text = on_server._cache_note(RunRecord.read(open_store(ws), hourly.unique_id))
    assert "other writes to those tables are not seen" in text and "kept until" in text


def test_unsafe_sql_refused_when_the_task_is_made(duck_url):
    with pytest.raises(UnsafeQueryError):
        QueryTask(sql="DELETE FROM scores", warehouse=duck_url)


def test_query_task_on_postgres(postgres_url, postgres_reader_url, tmp_path):
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE scores AS SELECT g AS id, g * 10 AS score FROM generate_series(0, 4) g"
        )
    url = postgres_reader_url  # the query path refuses the superuser that made the table
    q = QueryTask(
        sql="SELECT id, score FROM scores WHERE id < $1", params=[2], warehouse=url, as_="pandas"
    )
    frame = tasuki.build(q, workspace=str(tmp_path / "ws"))
    assert sorted(frame["score"].tolist()) == [0, 10]
    record = tasuki.RunRecord.read(
        __import__("tasuki.storage", fromlist=["open_store"]).open_store(str(tmp_path / "ws")),
        q.unique_id,
    )
    assert record.task_log["rows"] == 2
