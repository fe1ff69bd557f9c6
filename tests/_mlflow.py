"""A real MLflow tracking server for tests: SQLite backend, local artifact store, started as
its own process group on loopback, stopped (with every child) when the block ends.

    with mlflow_server(tmp_path) as uri:     # "http://127.0.0.1:PORT"
        ...

With ``TASUKI_REQUIRE_SERVICES=1`` (CI) a server that cannot start fails the test; elsewhere
the test is skipped with the reason.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tests._services import service_unavailable, stop_process_group

__all__ = ["mlflow_server"]

START_TIMEOUT_S = 90.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _unavailable(reason: str) -> None:
    service_unavailable("the MLflow tracking server", RuntimeError(reason))


@contextlib.contextmanager
def mlflow_server(folder: Path) -> Iterator[str]:
    """Start ``mlflow server`` with its store in ``folder``; yield its URI."""
    mlflow = shutil.which("mlflow", path=str(Path(sys.executable).parent))
    if mlflow is None:
        _unavailable("the mlflow command is not installed (pip install 'mlflow>=3')")
    folder.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    uri = f"http://127.0.0.1:{port}"
    log = (folder / "mlflow-server.log").open("wb")
    env = {
        **os.environ,
        "MLFLOW_HOST": "127.0.0.1",
        "MLFLOW_TRACKING_URI": "",
        # No job runner: its eight consumer processes (for MLflow's own evaluation jobs) cost
        # a 2-core CI machine seconds of CPU and ~800 MB, and tracking and the registry never
        # use them.
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }
    proc = subprocess.Popen(
        [
            str(mlflow),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{folder / 'mlflow.db'}",
            "--artifacts-destination",
            (folder / "artifacts").as_uri(),
            "--workers",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped whole, workers included
        env=env,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                log.flush()
                tail = (folder / "mlflow-server.log").read_text(errors="replace")[-2000:]
                _unavailable(f"exited with {proc.returncode} before answering:\n{tail}")
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                _unavailable(f"did not answer {uri}/health within {START_TIMEOUT_S:.0f} s")
            time.sleep(0.2)
        # The server's first API requests are slow (its database layer warms up: ~1 s here,
        # more on a loaded machine): make them here, so that no test's first request meets a
        # cold server and a tracker's first-request timeout.
        for _ in range(2):
            with urllib.request.urlopen(
                f"{uri}/api/2.0/mlflow/experiments/search?max_results=1", timeout=60
            ) as answer:
                answer.read()
        yield uri
    finally:
        stop_process_group(proc)
        log.close()
