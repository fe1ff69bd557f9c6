"""Pytest fixtures for a real S3 endpoint on loopback: moto in server mode.

``s3_endpoint`` (session) starts ``moto.server.ThreadedMotoServer`` on 127.0.0.1 with a free
port (its writes serialised, so that conditional writes are atomic as on S3) and yields its
URL. ``s3_workspace`` (per test) creates a fresh bucket, points the AWS
environment at the server (so s3fs, boto3 and worker processes started by the test reach it)
and yields ``s3://<bucket>/ws``.

When moto's server extra is missing the tests are skipped, or fail under
TASUKI_REQUIRE_SERVICES=1 (CI).
"""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """URL of a moto S3 server on 127.0.0.1, shared by the whole session."""
    try:
        _AtomicWrites = _atomic_moto_server()
    except ImportError as exc:  # moto[server] not installed
        from tests._services import service_unavailable

        service_unavailable("moto S3 server", exc)
    port = _free_port()
    server = _AtomicWrites(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        _clients.clear()


def _serialise_writes(app: Any) -> Any:
    """``app`` (WSGI) with its writes made one at a time.

    S3 applies a conditional write (``If-None-Match: *``, ``If-Match``) atomically: of two
    creates of one key, one gets 412. moto checks the condition and stores the object as two
    steps, and its server answers requests on threads, so two creates could both succeed
    (seen in CI: two lease holders, a counter one short). Reads stay concurrent.
    """
    lock = threading.Lock()

    def serialised(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("REQUEST_METHOD") in ("PUT", "POST", "DELETE"):
            with lock:
                return list(app(environ, start_response))
        return app(environ, start_response)

    return serialised


def _atomic_moto_server() -> type:
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    class AtomicWrites(ThreadedMotoServer):
        """moto's threaded server, its writes serialised (:func:`_serialise_writes`)."""

        def _server_entry(self) -> None:
            app = _serialise_writes(DomainDispatcherApplication(create_backend_app))
            self._server = make_server(
                self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
            )
            self._server_ready_event.set()
            self._server.serve_forever()

    return AtomicWrites


_clients: dict[str, Any] = {}


def s3_client(endpoint: str) -> Any:
    """A boto3 S3 client for the moto endpoint (test helper; one per endpoint, reused)."""
    if endpoint in _clients:
        return _clients[endpoint]
    import boto3

    _clients[endpoint] = client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    return client


@pytest.fixture
def s3_workspace(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``s3://<fresh bucket>/ws`` with the AWS environment pointed at the moto server."""
    for key, value in S3_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(key, raising=False)
    bucket = f"tasuki-test-{uuid.uuid4().hex[:12]}"
    client = s3_client(s3_endpoint)
    client.create_bucket(Bucket=bucket)
    try:
        yield f"s3://{bucket}/ws"
    finally:
        # Empty and drop the bucket so a long session does not keep every test's objects.
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket):
            objects = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if objects:
                client.delete_objects(Bucket=bucket, Delete={"Objects": objects})
        client.delete_bucket(Bucket=bucket)


__all__ = ["S3_ENV", "s3_client", "s3_endpoint", "s3_workspace"]
