"""Lease files made by exclusive create, for workspaces on a shared disk (NFS, SMB, sshfs...).

A byte-range lock (:mod:`tasuki.storage._range_lock`) is the best lease on a local disk: the
kernel drops it when its holder dies. On a network file system record locks depend on a lock
daemon that is often missing or broken (NFSv3 without ``lockd``, sshfs, many FUSE mounts), so
a workspace on one keeps leases as files instead, at ``.tasuki/locks/<key>.lease``, with the
same JSON as an object-store lease (token, host, pid, acquired, heartbeat, ttl):

* **acquire**: an exclusive create: the content is written to a private file which is then
  ``link``-ed to the lease name; ``link`` fails when the name exists, atomically on a local
  disk, NFS (the classic NFS lock-file method) and SMB, so of racing workers exactly one
  creates the file, and nobody reads it half-written;
* **heartbeat**: every ``ttl / 3`` s the holder checks the token in the file is still its own
  and touches the file (its mtime moves);
* **expiry**: a waiter counts a lease expired when it has seen the file unchanged (inode,
  mtime, size) for the lease's ttl by its *own monotonic clock*, so skew between hosts does
  not enter. A file untouched for ``ttl + SKEW_ALLOWANCE`` by the waiter's wall clock (a
  lease left by a crash long ago) is expired at once; that is the only place wall clocks
  meet, with five minutes to spare;
* **take-over**: the waiter first claims the stale generation by exclusive create of
  ``<lease>.claim-<inode>-<mtime>-<size>`` (of two waiters that judged the same file, one
  claims it), renames the stale file to a unique grave name, checks that what it renamed is
  the very file it judged, puts back with ``link`` anything else it caught by mistake, and then
  competes for a fresh exclusive create like anyone else. A holder past its own ttl never
  renames or removes its file, so the file a claimant judged cannot be swapped under it;
* **claims are removed** :data:`CLAIM_FRESH_S` seconds after the take-over (by the claimant's
  monotonic clock: its heartbeat thread, or at its exit), so ``.tasuki/locks`` does not fill
  up with one claim per take-over. That is safe because a waiter acts on a judgement only
  while it is fresh: if more than ``CLAIM_FRESH_S`` passed between its ``stat`` of the lease
  file and its exclusive create of the claim, it drops the claim and judges again. A waiter
  that got the claim after it was removed therefore made its ``stat`` after the stale file
  was renamed away, and cannot have judged that file: it renames nothing of anyone's;
* **fencing**: the holder keeps its file open, so its inode cannot be reused; before a store
  publishes an output one ``stat`` checks that the file at the lease's name is still that
  inode, and the publish is refused when it is not, or when the holder's own monotonic clock
  says it has not renewed for a ttl.

A corrupt lease file (empty, truncated, garbage: none of ours, since ours appear whole) is
judged by the same rules with the store's ttl: expired once
unchanged for a ttl, with a warning naming the path.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from typing import TYPE_CHECKING

from tasuki.storage._locks import DEFAULT_TTL, _LeaseBase, _track, _untrack
from tasuki.storage._mounts import network_file_system
from tasuki.storage._object_lease import describe_holder, lease_body, parse_lease

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["SKEW_ALLOWANCE", "DiskLease", "network_file_system"]

logger = logging.getLogger(__name__)

SKEW_ALLOWANCE = 300.0
"""Seconds of wall-clock disagreement between hosts a stale-file shortcut tolerates."""

CLAIM_FRESH_S = 2.0
"""Seconds a waiter's judgement of a stale lease file stays good for claiming it; a take-over
claim is removed this long after the take-over (see the module docstring). Between a ``stat``
and an exclusive create that is a wide margin even on a slow network file system; a waiter
that misses it only judges again."""

_POLL_FIRST = 0.002
_POLL_MAX = 0.5
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)

_Identity = tuple[int, int, int]


def _identity(st: os.stat_result) -> _Identity:
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read(4096)


class _Heartbeats:
    """One daemon thread per process renews every held lease file when it is due.

    A thread per lease costs ~0.4 ms to start and join, more than the lease itself; renewing
    a lease file takes microseconds, so one thread serves them all.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._due: dict[DiskLease, float] = {}
        # take-over claims this process made -> monotonic time they may be removed
        self._claims: dict[str, float] = {}
        self._pid = 0
        self._exit_pid = 0  # the process whose exit removes the claims
        self._wake = 0.0  # when the thread means to wake next

    def _start(self) -> None:
        """Under the lock: start the thread on first use, or in a forked child."""
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._due = {}
            self._claims = {}  # the parent's claims are the parent's to remove
            threading.Thread(target=self._run, name="tasuki-lease-files", daemon=True).start()

    def add(self, lease: DiskLease) -> None:
        with self._cond:
            self._start()
            due = self._due[lease] = time.monotonic() + lease.ttl / 3
            if due < self._wake:  # waking the thread for nothing costs more than the lease
                self._cond.notify()

    def remove(self, lease: DiskLease) -> None:
        with self._cond:
            self._due.pop(lease, None)

    def remove_claim_later(self, claim: str, due: float) -> None:
        """Remove the take-over claim ``claim`` at monotonic time ``due`` (or at exit)."""
        with self._cond:
            self._start()
            if self._exit_pid != self._pid:
                self._exit_pid = self._pid
                # A process that exits sooner waits out the rest (at most CLAIM_FRESH_S) and
                # removes its claims rather than leave them for ever. A multiprocessing
                # finalizer, not atexit: forked workers end in os._exit, which skips atexit
                # but runs these; the main process runs them at exit as well.
                from multiprocessing.util import Finalize

                Finalize(self, self.remove_claims, kwargs={"wait": True}, exitpriority=10)
            self._claims[claim] = due
            if due < self._wake:
                self._cond.notify()

    def remove_claims(self, *, wait: bool) -> None:
        """Remove the claims that are due; with ``wait``, wait for all of them first."""
        if self._pid != os.getpid():
            return
        if wait:
            with self._cond:
                last = max(self._claims.values(), default=0.0)
            time.sleep(max(0.0, min(last - time.monotonic(), CLAIM_FRESH_S)))
        with self._cond:
            now = time.monotonic()
            # After the wait every claim goes: a sleep may end a hair before the last is due.
            ready = [claim for claim, due in self._claims.items() if wait or due <= now]
            # Unlinked under the lock: a forked worker's exit must not find the claims gone
            # from the dict while the thread that took them has not unlinked them yet (the
            # process ends in os._exit, which kills that thread where it is).
            for claim in ready:
                del self._claims[claim]
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(claim)

    def _run(self) -> None:
        pid = os.getpid()
        while True:
            with self._cond:
                if self._pid != pid:
                    return
                now = time.monotonic()
                ready = [lease for lease, due in self._due.items() if due <= now]
                for lease in ready:
                    self._due[lease] = now + lease.ttl / 3
                claims_due = any(due <= now for due in self._claims.values())
                if not ready and not claims_due:
                    self._wake = min([*self._due.values(), *self._claims.values(), now + 3600])
                    self._cond.wait(max(self._wake - now, 0.001))
                    continue
            if claims_due:
                self.remove_claims(wait=False)
            for lease in ready:
                try:
                    renewed = lease._heartbeat()
                except Exception as exc:  # keep trying: a transient error need not lose it
                    logger.warning("renewing lease file %s failed: %s", lease.path, exc)
                    continue
                if not renewed:
                    logger.warning("lease file %s was lost (%s)", lease.path, lease.lost)
                    self.remove(lease)


_HEARTBEATS = _Heartbeats()


class DiskLease(_LeaseBase):
    """A lease file made by exclusive create: see the module docstring."""

    def __init__(
        self,
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
        self.path = path
        self.ttl = ttl
        self._clock = clock
        self._monotonic = monotonic
        self._token = ""
        self._acquired = 0.0
        self._confirmed = 0.0
        self._lost: str | None = None
        self._guard = threading.Lock()
        self._first_seen: dict[_Identity, float] = {}
        self._fd: int | None = None  # our lease file, open while held
        self._inode = (0, 0)

    def _create(self) -> bool:
        """Exclusive create *with* its content: write a private file, then ``link`` it to the
        lease name, which fails if the name exists (atomic on local disks, NFS and SMB alike),
        so nobody ever reads a half-written lease of ours.

        The file stays open while held: its inode cannot be reused meanwhile, so "the file at
        the lease's name has our inode" is a one-``stat`` proof that the lease is still ours.
        """
        body = lease_body(self._token, self.ttl, self._acquired, self._clock)
        mine = f"{self.path}.new-{self._token}"
        try:
            fd = os.open(mine, _CREATE, 0o644)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            fd = os.open(mine, _CREATE, 0o644)
        try:
            os.write(fd, body)
            os.link(mine, self.path)
        except FileExistsError:
            os.close(fd)
            os.unlink(mine)
            return False
        except BaseException:
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(mine)
            raise
        os.unlink(mine)
        st = os.fstat(fd)
        self._fd, self._inode = fd, (st.st_dev, st.st_ino)
        return True

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def expired(self, ident: _Identity, ttl: float) -> bool:
        """Unchanged for ``ttl`` by our monotonic clock, or untouched for ``ttl`` plus the
        skew allowance by our wall clock."""
        now = self._monotonic()
        first = self._first_seen.setdefault(ident, now)
        if now - first > ttl:
            return True
        return self._clock() - ident[1] / 1e9 > ttl + SKEW_ALLOWANCE

    def _contend(self) -> tuple[bool, str | None]:
        """After a failed create: (whether to try again at once; the live holder)."""
        judged_at = self._monotonic()
        try:
            ident = _identity(os.stat(self.path))
            raw = _read(self.path)
        except FileNotFoundError:
            return True, None
        body = parse_lease(raw)
        if body is None and ident not in self._first_seen:  # once per file version
            logger.warning(
                "lease file %s is corrupt (%d bytes, not a tasuki lease); it counts as "
                "expired once unchanged for %g s",
                self.path,
                len(raw),
                self.ttl,
            )
        ttl = float(body["ttl"]) if body is not None else self.ttl
        if not self.expired(ident, ttl):
            return False, describe_holder(body, f"file {self.path}")
        # One waiter per stale generation: the claim is made by exclusive create under a
        # name derived from the file's identity, so two waiters never both rename it away.
        claim = f"{self.path}.claim-{ident[0]}-{ident[1]}-{ident[2]}"
        try:
            fd = os.open(claim, _CREATE, 0o644)
        except FileExistsError:
            self._clear_stale_claim(claim)
            return False, describe_holder(body, f"file {self.path}") + " (being taken over)"
        os.close(fd)
        if self._monotonic() - judged_at > CLAIM_FRESH_S:
            # Judged too long ago: the file may have been taken over since and its claim
            # removed (claims live CLAIM_FRESH_S past a take-over). Give the claim back and
            # judge again rather than rename a file we have not seen.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(claim)
            return False, describe_holder(body, f"file {self.path}") + " (judged again)"
        logger.info("lease %s expired (%s); taking it over", self.path, describe_holder(body, ""))
        # The claim stays for CLAIM_FRESH_S: a waiter that judged the same stale file before we
        # took it over must not get the claim in that time and rename our fresh lease away
        # (the "give back" in _bury leaves the name empty for a moment, where a third waiter's
        # create would succeed: two holders, seen in CI). After it, such a waiter's judgement
        # is stale and it judges again (above), so the claim is removed then.
        self._bury(ident)
        _HEARTBEATS.remove_claim_later(claim, time.monotonic() + CLAIM_FRESH_S)
        return True, None

    def _clear_stale_claim(self, claim: str) -> None:
        """Remove a take-over claim whose maker died before finishing (it takes ms)."""
        try:
            age = self._clock() - os.stat(claim).st_mtime
        except FileNotFoundError:
            return
        if age > self.ttl + SKEW_ALLOWANCE:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(claim)

    def _bury(self, ident: _Identity | None) -> bool:
        """Rename the lease file away if it is the one with ``ident`` (any, when None) or,
        for a release, holds our token; put back whatever else was caught. Whether it was."""
        grave = f"{self.path}.stale-{os.urandom(16).hex()[:12]}"
        try:
            os.rename(self.path, grave)
        except FileNotFoundError:
            return False
        try:
            st = os.stat(grave)
            if ident is not None:
                ours = _identity(st) == ident
            else:
                ours = (st.st_dev, st.st_ino) == self._inode
            if not ours:  # a fresh lease made after our judgement: give it back
                with contextlib.suppress(FileExistsError):
                    os.link(grave, self.path)
            return ours
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(grave)

    def acquire(self, timeout: float | None = None) -> None:
        """Block until the lease file is ours; LockTimeoutError after ``timeout`` seconds."""
        chosen = self._timeout(timeout)
        self._token = os.urandom(16).hex()
        self._acquired = self._clock()
        self._lost = None
        self._first_seen.clear()
        deadline = None if chosen is None else self._monotonic() + chosen
        pause = _POLL_FIRST
        while True:
            sent = self._monotonic()
            if self._create():
                break
            again, holder = self._contend()
            if again:
                continue
            remaining = None if deadline is None else deadline - self._monotonic()
            if remaining is not None and remaining <= 0:
                raise self._timeout_error(chosen, holder)
            time.sleep(pause if remaining is None else min(pause, remaining))
            pause = min(pause * 2, _POLL_MAX, self.ttl / 3)
        self._confirmed = sent
        self.held = True
        _track(self)
        _HEARTBEATS.add(self)

    def _still_ours(self) -> bool:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False
        return (st.st_dev, st.st_ino) == self._inode

    def _renew(self) -> bool:
        with self._guard:
            if self._lost is not None or not self.held:
                return False
            sent = self._monotonic()
            if not self._still_ours():
                self._lost = "it was taken over or removed"
                return False
            try:
                os.utime(self.path)
            except FileNotFoundError:
                self._lost = "it was taken over or removed"
                return False
            self._confirmed = sent
            return True

    def _heartbeat(self) -> bool:
        if self._monotonic() - self._confirmed >= self.ttl:
            self._lost = self._lost or f"not renewed for {self.ttl:.0f} s (the ttl)"
            return False
        return self._renew()

    def ensure_held(self) -> None:
        """Raise LeaseLostError unless the file still holds our token and was renewed within
        the ttl (renewing first when more than half of it has passed)."""
        if self._lost is None:
            if self._monotonic() - self._confirmed > self.ttl / 2:
                self._renew()
            elif not self._still_ours():
                self._lost = "it was taken over or removed"
        if self._lost is None and self._monotonic() - self._confirmed >= self.ttl:
            self._lost = f"not renewed for {self.ttl:.0f} s (the ttl)"
        if self._lost is not None:
            raise self._lost_error(self._lost)

    @property
    def lost(self) -> str | None:
        """Why the lease was lost while held, or None."""
        return self._lost

    def release(self) -> None:
        """Stop the heartbeat and remove the file if it is still ours."""
        if not self.held:
            return
        _untrack(self)
        _HEARTBEATS.remove(self)
        with self._guard:  # not in the middle of a heartbeat
            self.held = False
            # Past its ttl (by our monotonic clock) a waiter may be taking it over: leave the
            # file to it. Within it nobody can have judged it expired: what we rename is ours.
            if self._lost is None and self._monotonic() - self._confirmed < self.ttl:
                self._bury(None)
            self._close()

    def describe_lock(self) -> str:
        """The lease file."""
        return f"lease file {self.path}"
