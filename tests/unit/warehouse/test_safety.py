"""The read-only check: what is accepted, what is refused and why, and placeholders."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid

import pytest
import sqlglot
from sqlglot import exp

from tasuki.errors import QuerySyntaxError, UnsafeQueryError, WarehouseError
from tasuki.warehouse import check_query
from tasuki.warehouse._safety import DENIED_FUNCTIONS, literal

ACCEPTED = [
    ("postgres", "SELECT 1"),
    ("postgres", "select a, b from s.t where a > 1 order by b limit 5"),
    ("postgres", "WITH x AS (SELECT 1 AS a) SELECT a FROM x"),
    ("postgres", "(SELECT 1) UNION ALL (SELECT 2)"),
    ("postgres", "SELECT 1 INTERSECT SELECT 1 EXCEPT SELECT 2"),
    ("postgres", "SELECT pg_sleep(0.1)"),
    ("postgres", "SELECT now(), current_setting('TimeZone')"),
    ("postgres", "SELECT 1;"),
    ("duckdb", "FROM t"),
    ("duckdb", "SELECT range FROM range(10)"),
    ("redshift", "SELECT * FROM sales WHERE saletime > getdate() - 1"),
    ("bigquery", "SELECT * FROM `p.d.t` WHERE x = @x"),
]


@pytest.mark.parametrize(("dialect", "sql"), ACCEPTED)
def test_read_only_queries_are_accepted(dialect: str, sql: str) -> None:
    checked = check_query(sql, dialect=dialect)
    assert checked.normalized
    assert checked.kind in {"select", "union", "intersect", "except"}


REFUSED = [
    ("postgres", "DELETE FROM t", "DELETE"),
    ("postgres", "INSERT INTO t VALUES (1)", "INSERT"),
    ("postgres", "UPDATE t SET a = 1", "UPDATE"),
    ("postgres", "MERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN DELETE", "MERGE"),
    ("postgres", "DROP TABLE t", "DROP TABLE"),
    ("postgres", "CREATE TABLE x AS SELECT 1", "CREATE TABLE"),
    ("postgres", "ALTER TABLE t ADD COLUMN b int", "ALTER"),
    ("postgres", "TRUNCATE t", "TRUNCATE"),
    ("postgres", "COPY t TO STDOUT", "COPY"),
    ("postgres", "COPY (SELECT 1) TO '/tmp/x'", "COPY"),
    ("postgres", "SET statement_timeout = 0", "SET"),
    ("postgres", "GRANT SELECT ON t TO x", "GRANT"),
    ("postgres", "BEGIN", "TRANSACTION"),
    ("postgres", "EXPLAIN ANALYZE SELECT 1", "EXPLAIN"),
    ("postgres", "VALUES (1)", "VALUES"),
    ("postgres", "SELECT * INTO t2 FROM t", "SELECT ... INTO"),
    ("postgres", "SELECT * FROM t FOR UPDATE", "FOR UPDATE/SHARE"),
    ("postgres", "SELECT * FROM t FOR SHARE", "FOR UPDATE/SHARE"),
    ("postgres", "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", "DELETE"),
    ("postgres", "SELECT 1; SELECT 2", "multiple statements"),
    ("postgres", "SELECT 1; DROP TABLE t", "multiple statements"),
    ("postgres", "", "empty"),
    ("postgres", " ; ", "empty"),
    ("duckdb", "ATTACH 'other.db'", "ATTACH"),
    ("duckdb", "INSTALL httpfs", "INSTALL"),
    ("duckdb", "PRAGMA version", "PRAGMA"),
    ("duckdb", "DESCRIBE t", "DESCRIBE"),
]


@pytest.mark.parametrize(("dialect", "sql", "kind"), REFUSED)
def test_statements_that_are_not_one_read_only_query_are_refused(
    dialect: str, sql: str, kind: str
) -> None:
    with pytest.raises(UnsafeQueryError) as info:
        check_query(sql, dialect=dialect)
    assert info.value.kind == kind
    assert "SELECT" in str(info.value)  # says what is allowed
    if kind not in ("multiple statements", "empty"):
        assert kind.split()[0] in str(info.value)


DENIED = [
    ("postgres", "SELECT pg_read_file('/etc/passwd')", "pg_read_file"),
    ("postgres", "SELECT pg_read_binary_file('/etc/passwd')", "pg_read_binary_file"),
    ("postgres", "SELECT * FROM pg_ls_dir('.')", "pg_ls_dir"),
    ("postgres", "SELECT lo_import('/etc/passwd')", "lo_import"),
    ("postgres", "SELECT lo_export(1, '/tmp/x')", "lo_export"),
    ("postgres", "SELECT * FROM dblink('host=x', 'select 1') AS t(a int)", "dblink"),
    ("postgres", "SELECT dblink_exec('delete from t')", "dblink_exec"),
    ("postgres", "SELECT set_config('statement_timeout', '0', false)", "set_config"),
    ("postgres", "SELECT pg_terminate_backend(1)", "pg_terminate_backend"),
    ("postgres", "SELECT pg_advisory_lock(1)", "pg_advisory_lock"),
    ("postgres", "SELECT nextval('s')", "nextval"),
    ("postgres", "SELECT query_to_xml('delete from t', true, true, '')", "query_to_xml"),
    ("postgres", "SELECT a FROM t WHERE a IN (SELECT pg_read_file('x'))", "pg_read_file"),
    ("redshift", "SELECT pg_terminate_backend(1)", "pg_terminate_backend"),
    ("duckdb", "SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
    ("duckdb", "SELECT * FROM read_csv_auto('x.csv')", "read_csv_auto"),
    ("duckdb", "SELECT * FROM read_parquet('s3://b/x.parquet')", "read_parquet"),
    ("duckdb", "SELECT * FROM read_json('x')", "read_json"),
    ("duckdb", "SELECT * FROM read_text('x')", "read_text"),
    ("duckdb", "SELECT * FROM glob('/etc/*')", "glob"),
    ("duckdb", "SELECT * FROM query('DROP TABLE t')", "query"),
    ("duckdb", "SELECT getenv('HOME')", "getenv"),
    ("duckdb", "SELECT * FROM 'data.csv'", "data.csv"),
    ("duckdb", "SELECT * FROM '/etc/passwd'", "/etc/passwd"),
    ("bigquery", "SELECT * FROM EXTERNAL_QUERY('c', 'select 1')", "external_query"),
]


@pytest.mark.parametrize(("dialect", "sql", "name"), DENIED)
def test_functions_on_the_deny_list_are_refused_by_name(dialect: str, sql: str, name: str) -> None:
    with pytest.raises(UnsafeQueryError) as info:
        check_query(sql, dialect=dialect)
    assert info.value.function == name
    assert name in str(info.value)


def test_every_dialect_has_a_deny_list() -> None:
    for dialect in ("postgres", "redshift", "duckdb", "bigquery"):
        names, _prefixes = DENIED_FUNCTIONS[dialect]
        assert names


@pytest.mark.parametrize("dialect", ["postgres", "redshift", "duckdb", "bigquery"])
def test_a_refused_name_is_refused_on_every_backend(dialect: str) -> None:
    # read_text() reads files in DuckDB, and extensions carry such names across backends
    # (pg_duckdb gives PostgreSQL read_parquet), so the categorised refusals apply everywhere.
    with pytest.raises(UnsafeQueryError) as info:
        check_query("SELECT read_text(a) FROM t", dialect=dialect)
    assert info.value.category == "files"
    assert "reads or writes server files" in str(info.value)


def test_a_tree_sqlglot_cannot_print_is_a_syntax_error() -> None:
    with pytest.raises(QuerySyntaxError):
        check_query("SELECT glob FROM t", dialect="postgres")


@pytest.mark.parametrize(
    ("sql", "line", "column"),
    [
        ("SELECT 1 ::: 2", 1, 12),
        ("selec 1", 1, 7),
        ("SELECT a\nFROM t\nWHERE (a = 1", 3, 12),
        ("SELECT 'unterminated", 1, 8),
    ],
)
def test_syntax_errors_say_where(sql: str, line: int, column: int) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        check_query(sql)
    assert info.value.line == line
    assert abs(info.value.column - column) <= 1
    assert f"line {line}" in str(info.value)


def test_a_bare_word_is_a_syntax_error_not_an_unsafe_query() -> None:
    with pytest.raises(QuerySyntaxError, match="CHECKPOINT"):
        check_query("checkpoint", dialect="duckdb")


def test_unknown_dialect_is_refused() -> None:
    with pytest.raises(WarehouseError, match="unknown SQL dialect 'oracle'"):
        check_query("SELECT 1", dialect="oracle")


# -- placeholders ---------------------------------------------------------------------------


def _dollar(n: int, _value: object) -> exp.Expression:
    return exp.Parameter(this=exp.Literal.number(n))


def test_named_placeholders_are_numbered_once_each() -> None:
    checked = check_query("SELECT * FROM t WHERE a = :x AND b = :y AND c = :x")
    assert set(checked.param_names) == {"x", "y"}
    sql, values = checked.bind({"x": 1, "y": "two"}, _dollar)
    assert sorted(values, key=str) == [1, "two"]
    numbers = {v: f"${i + 1}" for i, v in enumerate(values)}
    assert sql.count(numbers[1]) == 2 and sql.count(numbers["two"]) == 1
    assert "two" not in sql  # values are bound, never in the text


def test_question_marks_keep_their_order_and_strings_are_untouched() -> None:
    checked = check_query(
        "WITH c AS (SELECT ? AS a) SELECT a, '?' AS q FROM c WHERE a > ? -- ?\n", dialect="duckdb"
    )
    assert checked.param_count == 2
    sql, values = checked.bind(["first", "second"], lambda n, _v: exp.Placeholder(this=str(n)))
    assert values == ["first", "second"]
    assert sql.index("$1") < sql.index("$2")
    assert "'?'" in sql


def test_dollar_placeholders_and_bigquery_question_marks() -> None:
    assert check_query("SELECT $2, $1").param_count == 2
    checked = check_query("SELECT ? AS a, ? AS b", dialect="bigquery")
    assert checked.render([1, "x"]) == "SELECT 1 AS a, 'x' AS b"


@pytest.mark.parametrize(
    ("sql", "params", "message"),
    [
        ("SELECT :a", {}, "missing \\['a'\\]"),
        ("SELECT :a", {"a": 1, "b": 2}, "unused \\['b'\\]"),
        ("SELECT :a", [1], "must be a mapping"),
        ("SELECT ?", {"a": 1}, "must be a list"),
        ("SELECT ?", [1, 2], "2 value\\(s\\) were given"),
        ("SELECT 1", {"a": 1}, "no placeholders"),
    ],
)
def test_parameter_mismatches_are_explained(sql: str, params: object, message: str) -> None:
    checked = check_query(sql)
    with pytest.raises(WarehouseError, match=message):
        checked.values(params)  # type: ignore[arg-type]


def test_mixed_percent_and_gapped_styles_are_refused() -> None:
    with pytest.raises(WarehouseError, match="without gaps"):
        check_query("SELECT $1, $3")
    with pytest.raises(WarehouseError, match="mixes named"):
        check_query("SELECT :a, ?")
    with pytest.raises(WarehouseError, match="unsupported placeholder style"):
        check_query("SELECT * FROM t WHERE a = %s")


INJECTIONS = [
    "x'); DROP TABLE t; --",
    "x\\'; DROP TABLE t; --",
    "\\",
    "'",
    "''",
    "a\nb",
    "$1",
    ":other",
    "\\\\' OR 1=1 --",
]


@pytest.mark.parametrize("dialect", ["postgres", "redshift", "bigquery", "duckdb"])
@pytest.mark.parametrize("value", INJECTIONS)
def test_rendered_literals_cannot_escape_their_string(dialect: str, value: str) -> None:
    checked = check_query("SELECT a FROM t WHERE name = :v AND a > 1", dialect=dialect)
    text = checked.render({"v": value})
    again = sqlglot.parse(text, read=dialect)
    assert len(again) == 1
    where = again[0].args["where"].this
    assert isinstance(where, exp.And)
    assert where.this.expression.this == value  # the literal holds exactly the value


@pytest.mark.parametrize(
    ("value", "sql"),
    [
        (None, "NULL"),
        (True, "TRUE"),
        (12, "12"),
        (1.5, "1.5"),
        (decimal.Decimal("12.30"), "12.30"),
        (dt.date(2024, 1, 2), "CAST('2024-01-02' AS DATE)"),
        (dt.datetime(2024, 1, 2, 3, 4, 5), "CAST('2024-01-02 03:04:05' AS TIMESTAMP)"),
        (uuid.UUID(int=1), "'00000000-0000-0000-0000-000000000001'"),
    ],
)
def test_literals_for_each_supported_type(value: object, sql: str) -> None:
    assert literal(value).sql("postgres") == sql


def test_aware_datetimes_render_in_utc_and_bad_values_are_refused() -> None:
    tz = dt.timezone(dt.timedelta(hours=9))
    text = literal(dt.datetime(2024, 1, 2, 9, 0, tzinfo=tz)).sql("postgres")
    assert "2024-01-02 00:00:00+00:00" in text and "TIMESTAMPTZ" in text
    with pytest.raises(WarehouseError, match="non-finite"):
        literal(float("nan"))
    with pytest.raises(WarehouseError, match="cannot pass a dict"):
        literal({"a": 1})


# --- bounded input (issue 10, item 4) -----------------------------------------------------


@pytest.mark.parametrize("dialect", ["postgres", "duckdb", "redshift", "bigquery"])
@pytest.mark.parametrize(
    "sql",
    [
        "SELECT " + "COALESCE(" * 60 + "1" + ")" * 60,
        "SELECT " + "(" * 80 + "1" + ")" * 80,
        "SELECT " + "CASE WHEN a THEN " * 200 + "1" + " END" * 200 + " FROM t",
    ],
    ids=["coalesce", "parentheses", "case"],
)
def test_deep_nesting_is_refused_with_the_documented_error(sql, dialect):
    with pytest.raises(UnsafeQueryError) as info:
        check_query(sql, dialect=dialect)
    assert info.value.kind == "too deeply nested"
    assert "WITH" in str(info.value)


def test_a_long_query_is_refused_before_parsing(monkeypatch):
    from tasuki.warehouse import _safety

    def no_parse(*args, **kwargs):
        raise AssertionError("parsed a query that is over the size limit")

    monkeypatch.setattr(_safety.sqlglot, "parse", no_parse)
    sql = "SELECT " + " + ".join(["1"] * 150_000)  # 600 KB: many seconds to parse
    with pytest.raises(UnsafeQueryError) as info:
        check_query(sql)
    assert info.value.kind == "too long" and info.value.limit == 256 * 1024
    monkeypatch.undo()
    assert check_query("SELECT 1", max_bytes=8).kind == "select"
    with pytest.raises(UnsafeQueryError, match="at most 7 are taken"):
        check_query("SELECT 1", max_bytes=7)


def test_parentheses_inside_strings_and_comments_do_not_count():
    quoted = "SELECT '" + "(" * 100 + "' AS s -- " + "(" * 100 + "\n/* " + "(" * 100 + " */"
    assert check_query(quoted).kind == "select"
    assert check_query("SELECT " + "(" * 30 + "1" + ")" * 30).kind == "select"


# --- SQL given as text, and writes READ ONLY does not stop (issue 10, item 3: the probe) --------


@pytest.mark.parametrize("dialect", ["postgres", "redshift"])
@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM ts_stat('SELECT to_tsvector(''simple'', pg_read_file(''/etc/passwd''))')",
        "SELECT ts_rewrite(to_tsquery('a'), 'SELECT CAST(pg_read_file(''/etc/passwd'') AS int)')",
        "SELECT pg_stat_reset()",
        "SELECT pg_stat_reset_shared('bgwriter')",
        "SELECT brin_summarize_new_values('i'::regclass)",
        "SELECT gin_clean_pending_list('i'::regclass)",
    ],
)
def test_the_probes_postgres_routes_are_refused(sql, dialect):
    with pytest.raises(UnsafeQueryError) as info:
        check_query(sql, dialect=dialect)
    assert info.value.kind == "function"


@pytest.mark.parametrize("sql", ["SELECT setval('s', 777)", "SELECT nextval('s')"])
def test_duckdb_sequences_are_refused(sql):
    with pytest.raises(UnsafeQueryError, match="refused function"):
        check_query(sql, dialect="duckdb")
