"""The query service: warehouse queries over HTTP, results as Parquet parts (like Queuery).

Run it::

    from tasuki.service import ServiceConfig, add_client, serve

    token = add_client("clients.json", "alice")      # printed once, stored hashed
    serve(ServiceConfig(warehouse="postgresql://dwh/analytics",
                        results_dir="/srv/tasuki-results", tokens_file="clients.json"))

Query it::

    from tasuki.warehouse import QueryClient   # also importable from tasuki.service

    with QueryClient("http://127.0.0.1:8000", token) as client:
        table = client.query("SELECT * FROM events LIMIT 10").to_arrow()

The server side (FastAPI, uvicorn) is imported only when used, so the client needs httpx
alone. See docs/service.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tasuki._registry import lazy_attribute
from tasuki.service._auth import add_client, hash_token
from tasuki.service._config import ServiceConfig

if TYPE_CHECKING:
    from tasuki.service._app import create_app, serve
    from tasuki.service._command import run_query_command
    from tasuki.service._service import QueryService
    from tasuki.warehouse._client import QueryClient, RemoteQueryResult

__all__ = [
    "QueryClient",
    "QueryService",
    "RemoteQueryResult",
    "ServiceConfig",
    "add_client",
    "create_app",
    "hash_token",
    "run_query_command",
    "serve",
]

_LAZY = {
    "QueryClient": "tasuki.warehouse._client",
    "QueryService": "tasuki.service._service",
    "RemoteQueryResult": "tasuki.warehouse._client",
    "create_app": "tasuki.service._app",
    "run_query_command": "tasuki.service._command",
    "serve": "tasuki.service._app",
}


def __getattr__(name: str) -> Any:
    return lazy_attribute(__name__, _LAZY, name)


def __dir__() -> list[str]:
    return sorted(__all__)
