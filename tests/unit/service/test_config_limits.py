"""Issue 10: the service's limits are settings with safe defaults, checked at load."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tasuki.errors import ConfigError
from tasuki.service import ServiceConfig
from tasuki.service._service import count_sql_tokens
from tasuki.warehouse._common import MAX_TIMEOUT
from tasuki.warehouse._safety import MAX_NESTING, MAX_SQL_BYTES

DIGEST = "0" * 64


def config(**overrides: Any) -> ServiceConfig:
    return ServiceConfig(
        warehouse="duckdb:///dwh.db", results_dir="results", clients={"a": DIGEST}, **overrides
    )


def test_defaults_are_safe_and_consistent() -> None:
    c = config()
    assert c.max_body_bytes == 1024 * 1024
    assert c.max_sql_bytes == MAX_SQL_BYTES == 256 * 1024
    assert c.max_nesting == MAX_NESTING == 32
    assert c.max_sql_tokens == 10_000
    assert c.max_result_bytes == 10 * 1024**3
    assert c.max_disk_bytes_per_client == 50 * 1024**3
    assert c.max_body_bytes > c.max_sql_bytes


@pytest.mark.parametrize(
    "name",
    [
        "max_body_bytes",
        "max_sql_bytes",
        "max_sql_tokens",
        "max_nesting",
        "max_result_bytes",
        "max_disk_bytes_per_client",
    ],
)
@pytest.mark.parametrize("value", [0, -1, 1.5, True, "10", None])
def test_limits_must_be_whole_positive_numbers(name: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=name) as info:
        config(**{name: value})
    assert info.value.fields["key"] == name


def test_statement_timeout_past_the_servers_largest_is_refused_at_load() -> None:
    assert config(statement_timeout=MAX_TIMEOUT).statement_timeout == MAX_TIMEOUT
    with pytest.raises(ConfigError, match=r"statement_timeout.*24\.8 days") as info:
        config(statement_timeout=MAX_TIMEOUT * 2)
    assert info.value.fields["key"] == "statement_timeout"


@pytest.mark.parametrize(
    ("name", "ceiling"), [("max_sql_bytes", MAX_SQL_BYTES), ("max_nesting", MAX_NESTING)]
)
def test_sql_limits_cannot_pass_what_the_worker_checks_again(name: str, ceiling: int) -> None:
    assert getattr(config(**{name: ceiling}), name) == ceiling
    with pytest.raises(ConfigError, match=rf"{name}.*at most {ceiling}"):
        config(**{name: ceiling + 1}, max_body_bytes=4 * MAX_SQL_BYTES)


def test_the_body_limit_must_leave_room_for_the_sql() -> None:
    with pytest.raises(ConfigError, match=r"max_body_bytes.*larger than max_sql_bytes"):
        config(max_body_bytes=1000, max_sql_bytes=1000)
    assert config(max_body_bytes=1001, max_sql_bytes=1000).max_body_bytes == 1001


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1 + 1 + 1",
        'SELECT a.x, "b c".y FROM t AS a JOIN u "b c" ON a.id = "b c".id -- note\n',
        "SELECT 'it''s', $1, :name, ? FROM t WHERE x >= 1.5e3 AND y <> 'a b c'",
        "SELECT /* a comment */ count(*) FILTER (WHERE x) FROM t GROUP BY ALL",
        "SELECT CASE WHEN x = 1 THEN 'one' ELSE 'other' END::text FROM t",
        "WITH a AS (SELECT * FROM t) SELECT * FROM a UNION ALL SELECT * FROM a",
    ],
)
def test_the_token_count_is_close_to_sqlglots(sql: str) -> None:
    import sqlglot

    real = len(sqlglot.Dialect.get_or_raise("postgres").tokenize(sql))
    counted = count_sql_tokens(sql)
    # Never below the real count (the limit must hold), and not far above it.
    assert real <= counted <= real * 1.25 + 2, (counted, real)


@pytest.mark.parametrize(
    "text",
    ["/*" * 100_000, "'" + "a" * 200_000, '"' * 200_001, "--" * 100_000, "(" * 200_000],
    ids=["open-comments", "open-string", "quotes", "dashes", "parens"],
)
def test_the_token_count_is_linear_on_hostile_text(text: str) -> None:
    started = time.perf_counter()
    count_sql_tokens(text)
    assert time.perf_counter() - started < 1.0
