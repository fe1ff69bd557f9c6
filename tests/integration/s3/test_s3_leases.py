"""The object-store lease (conditional writes) on a real S3 endpoint: moto's server on loopback."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from tasuki.errors import LockTimeoutError
from tasuki.storage import FsspecStore, open_store
from tasuki.storage._locks import LeaseLostError
from tasuki.storage._object_lease import ObjectLease, S3Ops, parse_lease
from tests.unit.storage.test_leases import wait_for


@pytest.fixture
def s3_store(s3_workspace: str) -> FsspecStore:
    store = open_store(s3_workspace)
    assert isinstance(store, FsspecStore)
    return store


def make_lease(
    store: FsspecStore,
    key: str = "k",
    *,
    ttl: float = 60.0,
    clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
) -> ObjectLease:
    """An ObjectLease on ``key`` as the store would hand out, with clocks we choose."""
    handed = store.lease(key)
    assert isinstance(handed, ObjectLease)
    return ObjectLease(
        S3Ops(store.fs),
        handed.path,
        key=key,
        url=store.url,
        ttl=ttl,
        clock=clock,
        monotonic=monotonic,
    )


def put_lease(store: FsspecStore, path: str, token: str = "t0", ttl: float = 60.0) -> None:
    body = {"token": token, "host": "elsewhere", "pid": 7, "acquired": 0, "heartbeat": 0}
    store.fs.pipe_file(path, json.dumps({**body, "ttl": ttl}).encode())


def test_s3_workspace_uses_the_object_lease(s3_store: FsspecStore) -> None:
    lease = s3_store.lease("mod/t.pkl")
    assert isinstance(lease, ObjectLease)
    assert lease.path.endswith("/ws/.tasuki/locks/mod/t.pkl.lock")
    lease.acquire(timeout=5)
    body = parse_lease(s3_store.fs.cat_file(lease.path))
    assert body is not None and body["ttl"] == s3_store.lease_ttl
    assert {"host", "pid", "acquired", "heartbeat"} <= set(body)
    lease.release()
    assert not s3_store.fs.exists(lease.path)


def test_create_is_conditional(s3_store: FsspecStore) -> None:
    lease = make_lease(s3_store)
    put_lease(s3_store, lease.path)  # appears after any check we might have made
    assert lease.ops.create(lease.path, b"{}") is None  # If-None-Match: *
    with pytest.raises(LockTimeoutError, match="host elsewhere pid 7"):
        lease.acquire(timeout=0.3)


def test_of_racing_acquirers_exactly_one_wins(s3_store: FsspecStore) -> None:
    for round_ in range(5):
        leases = [make_lease(s3_store, f"race{round_}") for _ in range(4)]
        barrier = threading.Barrier(len(leases))
        won: list[ObjectLease] = []

        def try_it(lease: ObjectLease) -> None:
            barrier.wait()
            try:
                lease.acquire(timeout=0)
            except LockTimeoutError:
                return
            won.append(lease)

        threads = [threading.Thread(target=try_it, args=(lease,)) for lease in leases]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert len(won) == 1, won
        won[0].release()


def test_heartbeat_renews_with_if_match(s3_store: FsspecStore) -> None:
    lease = make_lease(s3_store, ttl=1.5)
    lease.acquire(timeout=5)
    try:
        first = lease._version
        wait_for(lambda: lease._version != first, "a heartbeat (If-Match PUT)")
        time.sleep(3)  # two ttls: a lease not renewed would have expired by now
        with pytest.raises(LockTimeoutError):
            make_lease(s3_store).acquire(timeout=0)
        assert lease.lost is None
    finally:
        lease.release()
    assert not s3_store.fs.exists(lease.path)


def test_holder_that_lost_the_lease_publishes_nothing(s3_store: FsspecStore) -> None:
    now = [1000.0]
    lease = make_lease(s3_store, ttl=60, monotonic=lambda: now[0])
    lease.acquire(timeout=5)
    try:
        s3_store.write_bytes("mod/before.bin", b"ok")  # held: the publish goes through
        put_lease(s3_store, lease.path, token="successor")  # taken over behind our back
        now[0] += 40  # past half the ttl: the publish renews first, and that is refused
        with pytest.raises(LeaseLostError, match="taken over"):
            s3_store.write_bytes("mod/after.bin", b"late")
        with pytest.raises(LeaseLostError), s3_store.open_atomic("mod/after.bin") as f:
            f.write(b"late")
        assert not s3_store.exists("mod/after.bin")
    finally:
        lease.release()
    body = parse_lease(s3_store.fs.cat_file(lease.path))
    assert body is not None and body["token"] == "successor"  # release left it alone


def test_holder_stalled_past_its_ttl(
    s3_store: FsspecStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    lease = make_lease(s3_store, ttl=30, monotonic=lambda: now[0])
    lease.acquire(timeout=5)
    lease._renewer.stop()  # type: ignore[union-attr]  # a holder frozen (GC, VM pause)
    try:
        # Nobody took it over meanwhile: the If-Match renewal before the publish proves it.
        now[0] += 31
        s3_store.write_bytes("mod/first.bin", b"ok")
        assert lease.lost is None
        # Frozen again, and now the store cannot be reached to renew: nothing is published.
        now[0] += 31

        def unreachable(*args: Any, **kwargs: Any) -> None:
            raise ConnectionError("endpoint down")

        monkeypatch.setattr(lease.ops, "replace", unreachable)
        with pytest.raises(LeaseLostError, match="endpoint down"):
            s3_store.write_bytes("mod/out.bin", b"late")
        assert not s3_store.exists("mod/out.bin")
    finally:
        lease.release()


def test_expired_lease_is_taken_over(s3_store: FsspecStore) -> None:
    lease = make_lease(s3_store, ttl=60)
    put_lease(s3_store, lease.path, ttl=1)  # a holder that died, with a 1 s ttl
    with pytest.raises(LockTimeoutError):  # not expired yet
        lease.acquire(timeout=0)
    t0 = time.monotonic()
    lease.acquire(timeout=30)
    # By the server's clock: LastModified + ttl + 1 s of resolution, not our own 60 s ttl.
    assert time.monotonic() - t0 < 10
    body = parse_lease(s3_store.fs.cat_file(lease.path))
    assert body is not None and body["token"] == lease._token
    lease.release()


def test_take_over_is_conditional(s3_store: FsspecStore) -> None:
    first, second = make_lease(s3_store, ttl=1), make_lease(s3_store, ttl=1)
    put_lease(s3_store, first.path, ttl=1)
    snap = first.ops.read(first.path)
    assert snap is not None
    # Both waiters judged the same stale version expired; the overwrite names that version.
    assert first.ops.replace(first.path, b'{"token": "a"}', snap.version) is not None
    assert second.ops.replace(second.path, b'{"token": "b"}', snap.version) is None
    assert json.loads(s3_store.fs.cat_file(first.path))["token"] == "a"


def test_corrupt_lease_object_waits_one_ttl(
    s3_store: FsspecStore, caplog: pytest.LogCaptureFixture
) -> None:
    lease = make_lease(s3_store, ttl=1.5)
    s3_store.fs.pipe_file(lease.path, b'{"token": "trunc')  # truncated JSON
    caplog.set_level(logging.WARNING, "tasuki.storage._object_lease")
    with pytest.raises(LockTimeoutError, match="corrupt"):
        lease.acquire(timeout=0.2)  # not taken at once: it may be someone's live lease
    assert lease.path in caplog.text and "corrupt" in caplog.text
    lease.acquire(timeout=30)  # unchanged for the ttl: expired, taken over
    assert caplog.text.count("is corrupt") == 2  # once per acquire(), not at every poll
    body = parse_lease(s3_store.fs.cat_file(lease.path))
    assert body is not None and body["token"] == lease._token
    lease.release()


@pytest.mark.parametrize("skew", [-30.0, 30.0])
def test_clock_skew_does_not_let_two_hold(s3_store: FsspecStore, skew: float) -> None:
    # The holder's wall clock is off by `skew` seconds against the waiter's: with expiry
    # written by one clock and judged by the other, one of the two signs lets the waiter in.
    holder = make_lease(s3_store, ttl=3, clock=lambda: time.time() + skew)
    holder.acquire(timeout=5)
    try:
        waiter = make_lease(s3_store, ttl=3)
        with pytest.raises(LockTimeoutError):
            waiter.acquire(timeout=5)  # longer than the ttl: the heartbeat keeps it alive
        assert holder.lost is None
    finally:
        holder.release()
    waiter.acquire(timeout=5)
    waiter.release()


def count_requests(store: FsspecStore) -> list[str]:
    """Names of the S3 requests the store's client sends from now on."""
    sent: list[str] = []

    def note(**kwargs: Any) -> None:
        sent.append(kwargs["event_name"].split(".")[-1])

    store.fs.s3.meta.events.register("before-send.s3", note)
    return sent


def test_uncontended_lease_costs_two_round_trips(s3_store: FsspecStore) -> None:
    s3_store.exists("warm")  # the client is built
    sent = count_requests(s3_store)
    for i in range(5):
        lease = s3_store.lease(f"mod/t{i}.pkl")
        lease.acquire(timeout=5)
        lease.release()
    assert sent == ["PutObject", "DeleteObject"] * 5


def test_a_waiting_poll_is_one_read(s3_store: FsspecStore) -> None:
    holder = make_lease(s3_store)
    holder.acquire(timeout=5)
    try:
        sent = count_requests(s3_store)
        with pytest.raises(LockTimeoutError):
            make_lease(s3_store).acquire(timeout=1.5)
        # One failed conditional create, then reads only until the holder lets go.
        assert sent[:2] == ["PutObject", "GetObject"] and len(sent) > 3, sent
        assert set(sent[2:]) == {"GetObject"}, sent
    finally:
        holder.release()
