"""The privilege check's decision logic and the allow_privileged option, without a server.

The PostgreSQL SQL is exercised against a real server in
tests/integration/postgres/test_least_privilege.py; Redshift cannot be reached here, so its
two catalog queries are answered by a fake cursor.
"""

from __future__ import annotations

from typing import Any

import pytest

from tasuki.errors import ConfigError
from tasuki.warehouse.postgres._roles import (
    PRIVILEGE_COLUMNS,
    allow_privileged_option,
    privileged_error,
    privileges_found,
    split_allow_privileged,
)
from tasuki.warehouse.redshift._roles import OWNED_SQL, USER_SQL, redshift_role_check


def test_the_url_parameter_is_taken_out_and_read() -> None:
    assert split_allow_privileged("postgresql://u@h/db") == ("postgresql://u@h/db", False)
    url = "postgresql://u:pw@h:5432/db?sslmode=require&allow_privileged=true&options=-c%20a%3Db"
    stripped, allowed = split_allow_privileged(url)
    assert allowed and "allow_privileged" not in stripped
    assert stripped == "postgresql://u:pw@h:5432/db?sslmode=require&options=-c%20a%3Db"
    assert split_allow_privileged("postgresql://u@h/db?allow_privileged=0") == (
        "postgresql://u@h/db",
        False,
    )
    # A name that only contains it is another parameter, left alone.
    other = "postgresql://u@h/db?application_name=allow_privileged"
    assert split_allow_privileged(other) == (other, False)


def test_a_bad_value_is_refused_and_the_password_stays_out() -> None:
    with pytest.raises(ConfigError, match="allow_privileged must be true or false") as info:
        split_allow_privileged("postgresql://u:s3cret@h/db?allow_privileged=yes-please")
    assert "s3cret" not in str(info.value)
    for value in ("true", "TRUE", " on ", "1", "yes", True):
        assert allow_privileged_option(value) is True
    for value in ("false", "off", "0", "no", "", False):
        assert allow_privileged_option(value) is False
    for value in (1, None, "maybe", ["true"]):
        with pytest.raises(ConfigError):
            allow_privileged_option(value)


def _row(
    role: str = "analyst",
    attributed: list[str] | None = None,
    server: list[str] | None = None,
    owned: list[str] | None = None,
) -> list[Any]:
    assert len(PRIVILEGE_COLUMNS) == 4
    return [role, attributed or [], server or [], owned or []]


def test_what_counts_as_privileged() -> None:
    assert privileges_found(_row()).privileges == ()
    # A superuser's other memberships say nothing more.
    su = privileges_found(_row("admin", ["admin\tsuperuser,replication", "other\tsuperuser"]))
    assert su.privileges == ("is a superuser",)
    member = privileges_found(_row(attributed=["dba\tsuperuser"]))
    assert member.privileges == ("may SET ROLE 'dba', which is a superuser",)
    found = privileges_found(
        _row(
            attributed=["analyst\treplication,bypassrls"],
            server=["pg_read_server_files"],
            owned=["table public.a\tanalyst", "view s.v\towner_role"],
        )
    ).privileges
    assert found[0].startswith("has REPLICATION") and found[1].startswith("has BYPASSRLS")
    assert found[2:] == (
        "is a member of pg_read_server_files (it reads the server's files)",
        "owns table public.a",
        "may SET ROLE 'owner_role', which owns view s.v",
    )
    many = privileges_found(_row(owned=[f"table public.t{i}\tanalyst" for i in range(4)]))
    assert many.privileges[-1] == "owns more relations" and len(many.privileges) == 4


def test_the_error_names_the_role_the_privilege_the_reason_and_the_fix() -> None:
    check = privileges_found(_row(owned=["table public.a\tanalyst"]))
    error = privileged_error(check, url="postgresql://analyst@h/db")
    text = str(error)
    assert text.startswith("refusing to query postgresql://analyst@h/db as PostgreSQL role ")
    assert "'analyst': it owns table public.a." in text
    assert "READ ONLY" in text and "tasuki warehouse reader-role" in text
    assert "allow_privileged=True" in text and "?allow_privileged=true" in text
    assert error.fields == {
        "role": "analyst",
        "privileges": ["owns table public.a"],
        "url": "postgresql://analyst@h/db",
        "option": "allow_privileged",
    }


class FakeCursor:
    """Answers the two Redshift catalog queries; records what it was sent."""

    def __init__(self, user: tuple[str, bool] | None, owned: list[tuple[str, str, str]]) -> None:
        self.user, self.owned = user, owned
        self.sent: list[str] = []
        self.rows: list[tuple[Any, ...]] = []

    def execute(self, sql: str) -> None:
        self.sent.append(sql)
        self.rows = {USER_SQL: [self.user] if self.user else [], OWNED_SQL: self.owned}[sql]

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows


def test_redshift_sql_and_decisions() -> None:
    # The SQL uses only what Redshift's leader node has: pg_user.usesuper, pg_class.relowner.
    assert "usesuper" in USER_SQL and "session_user" in USER_SQL
    assert "c.relowner" in OWNED_SQL and "LIMIT 4" in OWNED_SQL
    assert "pg_roles" not in OWNED_SQL and "pg_has_role" not in OWNED_SQL
    reader = FakeCursor(("analyst", False), [])
    assert redshift_role_check(reader).privileges == ()
    assert reader.sent == [USER_SQL, OWNED_SQL]
    admin = FakeCursor(("admin", True), [])
    assert redshift_role_check(admin).privileges == ("is a superuser",)
    assert admin.sent == [USER_SQL]  # a superuser is not asked what it owns
    owner = FakeCursor(("etl", False), [("public", "sales", "r"), ("mart", "daily", "v")])
    check = redshift_role_check(owner)
    assert (check.role, check.privileges) == (
        "etl",
        ("owns table public.sales", "owns view mart.daily"),
    )
    unknown = FakeCursor(None, [])
    assert redshift_role_check(unknown).privileges == ("could not be found in pg_user",)
