"""The BodyLimit middleware alone: what it reads of a body before it answers 413."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tasuki.service._app import BodyLimit


class Echo:
    """An ASGI app that reads the whole body, then answers 200 with its length."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls += 1
        size = 0
        while True:
            message = await receive()
            size += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(size).encode()})


def serve(
    app: Any, chunks: list[bytes], headers: list[tuple[bytes, bytes]]
) -> tuple[int, bytes, int]:
    """Run one request through ``app``: (status, body, chunks the app pulled)."""
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        index = pulled - 1
        if index >= len(chunks):
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": chunks[index], "more_body": index < len(chunks) - 1}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body, pulled


def test_a_content_length_over_the_limit_is_answered_without_reading() -> None:
    echo = Echo()
    status, body, pulled = serve(
        BodyLimit(echo, max_bytes=100), [b"x" * 1000], [(b"content-length", b"1000")]
    )
    assert (status, pulled, echo.calls) == (413, 0, 0)
    error = json.loads(body)["error"]
    assert error["type"] == "RequestTooLarge" and error["retryable"] is False
    assert "1,000 bytes" in error["message"] and "max_body_bytes" in error["message"]


def test_a_body_without_length_is_cut_off_at_the_limit() -> None:
    chunks = [b"x" * 40] * 1000  # 40,000 bytes, sent 40 at a time
    status, body, pulled = serve(BodyLimit(Echo(), max_bytes=100), chunks, [])
    assert status == 413
    assert pulled == 3  # 120 bytes: the first chunk past the limit, and nothing more
    assert "more than 100 bytes" in json.loads(body)["error"]["message"]


@pytest.mark.parametrize("length", [None, 100])
def test_a_body_at_the_limit_passes(length: int | None) -> None:
    headers = [] if length is None else [(b"content-length", str(length).encode())]
    status, body, _ = serve(BodyLimit(Echo(), max_bytes=100), [b"x" * 60, b"x" * 40], headers)
    assert (status, body) == (200, b"100")


def test_other_scopes_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    asyncio.run(BodyLimit(app, max_bytes=1)({"type": "lifespan"}, None, None))
    assert seen == ["lifespan"]
