"""Leases kept in the workspace itself, by the conditional writes of an object store.

A lease is a small JSON object at ``<workspace>/.tasuki/locks/<key>.lock``::

    {"token": "<random>", "host": "...", "pid": 123, "acquired": 1760000000.0,
     "heartbeat": 1760000020.0, "ttl": 60.0}

* **Acquire** is one conditional create (S3 ``PutObject`` with ``If-None-Match: *``; GCS an
  upload with ``ifGenerationMatch=0``): of racing workers exactly one gets it.
* **Heartbeat**: every ``ttl / 3`` seconds the holder overwrites the object on condition that
  it is unchanged since its last write (S3 ``If-Match: <ETag>``, GCS ``ifGenerationMatch``).
  A refusal means it was taken over: the holder marks the lease lost, and the store's publish
  (:func:`~tasuki.storage._locks.fence`) refuses to write its outputs.
* **Release** is one conditional delete (``If-Match`` our ETag), so a former holder never
  deletes its successor's lease. An uncontended task therefore costs two round trips.
* **Take-over** of an expired lease is an overwrite conditional on the stale version, so of
  two waiters that both saw it expire exactly one wins.

Clocks. Hosts' clocks disagree by seconds (more on a badly kept VM), and a lease that carried
an absolute expiry written by the holder's clock and judged by the waiter's would let a waiter
whose clock runs ahead take over a live lease. So no two hosts' clocks are ever compared:

* a waiter judges the age of the lease by the *store's* clock: the object's ``LastModified``
  (set by the server when it accepted the holder's last write) against the ``Date`` of the
  server's answer, both from the one GET;
* failing that (no ``Date``), by its own monotonic clock: a lease whose version it has seen
  unchanged for ``ttl`` seconds is expired;
* the holder trusts its lease for ``ttl`` seconds from the moment it *sent* its last successful
  write, by its own monotonic clock. The server stamped that write later than it was sent, so
  the holder stops trusting before any waiter, judging by the server's clock, can take over.

The times in the object (``acquired``, ``heartbeat``) are the holder's clock, for people
reading the object; only ``ttl``, a duration, is used. What is left is the rate at which
clocks drift (parts per million) and a holder frozen for longer than the margin between its
last check and its publish; the check renews first when less than half the ttl is left.

A corrupt lease object (not JSON, not ours, a bad ttl) is judged like any other: it is
expired once it has not changed for the store's ttl, by the same clocks, and a warning names
its path. A holder never writes one, so it is someone's mistake; waiting one ttl for it costs
little and never lets two run.
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from tasuki._redact import redact
from tasuki.storage._locks import DEFAULT_TTL, _LeaseBase, _Renewer, _track, _untrack

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["ConditionalOps", "GcsOps", "ObjectLease", "S3Ops", "Snapshot", "parse_lease"]

logger = logging.getLogger(__name__)

_POLL_FIRST = 0.05
_POLL_MAX = 1.0
CLOCK_GRAIN = 1.0
"""Seconds of resolution of S3's ``LastModified`` and HTTP ``Date`` (whole seconds)."""
MAX_TTL = 7 * 24 * 3600.0
"""A ttl above this in a lease object counts as corrupt (it would block a key for ever)."""


@dataclass(frozen=True)
class Snapshot:
    """One read of a lease object."""

    body: bytes
    version: str
    """The ETag (S3) or generation (GCS): what a conditional write names."""
    age: float | None
    """Seconds since the object was last written, by the store's own clock; None if unknown."""


class ConditionalOps(Protocol):
    """The four conditional requests an object store needs to keep leases."""

    def create(self, path: str, data: bytes) -> str | None:
        """Write ``data`` only if nothing is at ``path``: the new version, or None."""

    def read(self, path: str) -> Snapshot | None:
        """The object, its version and age; None when there is none."""

    def replace(self, path: str, data: bytes, version: str) -> str | None:
        """Overwrite only if the object is still at ``version``: the new version, or None."""

    def delete(self, path: str, version: str) -> bool:
        """Delete only if the object is still at ``version``; whether it was deleted."""


def _error_code(exc: BaseException) -> str | None:
    """The S3 error code (``PreconditionFailed``...) of an s3fs error or its cause."""
    seen: BaseException | None = exc
    while seen is not None:
        response = getattr(seen, "response", None)
        if isinstance(response, dict):
            return str(response.get("Error", {}).get("Code") or "") or None
        seen = seen.__cause__
    return None


# 412: the condition did not hold; 409: a concurrent conditional write to the same key won.
_LOST_RACE = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412", "409"})


class S3Ops:
    """Conditional requests on S3 through an s3fs file system (one request each)."""

    def __init__(self, fs: Any) -> None:
        self.fs = fs

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        bucket, key, _ = self.fs.split_path(path)
        return self.fs.call_s3(method, Bucket=bucket, Key=key, **kwargs)

    def _conditional(self, method: str, path: str, **kwargs: Any) -> Any:
        """The response, or None when the condition failed (412/409)."""
        try:
            return self._call(method, path, **kwargs)
        except FileExistsError:  # s3fs's name for a failed If-None-Match
            return None
        except OSError as exc:
            if _error_code(exc) in _LOST_RACE:
                return None
            raise

    def create(self, path: str, data: bytes) -> str | None:
        out = self._conditional("put_object", path, Body=data, IfNoneMatch="*")
        return None if out is None else str(out["ETag"])

    def replace(self, path: str, data: bytes, version: str) -> str | None:
        try:
            out = self._conditional("put_object", path, Body=data, IfMatch=version)
        except FileNotFoundError:  # deleted meanwhile: S3 answers 404 to If-Match
            return None
        return None if out is None else str(out["ETag"])

    def delete(self, path: str, version: str) -> bool:
        try:
            return self._conditional("delete_object", path, IfMatch=version) is not None
        except FileNotFoundError:
            return False

    def read(self, path: str) -> Snapshot | None:
        from fsspec.asyn import sync

        bucket, key, _ = self.fs.split_path(path)

        async def get() -> tuple[Any, bytes]:
            out = await self.fs._call_s3("get_object", Bucket=bucket, Key=key)
            try:
                return out, await out["Body"].read()
            finally:
                out["Body"].close()

        try:
            out, body = sync(self.fs.loop, get)
        except FileNotFoundError:
            return None
        return Snapshot(body, str(out["ETag"]), _server_age(out))


class GcsOps:
    """Conditional requests on GCS through a gcsfs file system (JSON API, one request each).

    Versions are object generations: create with ``ifGenerationMatch=0``, overwrite and
    delete with ``ifGenerationMatch=<generation>``; gcsfs raises FileExistsError for the
    412 a failed precondition gets and FileNotFoundError for a 404.

    Writes are *multipart* uploads (metadata and content in one request, as gcsfs's own
    ``pipe_file`` sends them), not ``uploadType=media``: GCS honours the precondition on
    both, but fake-gcs-server (the emulator the tests run against) ignores it on media
    uploads and would let two creates both succeed.
    """

    def __init__(self, fs: Any) -> None:
        self.fs = fs

    def _run(self, make: Callable[[], Any]) -> Any:
        from fsspec.asyn import sync

        return sync(self.fs.loop, make)

    def _upload(self, path: str, data: bytes, generation: str) -> str | None:
        from urllib.parse import quote

        bucket, key, _ = self.fs.split_path(path)
        location = getattr(self.fs, "_location", "https://storage.googleapis.com")
        url = f"{location}/upload/storage/v1/b/{quote(bucket, safe='')}/o"
        # A boundary that cannot occur in the body (a lease is short JSON, but say so anyway).
        boundary = f"tasuki-{uuid.uuid4().hex}"
        while boundary.encode() in data:
            boundary = f"tasuki-{uuid.uuid4().hex}"
        payload = (
            (
                f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n"
                f"{json.dumps({'name': key})}\r\n"
                f"--{boundary}\r\nContent-Type: application/json\r\n\r\n"
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        try:
            out = self._run(
                lambda: self.fs._call(
                    "POST",
                    url,
                    uploadType="multipart",
                    headers={"Content-Type": f'multipart/related; boundary="{boundary}"'},
                    data=payload,
                    ifGenerationMatch=generation,
                    json_out=True,
                )
            )
        except (FileExistsError, FileNotFoundError):
            return None
        return str(out["generation"])

    def create(self, path: str, data: bytes) -> str | None:
        return self._upload(path, data, "0")

    def replace(self, path: str, data: bytes, version: str) -> str | None:
        return self._upload(path, data, version)

    def delete(self, path: str, version: str) -> bool:
        bucket, key, _ = self.fs.split_path(path)
        try:
            self._run(
                lambda: self.fs._call("DELETE", "b/{}/o/{}", bucket, key, ifGenerationMatch=version)
            )
        except (FileExistsError, FileNotFoundError):
            return False
        return True

    def read(self, path: str) -> Snapshot | None:
        bucket, key, _ = self.fs.split_path(path)
        try:
            headers, body = self._run(
                lambda: self.fs._call("GET", "b/{}/o/{}", bucket, key, alt="media")
            )
        except FileNotFoundError:
            return None
        found = {str(k).lower(): str(v) for k, v in dict(headers).items()}
        age = None
        if found.get("date") and found.get("last-modified"):
            try:
                import email.utils  # only to read an object store's dates

                now = email.utils.parsedate_to_datetime(found["date"])
                then = email.utils.parsedate_to_datetime(found["last-modified"])
                age = float((now - then).total_seconds())
            except (TypeError, ValueError):
                age = None
        return Snapshot(bytes(body), found.get("x-goog-generation", ""), age)


def _server_age(response: dict[str, Any]) -> float | None:
    """``Date`` minus ``LastModified`` of an S3 answer: an age by the server's clock."""
    modified = response.get("LastModified")
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    date = headers.get("date")
    if modified is None or not date:
        return None
    import email.utils

    try:
        now = email.utils.parsedate_to_datetime(date)
    except (TypeError, ValueError):
        return None
    return float((now - modified).total_seconds())


def parse_lease(raw: bytes) -> dict[str, Any] | None:
    """The lease body, or None when it is not a lease written by tasuki (corrupt)."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(body, dict) or not isinstance(body.get("token"), str):
        return None
    ttl = body.get("ttl")
    if not isinstance(ttl, int | float) or not math.isfinite(ttl) or not 0 < ttl <= MAX_TTL:
        return None
    return body


def lease_body(token: str, ttl: float, acquired: float, clock: Callable[[], float]) -> bytes:
    """The JSON a holder writes (times by its own clock: informational only)."""
    body = {
        "token": token,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "acquired": acquired,
        "heartbeat": clock(),
        "ttl": ttl,
    }
    return json.dumps(body).encode()


def describe_holder(body: dict[str, Any] | None, where: str) -> str:
    """Who holds a lease, for LockTimeoutError."""
    if body is None:
        return f"unknown (the lease {where} is corrupt)"
    stamp = body.get("acquired")
    since = (
        time.strftime(" since %Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))
        if isinstance(stamp, int | float)
        else ""
    )
    return f"host {body.get('host')} pid {body.get('pid')}{since}"


class ObjectLease(_LeaseBase):
    """A lease object kept by conditional writes (S3, GCS): see the module docstring.

    ``clock`` (wall time, written into the object for people) and ``monotonic`` are
    parameters so tests can give one holder a skewed clock.
    """

    def __init__(
        self,
        ops: ConditionalOps,
        path: str,
        *,
        key: str,
        url: str,
        default_timeout: float | None = None,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(key, url, default_timeout)
        self.ops = ops
        self.path = path
        self.ttl = ttl
        self._clock = clock
        self._monotonic = monotonic
        self._token = ""
        self._acquired = 0.0
        self._version: str | None = None
        self._confirmed = 0.0  # monotonic time our last successful write was *sent*
        self._lost: str | None = None
        self._guard = threading.Lock()  # the heartbeat and a publish's check both renew
        self._renewer: _Renewer | None = None
        # version -> monotonic time this waiter first saw it, for the skew-free fallback
        self._first_seen: dict[str, float] = {}

    def _body(self) -> bytes:
        return lease_body(self._token, self.ttl, self._acquired, self._clock)

    def expired(self, snap: Snapshot, ttl: float) -> bool:
        """Whether ``snap`` is older than ``ttl`` by the store's clock or by ours since first
        seen (never by comparing this host's wall clock with another host's)."""
        now = self._monotonic()
        first = self._first_seen.setdefault(snap.version, now)
        if now - first > ttl:
            return True
        return snap.age is not None and snap.age > ttl + CLOCK_GRAIN

    def acquire(self, timeout: float | None = None) -> None:
        """Block until the lease object is ours; LockTimeoutError after ``timeout`` seconds."""
        chosen = self._timeout(timeout)
        self._token = uuid.uuid4().hex
        self._acquired = self._clock()
        self._lost = None
        self._first_seen.clear()
        deadline = None if chosen is None else self._monotonic() + chosen
        pause = _POLL_FIRST
        holder: str | None = None
        while True:
            sent = self._monotonic()
            # While a live holder is known, a poll is one read; a create only when it is gone.
            version = None if holder is not None else self.ops.create(self.path, self._body())
            if version is None:
                version, holder = self._contend(sent)
            if version is not None:
                break
            remaining = None if deadline is None else deadline - self._monotonic()
            if remaining is not None and remaining <= 0:
                raise self._timeout_error(chosen, holder)
            if holder is not None:  # a live holder: wait; gone meanwhile: create again at once
                time.sleep(pause if remaining is None else min(pause, remaining))
                pause = min(pause * 1.5, _POLL_MAX, self.ttl / 3)
        self._version = version
        self._confirmed = sent
        self.held = True
        _track(self)
        self._renewer = _Renewer(self._heartbeat, self.ttl / 3, redact(self.path))
        self._renewer.start()

    def _contend(self, sent: float) -> tuple[str | None, str | None]:
        """After a failed create: (our version if we got it, else None; the live holder)."""
        snap = self.ops.read(self.path)
        if snap is None:
            return None, None  # released meanwhile: the next create may win
        body = parse_lease(snap.body)
        if body is not None and body["token"] == self._token:
            return snap.version, None  # our create went through but its answer was lost
        if body is None and snap.version not in self._first_seen:  # once per version
            logger.warning(
                "lease object %s is corrupt (%d bytes, not a tasuki lease); it counts as "
                "expired once unchanged for %g s",
                redact(self.path),
                len(snap.body),
                self.ttl,
            )
        ttl = float(body["ttl"]) if body is not None else self.ttl
        if not self.expired(snap, ttl):
            return None, describe_holder(body, redact(self.path))
        logger.info(
            "lease %s expired (%s); taking it over",
            redact(self.path),
            describe_holder(body, redact(self.path)),
        )
        return self.ops.replace(self.path, self._body(), snap.version), None

    def _renew(self) -> bool:
        """One conditional overwrite; False (and the lease marked lost) when refused."""
        with self._guard:
            if self._lost is not None or self._version is None:
                return False
            sent = self._monotonic()
            try:
                version = self.ops.replace(self.path, self._body(), self._version)
            except Exception as exc:
                if self._monotonic() - self._confirmed >= self.ttl:
                    self._lost = (
                        f"not renewed for {self.ttl:.0f} s (the ttl); the last renewal failed: "
                        f"{type(exc).__name__}: {exc}"
                    )
                raise
            if version is None:
                self._lost = "it was taken over or removed"
                return False
            self._version = version
            self._confirmed = sent
            return True

    def _heartbeat(self) -> bool:
        if self._monotonic() - self._confirmed >= self.ttl:
            self._lost = self._lost or f"not renewed for {self.ttl:.0f} s (the ttl)"
            return False
        return self._renew()

    def ensure_held(self) -> None:
        """Raise LeaseLostError unless the lease is certainly ours for a while yet.

        Costs nothing while more than half the ttl is left since the last heartbeat, which
        is always the case when the heartbeat thread keeps up; otherwise it renews first.
        """
        if self._lost is None and self._monotonic() - self._confirmed > self.ttl / 2:
            try:
                self._renew()
            except Exception as exc:  # still ours until the ttl has passed: judged below
                logger.warning("renewing lease %s failed: %s", redact(self.path), exc)
        if self._lost is None and self._monotonic() - self._confirmed >= self.ttl:
            self._lost = f"not renewed for {self.ttl:.0f} s (the ttl)"
        if self._lost is not None:
            raise self._lost_error(self._lost)

    @property
    def lost(self) -> str | None:
        """Why the lease was lost while held, or None."""
        return self._lost

    def release(self) -> None:
        """Stop the heartbeat and delete the object if it is still ours (one request)."""
        if not self.held:
            return
        self.held = False
        _untrack(self)
        if self._renewer is not None:
            self._renewer.stop()
            self._renewer = None
        with self._guard:
            version, self._version = self._version, None
        if version is not None and self._lost is None and not self.ops.delete(self.path, version):
            logger.debug("lease %s was no longer ours at release", redact(self.path))

    def describe_lock(self) -> str:
        """The lease object."""
        return f"lease object {redact(self.path)}"
