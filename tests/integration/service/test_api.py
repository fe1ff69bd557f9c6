"""The HTTP API and QueryClient against a real uvicorn server over a DuckDB warehouse."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tasuki.errors import (
    ConfigError,
    PermissionDeniedError,
    QuerySyntaxError,
    TableNotFoundError,
    UnsafeQueryError,
    WarehouseError,
)
from tasuki.service import QueryClient, RemoteQueryResult, ServiceConfig, add_client
from tests.integration.service.conftest import EVENT_ROWS, running_service

PART_ROWS = 40_000


@pytest.fixture(scope="module")
def service(
    duck_file: Path, tokens: tuple[Path, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Any]]:
    config = ServiceConfig(
        warehouse=f"duckdb://{duck_file}",
        results_dir=str(tmp_path_factory.mktemp("results")),
        tokens_file=str(tokens[0]),
        workers=1,
        warehouse_options={"part_rows": PART_ROWS},
    )
    with running_service(config) as running:
        yield running


@pytest.fixture
def url(service: tuple[str, Any]) -> str:
    return service[0]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def run(url: str, token: str, sql: str, params: Any = None) -> dict[str, Any]:
    """Submit through raw HTTP and long-poll to the end; the final status document."""
    body: dict[str, Any] = {"sql": sql}
    if params is not None:
        body["params"] = params
    response = httpx.post(f"{url}/v1/queries", json=body, headers=auth(token))
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert set(accepted) == {"id", "status"} and accepted["status"] == "queued"
    while True:
        status = httpx.get(
            f"{url}/v1/queries/{accepted['id']}",
            params={"wait": 30},
            headers=auth(token),
            timeout=60,
        ).json()
        if status["status"] not in ("queued", "running"):
            return status


def expected(duck_file: Path, sql: str) -> pa.Table:
    with duckdb.connect(str(duck_file), read_only=True) as db:
        return db.sql(sql).to_arrow_table()


def test_client_result_matches_the_warehouse(
    url: str, tokens: tuple[Path, dict[str, str]], duck_file: Path, tmp_path: Path
) -> None:
    sql = "SELECT * FROM events WHERE id < :n ORDER BY id"
    with QueryClient(url, tokens[1]["alice"], download_dir=tmp_path / "dl") as client:
        result = client.query(sql, {"n": 100_000})
        assert isinstance(result, RemoteQueryResult)
        assert result.num_rows == 100_000
        assert len(result.parts) == 3  # 40k + 40k + 20k rows
        assert [p.rows for p in result.parts] == [40_000, 40_000, 20_000]
        table = result.to_arrow()
        want = expected(duck_file, "SELECT * FROM events WHERE id < 100000 ORDER BY id")
        assert table.equals(want.cast(table.schema))
        # NULL and '' stay distinct over HTTP
        names = table.column("name").to_pylist()
        assert names[7] is None and names[11] == "" and names[1] == "name-1"
        assert sum(b.num_rows for b in result.iter_batches(batch_size=10_000)) == 100_000
        assert result.to_pandas()["id"].iloc[-1] == 99_999
        assert [r["id"] for r in result.iter_rows(columns=["id"])][:3] == [0, 1, 2]
        # every part landed whole in the download folder, named by index
        for i, part in enumerate(result.parts):
            assert Path(part.path).name == f"part-{i:05d}.parquet"
            assert Path(part.path).stat().st_size == part.bytes
        assert not list((tmp_path / "dl").rglob("*.partial"))


def test_status_document_and_manifest(url: str, tokens: tuple[Path, dict[str, str]]) -> None:
    status = run(url, tokens[1]["alice"], "SELECT k, v FROM tiny ORDER BY k")
    assert status["status"] == "succeeded"
    assert status["client"] == "alice" and status["error"] is None
    assert status["started_at"] and status["finished_at"] and status["expires_at"]
    manifest = status["manifest"]
    assert manifest["backend"] == "duckdb"
    assert manifest["total_rows"] == 3
    assert manifest["columns"] == [
        {"name": "k", "type": "int32", "nullable": True},
        {"name": "v", "type": "string", "nullable": True},
    ]
    (part,) = manifest["parts"]
    assert part["index"] == 0 and part["rows"] == 3 and part["bytes"] == manifest["total_bytes"]
    assert part["url"] == f"{url}/v1/queries/{status['id']}/parts/0"
    body = httpx.get(part["url"], headers=auth(tokens[1]["alice"])).content
    assert len(body) == part["bytes"]
    table = pq.read_table(pa.BufferReader(body))
    assert table.to_pylist() == [{"k": 1, "v": "a"}, {"k": 2, "v": None}, {"k": 3, "v": ""}]


def test_range_requests(url: str, tokens: tuple[Path, dict[str, str]]) -> None:
    token = tokens[1]["alice"]
    status = run(url, token, "SELECT * FROM events WHERE id < 1000")
    part_url = status["manifest"]["parts"][0]["url"]
    whole = httpx.get(part_url, headers=auth(token))
    assert whole.status_code == 200
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-type"] == "application/vnd.apache.parquet"
    data = whole.content
    size = len(data)

    def get(spec: str, **extra: str) -> httpx.Response:
        return httpx.get(part_url, headers={**auth(token), "Range": spec, **extra})

    middle = get("bytes=10-99")
    assert middle.status_code == 206
    assert middle.content == data[10:100]
    assert middle.headers["content-range"] == f"bytes 10-99/{size}"
    assert get("bytes=100-").content == data[100:]
    assert get("bytes=-8").content == data[-8:]  # the Parquet footer length and magic
    assert get(f"bytes=5-{size * 2}").content == data[5:]
    assert get(f"bytes={size}-").status_code == 416
    # If-Range with another entity tag: the whole part, not a slice of something else
    stale = get("bytes=10-", **{"If-Range": '"something-else"'})
    assert stale.status_code == 200 and stale.content == data
    fresh = get("bytes=10-", **{"If-Range": whole.headers["etag"]})
    assert fresh.status_code == 206 and fresh.content == data[10:]
    assert (
        httpx.get(part_url.replace("/parts/0", "/parts/1"), headers=auth(token)).status_code == 404
    )


@pytest.mark.parametrize(
    ("sql", "error_type", "position"),
    [
        ("DROP TABLE events", "UnsafeQueryError", None),
        ("SELECT 1; SELECT 2", "UnsafeQueryError", None),
        ("SELECT * FROM read_csv('/etc/passwd')", "UnsafeQueryError", None),
        ("SELEC 1", "QuerySyntaxError", 7),
    ],
)
def test_refused_queries_answer_400_with_the_reason(
    url: str, tokens: tuple[Path, dict[str, str]], sql: str, error_type: str, position: int | None
) -> None:
    response = httpx.post(f"{url}/v1/queries", json={"sql": sql}, headers=auth(tokens[1]["alice"]))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == error_type
    assert error.get("position") == position
    assert len(error["message"]) > 20


def test_client_raises_the_warehouse_error_classes(
    url: str, tokens: tuple[Path, dict[str, str]]
) -> None:
    with QueryClient(url, tokens[1]["alice"]) as client:
        with pytest.raises(UnsafeQueryError, match="DELETE"):
            client.query("DELETE FROM events")
        with pytest.raises(QuerySyntaxError) as info:
            client.query("SELECT (1")
        assert info.value.position == 9  # type: ignore[attr-defined]
        with pytest.raises(WarehouseError, match="missing"):
            client.query("SELECT * FROM events WHERE id = :id", {"other": 1})
        with pytest.raises(TableNotFoundError, match="nope"):
            client.query("SELECT * FROM nope")


def test_failed_query_status_and_no_parts(url: str, tokens: tuple[Path, dict[str, str]]) -> None:
    token = tokens[1]["alice"]
    status = run(url, token, "SELECT * FROM missing_table")
    assert status["status"] == "failed"
    assert status["error"]["type"] == "TableNotFoundError"
    assert "missing_table" in status["error"]["message"]
    assert status["manifest"] is None
    response = httpx.get(f"{url}/v1/queries/{status['id']}/parts/0", headers=auth(token))
    assert response.status_code == 409
    assert "failed" in response.json()["error"]["message"]


def test_invalid_request_bodies(url: str, tokens: tuple[Path, dict[str, str]]) -> None:
    headers = auth(tokens[1]["alice"])
    for body in ({}, {"sql": ""}, {"sql": "SELECT 1", "x": 1}):
        response = httpx.post(f"{url}/v1/queries", json=body, headers=headers)
        assert response.status_code == 422, body
        assert response.json()["error"]["type"] == "InvalidRequest"
    # A bad timeout is the library's check_timeout refusal, as in warehouse.query: 400.
    # (tests/integration/service/test_limits.py tries the other bad values.)
    response = httpx.post(
        f"{url}/v1/queries", json={"sql": "SELECT 1", "timeout": -1}, headers=headers
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "WarehouseError"
    missing = httpx.get(f"{url}/v1/queries/20240101T000000-{'0' * 24}", headers=headers)
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "NotFound"


def test_authentication_and_isolation(url: str, tokens: tuple[Path, dict[str, str]]) -> None:
    issued = tokens[1]
    none = httpx.get(f"{url}/v1/queries")
    assert none.status_code == 401
    assert none.headers["www-authenticate"] == "Bearer"
    assert "missing bearer token" in none.json()["error"]["message"]
    wrong = httpx.get(f"{url}/v1/queries", headers=auth("tsk_not-a-real-token"))
    assert wrong.status_code == 401 and wrong.json()["error"]["type"] == "Unauthorized"
    basic = httpx.get(f"{url}/v1/queries", auth=("alice", issued["alice"]))
    assert basic.status_code == 401

    status = run(url, issued["alice"], "SELECT 42 AS answer")
    query_url = f"{url}/v1/queries/{status['id']}"
    for method, target in (
        ("GET", query_url),
        ("GET", f"{query_url}/parts/0"),
        ("DELETE", query_url),
    ):
        response = httpx.request(method, target, headers=auth(issued["bob"]))
        assert response.status_code == 403, (method, target)
        assert "another client" in response.json()["error"]["message"]
    bob_ids = {
        q["id"]
        for q in httpx.get(f"{url}/v1/queries", headers=auth(issued["bob"])).json()["queries"]
    }
    alice_ids = {
        q["id"]
        for q in httpx.get(f"{url}/v1/queries", headers=auth(issued["alice"])).json()["queries"]
    }
    assert status["id"] in alice_ids and status["id"] not in bob_ids

    with pytest.raises(PermissionDeniedError, match="401"):
        QueryClient(url, "tsk_wrong").query("SELECT 1")


def test_tokens_are_stored_hashed_and_rotate(url: str, tokens: tuple[Path, dict[str, str]]) -> None:
    path, issued = tokens
    text = path.read_text()
    for token in issued.values():
        assert token not in text
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    with pytest.raises(ConfigError, match="already exists"):
        add_client(path, "alice")
    with pytest.raises(ConfigError, match="not allowed"):
        add_client(path, "no spaces please")
    carol = add_client(path, "carol")  # picked up by the running service without restart
    assert httpx.get(f"{url}/v1/queries", headers=auth(carol)).status_code == 200
    rotated = add_client(path, "carol", replace=True)
    assert httpx.get(f"{url}/v1/queries", headers=auth(carol)).status_code == 401
    assert httpx.get(f"{url}/v1/queries", headers=auth(rotated)).status_code == 200
    assert json.loads(path.read_text())["clients"]["carol"]["sha256"] != ""


def test_delete_finished_result(
    url: str, tokens: tuple[Path, dict[str, str]], service: Any
) -> None:
    token = tokens[1]["alice"]
    status = run(url, token, "SELECT * FROM tiny")
    folder = Path(service[1].state.service.store.root) / status["id"]
    assert (folder / "job.json").exists() and list(folder.rglob("*.parquet"))
    response = httpx.delete(f"{url}/v1/queries/{status['id']}", headers=auth(token))
    assert response.status_code == 204
    assert not folder.exists()
    assert httpx.get(f"{url}/v1/queries/{status['id']}", headers=auth(token)).status_code == 404


def test_openapi_schema_is_explicit(url: str) -> None:
    spec = httpx.get(f"{url}/openapi.json").json()
    paths = spec["paths"]
    assert set(paths) >= {
        "/v1/queries",
        "/v1/queries/{query_id}",
        "/v1/queries/{query_id}/parts/{index}",
    }
    assert set(paths["/v1/queries/{query_id}"]) == {"get", "delete"}
    schemas = spec["components"]["schemas"]
    for name in (
        "QueryRequest",
        "QueryAccepted",
        "QueryStatus",
        "ManifestOut",
        "PartOut",
        "ErrorBody",
        "ErrorInfo",
    ):
        assert name in schemas, name
    assert schemas["QueryStatus"]["properties"]["status"]["enum"] == [
        "queued",
        "running",
        "succeeded",
        "failed",
        "cancelled",
        "expired",
    ]
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    post = paths["/v1/queries"]["post"]
    assert "202" in post["responses"] and "400" in post["responses"]


def test_dropped_download_leaves_the_server_working(
    url: str, tokens: tuple[Path, dict[str, str]]
) -> None:
    token = tokens[1]["alice"]
    status = run(url, token, "SELECT * FROM events")
    part = status["manifest"]["parts"][0]
    host, port = url.removeprefix("http://").split(":")
    for _ in range(3):
        # A client that reads the headers and a little of the body, then vanishes.
        with socket.create_connection((host, int(port))) as sock:
            path = part["url"].removeprefix(url)
            head = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            sock.sendall(head.encode() + b"\r\n")
            got = b""
            while b"\r\n\r\n" not in got or len(got) < 2000:
                chunk = sock.recv(1000)
                assert chunk
                got += chunk
            assert got.startswith(b"HTTP/1.1 200")
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
    body = httpx.get(part["url"], headers=auth(token)).content
    assert len(body) == part["bytes"]
    assert pq.read_table(pa.BufferReader(body)).num_rows == part["rows"]
    assert httpx.get(f"{url}/healthz").json()["status"] == "ok"


class CuttingProxy:
    """A TCP proxy on loopback that cuts the first ``cuts`` part downloads after ``after``
    bytes of response, so the client sees a real dropped connection."""

    def __init__(self, target_port: int, *, cuts: int, after: int) -> None:
        self.target_port = target_port
        self.cuts = cuts
        self.after = after
        self.requests: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = client.recv(65536)
            if not chunk:
                client.close()
                upstream.close()
                return
            request += chunk
        with self._lock:
            self.requests.append(request)
            cut = b"/parts/" in request.split(b"\r\n", 1)[0] and self.cuts > 0
            if cut:
                self.cuts -= 1
        # One request per connection, so each one passes through the checks above.
        line, rest = request.split(b"\r\n", 1)
        upstream.sendall(line + b"\r\nConnection: close\r\n" + rest)
        threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
        sent = 0
        try:
            while True:
                data = upstream.recv(65536)
                if not data:
                    break
                if cut and sent + len(data) > self.after:
                    client.sendall(data[: self.after - sent])
                    break  # drop both connections mid-body
                client.sendall(data)
                sent += len(data)
        finally:
            for sock in (client, upstream):
                # shutdown() first: it wakes the _pipe thread blocked in recv() and sends
                # the FIN now (close() alone waits for that recv to return).
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        """The rest of the request (a POST body sent after its headers)."""
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass


def test_client_resumes_a_dropped_part(
    url: str, tokens: tuple[Path, dict[str, str]], duck_file: Path, tmp_path: Path
) -> None:
    port = int(url.rsplit(":", 1)[1])
    proxy = CuttingProxy(port, cuts=2, after=50_000)
    try:
        with QueryClient(
            f"http://127.0.0.1:{proxy.port}",
            tokens[1]["alice"],
            download_threads=1,
            backoff=0.01,
            download_dir=tmp_path,
        ) as client:
            result = client.query("SELECT * FROM events ORDER BY id")
            assert len(result.parts) == 3
            table = result.to_arrow()
    finally:
        proxy.close()
    assert table.num_rows == EVENT_ROWS
    assert table.column("id").to_pylist() == list(range(EVENT_ROWS))
    part_requests = [r for r in proxy.requests if b"/parts/" in r.split(b"\r\n", 1)[0]]
    resumed = [r for r in part_requests if b"range: bytes=" in r.lower()]
    assert len(resumed) == 2, "\n".join(r.decode() for r in proxy.requests)
    assert all(b"if-range:" in r.lower() for r in resumed)


def test_client_gives_up_when_the_service_is_gone(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with QueryClient(f"http://127.0.0.1:{port}", "tsk_x", retries=1, backoff=0.01) as client:
        with pytest.raises(WarehouseError, match="cannot be reached"):
            client.query("SELECT 1")
