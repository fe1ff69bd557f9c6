"""Python client of the query service: the same QueryResult, fetched over HTTP.

::

    from tasuki.warehouse import QueryClient

    with QueryClient("http://dwh-query:8000", token) as client:
        result = client.query("SELECT * FROM events WHERE day = :day", {"day": "2024-05-01"})
        for batch in result.iter_batches():
            ...

Parts are streamed to a local folder (a temporary one unless ``download_dir`` is given),
never held whole in memory; a dropped connection resumes the part where it stopped with an
HTTP Range request.
"""

from __future__ import annotations

import base64
import concurrent.futures
import datetime as dt
import logging
import os
import shutil
import tempfile
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

import tasuki.errors as errors_module
from tasuki._backoff import backoff_delay
from tasuki._redact import redact
from tasuki.errors import PermissionDeniedError, WarehouseConnectionError, WarehouseError
from tasuki.warehouse import Manifest, PartInfo, QueryResult

if TYPE_CHECKING:
    from types import TracebackType
    from typing import Self

    import httpx

__all__ = ["QueryClient", "RemoteQueryResult"]

logger = logging.getLogger(__name__)

CHUNK = 1024 * 1024
TERMINAL = frozenset({"succeeded", "failed", "cancelled", "expired"})


class QueryClient:
    """Submits queries to a tasuki query service and downloads their results.

    Args:
        base_url: The service, e.g. ``http://127.0.0.1:8000``.
        token: The client's bearer token (from ``add_client``).
        download_dir: Folder for downloaded parts (one subfolder per query); default a
            temporary folder per result, removed with it.
        timeout: Seconds for connecting and for each read from the socket.
        retries: Attempts after a dropped connection (per part, reset when bytes arrive).
        backoff: Seconds before the first retry; doubles each time.
        download_threads: Parts downloaded at once.
        poll: Seconds of each long-poll while waiting for a query.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        download_dir: str | os.PathLike[str] | None = None,
        timeout: float = 30.0,
        retries: int = 5,
        backoff: float = 0.2,
        download_threads: int = 2,
        poll: float = 30.0,
    ) -> None:
        import httpx

        if not token:
            raise PermissionDeniedError(
                "QueryClient needs the client's token (made by tasuki.service.add_client)"
            )
        self.base_url = base_url.rstrip("/")
        self.display_url = redact(self.base_url)  # for messages, logs and records
        self.download_dir = os.fspath(download_dir) if download_dir is not None else None
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.download_threads = max(1, download_threads)
        self.poll = poll
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=max(4, download_threads * 2)),
        )

    def __repr__(self) -> str:
        return f"QueryClient({self.display_url!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connections (downloaded results stay readable)."""
        self._http.close()

    # -- queries ------------------------------------------------------------------------

    def query(
        self,
        sql: str,
        params: Mapping[str, Any] | Sequence[Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> RemoteQueryResult:
        """Run a query on the service and return its result, like ``Warehouse.query``.

        Args:
            sql: One read-only query in the warehouse's dialect.
            params: Placeholder values (JSON values: dates as ISO text).
            timeout: Statement timeout in seconds (the service caps it).

        Returns:
            The result; parts download on first read.

        Raises:
            UnsafeQueryError, QuerySyntaxError, TableNotFoundError, QueryTimeoutError, ...:
                The same errors the warehouse raises, with the service's message.
            PermissionDeniedError: The token was refused.
            WarehouseConnectionError: The service could not be reached.
        """
        query_id = self.submit(sql, params, timeout=timeout)
        try:
            status = self.wait(query_id)
        except KeyboardInterrupt:
            self._cancel_quietly(query_id)
            raise
        return self.result(query_id, status=status)

    def submit(
        self,
        sql: str,
        params: Mapping[str, Any] | Sequence[Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> str:
        """Queue a query; returns its id."""
        body: dict[str, Any] = {"sql": sql}
        if params is not None:
            body["params"] = dict(params) if isinstance(params, Mapping) else list(params)
        if timeout is not None:
            body["timeout"] = timeout
        data = self._call("POST", "/v1/queries", json=body, idempotent=False)
        return str(data["id"])

    def status(self, query_id: str, *, wait: float = 0) -> dict[str, Any]:
        """The query's status document (see ``GET /v1/queries/{id}``)."""
        data: dict[str, Any] = self._call(
            "GET", f"/v1/queries/{query_id}", params={"wait": wait}, extra=wait
        )
        return data

    def wait(self, query_id: str) -> dict[str, Any]:
        """Long-poll until the query is finished; returns its status document."""
        while True:
            status = self.status(query_id, wait=self.poll)
            if status["status"] in TERMINAL:
                return status

    def cancel(self, query_id: str) -> dict[str, Any] | None:
        """Cancel a queued or running query (its status), or delete a finished one (None)."""
        data = self._call("DELETE", f"/v1/queries/{query_id}", idempotent=False)
        return data or None

    def result(
        self, query_id: str, *, status: Mapping[str, Any] | None = None
    ) -> RemoteQueryResult:
        """The result of a finished query.

        Raises:
            WarehouseError (or the subclass the query failed with): It did not succeed.
        """
        status = status or self.status(query_id)
        state = status["status"]
        if state != "succeeded":
            error = status.get("error") or {}
            if state == "failed":
                raise _error_from(error, query_id=query_id)
            if state in ("queued", "running"):
                raise WarehouseError(
                    f"query {query_id} is still {state}; wait for it first", query_id=query_id
                )
            raise WarehouseError(
                f"query {query_id} was {state}; run it again", query_id=query_id, status=state
            )
        return RemoteQueryResult(self, query_id, status["manifest"], self._folder(query_id))

    def download_part(
        self, query_id: str, index: int, dest: str | os.PathLike[str], *, size: int | None = None
    ) -> int:
        """Stream one part to ``dest``, resuming after dropped connections.

        The bytes go to ``<dest>.partial`` first and are renamed when complete, so ``dest``
        is never a truncated part.

        Returns:
            Bytes written.

        Raises:
            WarehouseConnectionError: The connection kept dropping without progress.
        """
        import httpx

        dest = os.fspath(dest)
        partial = dest + ".partial"
        have = os.path.getsize(partial) if os.path.exists(partial) else 0
        etag: str | None = None
        failures = 0
        url = f"/v1/queries/{query_id}/parts/{index}"
        while True:
            headers = {}
            if have:
                headers["Range"] = f"bytes={have}-"
                if etag:
                    headers["If-Range"] = etag
            before = have
            try:
                with self._http.stream("GET", url, headers=headers) as response:
                    if response.status_code == 416 and have and have == size:
                        break
                    if response.status_code not in (200, 206):
                        response.read()
                        raise _http_error(response, self.display_url)
                    if response.status_code == 200:
                        have = 0
                    etag = response.headers.get("etag")
                    total = size if size is not None else _total(response, have)
                    with open(partial, "ab" if have else "wb") as out:
                        # Unbuffered: every byte received is on disk if the connection drops.
                        for chunk in response.iter_raw():
                            out.write(chunk)
                            have += len(chunk)
                if total is None or have >= total:
                    break
                raise httpx.RemoteProtocolError("response ended early")
            except httpx.TransportError as exc:
                failures = 0 if have > before else failures + 1
                if failures > self.retries:
                    raise WarehouseConnectionError(
                        f"downloading part {index} of query {query_id} from {self.display_url} "
                        f"failed {failures} times in a row: {exc}",
                        query_id=query_id,
                        part=index,
                    ) from exc
                logger.debug("part %d of %s: %s; resuming at byte %d", index, query_id, exc, have)
                time.sleep(backoff_delay(self.backoff, failures))
        os.replace(partial, dest)
        return have

    # -- plumbing -----------------------------------------------------------------------

    def _folder(self, query_id: str) -> tuple[str, bool]:
        if self.download_dir is None:
            return tempfile.mkdtemp(prefix=f"tasuki-{query_id[:15]}-"), True
        folder = os.path.join(self.download_dir, query_id)
        os.makedirs(folder, exist_ok=True)
        return folder, False

    def _cancel_quietly(self, query_id: str) -> None:
        try:
            self.cancel(query_id)
        except Exception:
            logger.debug("cancelling %s failed", query_id, exc_info=True)

    def _call(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool = True,
        extra: float = 0,
        **kwargs: Any,
    ) -> Any:
        import httpx

        failures = 0
        while True:
            try:
                response = self._http.request(
                    method, path, timeout=httpx.Timeout(self.timeout + extra), **kwargs
                )
            except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError) as exc:
                # A refused connection never reached the service: always safe to repeat.
                retry = idempotent or isinstance(exc, httpx.ConnectError)
                failures += 1
                if not retry or failures > self.retries:
                    raise WarehouseConnectionError(
                        f"the query service at {self.display_url} cannot be reached "
                        f"({type(exc).__name__}: {exc}); check the URL and that it is running",
                        url=self.display_url,
                    ) from exc
                time.sleep(backoff_delay(self.backoff, failures))
                continue
            except httpx.TimeoutException as exc:
                raise WarehouseConnectionError(
                    f"the query service at {self.display_url} did not answer {method} {path} "
                    f"within {self.timeout + extra:g} s",
                    url=self.display_url,
                ) from exc
            if response.status_code == 204:
                return None
            if response.status_code >= 400:
                if response.status_code in (502, 503, 504) and failures < self.retries:
                    failures += 1
                    time.sleep(backoff_delay(self.backoff, failures))
                    continue
                raise _http_error(response, self.display_url)
            return response.json()


class RemoteQueryResult(QueryResult):
    """A query result on the service, read like any :class:`~tasuki.warehouse.QueryResult`.

    Parts download on first read into :attr:`directory` (the next ones in the background
    while the current one is read), then ``iter_batches``, ``iter_rows``, ``to_arrow``,
    ``to_pandas``, ``to_polars`` work as for a local result.
    """

    def __init__(
        self,
        client: QueryClient,
        query_id: str,
        manifest: Mapping[str, Any],
        folder: tuple[str, bool],
    ) -> None:
        directory, owned = folder
        schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(manifest["arrow_schema"])))
        parts = tuple(
            PartInfo(
                path=os.path.join(directory, f"part-{p['index']:05d}.parquet"),
                rows=int(p["rows"]),
                bytes=int(p["bytes"]),
            )
            for p in manifest["parts"]
        )
        super().__init__(
            Manifest(
                query_id=query_id,
                backend=str(manifest["backend"]),
                sql=str(manifest["sql"]),
                schema=schema,
                parts=parts,
                snapshot_at=dt.datetime.fromisoformat(manifest["snapshot_at"]),
                finished_at=dt.datetime.fromisoformat(manifest["finished_at"]),
                location=directory,
                params=manifest.get("params"),
                extra={"service_url": client.display_url},
            )
        )
        self.client = client
        self.directory = directory
        self._finalizer = (
            weakref.finalize(self, shutil.rmtree, directory, ignore_errors=True) if owned else None
        )

    def download(self) -> list[str]:
        """Fetch every part not yet here (``download_threads`` at a time); their paths."""
        with concurrent.futures.ThreadPoolExecutor(self.client.download_threads) as pool:
            list(pool.map(self._ensure, range(len(self.parts))))
        return [p.path for p in self.parts]

    def iter_batches(
        self, batch_size: int = 65_536, *, columns: Sequence[str] | None = None
    ) -> Iterator[pa.RecordBatch]:
        """Record batches part by part; the next parts download while one is read."""
        ahead = self.client.download_threads
        with concurrent.futures.ThreadPoolExecutor(ahead) as pool:
            pending: dict[int, concurrent.futures.Future[None]] = {}
            for index, part in enumerate(self.parts):
                for j in range(index, min(index + ahead + 1, len(self.parts))):
                    if j not in pending:
                        pending[j] = pool.submit(self._ensure, j)
                pending.pop(index).result()
                if part.rows == 0:
                    continue
                with open(part.path, "rb") as file:
                    yield from pq.ParquetFile(file).iter_batches(
                        batch_size=batch_size,
                        columns=list(columns) if columns is not None else None,
                    )
            for future in pending.values():
                future.cancel()

    def to_arrow(self, *, columns: Sequence[str] | None = None) -> pa.Table:
        """The whole result as one Arrow table (downloads every part first)."""
        self.download()
        return super().to_arrow(columns=columns)

    def close(self) -> None:
        """Delete downloaded parts held in a temporary folder."""
        if self._finalizer is not None:
            self._finalizer()

    def _ensure(self, index: int) -> None:
        part = self.parts[index]
        if os.path.exists(part.path) and os.path.getsize(part.path) == part.bytes:
            return
        self.client.download_part(self.query_id, index, part.path, size=part.bytes)


def _total(response: httpx.Response, offset: int) -> int | None:
    length = response.headers.get("content-length")
    return offset + int(length) if length is not None else None


def _error_from(info: Mapping[str, Any], **fields: Any) -> WarehouseError:
    """The tasuki error an error document describes (WarehouseError when unknown)."""
    cls = getattr(errors_module, str(info.get("type", "")), None)
    if not (isinstance(cls, type) and issubclass(cls, WarehouseError)):
        cls = WarehouseError
    extra = {k: info[k] for k in ("position", "line", "column") if info.get(k) is not None}
    return cls(str(info.get("message", "the query failed")), **extra, **fields)


def _http_error(response: httpx.Response, base_url: str) -> WarehouseError:
    try:
        info = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        info = {"type": "HTTPError", "message": response.text[:500]}
    status = response.status_code
    message = f"query service {base_url} answered {status}: {info.get('message')}"
    if status in (401, 403):
        return PermissionDeniedError(message, status=status)
    if status == 400:
        return _error_from(info)
    if status >= 500:
        return WarehouseConnectionError(message, status=status)
    return WarehouseError(message, status=status, type=info.get("type"))
