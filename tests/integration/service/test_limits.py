"""Issue 10: the service's input is bounded and each client has quotas.

A real uvicorn server over a DuckDB warehouse. Bodies are sent over raw sockets where the
point is what the server reads before it answers: a client library would send the whole
body first.
"""

from __future__ import annotations

import datetime as dt
import json
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tasuki.service import ServiceConfig
from tests.integration.service.conftest import running_service

MAX_BODY = 1024 * 1024  # the default, which these tests rely on


@pytest.fixture(scope="module")
def service(
    duck_file: Path, tokens: tuple[Path, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Any]]:
    """Default input limits; a tiny disk quota for bob, and no sweep during the module."""
    config = ServiceConfig(
        warehouse=f"duckdb://{duck_file}",
        results_dir=str(tmp_path_factory.mktemp("results")),
        tokens_file=str(tokens[0]),
        workers=1,
        result_ttl=3600,
        cleanup_interval=3600,
        max_result_bytes=200_000,
        max_disk_bytes_per_client=3000,
    )
    assert config.max_body_bytes == MAX_BODY
    with running_service(config) as running:
        yield running


@pytest.fixture
def url(service: tuple[str, Any]) -> str:
    return service[0]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def submit(url: str, token: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{url}/v1/queries", json=body, headers=auth(token), timeout=60)


def finish(url: str, token: str, query_id: str) -> dict[str, Any]:
    while True:
        status: dict[str, Any] = httpx.get(
            f"{url}/v1/queries/{query_id}", params={"wait": 30}, headers=auth(token), timeout=60
        ).json()
        if status["status"] not in ("queued", "running"):
            return status


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    """The documented error shape: ``{"error": {"type", "message", "retryable"}}``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert {"type", "message", "retryable"} <= set(body["error"])
    error: dict[str, Any] = body["error"]
    return error


# -- the request body ---------------------------------------------------------------------


def _connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=10)
    # A small send buffer, so what we count as sent is close to what the server took.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16 * 1024)
    return sock


def _read_response(sock: socket.socket, timeout: float = 10.0) -> tuple[int, dict[str, Any]]:
    """Status and JSON body of the one response on ``sock`` (the server closes after it)."""
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = [
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ]
        if length and len(body) >= length[0]:
            break
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body)


def _headers(url: str, extra: str) -> bytes:
    host = urlsplit(url).netloc
    return (
        f"POST /v1/queries HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer not-a-token\r\n"
        f"Content-Type: application/json\r\n{extra}\r\n"
    ).encode()


def test_a_huge_content_length_is_refused_before_any_body_is_sent(url: str) -> None:
    # The case: 64 MiB with a bad token got 401 only after the whole body was read.
    with _connect(url) as sock:
        sock.sendall(_headers(url, f"Content-Length: {64 * 1024 * 1024}\r\n"))
        try:
            status, body = _read_response(sock)
        except TimeoutError:
            pytest.fail("the server waited for the 64 MiB body instead of answering 413")
    assert status == 413
    error = body["error"]
    assert error["type"] == "RequestTooLarge" and error["retryable"] is False
    assert "67,108,864 bytes" in error["message"] and "max_body_bytes" in error["message"]
    assert f"{MAX_BODY:,}" in error["message"]


def test_a_chunked_body_is_cut_off_once_it_passes_the_limit(url: str) -> None:
    chunk = b"x" * 16384
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    answered = False
    with _connect(url) as sock:
        sock.sendall(_headers(url, "Transfer-Encoding: chunked\r\n"))
        while sent < 64 * 1024 * 1024:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                answered = True
                break
            try:
                sock.sendall(frame)
            except (BrokenPipeError, ConnectionResetError):
                answered = True
                break
            sent += len(chunk)
        if not answered:
            sock.sendall(b"0\r\n\r\n")
        status, body = _read_response(sock)
    assert status == 413, body
    assert body["error"]["type"] == "RequestTooLarge"
    assert "max_body_bytes" in body["error"]["message"]
    # Answered right after the limit, not after 64 MiB: what was sent past the limit is
    # what the sockets' buffers held while the answer travelled back.
    assert sent <= MAX_BODY + 4 * 1024 * 1024, f"{sent:,} bytes sent before the answer"


def test_a_body_under_the_limit_is_read_as_before(
    url: str, tokens: tuple[Path, dict[str, str]]
) -> None:
    # Sent chunked (no Content-Length): the counting path lets a normal body through.
    body = json.dumps({"sql": "SELECT k FROM tiny ORDER BY k"}).encode()
    response = httpx.post(
        f"{url}/v1/queries",
        content=iter([body[:10], body[10:]]),
        headers={**auth(tokens[1]["alice"]), "Content-Type": "application/json"},
    )
    assert response.status_code == 202, response.text
    assert finish(url, tokens[1]["alice"], response.json()["id"])["status"] == "succeeded"


# -- the SQL text -------------------------------------------------------------------------


def test_sql_over_max_sql_bytes_is_400_naming_the_setting(
    url: str, tokens: tuple[Path, dict[str, str]]
) -> None:
    sql = "SELECT '" + "x" * (300 * 1024) + "'"
    error = error_of(submit(url, tokens[1]["alice"], {"sql": sql}), 400)
    assert error["type"] == "UnsafeQueryError"
    assert f"{len(sql):,} bytes" in error["message"]
    assert "262,144" in error["message"] and "max_sql_bytes" in error["message"]


def test_many_tokens_are_refused_before_parsing(
    url: str, tokens: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The case: SELECT 1 + 1 + ... took seconds of CPU to parse, twice. This one
    # (100,002 tokens, 200 KB) is under max_sql_bytes; the token count refuses it unparsed.
    import sqlglot

    parsed: list[int] = []
    parse = sqlglot.parse

    def counting_parse(sql: str, *args: Any, **kwargs: Any) -> Any:
        parsed.append(len(sql))
        return parse(sql, *args, **kwargs)

    monkeypatch.setattr(sqlglot, "parse", counting_parse)
    sql = "SELECT " + " + ".join(["1"] * 50_001)
    started = time.monotonic()
    error = error_of(submit(url, tokens[1]["alice"], {"sql": sql}), 400)
    assert time.monotonic() - started < 5
    assert error["type"] == "UnsafeQueryError"
    assert "about 100,002 tokens" in error["message"]
    assert "10,000" in error["message"] and "max_sql_tokens" in error["message"]
    assert len(sql) not in parsed, "the service parsed a query past max_sql_tokens"


@pytest.mark.parametrize("depth", [33, 60])
def test_deep_nesting_is_400_not_500(
    url: str, tokens: tuple[Path, dict[str, str]], depth: int
) -> None:
    sql = "SELECT " + "coalesce(" * depth + "1" + ")" * depth
    error = error_of(submit(url, tokens[1]["alice"], {"sql": sql}), 400)
    assert error["type"] == "UnsafeQueryError"
    assert f"{depth} levels" in error["message"]
    assert "max_nesting" in error["message"] and "32" in error["message"]


def test_sql_within_the_limits_runs(url: str, tokens: tuple[Path, dict[str, str]]) -> None:
    values = ", ".join(str(i) for i in range(4000))  # 8,000 tokens
    sql = f"SELECT count(*) AS n, {'coalesce(' * 30}2{')' * 30} AS m FROM events "
    sql += f"WHERE id IN ({values})"
    response = submit(url, tokens[1]["alice"], {"sql": sql})
    assert response.status_code == 202, response.text
    status = finish(url, tokens[1]["alice"], response.json()["id"])
    assert status["status"] == "succeeded", status["error"]
    assert status["manifest"]["total_rows"] == 1


# -- timeouts -----------------------------------------------------------------------------


@pytest.mark.parametrize("timeout", [0, -1, -0.5, True, False, "5", "abc", [1], {"s": 1}], ids=repr)
def test_bad_timeouts_are_400(url: str, tokens: tuple[Path, dict[str, str]], timeout: Any) -> None:
    error = error_of(submit(url, tokens[1]["alice"], {"sql": "SELECT 1", "timeout": timeout}), 400)
    assert error["type"] == "WarehouseError"
    assert "timeout must be a positive number of seconds" in error["message"]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999", "1e9"])
def test_non_finite_and_huge_timeouts_are_400(
    url: str, tokens: tuple[Path, dict[str, str]], literal: str
) -> None:
    # Python's JSON reader takes NaN and Infinity; 1e999 is infinity; 1e9 s is past the
    # largest timeout the servers accept (about 24.8 days).
    response = httpx.post(
        f"{url}/v1/queries",
        content=f'{{"sql": "SELECT 1", "timeout": {literal}}}',
        headers={**auth(tokens[1]["alice"]), "Content-Type": "application/json"},
    )
    error = error_of(response, 400)
    assert "timeout must be a positive number of seconds" in error["message"]


def test_timeouts_are_capped_and_tiny_ones_taken(
    service: tuple[str, Any], tokens: tuple[Path, dict[str, str]]
) -> None:
    url, app = service
    token = tokens[1]["alice"]
    long = submit(url, token, {"sql": "SELECT 1", "timeout": 7200})
    assert long.status_code == 202, long.text
    assert app.state.service.get("alice", long.json()["id"]).timeout == 3600.0
    tiny = submit(url, token, {"sql": "SELECT 1", "timeout": 1e-9})
    assert tiny.status_code == 202, tiny.text
    assert app.state.service.get("alice", tiny.json()["id"]).timeout == 1e-9
    for response in (long, tiny):
        finish(url, token, response.json()["id"])


# -- per-client quotas ----------------------------------------------------------------------


def test_a_result_over_max_result_bytes_fails_and_is_deleted(
    service: tuple[str, Any], tokens: tuple[Path, dict[str, str]]
) -> None:
    url, app = service
    token = tokens[1]["alice"]
    response = submit(url, token, {"sql": "SELECT * FROM events"})  # some megabytes
    assert response.status_code == 202, response.text
    status = finish(url, token, response.json()["id"])
    assert status["status"] == "failed"
    error = status["error"]
    assert error["type"] == "ResultTooLargeError" and error["retryable"] is False
    assert "200,000" in error["message"] and "max_result_bytes" in error["message"]
    folder = Path(app.state.service.store.root) / status["id"]
    assert not (folder / "result").exists()
    assert app.state.service.disk_used("alice") < 200_000


def _backdate(service: Any, query_id: str, seconds: float) -> None:
    """Make a result look ``seconds`` older, as if it had finished that long ago."""
    job = service.get("bob", query_id)
    job.finished_at -= dt.timedelta(seconds=seconds)
    job.submitted_at -= dt.timedelta(seconds=seconds)


def test_disk_quota_refuses_then_frees_expired_results_first(
    service: tuple[str, Any], tokens: tuple[Path, dict[str, str]]
) -> None:
    url, app = service
    service_ = app.state.service
    token = tokens[1]["bob"]
    sql = "SELECT * FROM events WHERE id < 1000"  # some kB of Parquet: one puts bob over
    first = finish(url, token, submit(url, token, {"sql": sql}).json()["id"])
    assert first["status"] == "succeeded"
    size = first["manifest"]["total_bytes"]
    assert size > 3000, "the test needs one result over bob's quota"
    assert service_.disk_used("bob") == size

    # Over the quota, nothing expired: refused, saying how much, the limit, and what to do.
    error = error_of(submit(url, token, {"sql": "SELECT 1"}), 429)
    assert error["type"] == "QuotaExceeded"
    assert f"{size:,} bytes" in error["message"] and "3,000" in error["message"]
    assert "max_disk_bytes_per_client" in error["message"] and "DELETE" in error["message"]
    assert (Path(service_.store.root) / first["id"] / "result").exists()  # never deleted
    # Another client is not held back by bob's results.
    assert submit(url, tokens[1]["alice"], {"sql": "SELECT 1"}).status_code == 202

    # Once its TTL passed (the sweep has not run yet), the submit itself frees it.
    _backdate(service_, first["id"], 3601)
    response = submit(url, token, {"sql": "SELECT 1"})
    assert response.status_code == 202, response.text
    assert service_.get("bob", first["id"]).status == "expired"
    assert not (Path(service_.store.root) / first["id"] / "result").exists()
    finish(url, token, response.json()["id"])

    # DELETE frees the space too.
    second = finish(url, token, submit(url, token, {"sql": sql}).json()["id"])
    assert submit(url, token, {"sql": "SELECT 1"}).status_code == 429
    deleted = httpx.delete(f"{url}/v1/queries/{second['id']}", headers=auth(token))
    assert deleted.status_code == 204
    assert submit(url, token, {"sql": "SELECT 1"}).status_code == 202


def test_the_expiry_sweep_deletes_the_oldest_expired_first(
    service: tuple[str, Any], tokens: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, app = service
    service_ = app.state.service
    token = tokens[1]["bob"]
    # Make room under the quota first (earlier tests may have left bob's results).
    for job in service_.jobs_of("bob"):
        finish(url, token, job.id)
        httpx.delete(f"{url}/v1/queries/{job.id}", headers=auth(token))
    assert service_.disk_used("bob") == 0
    ids = []
    for _ in range(3):
        response = submit(url, token, {"sql": "SELECT 1"})
        assert response.status_code == 202, response.text
        ids.append(finish(url, token, response.json()["id"])["id"])
    # The first submitted is the most recently finished, the last the longest ago.
    for age, query_id in zip((3700, 3800, 3900), ids, strict=True):
        _backdate(service_, query_id, age)
    removed: list[str] = []
    remove_result = service_.store.remove_result

    def recording(job_id: str) -> None:
        removed.append(job_id)
        remove_result(job_id)

    monkeypatch.setattr(service_.store, "remove_result", recording)
    service_.expire()
    assert [i for i in removed if i in ids] == ids[::-1]
