"""The HTTP API of the query service (FastAPI), and :func:`serve` to run it under uvicorn."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated, Any

import anyio
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from tasuki._redact import redact
from tasuki.errors import ConfigError, StorageError, TasukiError
from tasuki.service._models import (
    ColumnOut,
    ErrorBody,
    ErrorInfo,
    ManifestOut,
    PartOut,
    QueryAccepted,
    QueryList,
    QueryRequest,
    QueryStatus,
)
from tasuki.service._service import Job, QueryService, RefusedRequestError
from tasuki.service._worker import error_info

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from tasuki.service._config import ServiceConfig

__all__ = ["create_app", "serve"]

logger = logging.getLogger(__name__)

CHUNK = 1024 * 1024
PARQUET = "application/vnd.apache.parquet"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_bearer = HTTPBearer(auto_error=False, description="A client token made by add_client().")
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (401, 403, 404, 409, 410, 413, 416, 429, 503)
}


def _client(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The client a request's bearer token belongs to (401 without a known token)."""
    service: QueryService = request.app.state.service
    if credentials is None or not credentials.credentials:
        raise RefusedRequestError(
            "missing bearer token: send 'Authorization: Bearer <token>' with a token made "
            "by tasuki.service.add_client",
            status=401,
        )
    try:
        name = service.tokens.client_for(credentials.credentials)
    except ConfigError:
        # The tokens file is missing or damaged (TokenStore logged which and why). Fail
        # closed, and keep the server's paths out of an answer to an unauthenticated caller.
        raise RefusedRequestError(
            "the service cannot check tokens right now (its client list is unavailable); "
            "try again in a minute, and tell the service operator if it persists",
            status=503,
            retryable=True,
        ) from None
    if name is None:
        raise RefusedRequestError(
            "unknown or revoked token; ask the service operator for a new one", status=401
        )
    return name


ClientName = Annotated[str, Depends(_client)]


def create_app(config: ServiceConfig) -> FastAPI:
    """The query service as an ASGI application.

    The service object is built at once (so configuration errors surface here); its
    results directory, records and worker processes are taken over when the application
    starts (its lifespan), and released when it stops.

    Args:
        config: The service settings.

    Returns:
        The FastAPI application; ``app.state.service`` is its :class:`QueryService`.

    Raises:
        ConfigError: Unknown warehouse, no clients, unreadable tokens file.

    Example:
        >>> app = create_app(ServiceConfig(warehouse="duckdb:///dwh.db",  # doctest: +SKIP
        ...     results_dir="results", tokens_file="clients.json"))
    """
    service = QueryService(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(service.start)
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(service.close)

    app = FastAPI(
        title="tasuki query service",
        version="1",
        description="Run a read-only query on the warehouse, then download its result as "
        "Parquet parts at your own pace.",
        lifespan=lifespan,
    )
    app.state.service = service
    _install_error_handlers(app)
    # Outside everything FastAPI does: the body is refused before routing, authentication
    # or parsing reads a byte of it.
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)

    @app.post(
        "/v1/queries",
        status_code=202,
        response_model=QueryAccepted,
        responses={400: {"model": ErrorBody}, **_ERRORS},
        summary="Submit a query",
    )
    def submit(body: QueryRequest, who: ClientName) -> QueryAccepted:
        job = service.submit(who, body.sql, body.params, body.timeout)
        return QueryAccepted(id=job.id, status="queued")

    @app.get("/v1/queries", response_model=QueryList, responses=_ERRORS, summary="List queries")
    def list_queries(who: ClientName, request: Request) -> QueryList:
        return QueryList(queries=[_status(service, j, request) for j in service.jobs_of(who)])

    @app.get(
        "/v1/queries/{query_id}",
        response_model=QueryStatus,
        responses=_ERRORS,
        summary="Status, error and manifest of a query",
    )
    async def get_query(
        query_id: str,
        who: ClientName,
        request: Request,
        wait: Annotated[
            float, Query(ge=0, description="Seconds to wait for the query to finish.")
        ] = 0,
    ) -> QueryStatus:
        job = service.get(who, query_id)
        await service.wait(job, wait)
        return _status(service, job, request)

    @app.delete(
        "/v1/queries/{query_id}",
        response_model=QueryStatus,
        responses={
            204: {"description": "A finished query and its result were deleted."},
            **_ERRORS,
        },
        summary="Cancel a queued or running query, or delete a finished one",
    )
    def delete_query(query_id: str, who: ClientName, request: Request) -> Any:
        job = service.delete(who, query_id)
        if job is None:
            return Response(status_code=204)
        return _status(service, job, request)

    @app.get(
        "/v1/queries/{query_id}/parts/{index}",
        name="get_part",
        response_class=StreamingResponse,
        responses={
            200: {"content": {PARQUET: {}}, "description": "The Parquet part."},
            206: {"content": {PARQUET: {}}, "description": "A byte range of the part."},
            **_ERRORS,
        },
        summary="Download one Parquet part (supports a single Range)",
    )
    async def get_part(query_id: str, index: int, who: ClientName, request: Request) -> Response:
        job = service.get(who, query_id)
        path, size = service.part(job, index)
        etag = f'"{job.id}-{index}-{size}"'
        span = _parse_range(request.headers.get("range"), size)
        if_range = request.headers.get("if-range")
        if if_range is not None and if_range != etag:
            span = None  # the client's partial copy is of something else: send it whole
        try:
            handle = await anyio.to_thread.run_sync(service.store.open_part, path)
        except FileNotFoundError:
            raise RefusedRequestError(
                f"part {index} of query {job.id!r} is gone (the result expired or was "
                "deleted); run the query again",
                status=410,
            ) from None
        start, end = span if span is not None else (0, size - 1)
        headers = {
            "Accept-Ranges": "bytes",
            "ETag": etag,
            "Content-Length": str(max(0, end - start + 1)),
            "Content-Disposition": f'attachment; filename="{job.id}-part-{index:05d}.parquet"',
        }
        if span is not None:
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        return StreamingResponse(
            _read(handle, start, end - start + 1),
            status_code=206 if span is not None else 200,
            media_type=PARQUET,
            headers=headers,
        )

    @app.get("/healthz", summary="Liveness and queue length (no token needed)")
    def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "queued": service.scheduler.queued_count(),
            "workers": {
                "ready": len(service.scheduler.warm_workers()),
                "total": service.scheduler.workers,
            },
        }

    return app


class _BodyTooLarge(Exception):
    """Raised into the application when a body passes the limit while it is received."""


class BodyLimit:
    """Pure ASGI middleware: refuse a request body over ``max_bytes`` with 413.

    A ``Content-Length`` over the limit is answered at once, before any of the body is
    received. A body without one (chunked) is counted as it arrives; once it passes the
    limit the application gets an error instead of more body, its answer is dropped, and
    the client gets 413. The rest of the body is never read, so memory stays bounded
    whatever the client sends, and a bad token cannot make the server read a huge body
    before answering 401.

    Args:
        app: The application to guard.
        max_bytes: The largest body taken, in bytes.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection scope."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _content_length(scope)
        if length is not None and length > self.max_bytes:
            await self._refuse(scope, receive, send, f"{length:,} bytes")
            return
        received = 0
        over = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    over = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over:
                return  # the application's answer to a cut-off body: ours replaces it
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not over:
                raise
        if over and not started:
            await self._refuse(scope, receive, send, f"more than {self.max_bytes:,} bytes")

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, size: str) -> None:
        info = {
            "type": "RequestTooLarge",
            "message": f"the request body is {size}; the service takes at most "
            f"{self.max_bytes:,} (its max_body_bytes setting). Send a shorter query, or "
            "move long value lists into a table and join it",
            "retryable": False,
        }
        # Close the connection: the rest of the body is never read.
        response = _error(413, info, {"Connection": "close"})
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    """The request's Content-Length, or None when it has none (or an unreadable one)."""
    for key, value in scope.get("headers", ()):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses it; counting still bounds what is read
    return None


def serve(config: ServiceConfig, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the query service under uvicorn until interrupted.

    Logging is left to the caller (the CLI configures it); uvicorn's own log setup is off.

    Args:
        config: The service settings.
        host: Interface to listen on.
        port: TCP port.

    Raises:
        ConfigError: Bad settings (before anything listens).
    """
    import uvicorn

    app = create_app(config)
    uvicorn.run(app, host=host, port=port, log_config=None, timeout_graceful_shutdown=10)


async def _read(handle: Any, start: int, length: int) -> AsyncIterator[bytes]:
    """Stream ``length`` bytes from ``start``, one chunk in memory at a time."""
    try:
        if start:
            await anyio.to_thread.run_sync(handle.seek, start)
        remaining = length
        while remaining > 0:
            chunk = await anyio.to_thread.run_sync(handle.read, min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        handle.close()


def _parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """One ``bytes=a-b`` / ``a-`` / ``-n`` range, clamped; None for no (or multi-) range."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None  # several ranges or another unit: answer with the whole part
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        start, end = max(0, size - int(last)), size - 1
    else:
        start = int(first)
        end = min(size - 1, int(last)) if last else size - 1
    if start >= size or end < start:
        raise RefusedRequestError(
            f"range {header!r} is outside the part's {size} bytes", status=416, size=size
        )
    return start, end


def _status(service: QueryService, job: Job, request: Request) -> QueryStatus:
    manifest = None
    if job.status == "succeeded" and job.manifest is not None:
        m = job.manifest
        manifest = ManifestOut(
            backend=m["backend"],
            sql=m["sql"],
            params=m.get("params"),
            snapshot_at=m["snapshot_at"],
            finished_at=m["finished_at"],
            total_rows=m["total_rows"],
            total_bytes=m["total_bytes"],
            columns=[ColumnOut(**c) for c in m["schema"]["fields"]],
            arrow_schema=m["schema"]["arrow"],
            parts=[
                PartOut(
                    index=i,
                    rows=p["rows"],
                    bytes=p["bytes"],
                    url=str(request.url_for("get_part", query_id=job.id, index=str(i))),
                )
                for i, p in enumerate(m["parts"])
            ],
        )
    return QueryStatus(
        id=job.id,
        status=job.status,  # type: ignore[arg-type]
        client=job.client,
        sql=job.sql,
        submitted_at=job.submitted_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        expires_at=service.expires_at(job),
        queue_position=service.queue_position(job),
        error=ErrorInfo(**job.error) if job.error else None,
        manifest=manifest,
    )


def _error(status: int, info: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    if isinstance(info.get("message"), str):  # every error a client sees, however it was made
        info = {**info, "message": redact(info["message"])}
    body = ErrorBody(error=ErrorInfo(**info)).model_dump(exclude_none=True)
    return JSONResponse(body, status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RefusedRequestError)
    async def refused(request: Request, exc: RefusedRequestError) -> Response:
        status = int(exc.fields.get("status", 400))
        info = {
            "type": str(exc.fields.get("error_type") or _refusal_type(status)),
            "message": exc.message,
            "retryable": bool(exc.fields.get("retryable", False)),
        }
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        if status == 503:
            headers = {"Retry-After": "30"}
        return _error(status, info, headers)

    @app.exception_handler(StorageError)
    async def storage_failed(request: Request, exc: StorageError) -> Response:
        # The results folder is full or not writable: the operator's problem, not the
        # client's. The log names the folder; the answer keeps the server's paths out.
        logger.error("%s %s failed: %s", request.method, request.url.path, exc)
        info = {
            "type": "StorageError",
            "message": "the service cannot store query records or results right now (its "
            "results folder is full or not writable); try again later, and tell the service "
            "operator if it persists",
            "retryable": True,
        }
        return _error(503, info, {"Retry-After": "30"})

    @app.exception_handler(TasukiError)
    async def refused_query(request: Request, exc: TasukiError) -> Response:
        # The SQL check or parameter binding refused the query: the client's mistake.
        return _error(400, error_info(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        return _error(422, {"type": "InvalidRequest", "message": f"invalid request: {problems}"})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return _error(exc.status_code, {"type": "HTTPError", "message": str(exc.detail)})


def _refusal_type(status: int) -> str:
    return {
        401: "Unauthorized",
        403: "Forbidden",
        404: "NotFound",
        409: "NotReady",
        410: "Expired",
        413: "RequestTooLarge",
        416: "RangeNotSatisfiable",
        429: "QueueFull",
        503: "ServiceUnavailable",
    }.get(status, "Refused")
