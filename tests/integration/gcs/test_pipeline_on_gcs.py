"""A ``gs://`` workspace on a real GCS JSON API (fake-gcs-server on loopback), end to end."""

from __future__ import annotations

import tasuki
from tasuki.storage import FsspecStore, open_store
from tasuki.storage._keys import LOCKS_DIR
from tasuki.storage._object_lease import GcsOps, ObjectLease
from tests.integration.gcs.conftest import GcsServer
from tests.unit.core.tasks_for_tests import FanIn, Leaf, TaskA, TaskB


def test_build_cache_and_load_on_gcs(gcs_workspace: str, gcs_server: GcsServer) -> None:
    start = len(gcs_server.requests_logged())
    assert tasuki.build(TaskB(param="gcs"), workspace=gcs_workspace) == "hello gcs!!"
    sent = gcs_server.requests_logged()[start:]
    # Each task's lease was a conditional create and a conditional delete on the server.
    creates = [r for r in sent if "uploadType=multipart" in r and "ifGenerationMatch=0" in r]
    deletes = [r for r in sent if r.startswith("DELETE") and ".lock?ifGenerationMatch=" in r]
    assert len(creates) == 2 and len(deletes) == 2, sent
    again = tasuki.build(TaskB(param="gcs"), workspace=gcs_workspace, return_value=False)
    assert again.counts()["cached"] == 1
    store = open_store(gcs_workspace)
    assert isinstance(store, FsspecStore)
    assert store.exists(TaskA(param="gcs").output().key)
    assert tasuki.load_output(TaskB(param="gcs").unique_id, workspace=gcs_workspace) == (
        "hello gcs!!"
    )
    assert list(store.list(LOCKS_DIR)) == []  # every lease object was released
    assert not store.fs.find(f"{store.url}/{LOCKS_DIR}")
    lease = store.lease("mod/x.pkl")
    assert isinstance(lease, ObjectLease) and isinstance(lease.ops, GcsOps)


def test_fan_in_with_workers_on_gcs(gcs_workspace: str) -> None:
    assert tasuki.build(FanIn(n=8), workspace=gcs_workspace, workers=2) == sum(range(8))
    store = open_store(gcs_workspace)
    store.remove(FanIn(n=8).output().key)
    result = tasuki.build(FanIn(n=8), workspace=gcs_workspace, return_value=False)
    assert result.counts() == {"ran": 1, "cached": 8}
    assert tasuki.load(Leaf(i=7), workspace=gcs_workspace) == 7
