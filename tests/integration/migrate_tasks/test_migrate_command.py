"""`tasuki migrate`: each table a task, in worker processes, MariaDB -> PostgreSQL for real."""

from __future__ import annotations

import psycopg
import pymysql
from typer.testing import CliRunner

from tasuki.cli import app


def _mariadb(url: str) -> pymysql.Connection:
    db = url.rsplit("/", 1)[1]
    return pymysql.connect(
        host="127.0.0.1", port=3306, user="root", password="", database=db, autocommit=True
    )


def test_migrate_command_runs_each_table_as_a_task(mariadb_url, postgres_url, tmp_path):
    with _mariadb(mariadb_url) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(20), active TINYINT(1))")
        cur.execute("INSERT INTO users VALUES (1, 'aki', 1), (2, 'ben', 0), (3, NULL, 1)")
        cur.execute(
            "CREATE TABLE orders (id BIGINT PRIMARY KEY, user_id INT, updated_at DATETIME NOT NULL)"
        )
        cur.execute("INSERT INTO orders VALUES (1, 1, '2024-01-01 10:00:00')")
    config = tmp_path / "migrations.toml"
    config.write_text(
        f'[source]\nurl = "{mariadb_url}"\n[target]\nurl = "{postgres_url}"\nschema = "app"\n'
        '[[tables]]\nname = "users"\nmode = "full"\n'
        '[[tables]]\nname = "orders"\nmode = "incremental"\ncursor = "updated_at"\n'
    )
    # --config is the settings file, as for every other command; the migrations file is
    # --migrations (issue 9: --config meant the migrations file here alone).
    settings = tmp_path / "tasuki.toml"
    settings.write_text('workspace = "ws_from_settings"\n')
    runner = CliRunner()
    args = [
        "migrate",
        "--migrations",
        str(config),
        "--config",
        str(settings),
        "--workers",
        "2",
        "--log-level",
        "WARNING",
    ]
    first = runner.invoke(app, args, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert "ran  users" in first.output and "ran  orders" in first.output
    # The workspace came from the settings file (relative to that file's folder).
    assert list((tmp_path / "ws_from_settings").rglob("*.json"))
    with psycopg.connect(postgres_url) as pg:
        users = pg.execute("SELECT id, name, active FROM app.users ORDER BY id").fetchall()
        assert users == [(1, "aki", True), (2, "ben", False), (3, None, True)]
        assert pg.execute("SELECT count(*) FROM app.orders").fetchone() == (1,)
    # A second run copies again (migrations always run) and changes nothing.
    second = runner.invoke(app, args, catch_exceptions=False)
    assert second.exit_code == 0, second.output
    with psycopg.connect(postgres_url) as pg:
        assert pg.execute("SELECT count(*) FROM app.users").fetchone() == (3,)


def test_migrate_command_unknown_table_is_a_usage_error(tmp_path):
    config = tmp_path / "migrations.toml"
    config.write_text(
        '[source]\nurl = "mysql://root@127.0.0.1:3306/x"\n'
        '[target]\nurl = "postgresql://postgres@127.0.0.1:5432/x"\n'
        '[[tables]]\nname = "users"\n'
    )
    result = CliRunner().invoke(app, ["migrate", "--migrations", str(config), "--table", "nope"])
    assert result.exit_code == 2
    assert "nope" in result.output and "users" in result.output


def test_a_migrations_file_given_as_config_still_works_with_a_note(tmp_path):
    """The old spelling keeps working for now, and says what to write instead."""
    config = tmp_path / "migrations.toml"
    config.write_text(
        '[source]\nurl = "mysql://root@127.0.0.1:3306/x"\n'
        '[target]\nurl = "postgresql://postgres@127.0.0.1:5432/x"\n'
        '[[tables]]\nname = "users"\n'
    )
    result = CliRunner().invoke(app, ["migrate", "--config", str(config), "--table", "nope"])
    assert result.exit_code == 2
    assert "nope" in result.output and "users" in result.output  # read as the migrations file
    assert "deprecated" in result.output and "--migrations" in result.output


def test_migrate_help_names_both_files():
    result = CliRunner().invoke(app, ["migrate", "--help"], env={"COLUMNS": "200"})
    assert "--migrations" in result.output
    assert "Settings file" in result.output
