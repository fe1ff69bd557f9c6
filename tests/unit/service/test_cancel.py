"""Tagging a query's warehouse sessions and choosing how to stop them, without a server."""

from __future__ import annotations

import logging
import time
import urllib.parse
from typing import Any

import pytest

from tasuki.service import _cancel
from tasuki.warehouse.postgres import _sessions
from tasuki.warehouse.postgres._sessions import MAX_NAME_BYTES, find_sql, fit_name, tag_url

JOB = "20261204T202000-0123456789abcdef01234567"
TAG = "tasuki-q-" + JOB


def query_of(url: str) -> list[tuple[str, str]]:
    return urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query)


def test_the_service_ids_tag_fits_whole() -> None:
    assert _cancel.session_tag(JOB) == TAG
    assert len(TAG.encode()) <= MAX_NAME_BYTES


def test_a_long_or_odd_id_is_shortened_deterministically() -> None:
    long_a, long_b = "x" * 100 + "a", "x" * 100 + "b"
    tag_a, tag_b = _cancel.session_tag(long_a), _cancel.session_tag(long_b)
    assert tag_a == _cancel.session_tag(long_a)
    assert tag_a != tag_b
    assert tag_a.startswith("tasuki-q-xxx")
    assert len(tag_a.encode()) == len(tag_b.encode()) == MAX_NAME_BYTES
    odd = fit_name("tasuki-q-ünï cöde")
    assert odd.isascii() and " " not in odd and odd != fit_name("tasuki-q-unï cöde")


def test_tagging_keeps_the_other_parameters_and_the_password() -> None:
    url = (
        "postgresql://reader:p%40ss%3Fw0rd@db.example:5432/dwh"
        "?sslmode=require&options=-c%20search_path%3Dx+y&connect_timeout=5"
    )
    tagged = _cancel.tag_url(url, JOB)
    assert tagged.startswith("postgresql://reader:p%40ss%3Fw0rd@db.example:5432/dwh?")
    # Kept byte for byte: libpq reads '+' literally, so it must not become %20 or a space.
    assert "sslmode=require&options=-c%20search_path%3Dx+y&connect_timeout=5&" in tagged
    assert tagged.endswith(f"&application_name={TAG}")


def test_tagging_replaces_an_application_name_and_adds_a_query_string() -> None:
    assert tag_url("postgres://h/db?application_name=mine&a=1", "t") == (
        "postgres://h/db?a=1&application_name=t"
    )
    assert tag_url("postgres://h/db?application%5Fname=mine", "t") == (
        "postgres://h/db?application_name=t"
    )
    assert (
        tag_url("postgresql://u@h/db", "a b&c") == "postgresql://u@h/db?application_name=a%20b%26c"
    )


def test_a_raw_question_mark_in_the_password_is_not_the_query_string() -> None:
    assert tag_url("postgresql://u:p?w@h/db?sslmode=disable", "t") == (
        "postgresql://u:p?w@h/db?sslmode=disable&application_name=t"
    )
    assert tag_url("postgresql://u:p?w@h", "t") == "postgresql://u:p?w@h?application_name=t"


@pytest.mark.parametrize(
    "url",
    ["duckdb:///tmp/dwh.duckdb", "bigquery://project/dataset", "sqlite:///x.db", "no scheme"],
)
def test_only_postgres_and_redshift_urls_are_tagged(url: str) -> None:
    assert _cancel.tag_url(url, JOB) == url


def test_redshift_and_postgres_urls_are_tagged() -> None:
    for scheme in ("postgresql", "postgres", "redshift", "PostgreSQL"):
        url = f"{scheme}://u@h/db"
        assert ("application_name", TAG) in query_of(_cancel.tag_url(url, JOB))
    assert _cancel.tag_url("postgresql://u@h/db", None) == "postgresql://u@h/db"


def test_nothing_to_stop_for_duckdb_and_bigquery(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("no server to ask")

    monkeypatch.setattr(_sessions, "cancel_tagged", boom)
    for url in ("duckdb:///tmp/dwh.duckdb", "bigquery://project/dataset"):
        assert _cancel.stop_sessions(url, JOB) == _cancel.Stopped(confirmed=True)
        assert _cancel.stop_leftovers(url, [JOB]) == 0


def test_postgres_is_stopped_by_its_tag(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, Any, float]] = []

    def fake(url: str, tag: Any, *, grace: float) -> _sessions.Stopped:
        calls.append((url, tag, grace))
        return _sessions.Stopped(found=2, cancelled=2, terminated=1, confirmed=True)

    monkeypatch.setattr(_sessions, "cancel_tagged", fake)
    done = _cancel.stop_sessions("postgresql://u@h/db", JOB, grace=0.5)
    assert done == _cancel.Stopped(confirmed=True, found=2, terminated=1)
    assert calls == [("postgresql://u@h/db", TAG, 0.5)]
    assert _cancel.stop_leftovers("redshift://u@h/db", [JOB, "other"]) == 2
    assert calls[-1][1] == [TAG, "tasuki-q-other"]
    calls.clear()
    assert _cancel.stop_leftovers("postgresql://u@h/db", []) == 0
    assert calls == []  # no connection for nothing to stop


def test_the_sql_finds_sessions_by_name_and_spares_its_own() -> None:
    pg = find_sql("postgresql", 2)
    assert "FROM pg_stat_activity" in pg
    assert "application_name IN (%s, %s)" in pg and "pid <> pg_backend_pid()" in pg
    # Redshift's pg_stat_activity has no application_name; its connection log has (padded).
    rs = find_sql("redshift")
    assert "stl_connection_log" in rs and "btrim(c.application_name) IN (%s)" in rs
    assert "stv_sessions" in rs and "'disconnecting session'" in rs
    assert "c.pid <> pg_backend_pid()" in rs


def test_an_unreachable_server_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    url = "postgresql://reader:s3cret@127.0.0.1:1/dwh?allow_privileged=true"
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="tasuki.warehouse.postgres._sessions"):
        done = _sessions.cancel_tagged(url, TAG, grace=0.1, connect_timeout=1)
    assert done == _sessions.Stopped(confirmed=False)
    assert time.monotonic() - started < 10
    assert caplog.records and "s3cret" not in caplog.text
    assert _cancel.stop_sessions(url, JOB).confirmed is False


class _Cursor:
    def __init__(self, conn: _Conn) -> None:
        self.conn = conn
        self.rows: list[tuple[Any, ...]] = []

    def __enter__(self) -> _Cursor:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def execute(self, sql: str, params: Any) -> None:
        self.conn.log.append(sql)
        if sql.startswith("SELECT pg_cancel_backend"):
            self.rows = [(True,)]
        elif sql.startswith("SELECT pg_terminate_backend"):
            self.conn.alive = []
            self.rows = [(True,)]
        else:
            self.rows = [(pid,) for pid in self.conn.alive]

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows

    def fetchone(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None


class _Conn:
    """A session that ignores pg_cancel_backend (its client is still alive)."""

    def __init__(self, alive: list[int]) -> None:
        self.alive = alive
        self.log: list[str] = []

    def cursor(self) -> _Cursor:
        return _Cursor(self)

    def close(self) -> None:
        pass


def test_sessions_left_after_the_grace_are_terminated(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = _Conn([101, 102])
    seen: list[str] = []

    def connect(url: str, scheme: str, timeout: float) -> _Conn:
        seen.append(url)
        return conn

    monkeypatch.setattr(_sessions, "_connect", connect)
    done = _sessions.cancel_tagged("postgresql://u@h/db", TAG, grace=0.2)
    assert done == _sessions.Stopped(
        found=2, cancelled=2, terminated=2, remaining=0, confirmed=True
    )
    assert sum(s.startswith("SELECT pg_cancel_backend") for s in conn.log) == 2
    assert sum(s.startswith("SELECT pg_terminate_backend") for s in conn.log) == 2


def test_no_session_no_signal(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = _Conn([])
    monkeypatch.setattr(_sessions, "_connect", lambda *a: conn)
    assert _sessions.cancel_tagged("postgresql://u@h/db", TAG) == _sessions.Stopped(confirmed=True)
    assert len(conn.log) == 1
