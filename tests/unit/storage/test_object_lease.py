"""The object lease on GCS (generation match), against a fake gcsfs: the call shape and rules.

gcsfs is not installed here; ``FakeGcs`` answers the JSON API requests GcsOps sends (through
gcsfs's ``_call(method, path, *args, json_out=..., **params)``, as in gcsfs 2026.10) the way
the service does: a failed ``ifGenerationMatch`` is a 412 (gcsfs raises FileExistsError), a
missing object a 404 (FileNotFoundError). S3 runs against moto in tests/integration/s3.
"""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any

import pytest

from tasuki.errors import LockTimeoutError
from tasuki.storage import FsspecStore
from tasuki.storage._object_lease import GcsOps, ObjectLease, parse_lease


class FakeGcs:
    """Objects as {key: (generation, body, written at)}; ``calls`` records each request."""

    protocol = ("gs", "gcs")
    _location = "https://storage.googleapis.com"

    def __init__(self) -> None:
        import fsspec.asyn

        self.loop = fsspec.asyn.get_loop()
        self.objects: dict[str, tuple[int, bytes, float]] = {}
        self.calls: list[tuple[str, str, tuple[str, ...], dict[str, Any]]] = []
        self.generation = 1000
        self.server_skew = 0.0  # the service's clock against ours

    @classmethod
    def _strip_protocol(cls, url: str) -> str:
        return url.split("://", 1)[-1]

    def split_path(self, path: str) -> tuple[str, str, None]:
        bucket, _, key = path.partition("/")
        return bucket, key, None

    def _check(self, key: str, wanted: str | None) -> None:
        if wanted is None:
            return
        current = self.objects.get(key)
        if (current[0] if current else 0) != int(wanted):
            if current is None and wanted != "0":
                raise FileNotFoundError(key)
            raise FileExistsError(key)  # gcsfs: 412 Precondition Failed

    async def _call(
        self, method: str, path: str, *args: str, json_out: bool = False, **params: Any
    ) -> Any:
        self.calls.append((method, path, args, {k: v for k, v in params.items() if k != "data"}))
        if method == "POST":
            key = params["name"]
            self._check(key, params.get("ifGenerationMatch"))
            self.generation += 1
            self.objects[key] = (self.generation, bytes(params["data"]), time.time())
            return {"name": key, "generation": str(self.generation)}
        key = args[1]
        if key not in self.objects:
            raise FileNotFoundError(key)
        if method == "DELETE":
            self._check(key, params.get("ifGenerationMatch"))
            del self.objects[key]
            return {}, b""
        generation, body, written = self.objects[key]
        now = time.time() + self.server_skew
        headers = {
            "x-goog-generation": str(generation),
            "Date": email.utils.formatdate(now, usegmt=True),
            "Last-Modified": email.utils.formatdate(written + self.server_skew, usegmt=True),
        }
        return headers, body


@pytest.fixture
def fake() -> FakeGcs:
    return FakeGcs()


@pytest.fixture
def store(fake: FakeGcs) -> FsspecStore:
    return FsspecStore("gs://bkt/ws", fs=fake)


def test_gcs_workspace_gets_the_object_lease_with_generation_match(
    store: FsspecStore, fake: FakeGcs
) -> None:
    lease = store.lease("mod/t.pkl")
    assert isinstance(lease, ObjectLease) and isinstance(lease.ops, GcsOps)
    lease.acquire(timeout=5)
    method, path, _, params = fake.calls[0]
    assert (method, path) == ("POST", "https://storage.googleapis.com/upload/storage/v1/b/bkt/o")
    assert params == {
        "uploadType": "media",
        "name": "ws/.tasuki/locks/mod/t.pkl.lock",
        "ifGenerationMatch": "0",
    }
    body = parse_lease(fake.objects["ws/.tasuki/locks/mod/t.pkl.lock"][1])
    assert body is not None and body["token"] == lease._token
    generation = str(fake.generation)
    lease.release()
    assert fake.calls[-1] == (
        "DELETE",
        "b/{}/o/{}",
        ("bkt", "ws/.tasuki/locks/mod/t.pkl.lock"),
        {"ifGenerationMatch": generation},
    )
    assert len(fake.calls) == 2  # two round trips per uncontended task
    assert fake.objects == {}


def put_lease(fake: FakeGcs, key: str, token: str = "t0", ttl: float = 60.0) -> None:
    fake.generation += 1
    body = {"token": token, "host": "elsewhere", "pid": 7, "acquired": 0, "heartbeat": 0}
    fake.objects[key] = (fake.generation, json.dumps({**body, "ttl": ttl}).encode(), time.time())


def test_live_lease_is_respected_and_named(store: FsspecStore, fake: FakeGcs) -> None:
    lease = store.lease("k")
    assert isinstance(lease, ObjectLease)
    put_lease(fake, "ws/.tasuki/locks/k.lock")
    with pytest.raises(LockTimeoutError, match="host elsewhere pid 7"):
        lease.acquire(timeout=0.2)
    assert [c[0] for c in fake.calls][:2] == ["POST", "GET"]  # a failed create, then a read


def test_take_over_names_the_stale_generation(store: FsspecStore, fake: FakeGcs) -> None:
    lease = store.lease("k")
    assert isinstance(lease, ObjectLease)
    put_lease(fake, "ws/.tasuki/locks/k.lock", ttl=1)
    stale = str(fake.generation)
    fake.server_skew = 5.0  # the service's own clock says 5 s passed: expired by its age
    lease.acquire(timeout=5)
    takeover = [c for c in fake.calls if c[0] == "POST" and c[3]["ifGenerationMatch"] != "0"]
    assert takeover[0][3]["ifGenerationMatch"] == stale
    # A second waiter naming the same stale generation is refused.
    assert GcsOps(fake).replace("bkt/ws/.tasuki/locks/k.lock", b"{}", stale) is None
    lease.release()


def test_a_retried_create_that_went_through_is_ours(store: FsspecStore, fake: FakeGcs) -> None:
    lease = store.lease("k")
    assert isinstance(lease, ObjectLease)
    ops = lease.ops
    real_create = ops.create

    def create_lost_answer(path: str, data: bytes) -> str | None:
        real_create(path, data)  # the write lands; its answer is lost, the retry gets a 412
        return None

    ops.create = create_lost_answer  # type: ignore[method-assign]
    lease.acquire(timeout=1)  # found our own token: held, not a wait for ourselves
    assert lease.held
    lease.release()
    assert fake.objects == {}
