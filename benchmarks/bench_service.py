"""Query service overhead: a result fetched through the service + QueryClient vs the library.

    python benchmarks/bench_service.py [--rows 5000000] [--repeat 3]
        [--backend auto|postgres|duckdb] [--quick] [--scratch DIR] [--json PATH]

Both sides run the same SELECT of every row of a 10-column table and end with the whole
result as one Arrow table in the benchmark process:

- **library**: ``tasuki.warehouse.connect(url).query(sql).to_arrow()``;
- **service**: a query service in its own process (uvicorn on 127.0.0.1, 2 worker
  processes, results on local disk), then ``QueryClient(url, token).query(sql).to_arrow()``:
  submit, long-poll, download the Parquet parts over HTTP, read them.

The warehouse is PostgreSQL (database ``tasuki_bench_service``, table ``bench_<rows>``,
created on first use with the shape of the warehouse benchmark: bigint id, three ints, a
double, numeric(12,2), varchar(20), timestamptz, boolean, a nullable int), or a DuckDB file
with the same shape when PostgreSQL is not reachable or ``--backend duckdb``. The table
says which. Runs alternate library/service; figures are medians. Target: overhead <= 10 %.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PG_ADMIN = os.environ.get("TASUKI_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
PG_DB = "tasuki_bench_service"
SHAPE_SQL = """
SELECT i::bigint AS id, (i % 1000)::int AS i1, (i % 7)::int AS i2, (i * 31 % 100000)::int AS i3,
       i * 0.001::float8 AS f, round((i % 100000) * 0.01, 2)::numeric(12, 2) AS amount,
       ('name_' || (i % 100000))::varchar(20) AS name,
       timestamptz '2024-01-01 00:00:00+00' + i * interval '1 second' AS ts,
       (i % 2 = 0) AS flag, CASE WHEN i % 10 = 0 THEN NULL ELSE i % 1000 END::int AS maybe
FROM generate_series(1, {rows}) AS i
"""
DUCK_SQL = """
CREATE TABLE {table} AS
SELECT i::BIGINT AS id, (i % 1000)::INT AS i1, (i % 7)::INT AS i2, (i * 31 % 100000)::INT AS i3,
       i * 0.001 AS f, round((i % 100000) * 0.01, 2)::DECIMAL(12, 2) AS amount,
       ('name_' || (i % 100000))::VARCHAR AS name,
       TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(i) AS ts,
       (i % 2 = 0) AS flag, CASE WHEN i % 10 = 0 THEN NULL ELSE i % 1000 END::INT AS maybe
FROM range(1, {rows} + 1) t(i)
"""

SERVER = """
import asyncio, json, os, socket, sys
import uvicorn
from tasuki.service import ServiceConfig, create_app
config = ServiceConfig(**json.loads(sys.argv[1]))
sock = socket.socket(); sock.bind(("127.0.0.1", 0))
server = uvicorn.Server(uvicorn.Config(create_app(config), log_config=None, lifespan="on"))
async def main():
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.02)
    with open(sys.argv[2] + ".tmp", "w") as f:
        f.write(str(sock.getsockname()[1]))
    os.replace(sys.argv[2] + ".tmp", sys.argv[2])
    await task
asyncio.run(main())
"""


def prepare_postgres(rows: int) -> str | None:
    """URL of the benchmark database with ``bench_<rows>``; None when PostgreSQL is down."""
    import psycopg

    try:
        with psycopg.connect(f"{PG_ADMIN}/postgres", autocommit=True, connect_timeout=3) as c:
            exists = c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (PG_DB,)).fetchone()
            if not exists:
                c.execute(f'CREATE DATABASE "{PG_DB}"')
    except psycopg.OperationalError as exc:
        print(f"PostgreSQL not reachable ({exc}); using DuckDB", file=sys.stderr)
        return None
    url = f"{PG_ADMIN}/{PG_DB}"
    table = f"bench_{rows}"
    with psycopg.connect(url, autocommit=True) as conn:
        found = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
        if not (found and found[0]):
            print(f"creating {PG_DB}.{table} ({rows:,} rows) ...", file=sys.stderr)
            conn.execute(f"CREATE TABLE {table} AS {SHAPE_SQL.format(rows=rows)}")
            conn.execute(f"VACUUM ANALYZE {table}")
    # The benchmark reads as the superuser that made the table; the query path refuses a
    # privileged role unless told otherwise (a real deployment uses a reader role).
    return f"{url}?allow_privileged=true"


def prepare_duckdb(rows: int, scratch: Path) -> str:
    import duckdb

    path = scratch / f"bench_service_{rows}.duckdb"
    if not path.exists():
        with duckdb.connect(str(path)) as db:
            db.execute(DUCK_SQL.format(table=f"bench_{rows}", rows=rows))
    return f"duckdb://{path}"


class Service:
    """The query service in its own process."""

    def __init__(self, url: str, folder: Path) -> None:
        from tasuki.service import ServiceConfig, add_client

        self.token = add_client(folder / "clients.json", "bench")
        config = ServiceConfig(
            warehouse=url,
            results_dir=str(folder / "results"),
            tokens_file=str(folder / "clients.json"),
            workers=2,
            result_ttl=3600,
        )
        port_file = folder / "port"
        args = {k: v for k, v in vars(config).items() if v is not None}
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVER, json.dumps(args, default=dict), str(port_file)]
        )
        deadline = time.monotonic() + 120
        while not port_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the query service did not start")
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{port_file.read_text()}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def library_run(url: str, sql: str, parts: Path) -> dict[str, float]:
    from tasuki.warehouse import connect

    t0 = time.perf_counter()
    with connect(url, parts_dir=parts) as wh:
        result = wh.query(sql)
        t1 = time.perf_counter()
        table = result.to_arrow()
        t2 = time.perf_counter()
        rows = table.num_rows
        del table
        result.remove()
    return {"total": t2 - t0, "unload": t1 - t0, "read": t2 - t1, "rows": rows}


def service_run(service: Service, sql: str, downloads: Path) -> dict[str, float]:
    from tasuki.service import QueryClient

    t0 = time.perf_counter()
    with QueryClient(service.url, service.token, download_dir=downloads) as client:
        query_id = client.submit(sql)
        status = client.wait(query_id)
        t1 = time.perf_counter()
        result = client.result(query_id, status=status)
        result.download()
        t2 = time.perf_counter()
        table = result.to_arrow()
        t3 = time.perf_counter()
        rows = table.num_rows
        del table
        client.cancel(query_id)  # delete the result on the service
    shutil.rmtree(downloads / query_id, ignore_errors=True)
    return {"total": t3 - t0, "unload": t1 - t0, "download": t2 - t1, "read": t3 - t2, "rows": rows}


def versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for name in (
        "tasuki",
        "pyarrow",
        "duckdb",
        "adbc-driver-postgresql",
        "fastapi",
        "uvicorn",
        "httpx",
    ):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "-"
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_service.py", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backend", choices=["auto", "postgres", "duckdb"], default="auto")
    parser.add_argument("--quick", action="store_true", help="200,000 rows, one repeat")
    parser.add_argument("--scratch", type=Path, default=None, help="folder for parts and files")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.repeat = 200_000, 1

    url = None if args.backend == "duckdb" else prepare_postgres(args.rows)
    if url is None and args.backend == "postgres":
        return 2
    scratch = Path(tempfile.mkdtemp(prefix="tasuki-bench-service-", dir=args.scratch))
    try:
        backend = "postgresql" if url else "duckdb"
        url = url or prepare_duckdb(args.rows, scratch)
        sql = f"SELECT * FROM bench_{args.rows}"
        service = Service(url, scratch)
        try:
            # one warm-up of each side: imports, worker start, page cache
            library_run(url, sql, scratch / "lib")
            service_run(service, sql, scratch / "dl")
            lib, svc = [], []
            for _ in range(args.repeat):
                lib.append(library_run(url, sql, scratch / "lib"))
                svc.append(service_run(service, sql, scratch / "dl"))
        finally:
            service.stop()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    def med(runs: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in runs)

    lib_total, svc_total = med(lib, "total"), med(svc, "total")
    overhead = (svc_total - lib_total) / lib_total * 100
    report = {
        "backend": backend,
        "rows": args.rows,
        "repeat": args.repeat,
        "library_s": lib_total,
        "service_s": svc_total,
        "overhead_pct": overhead,
        "library": {k: med(lib, k) for k in ("unload", "read")},
        "service": {k: med(svc, k) for k in ("unload", "download", "read")},
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_avg": os.getloadavg(),
        },
        "versions": versions(),
    }
    _print(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return 0


def _print(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    rows = report["rows"]
    table = Table(
        title=f"query service vs library: {rows:,} rows from {report['backend']} "
        f"(median of {report['repeat']})"
    )
    for col in ("path", "total s", "rows/s", "unload s", "download s", "read s"):
        table.add_column(col, justify="right" if col != "path" else "left")
    lib, svc = report["library"], report["service"]
    table.add_row(
        "library: connect(url).query(sql).to_arrow()",
        f"{report['library_s']:.2f}",
        f"{rows / report['library_s']:,.0f}",
        f"{lib['unload']:.2f}",
        "-",
        f"{lib['read']:.2f}",
    )
    table.add_row(
        "service: QueryClient(url, token).query(sql).to_arrow()",
        f"{report['service_s']:.2f}",
        f"{rows / report['service_s']:,.0f}",
        f"{svc['unload']:.2f}",
        f"{svc['download']:.2f}",
        f"{svc['read']:.2f}",
    )
    console = Console()
    console.print(table)
    verdict = "meets" if report["overhead_pct"] <= 10 else "MISSES"
    console.print(
        f"service overhead: {report['overhead_pct']:+.1f} % ({verdict} the <= 10 % target)"
    )
    machine = report["machine"]
    console.print(
        f"machine: {machine['platform']}, {machine['cpus']} CPUs, load average "
        + ", ".join(f"{x:.2f}" for x in machine["load_avg"])
    )
    console.print("versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()))


if __name__ == "__main__":
    raise SystemExit(main())
