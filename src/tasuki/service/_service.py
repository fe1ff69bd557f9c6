"""The query service's state: query records on disk, the queue, expiry, crash recovery.

Each query owns ``<results_dir>/<id>/``: ``job.json`` (its record, always replaced whole and
atomically) and ``result/`` (the Parquet parts the warehouse writes). A record says
``succeeded`` only once the worker reported a complete result, which the warehouse reports
only after every part and its manifest were written; the record is written before the new
state is visible through the API. So a service killed mid-unload restarts with the query's
record still at ``running``, and recovery marks it failed and deletes its partial parts.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tasuki._clock import utcnow
from tasuki._redact import redact
from tasuki.errors import StorageError, UnsafeQueryError, WarehouseError
from tasuki.service._auth import TokenStore
from tasuki.service._lineage_hook import recorder_for
from tasuki.service._models import TERMINAL
from tasuki.service._pool import Outcome, Scheduler
from tasuki.service._storage import ResultStore

if TYPE_CHECKING:
    from tasuki.service._config import ServiceConfig

__all__ = ["Job", "QueryService", "RefusedRequestError", "count_sql_tokens"]

logger = logging.getLogger(__name__)

_ID = re.compile(r"^\d{8}T\d{6}-[0-9a-f]{24}$")
# A query whose result could not be recorded; the server log names the folder.
_STORAGE_FAILED = {
    "type": "StorageError",
    "message": "the service could not record this query's result (its results folder is full "
    "or not writable); submit it again later, and tell the service operator if it persists",
    "retryable": True,
}


# One SQL token, as the tokenizer would see it: a quoted string or identifier, a comment, a
# number (with its dots and exponent), a word, or any other single character (so ``>=`` and
# ``::`` count twice: the count errs upwards). Unclosed quotes and comments run to the end
# of the text (never a failed match that is retried further on), so the count is linear.
_TOKEN = re.compile(
    r"'[^']*(?:'|\Z)|\"[^\"]*(?:\"|\Z)|`[^`]*(?:`|\Z)|--[^\n]*|/\*.*?(?:\*/|\Z)"
    r"|\d[\w.]*|[\w$]+|\S",
    re.DOTALL,
)


class RefusedRequestError(WarehouseError):
    """An API request the service refuses; ``status`` is the HTTP status to answer."""


def count_sql_tokens(sql: str) -> int:
    """About how many tokens sqlglot will make of ``sql``: a fast count before parsing.

    A doubled quote inside a string counts as two strings, and dollar-quoted text as its
    words: the count errs upwards, never by more than a few per cent on real queries. It
    costs about 0.15 ms per 1,000 tokens, some hundred times less than the parse it guards.
    """
    return sum(1 for _ in _TOKEN.finditer(sql))


@dataclass
class Job:
    """One submitted query and what became of it."""

    id: str
    client: str
    sql: str
    params: Any
    timeout: float
    status: str
    submitted_at: dt.datetime
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    error: dict[str, Any] | None = None
    manifest: dict[str, Any] | None = None
    waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = field(
        default_factory=list, repr=False
    )

    def record(self) -> dict[str, Any]:
        """The JSON record stored as ``job.json``."""
        return {
            "format": "tasuki.service-job",
            "version": 1,
            "id": self.id,
            "client": self.client,
            "sql": self.sql,
            "params": self.params,
            "timeout": self.timeout,
            "status": self.status,
            "submitted_at": self.submitted_at.isoformat(),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "error": self.error,
            "manifest": self.manifest,
        }

    @classmethod
    def from_record(cls, data: Mapping[str, Any]) -> Job:
        """Rebuild from a ``job.json`` record."""
        return cls(
            id=str(data["id"]),
            client=str(data["client"]),
            sql=str(data["sql"]),
            params=data.get("params"),
            timeout=float(data["timeout"]),
            status=str(data["status"]),
            submitted_at=dt.datetime.fromisoformat(data["submitted_at"]),
            started_at=_parse(data.get("started_at")),
            finished_at=_parse(data.get("finished_at")),
            error=data.get("error"),
            manifest=data.get("manifest"),
        )


class QueryService:
    """Accepts queries, runs them on worker processes, keeps and expires their results.

    Args:
        config: The service settings.

    Raises:
        ConfigError: Unknown warehouse name or scheme, unreadable tokens file.
    """

    def __init__(self, config: ServiceConfig) -> None:
        from tasuki.warehouse._functions import allow_list
        from tasuki.warehouse.registry import get_warehouse_class

        self.config = config
        self.warehouse_url = config.warehouse_url()
        # Each client's own role, where the operator gave one (checked at start, not per query).
        self.client_urls = config.client_warehouse_urls()
        # The workers' warehouses take the same option; a refused name fails the start.
        self.allow_functions = allow_list(config.warehouse_options.get("allow_functions", ()))
        self.scheme = self.warehouse_url.split("://", 1)[0].lower()
        self.dialect = get_warehouse_class(self.scheme).dialect
        # "Read by" lineage into the catalog, when one is configured (off the query path).
        self.reads = recorder_for(config, self.dialect)
        self.tokens = TokenStore(config.clients, config.tokens_file)
        self.store = ResultStore(config.results_dir, config.storage_options)
        self._lock = threading.RLock()
        self._jobs: dict[str, Job] = {}
        self._stop = threading.Event()
        self._sweeper: threading.Thread | None = None
        self.scheduler = Scheduler(
            workers=config.workers,
            per_client=config.max_concurrent_per_client,
            on_start=self._started,
            on_finish=self._finished,
            scheme=self.scheme,
        )

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Take the results directory, recover records, start workers and the sweeper."""
        from tasuki.warehouse import check_query

        self.store.acquire()
        check_query("SELECT 1", dialect=self.dialect)  # loads the dialect before the 1st request
        self.recover()
        started = time.monotonic()
        self.scheduler.start()
        # Accept requests only once the workers have started and imported the backend: a
        # query sent right after the health check answered paid those seconds before.
        ready = self.scheduler.wait_ready()
        logger.info(
            "query workers ready: %d of %d in %.1f s",
            ready,
            self.config.workers,
            time.monotonic() - started,
        )
        self._sweeper = threading.Thread(target=self._sweep, name="tasuki-expiry", daemon=True)
        self._sweeper.start()
        if self.reads is not None:
            self.reads.start()

    def close(self) -> None:
        """Stop workers; queries still queued or running are recorded as failed."""
        self._stop.set()
        self.scheduler.close()
        with self._lock:
            for job in self._jobs.values():
                if job.status in ("queued", "running"):
                    self._fail(
                        job, "the query service stopped before this query finished; submit it again"
                    )
        if self._sweeper is not None:
            self._sweeper.join(5)
        if self.reads is not None:
            self.reads.close()
        self.store.release()

    def recover(self) -> None:
        """Load records; fail queries a previous run left queued or running.

        Queries that were running may still have sessions on the warehouse server (a worker
        killed with the service cannot always stop them): those are stopped by their tag.
        """
        from tasuki.service._cancel import stop_leftovers

        interrupted: dict[str, list[str]] = {}  # URL the sessions ran as -> query ids
        for job_id in self.store.list_ids():
            data = self.store.read_record(job_id)
            if data is None:
                if _ID.match(job_id):
                    logger.warning("removing %s: no readable job.json", job_id)
                    self.store.remove(job_id)
                continue
            job = Job.from_record(data)
            if job.status in ("queued", "running"):
                if job.status == "running":
                    interrupted.setdefault(self.url_for(job.client), []).append(job.id)
                self._fail(
                    job,
                    f"the query service stopped while this query was {job.status}; "
                    "its partial result was deleted. Submit it again",
                )
            elif job.status == "succeeded" and not self.store.parts_exist(job.manifest):
                self._fail(
                    job,
                    "the result's files are missing from the results directory; "
                    "submit the query again",
                )
            self._jobs[job.id] = job
        for url, ids in interrupted.items():
            # As the role that ran them (a role may stop its own sessions), one connection
            # per role; never raises (an unreachable server is logged).
            stop_leftovers(url, ids)
        logger.info("recovered %d query record(s) from %s", len(self._jobs), redact(self.store.url))

    # -- requests -----------------------------------------------------------------------

    def submit(self, client: str, sql: str, params: Any, timeout: float | None) -> Job:
        """Check and queue a query.

        Raises:
            UnsafeQueryError, QuerySyntaxError, WarehouseError: The query, its parameters
                or its timeout are refused (answered 400).
            RefusedRequestError: The client's queue is full, or its kept results are over
                ``max_disk_bytes_per_client`` (429).
        """
        from tasuki.warehouse._common import check_timeout
        from tasuki.warehouse.registry import registry

        checked = self.check_sql(sql)
        checked.values(params)
        limit = self.config.statement_timeout
        # 0, negatives, NaN, infinity, bools and strings are refused (400), not mapped.
        seconds = min(check_timeout(timeout, limit), limit)
        self._check_disk_quota(client)
        if self.scheduler.queued_count(client) >= self.config.max_queued_per_client:
            raise RefusedRequestError(
                f"client {client!r} already has {self.config.max_queued_per_client} queries "
                "queued (the service's max_queued_per_client); wait for some to finish",
                status=429,
                retryable=True,
            )
        now = utcnow()
        job = Job(
            id=f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:24]}",
            client=client,
            sql=sql,
            params=params,
            timeout=seconds,
            status="queued",
            submitted_at=now,
        )
        with self._lock:
            self.store.write_record(job.id, job.record())
            self._jobs[job.id] = job
        message = {
            "id": job.id,
            "url": self.url_for(client),
            "backend": (self.scheme, registry.get(self.scheme)),
            "options": dict(self.config.warehouse_options),
            "parts_dir": self.store.result_url(job.id),
            "sql": sql,
            "params": params,
            "timeout": seconds,
            # For the worker's part writer: it stops the query once its parts pass this.
            "max_result_bytes": self.config.max_result_bytes,
        }
        if self.config.storage_options and "storage_options" not in message["options"]:
            message["options"]["storage_options"] = dict(self.config.storage_options)
        self.scheduler.submit(job.id, client, message)
        logger.info("query %s from %s queued", job.id, client)
        return job

    def check_sql(self, sql: str) -> Any:
        """Check ``sql`` against the service's limits, then that it is one read-only query.

        The cheap limits come first, so a text too large to parse is never parsed: its
        length (``max_sql_bytes``), its tokens (``max_sql_tokens``, a linear count that
        bounds the parse time), then its nesting (``max_nesting``, checked by
        :func:`~tasuki.warehouse.check_query` before it parses).

        Returns:
            The :class:`~tasuki.warehouse._safety.CheckedQuery`.

        Raises:
            UnsafeQueryError: Past a limit (the message names the setting), or not a single
                read-only query.
            QuerySyntaxError: It does not parse.
        """
        from tasuki.warehouse import check_query

        config = self.config
        size = len(sql.encode("utf-8", "surrogatepass"))
        if size > config.max_sql_bytes:
            raise _over_limit("too long", f"{size:,} bytes", "max_sql_bytes", config.max_sql_bytes)
        tokens = count_sql_tokens(sql)
        if tokens > config.max_sql_tokens:
            raise _over_limit(
                "too many tokens",
                f"about {tokens:,} tokens",
                "max_sql_tokens",
                config.max_sql_tokens,
            )
        try:
            return check_query(
                sql,
                dialect=self.dialect,
                max_bytes=config.max_sql_bytes,
                max_nesting=config.max_nesting,
                allow_functions=self.allow_functions,
            )
        except UnsafeQueryError as exc:
            if exc.fields.get("kind") != "too deeply nested":
                raise
            raise UnsafeQueryError(
                f"{exc.message} (the service's max_nesting setting is {config.max_nesting})",
                **{**exc.fields, "setting": "max_nesting", "limit": config.max_nesting},
            ) from None

    def disk_used(self, client: str) -> int:
        """Bytes of the client's kept results, from the sizes in their records."""
        with self._lock:
            return sum(_kept_bytes(j) for j in self._jobs.values() if j.client == client)

    def _check_disk_quota(self, client: str) -> None:
        """Refuse a new query (429) while the client's kept results are over its quota.

        Results whose TTL has passed are deleted first, oldest first, even before the
        expiry sweep reaches them; a result still within its TTL is never deleted here.
        """
        quota = self.config.max_disk_bytes_per_client
        used = self.disk_used(client)
        if used <= quota:
            return
        self.expire(client=client)
        used = self.disk_used(client)
        if used <= quota:
            return
        raise RefusedRequestError(
            f"client {client!r} keeps {used:,} bytes of results; the service's "
            f"max_disk_bytes_per_client is {quota:,}. DELETE /v1/queries/{{id}} the results "
            "you no longer need (GET /v1/queries lists them), or wait for them to expire",
            status=429,
            error_type="QuotaExceeded",
            used=used,
            limit=quota,
        )

    def url_for(self, client: str) -> str:
        """The warehouse URL the client's queries run as (its own role, if it has one)."""
        return self.client_urls.get(client, self.warehouse_url)

    def get(self, client: str, job_id: str) -> Job:
        """The client's query.

        Raises:
            RefusedRequestError: No such query (404) or another client's (403).
        """
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise RefusedRequestError(
                f"no query {job_id!r}: never submitted, deleted, or its record expired",
                status=404,
                query_id=job_id,
            )
        if job.client != client:
            raise RefusedRequestError(
                f"query {job_id!r} belongs to another client; a client sees only its own queries",
                status=403,
                query_id=job_id,
            )
        return job

    def jobs_of(self, client: str) -> list[Job]:
        """The client's queries, newest first."""
        with self._lock:
            jobs = [j for j in self._jobs.values() if j.client == client]
        return sorted(jobs, key=lambda j: j.submitted_at, reverse=True)

    def queue_position(self, job: Job) -> int | None:
        """Queries of the same client ahead of a queued one."""
        return self.scheduler.queue_position(job.id) if job.status == "queued" else None

    def expires_at(self, job: Job) -> dt.datetime | None:
        """When a succeeded result expires."""
        if job.status != "succeeded" or job.finished_at is None:
            return None
        return job.finished_at + dt.timedelta(seconds=self.config.result_ttl)

    def delete(self, client: str, job_id: str) -> Job | None:
        """Cancel a queued or running query (returns it), or delete a finished one (None)."""
        job = self.get(client, job_id)
        with self._lock:
            if job.status in ("queued", "running"):
                job.status = "cancelled"
                job.finished_at = utcnow()
                job.error = {
                    "type": "Cancelled",
                    "message": "cancelled by the client",
                    "retryable": False,
                }
                self.store.write_record(job.id, job.record())
                self._notify(job)
                outcome = self.scheduler.cancel(job.id)
                if outcome == "dequeued":
                    self.store.remove_result(job.id)
                logger.info("query %s cancelled (%s)", job.id, outcome)
                return job
            self._jobs.pop(job.id, None)
        self.store.remove(job.id)
        logger.info("query %s deleted", job.id)
        return None

    def part(self, job: Job, index: int) -> tuple[str, int]:
        """Path and size of part ``index`` of a succeeded query.

        Raises:
            RefusedRequestError: Expired (410), not succeeded (409), no such part (404).
        """
        with self._lock:
            status, manifest = job.status, job.manifest
        if status == "expired":
            raise RefusedRequestError(
                f"query {job.id!r} expired: its result was deleted after the service's "
                f"result TTL of {self.config.result_ttl:g} s; run the query again",
                status=410,
            )
        if status != "succeeded" or manifest is None:
            raise RefusedRequestError(
                f"query {job.id!r} is {status}; parts are served only once it succeeded",
                status=409,
                query_status=status,
            )
        parts = manifest["parts"]
        if not 0 <= index < len(parts):
            raise RefusedRequestError(
                f"query {job.id!r} has {len(parts)} part(s), numbered 0..{len(parts) - 1}; "
                f"there is no part {index}",
                status=404,
            )
        return self.store.part_path(manifest, index), int(parts[index]["bytes"])

    async def wait(self, job: Job, timeout: float) -> None:
        """Return when the query is finished, or after ``timeout`` seconds."""
        if timeout <= 0:
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        entry = (loop, future)
        with self._lock:
            if job.status in TERMINAL:
                return
            job.waiters.append(entry)
        try:
            await asyncio.wait_for(future, min(timeout, self.config.max_wait))
        except TimeoutError:
            pass
        finally:
            with self._lock:
                if entry in job.waiters:
                    job.waiters.remove(entry)

    def expire(self, now: dt.datetime | None = None, client: str | None = None) -> list[str]:
        """Expire results older than the TTL; drop records twice as old. Oldest first.

        Args:
            now: The time to judge by (default: now).
            client: Only this client's queries (default: every client's).

        Returns:
            Ids whose result was expired or whose record was dropped.
        """
        now = now or utcnow()
        ttl = dt.timedelta(seconds=self.config.result_ttl)
        changed: list[str] = []
        with self._lock:
            jobs = [
                j
                for j in self._jobs.values()
                if j.finished_at is not None and client in (None, j.client)
            ]
        # Oldest first: a sweep stopped half-way (an error, the service closing) has
        # freed the space that was due longest.
        jobs.sort(key=lambda j: (j.finished_at, j.id))
        for job in jobs:
            if job.finished_at is None:
                continue
            if job.status in TERMINAL and now >= job.finished_at + 2 * ttl:
                with self._lock:
                    self._jobs.pop(job.id, None)
                self.store.remove(job.id)
                changed.append(job.id)
            elif job.status == "succeeded" and now >= job.finished_at + ttl:
                with self._lock:
                    job.status = "expired"
                    self.store.write_record(job.id, job.record())
                self.store.remove_result(job.id)
                changed.append(job.id)
                logger.info("query %s expired", job.id)
        return changed

    # -- scheduler callbacks ------------------------------------------------------------

    def _started(self, job_id: str) -> bool:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.status != "queued":
                return False
            job.status = "running"
            job.started_at = utcnow()
            self.store.write_record(job.id, job.record())
        logger.info("query %s running", job_id)
        return True

    def _finished(self, job_id: str, outcome: Outcome) -> None:
        kind, value = outcome
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return
            if job.status != "running" or kind in ("cancelled", "stopped"):
                # Cancelled meanwhile, or the service is stopping: keep nothing.
                if job.status == "running":
                    self._fail(
                        job, "the query service stopped before this query finished; submit it again"
                    )
                self.store.remove_result(job.id)
                return
            if kind == "ok" and _manifest_bytes(value) > self.config.max_result_bytes:
                # The worker's part writer stops a query at the limit; this catches a
                # worker that was not told it, and keeps the quota exact either way.
                kind, value = "error", _too_large(_manifest_bytes(value), self.config)
            if kind == "ok":
                job.manifest = value
                job.status = "succeeded"
                job.finished_at = utcnow()
                # Written before anyone can see "succeeded": the commit point of the result.
                try:
                    self.store.write_record(job.id, job.record())
                except StorageError as exc:
                    # No record, no result: a full results folder fails the query.
                    logger.error("query %s: its result cannot be recorded: %s", job_id, exc)
                    job.status, job.manifest, job.error = "failed", None, dict(_STORAGE_FAILED)
                    self._write_quietly(job)
                else:
                    self._notify(job)
                    logger.info("query %s succeeded", job_id)
                    if self.reads is not None:
                        self.reads.record(job.client, job.sql)  # queued; never raises
                    return
            else:
                job.status = "failed"
                job.error = dict(value)
                job.finished_at = utcnow()
                self._write_quietly(job)
            # Deleted before waiters hear "failed": a client that looks at once finds nothing.
            self.store.remove_result(job_id)
            self._notify(job)
        logger.info("query %s failed: %s", job_id, value.get("type"))

    def _write_quietly(self, job: Job) -> None:
        """Write a failed query's record; a full results folder is logged, not raised."""
        try:
            self.store.write_record(job.id, job.record())
        except StorageError as exc:
            logger.error("query %s: its record cannot be written: %s", job.id, exc)

    def _fail(self, job: Job, message: str) -> None:
        job.status = "failed"
        job.finished_at = job.finished_at or utcnow()
        job.error = {"type": "ServiceInterrupted", "message": message, "retryable": True}
        job.manifest = None
        self.store.write_record(job.id, job.record())
        self.store.remove_result(job.id)
        self._notify(job)

    def _notify(self, job: Job) -> None:
        for loop, future in job.waiters:
            loop.call_soon_threadsafe(_resolve, future)

    def _sweep(self) -> None:
        while not self._stop.wait(self.config.sweep_interval):
            try:
                self.expire()
            except Exception:
                logger.exception("expiring results failed")


def _over_limit(kind: str, found: str, setting: str, limit: int) -> UnsafeQueryError:
    return UnsafeQueryError(
        f"the query is {found}; the service takes at most {limit:,} (its {setting} setting). "
        "Move long value lists into a table and join it, or split the query.",
        kind=kind,
        setting=setting,
        limit=limit,
    )


def _too_large(size: int, config: ServiceConfig) -> dict[str, Any]:
    return {
        "type": "ResultTooLargeError",
        "message": f"the query's result passed {size:,} bytes; the service keeps at most "
        f"{config.max_result_bytes:,} bytes per query (its max_result_bytes setting). "
        "Its parts were deleted: select fewer rows or columns, or aggregate",
        "retryable": False,
    }


def _manifest_bytes(manifest: Any) -> int:
    if not isinstance(manifest, Mapping):
        return 0
    total = manifest.get("total_bytes")
    if isinstance(total, int):
        return total
    return sum(int(p.get("bytes", 0)) for p in manifest.get("parts", ()))


def _kept_bytes(job: Job) -> int:
    """Bytes a job's result holds on disk: its parts while it succeeded, else none."""
    return _manifest_bytes(job.manifest) if job.status == "succeeded" else 0


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse(value: Any) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(str(value))
