"""A real two-process ``distributed.LocalCluster`` for the Dask executor tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """Address of a LocalCluster: two worker processes, one thread each, one "gpu" each."""
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",  # random port: no clash with another cluster on 8787
        resources={"gpu": 1, "memory": 2**30},
    ) as local:
        yield local.scheduler_address
