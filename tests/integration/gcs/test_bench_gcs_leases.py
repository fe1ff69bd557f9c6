"""The lease benchmark's GCS case runs and counts what the lease adds (2 requests per task).

It starts its own fake-gcs-server; the ``gcs_server`` fixture is asked for only so that the
test is skipped (or fails in CI) the same way when the emulator cannot run here.
"""

from __future__ import annotations

from tests._bench import load_benchmark
from tests.integration.gcs.conftest import GcsServer


def test_the_gcs_lease_benchmark_counts_two_requests_per_task(gcs_server: GcsServer) -> None:
    bench = load_benchmark("bench_leases")
    (row,) = bench._gcs_rows(tasks=4, repeat=3)
    assert row["case"] == "gcs (fake-gcs-server, loopback)", row
    assert row["requests/task, no lease"] == 2  # the output and the record, one upload each
    assert row["lease requests/task"] == 2 and row["request kinds (lease)"] == "DELETE, POST"
    assert row["verdict"] == "met"
    assert "gcsfs" in bench.environment()["versions"]
