"""Real query services on loopback: uvicorn in a thread, or in a subprocess we can kill.

``running_service(config)`` serves ``create_app(config)`` with uvicorn in a thread of the test
process on a socket bound to port 0 (no port race). ``ServiceProcess`` does the same in a
separate Python process (``_serve.py``), for tests that ``kill -9`` the service.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from tasuki.service import ServiceConfig, add_client, create_app

HERE = Path(__file__).resolve().parent
EVENT_ROWS = 120_000


def wait_until(predicate: Any, timeout: float = 60.0, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy (fails after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def make_duckdb(path: Path, rows: int = EVENT_ROWS) -> Path:
    """A DuckDB warehouse file with ``events`` (``rows`` rows) and ``tiny`` (3 rows)."""
    import duckdb

    with duckdb.connect(str(path)) as db:
        db.execute(
            f"""
            CREATE TABLE events AS
            SELECT i::BIGINT AS id,
                   CASE WHEN i % 7 = 0 THEN NULL WHEN i % 11 = 0 THEN '' ELSE 'name-' || i END
                       AS name,
                   (i * 0.5)::DOUBLE AS score,
                   TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(i) AS ts
            FROM range({rows}) t(i)
            """
        )
        db.execute(
            "CREATE TABLE tiny AS SELECT * FROM (VALUES (1, 'a'), (2, NULL), (3, '')) v(k, v)"
        )
    return path


@contextlib.contextmanager
def running_service(config: ServiceConfig) -> Iterator[tuple[str, Any]]:
    """Serve ``config`` with uvicorn in a thread; yields (base URL, app)."""
    import uvicorn

    app = create_app(config)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started or not thread.is_alive(), what="uvicorn to start")
        if not server.started:
            pytest.fail("uvicorn did not start")
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


@pytest.fixture(scope="module")
def duck_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB warehouse file shared by a test module."""
    return make_duckdb(tmp_path_factory.mktemp("dwh") / "dwh.duckdb")


@pytest.fixture(scope="module")
def tokens(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A tokens file with clients alice and bob; their tokens."""
    path = tmp_path_factory.mktemp("auth") / "clients.json"
    return path, {name: add_client(path, name) for name in ("alice", "bob")}


class ServiceProcess:
    """The query service in its own Python process (``_serve.py``), killable with SIGKILL."""

    def __init__(self, config: ServiceConfig, folder: Path) -> None:
        self.config = config
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> ServiceProcess:
        config_file = self.folder / "service.json"
        port_file = self.folder / f"port-{time.monotonic_ns()}"
        data = asdict(self.config)
        config_file.write_text(json.dumps(data, default=dict))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parents[2]), *sys.path])}
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "_serve.py"), str(config_file), str(port_file)],
            env=env,
            start_new_session=True,
        )

        def port() -> int | None:
            if self.process is not None and self.process.poll() is not None:
                pytest.fail(f"the service process exited with {self.process.returncode}")
            text = port_file.read_text() if port_file.exists() else ""
            return int(text) if text.strip() else None

        self.url = f"http://127.0.0.1:{wait_until(port, 120, 'the service process')}"
        return self

    def kill(self) -> None:
        """SIGKILL the service process only (its workers must notice and exit)."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(30)

    def stop(self) -> None:
        """Stop the service gracefully (SIGTERM), then make sure it is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)
