"""The object-store lease (generation match) on a real GCS JSON API: fake-gcs-server.

What the emulator enforces was checked when it started (``conftest._check_preconditions``):
a create with ``ifGenerationMatch=0`` over an existing object and an overwrite naming a stale
generation get 412. It does *not* check ``ifGenerationMatch`` on DELETE (fake-gcs-server
1.54; GCS does), so a release is tested by the request it sends, read from the server's log.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable

import pytest

from tasuki.errors import LockTimeoutError
from tasuki.storage import FsspecStore, open_store
from tasuki.storage._locks import LeaseLostError
from tasuki.storage._object_lease import GcsOps, ObjectLease, parse_lease
from tests.integration.gcs.conftest import GcsServer
from tests.unit.storage.test_leases import wait_for


@pytest.fixture
def gcs_store(gcs_workspace: str) -> FsspecStore:
    store = open_store(gcs_workspace)
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
    assert isinstance(handed, ObjectLease) and isinstance(handed.ops, GcsOps)
    return ObjectLease(
        GcsOps(store.fs),
        handed.path,
        key=key,
        url=store.url,
        ttl=ttl,
        clock=clock,
        monotonic=monotonic,
    )


def put_lease(store: FsspecStore, path: str, token: str = "t0", ttl: float = 60.0) -> None:
    """Another holder's lease object, written behind the lease's back (plain upload)."""
    body = {"token": token, "host": "elsewhere", "pid": 7, "acquired": 0, "heartbeat": 0}
    store.fs.pipe_file(path, json.dumps({**body, "ttl": ttl}).encode())


def generation(store: FsspecStore, path: str) -> str:
    return str(store.fs.info(path)["generation"])


def test_gcs_workspace_uses_the_object_lease(gcs_store: FsspecStore, gcs_server: GcsServer) -> None:
    lease = gcs_store.lease("mod/t.pkl")
    assert isinstance(lease, ObjectLease) and isinstance(lease.ops, GcsOps)
    assert lease.path.endswith("/ws/.tasuki/locks/mod/t.pkl.lock")
    lease.acquire(timeout=5)
    body = parse_lease(gcs_store.fs.cat_file(lease.path))
    assert body is not None and body["ttl"] == gcs_store.lease_ttl and body["token"] == lease._token
    held = generation(gcs_store, lease.path)
    assert lease._version == held
    lease.release()
    assert not gcs_store.fs.exists(lease.path)
    # The release named the generation it held (GCS refuses it if the object moved on).
    assert any(
        r.startswith("DELETE") and f"t.pkl.lock?ifGenerationMatch={held} " in r
        for r in gcs_server.requests_logged()
    )


def test_create_is_conditional(gcs_store: FsspecStore) -> None:
    lease = make_lease(gcs_store)
    put_lease(gcs_store, lease.path)  # appears after any check we might have made
    assert lease.ops.create(lease.path, b"{}") is None  # ifGenerationMatch=0: 412
    with pytest.raises(LockTimeoutError, match="host elsewhere pid 7"):
        lease.acquire(timeout=0.3)
    body = parse_lease(gcs_store.fs.cat_file(lease.path))
    assert body is not None and body["token"] == "t0"  # untouched


def test_of_racing_acquirers_exactly_one_wins(gcs_store: FsspecStore) -> None:
    for round_ in range(5):
        leases = [make_lease(gcs_store, f"race{round_}") for _ in range(4)]
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


def test_heartbeat_renews_with_generation_match(gcs_store: FsspecStore) -> None:
    lease = make_lease(gcs_store, ttl=1.5)
    lease.acquire(timeout=5)
    try:
        first = lease._version
        wait_for(lambda: lease._version != first, "a heartbeat (ifGenerationMatch upload)")
        time.sleep(3)  # two ttls: a lease not renewed would have expired by now
        with pytest.raises(LockTimeoutError):
            make_lease(gcs_store).acquire(timeout=0)
        assert lease.lost is None
        assert lease._version == generation(gcs_store, lease.path)
    finally:
        lease.release()
    assert not gcs_store.fs.exists(lease.path)


def test_holder_that_lost_the_lease_publishes_nothing(gcs_store: FsspecStore) -> None:
    now = [1000.0]
    lease = make_lease(gcs_store, ttl=60, monotonic=lambda: now[0])
    lease.acquire(timeout=5)
    try:
        gcs_store.write_bytes("mod/before.bin", b"ok")  # held: the publish goes through
        put_lease(gcs_store, lease.path, token="successor")  # taken over behind our back
        now[0] += 40  # past half the ttl: the publish renews first, and GCS refuses (412)
        with pytest.raises(LeaseLostError, match="taken over"):
            gcs_store.write_bytes("mod/after.bin", b"late")
        with pytest.raises(LeaseLostError), gcs_store.open_atomic("mod/after.bin") as f:
            f.write(b"late")
        assert not gcs_store.exists("mod/after.bin")
        assert gcs_store.read_bytes("mod/before.bin") == b"ok"
    finally:
        lease.release()
    body = parse_lease(gcs_store.fs.cat_file(lease.path))
    assert body is not None and body["token"] == "successor"  # release left it alone


def test_expired_lease_is_taken_over_by_the_servers_clock(gcs_store: FsspecStore) -> None:
    lease = make_lease(gcs_store, ttl=60)
    put_lease(gcs_store, lease.path, ttl=1)  # a holder that died, with a 1 s ttl
    with pytest.raises(LockTimeoutError):  # not expired yet
        lease.acquire(timeout=0)
    t0 = time.monotonic()
    lease.acquire(timeout=30)
    # By the server's Date - Last-Modified: ttl + 1 s of resolution, not our own 60 s ttl.
    assert time.monotonic() - t0 < 10
    body = parse_lease(gcs_store.fs.cat_file(lease.path))
    assert body is not None and body["token"] == lease._token
    lease.release()


def test_take_over_is_conditional(gcs_store: FsspecStore) -> None:
    first, second = make_lease(gcs_store, ttl=1), make_lease(gcs_store, ttl=1)
    put_lease(gcs_store, first.path, ttl=1)
    snap = first.ops.read(first.path)
    assert snap is not None and snap.version == generation(gcs_store, first.path)
    # Both waiters judged the same stale generation expired; the overwrite names it.
    assert first.ops.replace(first.path, b'{"token": "a"}', snap.version) is not None
    assert second.ops.replace(second.path, b'{"token": "b"}', snap.version) is None
    assert json.loads(gcs_store.fs.cat_file(first.path))["token"] == "a"
    # Gone meanwhile: a take-over naming a generation is refused, never a fresh create.
    gcs_store.fs.rm_file(first.path)
    assert first.ops.replace(first.path, b'{"token": "c"}', snap.version) is None
    assert not gcs_store.fs.exists(first.path)


def test_corrupt_lease_object_waits_one_ttl(
    gcs_store: FsspecStore, caplog: pytest.LogCaptureFixture
) -> None:
    lease = make_lease(gcs_store, ttl=1.5)
    gcs_store.fs.pipe_file(lease.path, b'{"token": "trunc')  # truncated JSON
    caplog.set_level(logging.WARNING, "tasuki.storage._object_lease")
    with pytest.raises(LockTimeoutError, match="corrupt"):
        lease.acquire(timeout=0.2)  # not taken at once: it may be someone's live lease
    assert lease.path in caplog.text and "corrupt" in caplog.text
    lease.acquire(timeout=30)  # unchanged for the ttl: expired, taken over
    assert caplog.text.count("is corrupt") == 2  # once per acquire(), not at every poll
    body = parse_lease(gcs_store.fs.cat_file(lease.path))
    assert body is not None and body["token"] == lease._token
    lease.release()


@pytest.mark.parametrize("skew", [-30.0, 30.0])
def test_clock_skew_does_not_let_two_hold(gcs_store: FsspecStore, skew: float) -> None:
    # The holder's wall clock is off by `skew` seconds against the waiter's: with expiry
    # written by one clock and judged by the other, one of the two signs lets the waiter in.
    holder = make_lease(gcs_store, ttl=3, clock=lambda: time.time() + skew)
    holder.acquire(timeout=5)
    try:
        waiter = make_lease(gcs_store, ttl=3)
        with pytest.raises(LockTimeoutError):
            waiter.acquire(timeout=5)  # longer than the ttl: the heartbeat keeps it alive
        assert holder.lost is None
    finally:
        holder.release()
    waiter.acquire(timeout=5)
    waiter.release()


def test_a_retried_create_that_went_through_is_ours(gcs_store: FsspecStore) -> None:
    lease = make_lease(gcs_store)
    real_create = lease.ops.create

    def create_lost_answer(path: str, data: bytes) -> str | None:
        real_create(path, data)  # the write lands; its answer is lost, the retry gets a 412
        return None

    lease.ops.create = create_lost_answer  # type: ignore[method-assign]
    lease.acquire(timeout=1)  # found our own token: held, not a wait for ourselves
    assert lease.held
    lease.release()
    assert not gcs_store.fs.exists(lease.path)


def test_uncontended_lease_costs_two_round_trips(
    gcs_store: FsspecStore, gcs_server: GcsServer
) -> None:
    gcs_store.exists("warm")  # the client is built
    since = len(gcs_server.requests_logged())
    for i in range(5):
        lease = gcs_store.lease(f"mod/t{i}.pkl")
        lease.acquire(timeout=5)
        lease.release()
    sent = gcs_server.requests_logged()[since:]
    assert len(sent) == 10, sent  # nothing else either (no listing, no metadata GET)
    assert [r.split()[0] for r in sent] == ["POST", "DELETE"] * 5, sent
    assert all("ifGenerationMatch=0" in r for r in sent[::2]), sent
    assert all("ifGenerationMatch=" in r for r in sent[1::2]), sent


def test_a_waiting_poll_is_one_read(gcs_store: FsspecStore, gcs_server: GcsServer) -> None:
    holder = make_lease(gcs_store)
    holder.acquire(timeout=5)
    try:
        since = len(gcs_server.requests_logged())
        with pytest.raises(LockTimeoutError):
            make_lease(gcs_store).acquire(timeout=1.5)
        sent = [r.split()[0] for r in gcs_server.requests_logged()[since:]]
        # One failed conditional create, then reads only until the holder lets go.
        assert sent[:2] == ["POST", "GET"] and len(sent) > 3, sent
        assert set(sent[2:]) == {"GET"}, sent
    finally:
        holder.release()
