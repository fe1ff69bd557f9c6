"""No secret ever printed: a planted password is looked for in every message a failure makes.

Each test plants ``hunter2-PLANTED`` in a connection string (PostgreSQL ``?password=`` and
``?sslpassword=``, a MariaDB migrate source, a Redis URL in the settings, a settings value of
the wrong type) that makes something fail, then greps what the failure produced: the exception
(``str``, ``repr``, its fields, its pickle), the log records, the CLI's stdout and stderr, and
every file the run wrote to the workspace (run records, log tails).
"""

from __future__ import annotations

import io
import logging
import pickle
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from typer.testing import CliRunner

from tasuki.cli import app
from tasuki.errors import TasukiError

pytestmark = pytest.mark.services

SECRET = "hunter2-PLANTED"
# The part a partial mask could leave behind.
FRAGMENTS = (SECRET, "hunter2", "PLANTED")


def _assert_clean(where: str, text: str) -> None:
    for fragment in FRAGMENTS:
        assert fragment not in text, f"{fragment!r} leaked in {where}:\n{text}"


def _pickled(exc: BaseException) -> bytes:
    """``exc`` pickled the way its class says, whatever another test imported first.

    Once a Dask build has reported a failed task, ``distributed`` has installed tblib's
    reducers in ``copyreg`` for the exception classes involved; those pickle ``__cause__`` too,
    here the driver's error, which cannot be unpickled (ADBC's errors need a keyword-only
    ``status_code``). This test is about what our error carries, so it pickles with an empty
    dispatch table.
    """
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer)
    pickler.dispatch_table = {}
    pickler.dump(exc)
    return buffer.getvalue()


def _exception_texts(exc: BaseException) -> str:
    """Everything an exception carries that may be printed, logged, recorded or pickled."""
    parts = [str(exc), repr(exc), repr(vars(exc)), repr(pickle.loads(_pickled(exc)))]
    cause = exc.__cause__
    # A wrapped driver error is the caller's to print; ours must be clean, so only our chain.
    while isinstance(cause, TasukiError):
        parts.append(str(cause))
        cause = cause.__cause__
    return "\n".join(parts)


def _workspace_text(root: Path) -> str:
    if not root.exists():
        return ""
    return "\n".join(
        p.read_bytes().decode("utf-8", "replace") for p in sorted(root.rglob("*")) if p.is_file()
    )


def _invoke(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args), catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        _assert_clean("the CLI's uncaught exception", _exception_texts(result.exception))
    return result


def _cli_text(result: Any) -> str:
    out = result.output
    try:
        out += "\n" + result.stderr
    except ValueError:  # older Click mixes stderr into output
        pass
    return out


def _server(postgres_url: str) -> str:
    parts = urlsplit(postgres_url)
    return f"{parts.scheme}://{parts.username or 'postgres'}@{parts.hostname}:{parts.port or 5432}"


@pytest.fixture(autouse=True)
def _quiet_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TASUKI_PROGRESS", "off")
    monkeypatch.setenv("TASUKI_WORKSPACE", str(tmp_path / "ws"))


@pytest.mark.parametrize("param", ["password", "sslpassword"])
def test_postgres_url_secret_is_not_in_warehouse_errors(
    postgres_url: str, param: str, caplog: pytest.LogCaptureFixture
) -> None:
    from tasuki.service._worker import error_info
    from tasuki.warehouse import connect

    caplog.set_level(logging.DEBUG)
    bad = f"{_server(postgres_url)}/tasuki_no_such_db?{param}={SECRET}&sslmode=disable"
    with pytest.raises(TasukiError) as info, connect(bad) as wh:
        _assert_clean("repr(warehouse)", repr(wh))
        wh.query("SELECT 1")
    _assert_clean("the warehouse error", _exception_texts(info.value))
    # what the query service answers its client and keeps in the query's record
    _assert_clean("the service's error body", repr(error_info(info.value)))
    _assert_clean("the logs", caplog.text)


def test_postgres_url_secret_is_not_in_cli_query_output(postgres_url: str, tmp_path: Path) -> None:
    bad = f"{_server(postgres_url)}/tasuki_no_such_db?password={SECRET}"
    result = _invoke("query", "SELECT 1", "--warehouse", bad)
    assert result.exit_code != 0
    _assert_clean("tasuki query", _cli_text(result))
    # the same URL as a named warehouse in the settings file
    Path("tasuki.toml").write_text(f'[warehouses]\ndwh = "{bad}"\n', encoding="utf-8")
    result = _invoke("query", "SELECT 1", "--warehouse", "dwh")
    assert result.exit_code != 0
    _assert_clean("tasuki query (named warehouse)", _cli_text(result))


def test_non_url_warehouse_secret_is_not_echoed(tmp_path: Path) -> None:
    from tasuki.service._config import resolve_warehouse
    from tasuki.warehouse import connect

    for bad in (f"host=db password={SECRET}", f"postgres//r:{SECRET}@db/x?password={SECRET}"):
        with pytest.raises(TasukiError) as info:
            connect(bad)
        _assert_clean("connect(no scheme)", _exception_texts(info.value))
        with pytest.raises(TasukiError) as info:
            resolve_warehouse(bad)
        _assert_clean("resolve_warehouse", _exception_texts(info.value))


def _migrations(path: Path, source: str, target: str) -> Path:
    path.write_text(
        f'[source]\nurl = "{source}"\n[target]\nurl = "{target}"\nschema = "app"\n'
        '[[tables]]\nname = "users"\n',
        encoding="utf-8",
    )
    return path


def _source_table(mariadb_url: str) -> None:
    import pymysql

    parts = urlsplit(mariadb_url)
    conn = pymysql.connect(
        host=parts.hostname,
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        database=parts.path.strip("/"),
        autocommit=True,
    )
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE users (id INT PRIMARY KEY, name TEXT)")
            cur.execute("INSERT INTO users VALUES (1, 'a'), (2, 'b')")
    finally:
        conn.close()


def test_migrate_secrets_are_not_printed_or_recorded(
    mariadb_url: str, postgres_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _source_table(mariadb_url)
    parts = urlsplit(mariadb_url)
    host = f"{parts.hostname}:{parts.port or 3306}"
    database = parts.path.strip("/")
    good_target = postgres_url
    bad_target = f"{_server(postgres_url)}/tasuki_no_such_db?password={SECRET}"
    cases = {
        # root has no password: a planted one is refused by MariaDB
        "wrong source password": (f"mysql://root:{SECRET}@{host}/{database}", good_target),
        "source password holding '@'": (f"mysql://root:hunter2@PLANTED@{host}/x", good_target),
        "source URL typo": (f"mysq://root:{SECRET}@{host}/{database}", good_target),
        "target ?password=": (mariadb_url, bad_target),
        "target typo": (mariadb_url, f"postgresq://r:{SECRET}@h/db?password={SECRET}"),
    }
    for name, (source, target) in cases.items():
        ws = tmp_path / f"ws-{len(name)}-{abs(hash(name))}"
        path = _migrations(tmp_path / f"{ws.name}.toml", source, target)
        result = _invoke("migrate", "--migrations", str(path), "--workspace", str(ws))
        assert result.exit_code != 0, (name, result.output)
        _assert_clean(f"tasuki migrate ({name})", _cli_text(result))
        _assert_clean(f"the run records ({name})", _workspace_text(ws))
    _assert_clean("the logs", caplog.text)


def test_migrate_api_errors_carry_no_secret(mariadb_url: str) -> None:
    from tasuki.migrate._source import describe_table, parse_mysql_url

    parts = urlsplit(mariadb_url)
    host = f"{parts.hostname}:{parts.port or 3306}"
    for bad in (f"mysql://root:{SECRET}@{host}/x", f"mysql://root:{SECRET}@{host}"):
        with pytest.raises(TasukiError) as info:
            parse_mysql_url(bad)
            describe_table(bad, "users")
        _assert_clean("migrate source error", _exception_texts(info.value))


@pytest.mark.parametrize(
    "redis_url",
    [f"redis://:{SECRET}@127.0.0.1:1/0", f"redis://default:{SECRET}@127.0.0.1:1/0"],
)
def test_redis_url_secret_is_not_printed(
    redis_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ws = tmp_path / "ws"
    Path("tasuki.toml").write_text(
        f'workspace = "{ws}"\nredis_url = "{redis_url}"\n', encoding="utf-8"
    )
    result = _invoke("run", "tests.unit.core.tasks_for_tests:TaskA", "--param", "x")
    assert result.exit_code != 0, result.output
    _assert_clean("tasuki run", _cli_text(result))
    _assert_clean("the workspace", _workspace_text(ws))
    _assert_clean("the logs", caplog.text)


def test_settings_errors_carry_no_secret(tmp_path: Path) -> None:
    from tasuki.config import load_settings

    Path("tasuki.toml").write_text(
        f'warehouses = "postgresql://r@db/x?password={SECRET}"\n'
        f'redis_url = ["redis://:{SECRET}@cache:6379"]\n',
        encoding="utf-8",
    )
    with pytest.raises(TasukiError) as info:
        load_settings({})
    _assert_clean("the settings error", _exception_texts(info.value))
    result = _invoke("query", "SELECT 1")
    assert result.exit_code == 2
    _assert_clean("the CLI's settings error", _cli_text(result))


def test_task_parameter_secret_is_not_in_records_or_cli(
    postgres_url: str,
    postgres_reader_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A QueryTask given a URL with a password: its failure, records and `tasuki show`."""
    caplog.set_level(logging.DEBUG)
    ws = tmp_path / "ws"
    bad = f"{_server(postgres_url)}/tasuki_no_such_db?password={SECRET}"
    # A reader role: the query path refuses the superuser.
    good = f"{postgres_reader_url}?password={SECRET}"
    for url in (bad, good):
        result = _invoke(
            "run", "tasuki.warehouse:QueryTask", "--sql", "SELECT 1 AS x", "--warehouse", url
        )
        _assert_clean("tasuki run QueryTask", _cli_text(result))
    assert result.exit_code == 0, result.output
    _assert_clean("the run records", _workspace_text(ws))
    uid = result.output.strip().splitlines()[-1].split()[-1]
    shown = _invoke("show", uid)
    _assert_clean("tasuki show", _cli_text(shown))
    _assert_clean("the logs", caplog.text)


def test_query_service_answers_and_records_carry_no_secret(
    postgres_reader_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """What a client of the query service sees of a warehouse URL with ``?password=``."""
    import httpx

    from tasuki.service import QueryClient, ServiceConfig, add_client
    from tests.integration.service.conftest import running_service

    caplog.set_level(logging.DEBUG)
    token = add_client(tmp_path / "clients.json", "alice")
    results = tmp_path / "results"
    config = ServiceConfig(
        # A reader role: the query path refuses the superuser.
        warehouse=f"{postgres_reader_url}?password={SECRET}",
        results_dir=str(results),
        tokens_file=str(tmp_path / "clients.json"),
        workers=1,
    )
    with running_service(config) as (base, _app):
        answer = httpx.post(
            f"{base}/v1/queries",
            json={"sql": "SELECT * FROM no_such_table"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
        texts = [answer.text]
        if answer.status_code < 400:
            query_id = answer.json()["id"]
            for _ in range(600):
                state = httpx.get(
                    f"{base}/v1/queries/{query_id}",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=60,
                )
                texts.append(state.text)
                if state.json().get("status") in ("failed", "succeeded", "cancelled"):
                    break
                import time

                time.sleep(0.1)
        assert "does not exist" in "\n".join(texts), texts
        with QueryClient(base, token) as client, pytest.raises(TasukiError) as info:
            client.query("SELECT * FROM no_such_table")
    _assert_clean("the service's answers", "\n".join(texts))
    _assert_clean("the client's error", _exception_texts(info.value))
    _assert_clean("the query records", _workspace_text(results))
    _assert_clean("the logs", caplog.text)
