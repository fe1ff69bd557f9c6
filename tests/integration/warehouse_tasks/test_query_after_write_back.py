"""A query task reruns when a table it reads was written back by tasuki since it ran.

``QueryTask`` is cached by its SQL and a freshness bucket (a day by default): right for
tables others load, whose changes tasuki cannot see. A table a ``WriteTableTask`` wrote is
different: its lineage row dates the write. The query's cached result used to outlive a
rewrite for the rest of the bucket, so a pipeline that wrote new scores and then queried them
trained on the old ones, and ``tasuki why`` said "complete". The query's run record now keeps
the newest lineage row of each table it reads, and a build finds the query out of date when
one moved: on DuckDB and PostgreSQL, for replace and append, with a quoted schema name, and
through ``tasuki why``. A table without lineage rows, an unrelated write, and a role that
may not read the lineage table change nothing.

Within one build, a query and a write-back of a table it reads must be ordered (``after=``,
or the write made from the query): in no order, the build is refused before anything runs,
whatever role or spelling each names the table with. A pipeline that writes back the table
it reads runs again at every build, and says why.
"""

from __future__ import annotations

import os

import pytest

import tasuki
from tasuki.core.records import RunRecord
from tasuki.errors import TaskError
from tasuki.report.why import explain
from tasuki.storage import open_store
from tasuki.warehouse import QueryTask, WriteTableTask
from tests.integration.warehouse_tasks._scores import Scores, Total


def _write(url: str, ws: str, day: int, mode: str = "replace", table: str = "ml_scores") -> None:
    tasuki.build(
        WriteTableTask(data=Scores(day=day), table=table, warehouse=url, mode=mode), workspace=ws
    )


SQL = "SELECT recipe_id, score FROM ml_scores"


def _total(url: str, ws: str, sql: str = SQL) -> tuple[float, list[str]]:
    task = Total(query=QueryTask(sql=sql, warehouse=url, as_="pandas"))
    result = tasuki.build(task, workspace=ws, return_value=False, progress="off")
    ran = sorted(r.name.rpartition(":")[2] for r in result.by_status("ran"))
    return tasuki.load(task, workspace=ws), ran


def test_a_replaced_table_reruns_the_query_and_what_reads_it(urls, tmp_path):
    ws, (admin, reader) = str(tmp_path / "ws"), urls
    _write(admin, ws, day=1)
    assert _total(reader, ws) == (3.0, ["QueryTask", "Total"])
    assert _total(reader, ws) == (3.0, [])
    _write(admin, ws, day=2)
    query = QueryTask(sql=SQL, warehouse=reader, as_="pandas")
    said = "\n".join(explain(Total(query=query), open_store(ws)))
    assert "ml_scores, which it reads, was written since it ran" in said
    assert "WriteTableTask" in said
    assert _total(reader, ws) == (6.0, ["QueryTask", "Total"])
    assert _total(reader, ws) == (6.0, [])


def test_an_append_reruns_it_too_and_the_record_names_the_write(urls, tmp_path):
    ws, (admin, reader) = str(tmp_path / "ws"), urls
    _write(admin, ws, day=1, mode="append")
    assert _total(reader, ws)[0] == 3.0
    _write(admin, ws, day=2, mode="append")
    assert _total(reader, ws) == (9.0, ["QueryTask", "Total"])
    query = QueryTask(sql=SQL, warehouse=reader, as_="pandas")
    kept = RunRecord.read(open_store(ws), query.unique_id).task_log["table_writes"]
    schema = "main" if admin.startswith("duckdb") else "public"
    assert kept[f"{schema}.ml_scores"]["writes"] == 2
    assert kept[f"{schema}.ml_scores"]["task"] == "tasuki.warehouse:WriteTableTask"


def test_writes_to_other_tables_change_nothing(urls, tmp_path):
    ws, (admin, reader) = str(tmp_path / "ws"), urls
    _write(admin, ws, day=1)
    _write(admin, ws, day=1, table="other_scores")
    assert _total(reader, ws)[0] == 3.0
    _write(admin, ws, day=5, table="other_scores")  # a table the query does not read
    assert _total(reader, ws) == (3.0, [])


def test_a_schema_qualified_name_is_matched_however_it_is_written(urls, tmp_path):
    ws, (admin, reader) = str(tmp_path / "ws"), urls
    schema = "main" if admin.startswith("duckdb") else "public"
    _write(admin, ws, day=1, table=f"{schema}.ml_scores")
    sql = f'SELECT recipe_id, score FROM "{schema}".ML_SCORES'
    assert _total(reader, ws, sql)[0] == 3.0
    _write(admin, ws, day=3, table="ml_scores")
    assert _total(reader, ws, sql) == (9.0, ["QueryTask", "Total"])


def test_a_table_no_write_back_wrote_keeps_the_freshness_rule(postgres_url, tmp_path):
    # A server's tables are loaded by others whose writes tasuki cannot see. (A DuckDB
    # file's are seen: test_query_of_a_duckdb_file.py.)
    import psycopg

    from tests._services import reader_role

    ws = str(tmp_path / "ws")
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE ml_scores AS SELECT 1 AS recipe_id, 1.0::float8 AS score")
    with reader_role(postgres_url) as reader:
        assert _total(reader, ws)[0] == 1.0
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute("INSERT INTO ml_scores VALUES (2, 2.0)")  # loaded by someone else
        assert _total(reader, ws) == (1.0, [])  # cached until the freshness bucket ends


def test_rows_loaded_into_a_duckdb_file_by_someone_else_rerun_the_query(tmp_path):
    import duckdb

    url = f"duckdb://{tmp_path / 'dwh.duckdb'}"
    ws = str(tmp_path / "ws")
    with duckdb.connect(str(tmp_path / "dwh.duckdb")) as conn:
        conn.execute("CREATE TABLE ml_scores AS SELECT 1 AS recipe_id, 1.0 AS score")
    assert _total(url, ws)[0] == 1.0
    with duckdb.connect(str(tmp_path / "dwh.duckdb")) as conn:
        conn.execute("INSERT INTO ml_scores VALUES (2, 2.0)")  # loaded by someone else
    assert _total(url, ws) == (3.0, ["QueryTask", "Total"])


def test_a_role_that_may_not_read_the_lineage_table_still_queries(postgres_url, tmp_path, caplog):
    import uuid

    import psycopg

    ws = str(tmp_path / "ws")
    _write(postgres_url, ws, day=1)
    role = f"tasuki_no_lineage_{uuid.uuid4().hex[:8]}"  # roles are cluster-wide
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"DROP ROLE IF EXISTS {role}")
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"GRANT SELECT ON ml_scores TO {role}")
    try:
        reader = postgres_url.replace("://postgres@", f"://{role}@", 1)
        assert reader != postgres_url
        assert _total(reader, ws)[0] == 3.0
        query = QueryTask(sql="SELECT recipe_id, score FROM ml_scores", warehouse=reader)
        record = RunRecord.read(open_store(ws), query.unique_id)
        assert record.task_log["table_writes"] is None  # not tracked, and said so:
        assert "could not read the lineage rows of the tables it reads" in caplog.text
        assert _total(reader, ws) == (3.0, [])
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f"REVOKE ALL ON ml_scores FROM {role}")
            conn.execute(f"DROP ROLE IF EXISTS {role}")


def test_after_orders_the_query_behind_the_write_in_one_build(urls, tmp_path):
    from tasuki.core.loading import task_from_record

    ws, (admin, reader) = str(tmp_path / "ws"), urls
    for day, want in ((1, 3.0), (2, 6.0), (1, 3.0)):
        write = WriteTableTask(data=Scores(day=day), table="ml_scores", warehouse=admin)
        query = QueryTask(sql=SQL, warehouse=reader, as_="pandas", after=[write])
        # One build: the write runs first, and the query made after it is another task.
        assert tasuki.build(Total(query=query), workspace=ws, progress="off") == want
    if admin.startswith("duckdb"):  # a URL with a password is kept masked: not rebuilt
        store = open_store(ws)
        again = task_from_record(RunRecord.read(store, query.unique_id), store)
        assert again.unique_id == query.unique_id  # `tasuki rerun` rebuilds the same task
    plain = QueryTask(sql=SQL, warehouse=reader)
    assert plain.requires() is None and plain.unique_id != query.unique_id


def test_a_worker_that_runs_the_query_by_id_runs_it_again_too(tmp_path):
    # Dask and Argo workers rebuild a planned task from its definition and check it under
    # its lease with no plan at hand: the outside check must happen there as well.
    from tasuki.config import Settings
    from tasuki.core.code import code_keys
    from tasuki.core.definitions import run_one, write_bundle
    from tasuki.core.graph import build_graph

    url = f"duckdb://{tmp_path / 'dwh.duckdb'}"
    ws = str(tmp_path / "ws")
    _write(url, ws, day=1)
    query = QueryTask(sql=SQL, warehouse=url, as_="pandas")
    tasuki.build(query, workspace=ws, progress="off")
    _write(url, ws, day=2)
    store = open_store(ws)
    graph = build_graph([query])
    bundle = write_bundle(store, graph, list(graph.order), code_keys(graph))
    settings = Settings(workspace=ws, progress="off")
    assert run_one(query.unique_id, store=store, settings=settings, bundle=bundle).status == "ran"
    assert float(tasuki.load(query, workspace=ws)["score"].sum()) == 6.0
    again = run_one(query.unique_id, store=store, settings=settings, bundle=bundle)
    assert again.status == "cached"


class Bumped(tasuki.Task):
    """Scores read back through a query, plus one: a write of them reads the table first."""

    query: QueryTask

    def requires(self):
        return self.query

    def output(self):
        return self.make_target("bumped.parquet")

    def run(self):
        frame = self.load()
        self.dump(frame.assign(score=frame["score"] + 1))


def _writes_of(url: str, table: str = "ml_scores") -> int:
    from tasuki.warehouse._lineage import read_lineage

    return len(read_lineage(url, table))


def test_a_query_and_a_write_of_its_table_in_no_order_are_refused(urls, tmp_path):
    # Which the scheduler ran first decided what the query read; its record said it read
    # the table as it was then, and the next build trusted or reran it by that alone.
    ws, (admin, reader) = str(tmp_path / "ws"), urls
    _write(admin, ws, day=1)
    for day in (2, 1):  # a write that would run, and one found complete: both refused
        write = WriteTableTask(data=Scores(day=day), table="ml_scores", warehouse=admin)
        total = Total(query=QueryTask(sql=SQL, warehouse=reader, as_="pandas"))
        with pytest.raises(TaskError) as caught:
            tasuki.build([write, total], workspace=ws, progress="off")
        said = str(caught.value)
        assert "QueryTask" in said and "WriteTableTask" in said, said
        assert "ml_scores, which" in said and "neither runs after the other" in said, said
        assert "after=[<the write task>]" in said, said
        assert caught.value.name is not None and "ml_scores in " in caught.value.name
        assert _writes_of(admin) == 1  # nothing ran: no write, no query result
        assert not os.path.exists(os.path.join(ws, total.query.output().key))
    # In order, one build reads what the write wrote.
    write = WriteTableTask(data=Scores(day=2), table="ml_scores", warehouse=admin)
    query = QueryTask(sql=SQL, warehouse=reader, as_="pandas", after=[write])
    assert tasuki.build([write, Total(query=query)], workspace=ws, progress="off")[1] == 6.0


def test_a_write_made_from_a_query_of_its_own_table_runs(urls, tmp_path):
    # Read, then write the same table: the write depends on the query, so the order is
    # the build's own and nothing is refused.
    ws, (admin, reader) = str(tmp_path / "ws"), urls
    _write(admin, ws, day=1)
    bumped = Bumped(query=QueryTask(sql=SQL, warehouse=reader, as_="pandas"))
    write = WriteTableTask(data=bumped, table="ml_scores", warehouse=admin)
    other = Total(query=QueryTask(sql="SELECT score FROM other", warehouse=reader, as_="pandas"))
    _write(admin, ws, day=4, table="other")
    tasuki.build([write, other], workspace=ws, progress="off")  # other: another table
    assert _total(reader, ws) == (5.0, ["QueryTask", "Total"])


def test_a_replace_and_an_append_to_one_table_in_no_order_are_refused(tmp_path):
    url = f"duckdb://{tmp_path / 'dwh.duckdb'}"
    ws = str(tmp_path / "ws")
    replace = WriteTableTask(data=Scores(day=1), table="ml_scores", warehouse=url)
    append = WriteTableTask(data=Scores(day=2), table="ml_scores", warehouse=url, mode="append")
    with pytest.raises(TaskError, match=r"which .* replaces in this build, and neither"):
        tasuki.build([append, replace], workspace=ws, progress="off")
    assert not os.path.exists(tmp_path / "dwh.duckdb")
    again = WriteTableTask(data=Scores(day=3), table="ml_scores", warehouse=url, mode="append")
    tasuki.build([append, again], workspace=ws, progress="off")  # appends: any order
    assert _writes_of(url) == 2


def test_a_query_of_another_database_with_the_same_table_name_runs(tmp_path):
    ws = str(tmp_path / "ws")
    here, there = (f"duckdb://{tmp_path / name}" for name in ("a.duckdb", "b.duckdb"))
    _write(there, ws, day=3)
    write = WriteTableTask(data=Scores(day=2), table="ml_scores", warehouse=here)
    total = Total(query=QueryTask(sql=SQL, warehouse=there, as_="pandas"))
    assert tasuki.build([write, total], workspace=ws, progress="off")[1] == 9.0


def test_two_replaces_of_one_table_however_spelled_are_refused(urls, tmp_path):
    # "ml_scores" through one URL and "<schema>.ml_scores" through another role's were two
    # tables to the check: each replace undid the other.
    ws, (admin, other) = str(tmp_path / "ws"), urls
    schema = "main" if admin.startswith("duckdb") else "public"
    first = WriteTableTask(data=Scores(day=1), table="ml_scores", warehouse=admin)
    second = WriteTableTask(data=Scores(day=2), table=f"{schema}.ML_SCORES", warehouse=other)
    with pytest.raises(TaskError, match=rf"both replace {schema}\.ml_scores in "):
        tasuki.build([first, second], workspace=ws, progress="off")
    assert _writes_of(admin) == 0


def _sum(url: str) -> float:
    from tasuki.warehouse.registry import connect

    with connect(url) as wh:
        return float(wh.query("SELECT sum(score) AS s FROM ml_scores").to_arrow()["s"][0].as_py())


def test_a_pipeline_writing_back_the_table_it_reads_is_warned_of_before_it_runs(tmp_path, caplog):
    url = f"duckdb://{tmp_path / 'dwh.duckdb'}"
    ws = str(tmp_path / "ws")
    _write(url, ws, day=1)
    query = QueryTask(sql=SQL, warehouse=url, as_="pandas")
    caplog.clear()
    tasuki.build(
        WriteTableTask(data=Bumped(query=query), table="ml_scores", warehouse=url),
        workspace=ws,
        progress="off",
    )
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("every build will find the table written" in m for m in warned), warned
    assert any("main.ml_scores, which QueryTask" in m for m in warned), warned
    caplog.clear()  # a query after the write (after=) reads what it wrote: nothing to say
    write = WriteTableTask(data=Scores(day=2), table="ml_scores", warehouse=url)
    after = QueryTask(sql=SQL, warehouse=url, as_="pandas", after=[write])
    tasuki.build([write, Total(query=after)], workspace=ws, progress="off")
    assert not [r for r in caplog.records if "every build will find" in r.getMessage()]


def test_a_pipeline_writing_back_the_table_it_read_says_why_it_runs_again(urls, tmp_path):
    # Read scores, add one, write them back: the table is then not what the query's result
    # holds, and a task reading the query elsewhere must get the table as it is; so the
    # pipeline runs again at every build, and the reason says it is its own write.
    ws, (admin, reader) = str(tmp_path / "ws"), urls
    query = QueryTask(sql=SQL, warehouse=reader, as_="pandas")
    write = WriteTableTask(data=Bumped(query=query), table="ml_scores", warehouse=admin)
    _write(admin, ws, day=1)
    tasuki.build(write, workspace=ws, progress="off")
    assert _sum(reader) == 5.0
    said = "\n".join(explain(write, open_store(ws)))
    assert "which was made from this query's result" in said, said
    assert "write the result to another table" in said, said
    assert _total(reader, ws) == (5.0, ["QueryTask", "Total"])  # the table as it is
    _write(admin, ws, day=4)  # a write from outside says nothing of the kind
    said = "\n".join(explain(Total(query=query), open_store(ws)))
    assert "was written since it ran" in said and "made from this query" not in said, said


def test_made_from_follows_the_records_down_to_that_run(tmp_path):
    from tasuki.core._reads import made_from
    from tasuki.core.records import delete_record

    url = f"duckdb://{tmp_path / 'dwh.duckdb'}"
    ws = str(tmp_path / "ws")
    _write(url, ws, day=1)
    query = QueryTask(sql=SQL, warehouse=url, as_="pandas")
    write = WriteTableTask(data=Bumped(query=query), table="ml_scores", warehouse=url)
    tasuki.build(write, workspace=ws, progress="off")
    store = open_store(ws)
    state = RunRecord.read(store, query.unique_id).state
    assert made_from(store, write.unique_id, query.unique_id, state)  # two records down
    assert not made_from(store, write.unique_id, query.unique_id, "another run's state")
    assert not made_from(store, write.unique_id, query.unique_id, state, limit=0)
    first = WriteTableTask(data=Scores(day=1), table="ml_scores", warehouse=url)
    assert not made_from(store, first.unique_id, query.unique_id, state)
    delete_record(store, Bumped(query=query).unique_id)  # the way down ends
    assert not made_from(store, write.unique_id, query.unique_id, state)
