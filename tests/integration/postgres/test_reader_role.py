"""The least-privilege reader role: made by tasuki's SQL, it can read and nothing else."""

from __future__ import annotations

import psycopg
import pytest

from tasuki.errors import WarehouseError
from tasuki.warehouse.postgres._roles import ReaderRole, apply_reader_role, reader_role_sql


@pytest.fixture
def role_name(postgres_url):
    import uuid

    name = f"tasuki_reader_{uuid.uuid4().hex[:8]}"
    yield name
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
            db = postgres_url.rsplit("/", 1)[1]
            conn.execute(f'REVOKE ALL ON DATABASE "{db}" FROM "{name}"')
            conn.execute(f'DROP OWNED BY "{name}"')
            conn.execute(f'DROP ROLE "{name}"')


def test_the_reader_role_reads_and_cannot_write_or_end_sessions(postgres_url, role_name):
    with psycopg.connect(postgres_url, autocommit=True) as owner:
        owner.execute("CREATE TABLE items (id int)")
        owner.execute("INSERT INTO items VALUES (1), (2)")
    db = postgres_url.rsplit("/", 1)[1]
    role = ReaderRole(role_name, db, schemas=("public",), statement_timeout="2s")
    apply_reader_role(postgres_url, role)
    apply_reader_role(postgres_url, role)  # a second run changes nothing and does not fail
    base = postgres_url.rsplit("/", 1)[0].replace("postgres@", f"{role_name}@")
    other = psycopg.connect(postgres_url, autocommit=True)  # another client's session
    other_pid = other.execute("SELECT pg_backend_pid()").fetchone()[0]
    with other, psycopg.connect(f"{base}/{db}", autocommit=True) as reader:
        assert reader.execute("SELECT count(*) FROM items").fetchone() == (2,)
        assert reader.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
        assert reader.execute("SHOW statement_timeout").fetchone() == ("2s",)
        me = "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        assert reader.execute(me).fetchone() == (False,)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            reader.execute("INSERT INTO items VALUES (3)")
        with pytest.raises(psycopg.errors.QueryCanceled):
            reader.execute("SELECT pg_sleep(10)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute(f"SELECT pg_terminate_backend({other_pid})")


def test_limits_that_mean_none_are_refused():
    with pytest.raises(WarehouseError, match="statement_timeout '0' would mean no limit"):
        reader_role_sql(ReaderRole("r", "db", statement_timeout="0"))
    with pytest.raises(WarehouseError, match="connection_limit"):
        reader_role_sql(ReaderRole("r", "db", connection_limit=0))
    quoted = reader_role_sql(ReaderRole('we"ird', "d b"))
    assert '"we""ird"' in quoted[1] and 'DATABASE "d b"' in quoted[4]


def test_the_cli_prints_the_sql_without_the_password_and_applies_it(
    postgres_url, role_name, monkeypatch
):
    from typer.testing import CliRunner

    from tasuki.cli import app

    monkeypatch.setenv("READER_PW", "s3cret-PLANTED")
    db = postgres_url.rsplit("/", 1)[1]
    runner = CliRunner()
    args = ["warehouse", "reader-role", role_name, "--database", db, "--password-env", "READER_PW"]
    printed = runner.invoke(app, args)
    assert printed.exit_code == 0, printed.output
    assert "s3cret-PLANTED" not in printed.output and "PASSWORD ''********''" in printed.output
    assert "GRANT pg_read_all_data" in printed.output
    applied = runner.invoke(app, [*args, "--apply", "--url", postgres_url])
    assert applied.exit_code == 0, applied.output
    assert "s3cret-PLANTED" not in applied.output
    with psycopg.connect(postgres_url) as conn:
        found = conn.execute(
            "SELECT rolsuper, rolcanlogin FROM pg_roles WHERE rolname = %s", (role_name,)
        ).fetchone()
    assert found == (False, True)
    missing = runner.invoke(app, ["warehouse", "reader-role", "r", "--database", db, "--apply"])
    assert missing.exit_code == 2 and "--apply needs --url" in missing.output
