"""run_migrations: a whole migrations.toml, a subset, several workers, failures gathered."""

from __future__ import annotations

import pickle
import threading
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from tasuki.errors import MigrationError
from tasuki.migrate import (
    Progress,
    TableResult,
    TableSpec,
    load_config,
    migrate_table,
    run_migrations,
)

from .conftest import MySQL, Postgres

pytestmark = pytest.mark.services


def _config(tmp_path: Path, mariadb_url: str, target: str, tables: str) -> Path:
    path = tmp_path / "migrations.toml"
    path.write_text(
        f'[source]\nurl = "{mariadb_url}"\n[target]\nurl = "{target}"\nschema = "app"\n{tables}',
        encoding="utf-8",
    )
    return path


TABLES = """
[[tables]]
name = "users"
mode = "incremental"
cursor = "updated_at"
lag = "5 minutes"

[[tables]]
name = "orders"
"""


@pytest.fixture
def orders(users: MySQL) -> MySQL:
    users.run(
        "CREATE TABLE orders (id INT PRIMARY KEY, user_id INT, total DECIMAL(10,2))",
        "INSERT INTO orders SELECT seq, seq % 50, seq * 1.25 FROM seq_1_to_300",
    )
    return users


def test_all_tables_with_two_workers(
    orders: MySQL, mariadb_url: str, pg: Postgres, tmp_path: Path
) -> None:
    config = load_config(_config(tmp_path, mariadb_url, pg.url, TABLES))
    events: list[Progress] = []
    threads: set[str] = set()

    def progress(event: Progress) -> None:
        events.append(event)
        threads.add(threading.current_thread().name)

    results = run_migrations(config, workers=2, progress=progress)

    assert [(r.table, r.target, r.mode, r.rows_written) for r in results] == [
        ("users", "app.users", "incremental", 500),
        ("orders", "app.orders", "full", 300),
    ]
    assert all(isinstance(r, TableResult) for r in results)
    assert {e.table for e in events if e.phase == "done"} == {"users", "orders"}
    assert len({t for t in threads if t.startswith("tasuki-migrate")}) >= 1
    assert pg.one("SELECT sum(total) FROM app.orders") == pg.one(
        "SELECT sum(id * 1.25) FROM generate_series(1, 300) id"
    )

    again = run_migrations(config, tables=["users"])
    assert [(r.table, r.rows_written) for r in again] == [("users", 0)]


def test_failures_are_gathered_after_every_table_ran(
    users: MySQL, mariadb_url: str, pg: Postgres, tmp_path: Path
) -> None:
    # "orders" does not exist on the source; "users" must still be copied.
    config = load_config(_config(tmp_path, mariadb_url, pg.url, TABLES))

    with pytest.raises(
        MigrationError,
        match=r"1 of 2 table migrations failed:\n  orders: "
        r"MigrationError: source table 'orders' does not exist",
    ) as caught:
        run_migrations(config, workers=2)

    assert caught.value.failed == ["orders"]
    assert [r.table for r in caught.value.results] == ["users"]
    assert pg.one("SELECT count(*) FROM app.users") == 500
    with pytest.raises(
        MigrationError,
        match=r"tables \['nope'\] are not in the migration config "
        r"\(configured: orders, users\)",
    ):
        run_migrations(config, tables=["nope"])
    with pytest.raises(MigrationError, match="workers must be at least 1"):
        run_migrations(config, workers=0)


def test_migrate_table_runs_in_a_worker_process(
    users: MySQL, mariadb_url: str, pg: Postgres
) -> None:
    # What the task runner will do: ship the arguments to another process, get the result back.
    spec = TableSpec(name="users", mode="incremental", cursor="id")
    with ProcessPoolExecutor(max_workers=1) as pool:
        result = pool.submit(migrate_table, mariadb_url, pg.url, spec, schema="app").result()
    assert (result.rows_written, result.cursor_after) == (500, "500")
    assert pickle.loads(pickle.dumps(result)) == result
