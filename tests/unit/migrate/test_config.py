"""migrations.toml parsing: typed objects, and errors naming the file, the entry and the key."""

from __future__ import annotations

import pickle
import re
from datetime import timedelta
from pathlib import Path

import pytest

from tasuki.errors import ConfigError
from tasuki.migrate import MigrationConfig, TableSpec, load_config
from tasuki.migrate._config import parse_lag

GOOD = """
[source]
url = "mysql://root@127.0.0.1:3306/app"
[target]
url = "postgresql://postgres@127.0.0.1:5432/dwh"
schema = "app"

[[tables]]
name = "users"
mode = "incremental"
cursor = "updated_at"
lag = "10 minutes"
on_schema_drift = "add_columns"

[[tables]]
name = "orders"
target = "orders_copy"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "migrations.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_file_becomes_typed_objects(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, GOOD))

    assert isinstance(config, MigrationConfig)
    assert config.source.url == "mysql://root@127.0.0.1:3306/app"
    assert (config.target.url, config.target.schema_) == (
        "postgresql://postgres@127.0.0.1:5432/dwh",
        "app",
    )
    users, orders = config.tables
    assert users == TableSpec(
        name="users",
        mode="incremental",
        cursor="updated_at",
        lag=timedelta(minutes=10),
        on_schema_drift="add_columns",
    )
    assert (orders.mode, orders.target_name, orders.on_schema_drift) == (
        "full",
        "orders_copy",
        "fail",
    )
    assert users.target_name == "users"
    assert config.path == str(tmp_path / "migrations.toml")
    assert pickle.loads(pickle.dumps(users)) == users  # specs travel to worker processes


@pytest.mark.parametrize(
    ("text", "lag"),
    [
        ("10 minutes", timedelta(minutes=10)),
        ("2h", timedelta(hours=2)),
        ("1 day", timedelta(days=1)),
        ("30 s", timedelta(seconds=30)),
        ("45sec", timedelta(seconds=45)),
        ("1 hour", timedelta(hours=1)),
        ("500", 500),
        (7, 7),
        (timedelta(minutes=1), timedelta(minutes=1)),
    ],
)
def test_lag_forms(text: object, lag: object) -> None:
    assert parse_lag(text) == lag  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        *(
            (text, f"{text!r} is not a duration; write '<number> <unit>'")
            for text in ("ten minutes", "10 fortnights", "-5", "", "1.5h")
        ),
        (True, "expected a duration such as '10 minutes' or an integer, got True"),
        (-3, "a lag cannot be negative"),
    ],
)
def test_bad_lags_are_refused(bad: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_lag(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            ('mode = "incremental"', 'mode = "incremntal"'),
            r"\[\[tables\]\] #1 \(name = 'users'\), key 'mode': "
            r"Input should be 'full' or 'incremental' \(got 'incremntal'\)",
        ),
        (
            ('cursor = "updated_at"\n', ""),
            r"\[\[tables\]\] #1 \(name = 'users'\): mode 'incremental' needs cursor = '<column>'",
        ),
        (
            ('lag = "10 minutes"', 'lag = "10 fortnights"'),
            r"\[\[tables\]\] #1 \(name = 'users'\), key 'lag': '10 fortnights' is not a duration",
        ),
        (
            ('target = "orders_copy"', 'target = "orders_copy"\ncolour = "red"'),
            r"\[\[tables\]\] #2 \(name = 'orders'\), key 'colour': unknown key; check its spelling",
        ),
        (
            ('target = "orders_copy"', 'target = "orders_copy"\ncursor = "id"'),
            r"\[\[tables\]\] #2 \(name = 'orders'\): "
            r"cursor and lag apply only to mode 'incremental'",
        ),
        (
            ('name = "orders"', 'name = "orders; DROP TABLE x"'),
            r"\[\[tables\]\] #2 \(name = 'orders; DROP TABLE x'\), key 'name': "
            r"'orders; DROP TABLE x' is not a plain table name",
        ),
        (
            ('target = "orders_copy"', 'target = "users"'),
            r"tables 'users' and 'orders' both write target table 'users'",
        ),
        (('url = "mysql://', 'url = "sqlite://'), r"\[source\] key 'url': 'sqlite://"),
        (
            ('url = "postgresql://', 'url = "mssql://'),
            r"\[target\] key 'url': 'mssql://.* is not a supported target",
        ),
        (
            ('schema = "app"', 'schema = "a-b"'),
            r"\[target\] key 'schema': 'a-b' is not a plain identifier",
        ),
        (
            ('on_schema_drift = "add_columns"', 'on_schema_drift = "ignore"'),
            r"key 'on_schema_drift': Input should be 'fail' or 'add_columns'",
        ),
    ],
)
def test_errors_name_the_file_the_entry_and_the_key(
    tmp_path: Path, edit: tuple[str, str], expected: str
) -> None:
    text = GOOD.replace(*edit, 1)
    assert text != GOOD
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=expected) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: 1 problem in the migration config")
    assert caught.value.path == str(path)


def test_several_problems_are_reported_together(tmp_path: Path) -> None:
    path = _write(tmp_path, '[source]\nurl = "mysql://h/db"\n[[tables]]\nname = 1\nmode = "x"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: 3 problems")
    assert "key 'target': required key is missing" in text
    assert "[[tables]] #1 (name = 1), key 'name': Input should be a valid string (got 1)" in text
    assert "key 'mode'" in text


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml does not exist \(looked in "):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match=r"migrations\.toml is not valid TOML: .*line 1"):
        load_config(_write(tmp_path, "[source\nurl = 1"))
    with pytest.raises(ConfigError, match=r"key 'tables': no tables to migrate; add at least one"):
        load_config(_write(tmp_path, "tables = []\n" + GOOD.split("[[tables]]")[0]))


def test_environment_variables_fill_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = GOOD.replace("mysql://root@", "mysql://root:${TASUKI_TEST_MYSQL_PW}@")
    monkeypatch.setenv("TASUKI_TEST_MYSQL_PW", "s3cret")
    assert (
        load_config(_write(tmp_path, text)).source.url == "mysql://root:s3cret@127.0.0.1:3306/app"
    )

    monkeypatch.delenv("TASUKI_TEST_MYSQL_PW")
    with pytest.raises(
        ConfigError,
        match=r"\[source\] url refers to \$\{TASUKI_TEST_MYSQL_PW\}, "
        "but the environment variable TASUKI_TEST_MYSQL_PW is not set",
    ):
        load_config(_write(tmp_path, text))


def test_table_spec_in_python() -> None:
    spec = TableSpec(name="users", mode="incremental", cursor="id", lag=100)
    assert spec.lag == 100
    with pytest.raises(ValueError, match="needs cursor"):
        TableSpec(name="users", mode="incremental")
