"""The guard as an allow list (issue 10): the corpus of refused statements with the reason
each gives, the corpus of analytic queries that pass, and the ``allow_functions`` setting."""

from __future__ import annotations

import pytest
from sqlglot import exp

from tasuki.errors import QuerySyntaxError, UnsafeQueryError, WarehouseError
from tasuki.warehouse import check_query
from tasuki.warehouse._allowed import ALLOWED_FUNCTIONS, SAFE_SETTINGS
from tasuki.warehouse._denied import CATEGORIES, REFUSED_KINDS, refusal
from tasuki.warehouse._safety import allow_list

from .refused_corpus import ALLOWED, NOT_ALLOWED, REFUSED


def _id(case: tuple[str, ...]) -> str:
    return f"{case[0]}:{case[1][:60]}"


@pytest.mark.parametrize(("dialect", "sql", "reason"), REFUSED, ids=[_id(c) for c in REFUSED])
def test_each_hostile_statement_is_refused_with_its_reason(
    dialect: str, sql: str, reason: str
) -> None:
    with pytest.raises((UnsafeQueryError, QuerySyntaxError)) as info:
        check_query(sql, dialect=dialect)
    assert reason in str(info.value)
    function = info.value.fields.get("function")
    if info.value.fields.get("kind") == "function":
        assert f"{function}(" in str(info.value)  # names the function ...
        assert f" in {dialect}:" in str(info.value)  # ... and the dialect


@pytest.mark.parametrize(("dialect", "sql"), ALLOWED, ids=[_id(c) for c in ALLOWED])
def test_realistic_analytic_queries_pass(dialect: str, sql: str) -> None:
    assert check_query(sql, dialect=dialect).kind in {"select", "union", "intersect", "except"}


def test_the_corpora_are_large_and_cover_every_reason() -> None:
    assert len({sql for _, sql, _ in REFUSED}) >= 120
    assert {d for d, _, _ in REFUSED} == {"postgres", "redshift", "duckdb", "bigquery"}
    assert len(ALLOWED) >= 40
    reasons = {reason for _, _, reason in REFUSED}
    for category, why in CATEGORIES.items():
        assert any(r in why for r in reasons), f"nothing in the corpus is refused as {category}"


def test_an_unknown_function_says_how_to_allow_it() -> None:
    with pytest.raises(UnsafeQueryError) as info:
        check_query("SELECT my_function(a) FROM t", dialect="postgres")
    err = info.value
    assert (err.kind, err.function, err.category) == ("function", "my_function", "not allowed")
    assert NOT_ALLOWED in str(err)
    assert "allow_functions=('my_function',)" in str(err)


def test_a_categorised_refusal_says_it_cannot_be_allowed() -> None:
    with pytest.raises(UnsafeQueryError) as info:
        check_query("SELECT pg_catalog.PG_READ_FILE('/etc/passwd')", dialect="postgres")
    err = info.value
    assert err.function == "pg_catalog.pg_read_file" and err.category == "files"
    assert "cannot be allowed" in str(err)


# --- allow_functions -----------------------------------------------------------------------


def test_allow_functions_lets_a_warehouses_own_function_through() -> None:
    sql = "SELECT clean_text(name), analytics.score(a) FROM t"
    with pytest.raises(UnsafeQueryError, match="clean_text"):
        check_query(sql)
    checked = check_query(sql, allow_functions=("Clean_Text", "analytics.score"))
    assert checked.kind == "select"
    # a qualified entry allows that schema's function only
    with pytest.raises(UnsafeQueryError, match=r"other\.score"):
        check_query("SELECT other.score(a) FROM t", allow_functions=("analytics.score",))


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("pg_read_file", "files"),
        ("PG_LS_DIR", "files"),
        ("dblink_exec", "network"),
        ("ts_stat", "sql text"),
        ("nextval", "sequences"),
        ("pg_advisory_lock", "locks"),
        ("pg_stat_reset", "statistics"),
        ("set_config", "configuration"),
        ("pg_terminate_backend", "sessions"),
        ("pg_catalog.pg_read_file", "files"),
        ("ml.predict", "models"),
    ],
)
def test_allow_functions_never_lets_a_categorised_function_through(
    name: str, category: str
) -> None:
    with pytest.raises(WarehouseError) as info:
        allow_list([name])
    assert info.value.category == category
    assert info.value.parameter == "allow_functions"
    assert "refused on every warehouse" in str(info.value)
    with pytest.raises(WarehouseError, match="cannot allow"):
        check_query("SELECT 1", allow_functions=(name,))


@pytest.mark.parametrize("bad", ["", "1abc", "f()", "a b", "x;drop", 3])
def test_allow_functions_takes_only_names(bad: object) -> None:
    with pytest.raises(WarehouseError, match="not a function name"):
        allow_list([bad])  # type: ignore[list-item]


def test_allow_functions_is_a_list_not_a_string() -> None:
    with pytest.raises(WarehouseError, match=r"write \('my_fn',\)"):
        check_query("SELECT 1", allow_functions="my_fn")


# --- current_setting ----------------------------------------------------------------------


@pytest.mark.parametrize("setting", ["TimeZone", "statement_timeout", "server_version"])
def test_harmless_settings_can_be_read(setting: str) -> None:
    check_query(f"SELECT current_setting('{setting}')")
    check_query(f"SELECT current_setting('{setting}', true)")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT current_setting('data_directory')",
        "SELECT current_setting('hba_file')",
        "SELECT current_setting(name) FROM pg_settings",
        "SELECT current_setting('data_' || 'directory')",
        "SELECT current_setting()",
    ],
)
def test_other_settings_are_refused(sql: str) -> None:
    with pytest.raises(UnsafeQueryError) as info:
        check_query(sql)
    assert info.value.category == "configuration"
    assert "timezone" in str(info.value)  # lists what may be read


# --- the lists agree with each other ------------------------------------------------------


@pytest.mark.parametrize("dialect", sorted(ALLOWED_FUNCTIONS))
def test_no_allowed_name_is_also_refused(dialect: str) -> None:
    clash = sorted(name for name in ALLOWED_FUNCTIONS[dialect] if refusal(name))
    assert clash == []


def test_safe_settings_name_no_path_or_secret() -> None:
    assert not {s for s in SAFE_SETTINGS if any(w in s for w in ("file", "dir", "key", "secret"))}


def _func_classes() -> set[type[exp.Func]]:
    found: set[type[exp.Func]] = set()
    todo = [exp.Func]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                todo.append(sub)
    return found


def test_typed_functions_are_allowed_by_kind_except_the_refused_kinds() -> None:
    # A typed class carrying a refused name must be one of the refused kinds, so the
    # reason is stated there on purpose rather than by a name that happens to match.
    carrying = {
        cls for cls in _func_classes() if any(refusal(name.lower()) for name in cls.sql_names())
    }
    assert carrying <= set(REFUSED_KINDS)
    assert exp.ReadCSV in REFUSED_KINDS and exp.Upper not in REFUSED_KINDS
