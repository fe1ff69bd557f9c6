"""Per-key leases: what every lease shares, and the file-lock, Redis and marker leases.

Which one a store hands out:

* local workspace, no Redis: a byte-range lock (:mod:`~tasuki.storage._range_lock`), or
  :class:`FileLease` (``flock`` through ``filelock``) where ``fcntl`` is missing. The kernel
  drops either when the holder dies. On a network file system (or ``lease="disk"``): lease
  files made by exclusive create, with heartbeat and expiry (:mod:`~tasuki.storage._disk_lease`).
* S3 workspace, no Redis: a lease object kept by conditional writes (``If-None-Match: *``
  to acquire, ``If-Match`` to renew, take over and release; :mod:`~tasuki.storage._object_lease`).
* any workspace with ``redis_url``: :class:`RedisLease`, ``SET NX PX`` with a random token,
  renewed by a background thread while held and released by a compare-and-delete script, so a
  holder that died frees the key after ``ttl`` seconds.
* other fsspec file systems (``memory://``, SFTP...): :class:`MarkerLease`, a check-then-write
  marker object: best effort only.

Every lease is also a context manager, and raises :class:`~tasuki.errors.LockTimeoutError`
naming the key and, when known, who holds it. Leases that expire unless renewed register
while held in the current thread, and stores call :func:`fence` just before a write becomes
visible, so a holder that lost its lease (it stalled past the ttl and was taken over)
publishes nothing: :class:`LeaseLostError`.
"""

from __future__ import annotations

import abc
import contextlib
import contextvars
import json
import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any, cast

from tasuki._redact import redact
from tasuki.errors import LockTimeoutError, StorageError, WorkspaceUnreachableError
from tasuki.storage._keys import holder_description

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

    import filelock
    import redis

__all__ = [
    "DEFAULT_TTL",
    "FileLease",
    "MarkerLease",
    "RedisLease",
    "check_redis",
    "fence",
    "redis_client",
]

logger = logging.getLogger(__name__)

DEFAULT_TTL = 60.0
"""Seconds a Redis lease or lease marker outlives a holder that stopped renewing it."""

_POLL_FIRST = 0.05
_POLL_MAX = 0.5

# Leases that can be lost while held (they expire unless renewed), as held by the current
# thread of execution: the runner acquires a task's lease, runs the task and publishes its
# outputs in one thread, so a store's publish finds the lease here and checks it first.
_HELD: contextvars.ContextVar[tuple[_LeaseBase, ...]] = contextvars.ContextVar(
    "tasuki_held_leases", default=()
)


def fence() -> None:
    """Before publishing: raise LeaseLostError if a lease this thread holds was lost.

    Stores call it just before a write becomes visible (the rename, the PUT), so that a
    holder which stalled past its lease's expiry, and may have been taken over, does not
    overwrite the output of its successor. Free when no expiring lease is held (a file lock,
    a range lock): one context-variable read.
    """
    for lease in _HELD.get():
        if lease.held:
            lease.ensure_held()


def _track(lease: _LeaseBase) -> None:
    _HELD.set((*(other for other in _HELD.get() if other.held), lease))


def _untrack(lease: _LeaseBase) -> None:
    held = _HELD.get()
    if lease in held:  # released in another thread than it was acquired in: pruned later
        _HELD.set(tuple(other for other in held if other is not lease))


class _LeaseBase(abc.ABC):
    """Shared bookkeeping: default timeout, context-manager protocol, error building."""

    def __init__(self, key: str, url: str, default_timeout: float | None) -> None:
        self.key = key
        self.url = url
        self.default_timeout = default_timeout
        self.held = False

    @abc.abstractmethod
    def acquire(self, timeout: float | None = None) -> None:
        """Block until the lease is held."""

    @abc.abstractmethod
    def release(self) -> None:
        """Give the lease back."""

    def __enter__(self) -> _LeaseBase:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        state = "held" if self.held else "free"
        return f"<{type(self).__name__} {self.key!r} in {self.url!r} ({state})>"

    def _timeout(self, timeout: float | None) -> float | None:
        if self.held:
            raise StorageError(
                f"the lease on {self.key!r} in {self.url!r} is already held by this lease object; "
                "leases are not re-entrant: release it before acquiring it again",
                key=self.key,
                url=self.url,
            )
        chosen = self.default_timeout if timeout is None else timeout
        if chosen is not None and chosen < 0:
            raise StorageError(
                f"lease timeout for {self.key!r} must be >= 0 seconds or None (wait forever), "
                f"got {chosen!r}",
                key=self.key,
                timeout=chosen,
            )
        return chosen

    def _timeout_error(self, timeout: float | None, holder: str | None) -> LockTimeoutError:
        who = f"it is held by {holder}" if holder else "its holder is unknown"
        return LockTimeoutError(
            f"could not acquire the lease on {self.key!r} in workspace {self.url!r} within "
            f"{timeout} s: {who}. Another worker is probably computing this output; wait for it "
            "(raise the lock timeout) or, if that worker is gone, remove its lock "
            f"({self.describe_lock()}).",
            key=self.key,
            url=self.url,
            timeout=timeout,
            holder=holder,
        )

    def describe_lock(self) -> str:
        """Where the lock lives, for error messages."""
        return "see the lease backend"

    def ensure_held(self) -> None:  # noqa: B027 - a no-op unless the lease can expire
        """Raise LeaseLostError if the lease was lost while held (leases that expire)."""

    def _lost_error(self, why: str) -> LeaseLostError:
        return LeaseLostError(
            f"the lease on {self.key!r} in workspace {redact(self.url)!r} was lost before this "
            f"process published its output ({why}; {self.describe_lock()}). Another worker may "
            "have taken it over and be computing the same output, so nothing was written: "
            "rerun the build to use that output, or raise the lease ttl if holders stall "
            "longer than it.",
            key=self.key,
            url=redact(self.url),
            reason=why,
        )


class LeaseLostError(StorageError):
    """A held lease expired or was taken over before the output was published.

    Fields: ``key``, ``url`` and ``reason``. Not retryable in place: the lost lease stays
    lost; a new build waits for whoever holds the lease now and finds the output it wrote.
    """


class FileLease(_LeaseBase):
    """An ``flock`` on a lock file (through ``filelock``), for workspaces on a local disk.

    The holder writes its host, pid and start time to ``<lock>.holder`` beside the lock so a
    waiter that times out can say who it waited for. Lock files are left in place after
    release: deleting an ``flock``-ed file races with the next locker.
    """

    def __init__(
        self, lock_path: str, *, key: str, url: str, default_timeout: float | None = None
    ) -> None:
        super().__init__(key, url, default_timeout)
        self.lock_path = lock_path
        self._lock: filelock.FileLock | None = None

    def acquire(self, timeout: float | None = None) -> None:
        """Block until the lock is held; LockTimeoutError after ``timeout`` seconds."""
        import filelock

        chosen = self._timeout(timeout)
        if self._lock is None:
            os.makedirs(os.path.dirname(self.lock_path), exist_ok=True)
            # thread_local=False: a runner may acquire in one thread and release in another.
            self._lock = filelock.FileLock(self.lock_path, thread_local=False)
        try:
            self._lock.acquire(timeout=-1 if chosen is None else chosen)
        except filelock.Timeout:
            raise self._timeout_error(chosen, self._read_holder()) from None
        self.held = True
        with (
            contextlib.suppress(OSError),
            open(self.lock_path + ".holder", "w", encoding="utf-8") as f,
        ):
            f.write(holder_description())

    def release(self) -> None:
        """Unlock; a no-op when not held."""
        if self.held and self._lock is not None:
            self.held = False
            self._lock.release(force=True)

    def _read_holder(self) -> str | None:
        try:
            with open(self.lock_path + ".holder", encoding="utf-8") as f:
                return f.read().strip() or None
        except OSError:
            return None

    def describe_lock(self) -> str:
        """The lock file path."""
        return f"lock file {self.lock_path}"


class _Renewer(threading.Thread):
    """Calls ``renew()`` every ``interval`` seconds until stopped or the lease is lost."""

    def __init__(self, renew: Callable[[], bool], interval: float, what: str) -> None:
        super().__init__(name=f"tasuki-lease-{what}", daemon=True)
        self._renew = renew
        self._interval = interval
        self._what = what
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self._interval):
            try:
                if not self._renew():
                    logger.warning("lease on %s was lost (expired or taken over)", self._what)
                    return
            except Exception as exc:  # keep trying: a transient outage need not lose the lease
                logger.warning("renewing lease on %s failed: %s", self._what, exc)

    def stop(self) -> None:
        self._stop_event.set()
        if self is not threading.current_thread():
            self.join()


_RELEASE_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
_RENEW_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""


class RedisLease(_LeaseBase):
    """A lease in Redis: ``SET name value NX PX ttl``, renewed while held, usable for any store.

    The value is ``"<token> <holder description>"``; renewal and release run Lua scripts that
    act only if the value is still ours, so a lease that expired and was taken over is never
    extended or deleted by its former holder.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        key: str,
        url: str,
        redis_url: str,
        default_timeout: float | None = None,
        ttl: float = DEFAULT_TTL,
    ) -> None:
        super().__init__(key, url, default_timeout)
        self.name = f"tasuki:lease:{url}:{key}"
        self.redis_url = redis_url
        self.ttl = ttl
        self._client = client
        self._value: str | None = None
        self._renewer: _Renewer | None = None

    def acquire(self, timeout: float | None = None) -> None:
        """Block until the Redis key is ours; LockTimeoutError after ``timeout`` seconds."""
        chosen = self._timeout(timeout)
        value = f"{os.urandom(16).hex()} {holder_description()}"
        ttl_ms = max(1, int(self.ttl * 1000))
        deadline = None if chosen is None else time.monotonic() + chosen
        pause = _POLL_FIRST
        while True:
            current = self._call(lambda: self._client.set(self.name, value, nx=True, px=ttl_ms))
            if current:
                break
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raw = self._call(lambda: self._client.get(self.name))
                holder = None
                if isinstance(raw, bytes):
                    holder = raw.decode("utf-8", "replace").partition(" ")[2] or None
                raise self._timeout_error(chosen, holder)
            time.sleep(pause if remaining is None else min(pause, remaining))
            pause = min(pause * 2, _POLL_MAX)
        self._value = value
        self.held = True
        self._renewer = _Renewer(self._renew, self.ttl / 3, self.name)
        self._renewer.start()

    def _renew(self) -> bool:
        ttl_ms = max(1, int(self.ttl * 1000))
        return bool(self._client.eval(_RENEW_SCRIPT, 1, self.name, self._value or "", ttl_ms))

    def release(self) -> None:
        """Stop renewing and delete the key if it is still ours; a no-op when not held."""
        if not self.held:
            return
        self.held = False
        if self._renewer is not None:
            self._renewer.stop()
            self._renewer = None
        value, self._value = self._value, None
        self._call(lambda: self._client.eval(_RELEASE_SCRIPT, 1, self.name, value or ""))

    def _call(self, fn: Callable[[], Any]) -> Any:
        import redis

        try:
            return fn()
        except redis.exceptions.ConnectionError as exc:
            raise WorkspaceUnreachableError(
                f"Redis at {redact(self.redis_url)!r} (used for leases of workspace "
                f"{redact(self.url)!r}) is not reachable: {redact(exc)}. Start Redis, fix the "
                "redis_url setting, or leave it unset to use the workspace's own locks.",
                url=redact(self.redis_url),
                cause=redact(exc),
            ) from exc

    def describe_lock(self) -> str:
        """The Redis key."""
        return f"Redis key {redact(self.name)!r} at {redact(self.redis_url)}"


class MarkerLease(_LeaseBase):
    """A lease marker object in an fsspec file system without conditional writes.

    The marker is JSON ``{"token", "holder", "expires"}``, ``expires`` in Unix seconds, pushed
    forward every ``ttl / 3`` seconds while held. The create is check-then-write, so two
    racing workers may both win, and taking over an expired marker trusts the clocks of the
    machines to agree: best effort, for ``memory://`` (one process) and file systems that
    offer nothing better. S3 workspaces get :class:`~tasuki.storage._object_lease.ObjectLease`.
    ``conditional=True`` (s3fs's ``mode="create"`` and ``IfMatch``) is kept for callers that
    built one by hand.
    """

    def __init__(
        self,
        fs: Any,
        path: str,
        *,
        key: str,
        url: str,
        conditional: bool,
        make_dirs: bool = False,
        default_timeout: float | None = None,
        ttl: float = DEFAULT_TTL,
    ) -> None:
        super().__init__(key, url, default_timeout)
        self.path = path
        self._make_dirs = make_dirs
        self.ttl = ttl
        self._fs = fs
        self._conditional = conditional
        self._token: str | None = None
        self._holder = ""
        self._etag: str | None = None
        self._renewer: _Renewer | None = None

    def _payload(self) -> bytes:
        body = {"token": self._token, "holder": self._holder, "expires": time.time() + self.ttl}
        return json.dumps(body).encode()

    def _read(self) -> tuple[dict[str, Any] | None, str | None]:
        """The marker's content (None if unreadable) and ETag; FileNotFoundError if gone."""
        etag = None
        if self._conditional:
            etag = self._fs.info(self.path).get("ETag")
        raw = self._fs.cat_file(self.path)
        try:
            body = json.loads(raw)
        except ValueError:
            return None, etag
        return (body if isinstance(body, dict) else None), etag

    def _put(self, data: bytes, **conditions: Any) -> str | None:
        out = self._fs.pipe_file(self.path, data, **conditions)
        return out.get("ETag") if isinstance(out, dict) else None

    def _try_create(self) -> bool:
        try:
            self._etag = self._put(self._payload(), mode="create")
        except FileExistsError:
            return False
        return True

    def _try_take_over(self) -> str | None:
        """Replace an expired marker; returns the holder description when it is live."""
        try:
            body, etag = self._read()
        except FileNotFoundError:
            return None  # released meanwhile: the next create attempt may win
        if body is not None and float(body.get("expires", 0)) > time.time():
            return str(body.get("holder") or "an unknown holder")
        logger.debug("lease marker %s expired or unreadable; taking it over", self.path)
        try:
            if self._conditional and etag:
                self._etag = self._put(self._payload(), IfMatch=etag)
                self.held = True
            else:
                self._fs.rm_file(self.path)
        except (FileNotFoundError, OSError):
            pass  # somebody else moved first; go round again
        return None

    def acquire(self, timeout: float | None = None) -> None:
        """Block until the marker is ours; LockTimeoutError after ``timeout`` seconds."""
        chosen = self._timeout(timeout)
        if self._make_dirs:  # file systems with real folders (not object stores)
            self._fs.makedirs(self.path.rpartition("/")[0], exist_ok=True)
        self._token = os.urandom(16).hex()
        self._holder = holder_description()
        deadline = None if chosen is None else time.monotonic() + chosen
        pause = _POLL_FIRST
        holder: str | None = None
        while not self.held:
            if self._try_create():
                self.held = True
                break
            holder = self._try_take_over()
            if self.held:
                break
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise self._timeout_error(chosen, holder)
            if holder is not None:  # live holder: wait; otherwise retry the create at once
                time.sleep(pause if remaining is None else min(pause, remaining))
                pause = min(pause * 2, _POLL_MAX)
        self._renewer = _Renewer(self._renew, self.ttl / 3, self.path)
        self._renewer.start()

    def _renew(self) -> bool:
        if self._conditional and self._etag:
            try:
                self._etag = self._put(self._payload(), IfMatch=self._etag)
            except FileNotFoundError:
                return False
            except OSError as exc:
                if "condition" in str(exc).lower():
                    return False
                raise
            return True
        try:
            body, _ = self._read()
        except FileNotFoundError:
            return False
        if body is None or body.get("token") != self._token:
            return False
        self._put(self._payload())
        return True

    def release(self) -> None:
        """Stop renewing and delete the marker if it is still ours; a no-op when not held."""
        if not self.held:
            return
        self.held = False
        if self._renewer is not None:
            self._renewer.stop()
            self._renewer = None
        try:
            body, _ = self._read()
            if body is not None and body.get("token") == self._token:
                self._fs.rm_file(self.path)
        except FileNotFoundError:
            pass
        self._token = self._etag = None

    def describe_lock(self) -> str:
        """The marker path."""
        return f"marker {self.path}"


def redis_client(redis_url: str, url: str) -> redis.Redis:
    """A Redis client for ``redis_url``; a clear error when redis-py is not installed."""
    try:
        import redis
    except ImportError as exc:
        raise WorkspaceUnreachableError(
            f"leases for workspace {redact(url)!r} were asked to use Redis at "
            f"{redact(redis_url)!r}, but the "
            "'redis' package is not installed: pip install 'tasuki[redis]'",
            url=redact(redis_url),
            cause=str(exc),
        ) from exc
    return redis.Redis.from_url(redis_url, socket_connect_timeout=5, socket_timeout=30)


def check_redis(client: redis.Redis, redis_url: str, url: str) -> None:
    """Ping Redis; WorkspaceUnreachableError naming the URL when it does not answer."""
    import redis

    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        raise WorkspaceUnreachableError(
            f"Redis at {redact(redis_url)!r} (used for leases of workspace {redact(url)!r}) is "
            f"not reachable: {type(exc).__name__}: {redact(exc)}. Start Redis, fix the redis_url "
            "setting, or leave it unset to use the workspace's own locks.",
            url=redact(redis_url),
            cause=f"{type(exc).__name__}: {redact(exc)}",
        ) from exc


class RedisLeases:
    """Shared by the stores: a lazily made Redis client and leases on it when configured.

    The store sets ``url``, ``redis_url``, ``lock_timeout``, ``lease_ttl`` and ``_redis``.
    """

    url: str
    redis_url: str | None
    lock_timeout: float | None
    lease_ttl: float
    _redis: redis.Redis | None

    def _redis_client(self) -> redis.Redis:
        if self._redis is None:
            self._redis = redis_client(cast("str", self.redis_url), self.url)
        return self._redis

    def _check_redis(self) -> None:
        if self.redis_url is not None:
            check_redis(self._redis_client(), self.redis_url, self.url)

    def _redis_lease(self, key: str) -> RedisLease | None:
        """A Redis lease on ``key`` when ``redis_url`` is set, else None."""
        if self.redis_url is None:
            return None
        return RedisLease(
            self._redis_client(),
            key=key,
            url=self.url,
            redis_url=self.redis_url,
            default_timeout=self.lock_timeout,
            ttl=self.lease_ttl,
        )
