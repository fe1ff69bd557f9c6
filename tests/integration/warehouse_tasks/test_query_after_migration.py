"""A query task reruns when ``tasuki migrate`` loaded a table it reads since it ran.

A migration (MariaDB -> the warehouse) is tasuki's own write, like a write-back: each load
that changes a table leaves its state row in ``tasuki_migrate_state``, committed with the
rows. A query's cached result used to outlive a daily migration for the rest of its
freshness bucket (a build at 00:05 UTC, before the migration at 00:10, kept the day's result
without the new rows, and ``tasuki why`` said "complete"). The query's run record now keeps
the state row of each migrated table it reads, and a build finds the query out of date when
one moved: on DuckDB and PostgreSQL (read through a reader role), full and incremental. An
incremental run with nothing new, and a migration of another table, change nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import tasuki
from tasuki.core.records import RunRecord
from tasuki.migrate import TableSpec, migrate_table
from tasuki.report.why import explain
from tasuki.storage import open_store
from tasuki.warehouse import QueryTask
from tests._services import reader_role

pytestmark = pytest.mark.services


class Total(tasuki.Task):
    """What a pipeline computes from the query's result."""

    query: QueryTask

    def requires(self):
        return self.query

    def run(self):
        self.dump(int(self.load()["amount"].sum()))


class MySQL:
    """Statements on the test's MariaDB database, committed one by one."""

    def __init__(self, url: str) -> None:
        import pymysql

        parts = urlsplit(url)
        self.conn = pymysql.connect(
            host=parts.hostname, port=parts.port or 3306, user=parts.username or "root",
            database=parts.path.strip("/"), autocommit=True,
        )  # fmt: skip

    def run(self, *statements: str) -> None:
        with self.conn.cursor() as cur:
            for sql in statements:
                cur.execute(sql)


@pytest.fixture
def mysql(mariadb_url: str) -> Iterator[MySQL]:
    conn = MySQL(mariadb_url)
    conn.run(
        "CREATE TABLE orders (id INT PRIMARY KEY, amount INT NOT NULL, "
        "updated_at DATETIME NOT NULL)",
        "CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(10))",
        "INSERT INTO orders VALUES (1, 10, '2024-01-01 00:00:00'), (2, 20, '2024-01-01 00:00:00')",
        "INSERT INTO users VALUES (1, 'a')",
    )
    yield conn
    conn.conn.close()


@pytest.fixture(params=["duckdb", "postgresql"])
def urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """(where migrations load, what queries read through, the target schema)."""
    if request.param == "duckdb":
        url = f"duckdb://{tmp_path / 'dwh.duckdb'}"
        yield url, url, "main"
        return
    admin = str(request.getfixturevalue("postgres_url"))
    with reader_role(admin) as reader:
        yield admin, reader, "public"


FULL = TableSpec(name="orders", mode="full")
INCREMENTAL = TableSpec(name="orders", mode="incremental", cursor="updated_at")


def _total(url: str, ws: str, sql: str = "SELECT amount FROM orders") -> tuple[int, list[str]]:
    task = Total(query=QueryTask(sql=sql, warehouse=url, as_="pandas"))
    result = tasuki.build(task, workspace=ws, return_value=False, progress="off")
    ran = sorted(r.name.rpartition(":")[2] for r in result.by_status("ran"))
    return tasuki.load(task, workspace=ws), ran


@pytest.mark.parametrize("spec", [FULL, INCREMENTAL], ids=["full", "incremental"])
def test_a_migration_since_the_query_ran_reruns_it(mysql, mariadb_url, urls, spec, tmp_path):
    ws, (target, reader, schema) = str(tmp_path / "ws"), urls
    migrate_table(mariadb_url, target, spec, schema=schema)
    assert _total(reader, ws) == (30, ["QueryTask", "Total"])
    assert _total(reader, ws) == (30, [])
    mysql.run("INSERT INTO orders VALUES (3, 5, '2024-01-02 00:00:00')")
    migrate_table(mariadb_url, target, spec, schema=schema)
    query = QueryTask(sql="SELECT amount FROM orders", warehouse=reader, as_="pandas")
    said = "\n".join(explain(Total(query=query), open_store(ws)))
    assert f"{schema}.orders, which it reads, was loaded by tasuki migrate" in said, said
    assert "from orders" in said, said
    assert _total(reader, ws) == (35, ["QueryTask", "Total"])
    assert _total(reader, ws) == (35, [])
    kept = RunRecord.read(open_store(ws), query.unique_id).task_log["table_writes"]
    assert kept[f"{schema}.orders"]["migrated_from"] == "orders"


def test_an_incremental_run_with_nothing_new_keeps_the_result(mysql, mariadb_url, urls, tmp_path):
    ws, (target, reader, schema) = str(tmp_path / "ws"), urls
    migrate_table(mariadb_url, target, INCREMENTAL, schema=schema)
    assert _total(reader, ws)[0] == 30
    assert migrate_table(mariadb_url, target, INCREMENTAL, schema=schema).rows_written == 0
    assert _total(reader, ws) == (30, [])


def test_a_migration_of_another_table_changes_nothing(mysql, mariadb_url, urls, tmp_path):
    ws, (target, reader, schema) = str(tmp_path / "ws"), urls
    migrate_table(mariadb_url, target, FULL, schema=schema)
    users = TableSpec(name="users", mode="full")
    migrate_table(mariadb_url, target, users, schema=schema)
    assert _total(reader, ws)[0] == 30
    mysql.run("INSERT INTO users VALUES (2, 'b')")
    migrate_table(mariadb_url, target, users, schema=schema)
    assert _total(reader, ws) == (30, [])


def test_a_migration_into_another_schema_changes_nothing(mysql, mariadb_url, tmp_path):
    url, ws = f"duckdb://{tmp_path / 'dwh.duckdb'}", str(tmp_path / "ws")
    migrate_table(mariadb_url, url, FULL, schema="main")
    assert _total(url, ws)[0] == 30
    mysql.run("INSERT INTO orders VALUES (3, 5, '2024-01-02 00:00:00')")
    migrate_table(mariadb_url, url, FULL, schema="staging")  # staging.orders, not main.orders
    assert _total(url, ws) == (30, [])
    sql = "SELECT amount FROM staging.orders"
    assert _total(url, ws, sql)[0] == 35
    migrate_table(mariadb_url, url, TableSpec(name="orders", target="orders2"), schema="staging")
    assert _total(url, ws, sql) == (35, [])


def test_a_role_that_may_not_read_the_migration_state_is_told_and_still_queries(
    mysql, mariadb_url, postgres_url, tmp_path, caplog
):
    import uuid

    import psycopg

    ws = str(tmp_path / "ws")
    migrate_table(mariadb_url, postgres_url, FULL, schema="public")
    role = f"tasuki_no_state_{uuid.uuid4().hex[:8]}"  # roles are cluster-wide
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"GRANT SELECT ON orders TO {role}")
    try:
        reader = postgres_url.replace("://postgres@", f"://{role}@", 1)
        assert reader != postgres_url
        with caplog.at_level(logging.WARNING):
            assert _total(reader, ws)[0] == 30
        assert "may not read public.tasuki_migrate_state" in caplog.text, caplog.text
        assert f"GRANT SELECT ON public.tasuki_migrate_state TO {role}" in caplog.text
        query = QueryTask(sql="SELECT amount FROM orders", warehouse=reader)
        assert RunRecord.read(open_store(ws), query.unique_id).task_log["table_writes"] == {}
        assert _total(reader, ws) == (30, [])
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE IF EXISTS {role}")


def _config(tmp_path: Path, mariadb_url: str, target: str, schema: str) -> Path:
    path = tmp_path / "migrations.toml"
    path.write_text(
        f'[source]\nurl = "{mariadb_url}"\n[target]\nurl = "{target}"\nschema = "{schema}"\n'
        '[[tables]]\nname = "orders"\nmode = "full"\n'
        '[[tables]]\nname = "users"\nmode = "full"\n'
    )
    return path


def test_a_query_and_a_migration_of_its_table_in_no_order_are_refused(
    mysql, mariadb_url, urls, tmp_path
):
    from tasuki.errors import TaskError
    from tasuki.migrate import MigrateTable, migration_tasks

    ws, (target, reader, schema) = str(tmp_path / "ws"), urls
    config = _config(tmp_path, mariadb_url, target, schema)
    query = QueryTask(sql="SELECT amount FROM orders", warehouse=reader, as_="pandas")
    with pytest.raises(TaskError, match="neither runs after the other") as caught:
        tasuki.build([migration_tasks(config), Total(query=query)], workspace=ws)
    assert f"reads {schema}.orders, which MigrateTable(" in str(caught.value)
    assert not (tmp_path / "ws").exists() or not list((tmp_path / "ws").rglob("*.json"))
    # In order, the query reads what the migration loaded.
    ordered = QueryTask(
        sql="SELECT amount FROM orders",
        warehouse=reader,
        as_="pandas",
        after=[MigrateTable(config=config.resolve(), table="orders")],
    )
    assert tasuki.build(Total(query=ordered), workspace=ws) == 30
    # A migration of another table is no reason to refuse.
    users = MigrateTable(config=config.resolve(), table="users")
    assert tasuki.build([users, Total(query=query)], workspace=ws)[1] == 30


def test_a_write_back_to_a_table_a_full_migration_replaces_in_no_order_is_refused(
    mysql, mariadb_url, tmp_path
):
    import pandas as pd

    from tasuki.errors import TaskError
    from tasuki.migrate import MigrateTable
    from tasuki.warehouse import WriteTableTask

    class Extra(tasuki.Task):
        def run(self):
            self.dump(pd.DataFrame({"id": [9], "amount": [1], "updated_at": [pd.Timestamp(0)]}))

    url, ws = f"duckdb://{tmp_path / 'dwh.duckdb'}", str(tmp_path / "ws")
    config = _config(tmp_path, mariadb_url, url, "main").resolve()
    migration = MigrateTable(config=config, table="orders")
    for mode, fails in (("append", "neither runs after the other"), ("replace", "both replace")):
        write = WriteTableTask(data=Extra(), table="ORDERS", warehouse=url, mode=mode)
        with pytest.raises(TaskError, match=fails):
            tasuki.build([migration, write], workspace=ws)
    assert not (tmp_path / "dwh.duckdb").exists()  # refused before anything ran


def test_a_migration_under_a_view_reruns_the_query_of_the_view(mysql, mariadb_url, urls, tmp_path):
    ws, (target, reader, schema) = str(tmp_path / "ws"), urls
    migrate_table(mariadb_url, target, INCREMENTAL, schema=schema)
    if target.startswith("duckdb"):
        import duckdb

        with duckdb.connect(target.removeprefix("duckdb://")) as conn:
            conn.execute("CREATE VIEW big_orders AS SELECT amount FROM orders WHERE amount > 1")
    else:
        import psycopg

        with psycopg.connect(target, autocommit=True) as conn:
            conn.execute("CREATE VIEW big_orders AS SELECT amount FROM orders WHERE amount > 1")
    sql = "SELECT amount FROM big_orders"
    assert _total(reader, ws, sql) == (30, ["QueryTask", "Total"])
    mysql.run("INSERT INTO orders VALUES (3, 5, '2024-01-02 00:00:00')")
    migrate_table(mariadb_url, target, INCREMENTAL, schema=schema)
    query = QueryTask(sql=sql, warehouse=reader, as_="pandas")
    said = "\n".join(explain(Total(query=query), open_store(ws)))
    assert f"{schema}.orders, which it reads through {schema}.big_orders, was loaded by" in said
    assert _total(reader, ws, sql) == (35, ["QueryTask", "Total"])
