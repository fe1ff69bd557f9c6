"""A real HTTP server on loopback that records every POST and answers from a script."""

from __future__ import annotations

import json
import socket
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Recorder:
    """What the server received, and what it will answer next."""

    url: str
    requests: list[Recorded] = field(default_factory=list)
    #: (status, body, headers) answers used in order; then 200 "ok" forever.
    script: deque[tuple[int, str, dict[str, str]]] = field(default_factory=deque)
    #: While set, the next request waits for ``release`` before answering (timeouts).
    hold_next: bool = False
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bodies(self) -> list[Any]:
        with self.lock:
            return [r.body for r in self.requests]


def _handler(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            with recorder.lock:
                recorder.requests.append(
                    Recorded(self.path, dict(self.headers.items()), json.loads(raw))
                )
                hold, recorder.hold_next = recorder.hold_next, False
                answer = recorder.script.popleft() if recorder.script else (200, "ok", {})
            if hold:
                recorder.release.wait(10)
                return  # the client gave up long ago; answer nothing
            status, text, headers = answer
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback requests must not go through a proxy from the developer's shell."""
    for key in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def recorder(no_proxy: None) -> Iterator[Recorder]:
    """A ThreadingHTTPServer on 127.0.0.1 recording POSTs; its URL carries a fake secret."""
    rec = Recorder(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(rec))
    server.daemon_threads = True
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/secret-token"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        rec.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def dead_url(no_proxy: None) -> str:
    """A loopback URL where nothing listens: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks/secret-token"


@pytest.fixture(autouse=True)
def task_log_tails() -> Iterator[None]:
    """Keep task log tails in records, as the CLI does (the library adds no handler)."""
    import logging

    from tasuki.core.execute import TaskLogHandler

    handler = TaskLogHandler()
    root = logging.getLogger()
    root.addHandler(handler)
    yield
    root.removeHandler(handler)
