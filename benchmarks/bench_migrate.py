"""MariaDB -> PostgreSQL table copy: tasuki's migrator against the floors and an alternative.

    python benchmarks/bench_migrate.py [--rows N] [--repeat N] [--shape typical|heavy]
                                       [--no-docs] [--json PATH] [--keep]

Builds a source table on the local MariaDB (``tasuki_bench_migrate``, regenerated when the
row count or shape differs) and copies it into a fresh PostgreSQL database. Every measurement
runs in its own process, so peak RSS (``ru_maxrss``) is the whole client: interpreter,
pyarrow, connectorx, psycopg and the data in flight. Cases, side by side in one run:

* ``extract only``: connectorx's Arrow stream of the table, discarded (the source floor);
* ``tasuki full``: ``migrate_table`` in full mode (work table, binary COPY, primary key,
  ANALYZE, swap, state row) end to end;
* ``tasuki incremental, initial``: the first incremental run (a full load plus the cursor);
* ``tasuki incremental, nothing new``: a rerun that finds no new rows (lag 10 minutes);
* ``connectorx + ADBC ingest``: connectorx's Arrow stream into ``adbc_ingest`` (ADBC's own
  binary COPY; it creates the table from Arrow types: no type mapping, keys or ANALYZE).

``--load N`` runs N other processes loading the machine (CPU and file creation,
``benchmarks/_loader.py``) for the whole run, written to its own docs section.

Targets (issue 3): tasuki full >= 300,000 rows/s end to end with peak RSS <= 300 MB (issue 12:
also with a second process loading the machine).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _host import cpu_model
from _loader import add_load_option, loaded, loaded_note, loaded_title, write_section

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
MYSQL = os.environ.get("TASUKI_BENCH_MYSQL", "mysql://root@127.0.0.1:3306")
POSTGRES = os.environ.get("TASUKI_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
DATABASE = "tasuki_bench_migrate"
TABLE = "events"
TARGET_ROWS_PER_S = 300_000
TARGET_RSS_MB = 300

SHAPES = {
    # A typical service table: 10 columns of mixed types.
    "typical": (
        "id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, user_id INT NOT NULL, "
        "is_active TINYINT(1) NOT NULL, name VARCHAR(64) NOT NULL, email VARCHAR(255), "
        "price DECIMAL(10,2), score DOUBLE, status ENUM('new','active','closed'), "
        "created_at DATETIME NOT NULL, updated_at DATETIME(6)",
        "seq, seq % 100000, seq % 3 = 0, CONCAT('user-', seq), "
        "IF(seq % 10 = 0, NULL, CONCAT('user', seq, '@example.com')), (seq % 100000) / 100, "
        "seq / 7, ELT(1 + seq % 3, 'new', 'active', 'closed'), "
        "TIMESTAMP('2020-01-01') + INTERVAL seq SECOND, "
        "TIMESTAMP('2021-01-01') + INTERVAL seq * 1000 MICROSECOND",
    ),
    # Costlier types: unsigned BIGINT key (numeric(20,0)), JSON (jsonb), TIMESTAMP, DATE.
    "heavy": (
        "id BIGINT UNSIGNED NOT NULL PRIMARY KEY, user_id INT NOT NULL, "
        "is_active TINYINT(1) NOT NULL, name VARCHAR(64), email VARCHAR(128), "
        "score DECIMAL(12,4), ratio DOUBLE, status ENUM('new','active','closed'), "
        "created_at DATETIME(6), updated_at TIMESTAMP NULL, birthday DATE, payload JSON",
        "seq, seq % 100000, seq % 2, CONCAT('user name ', seq), "
        "CONCAT('user', seq, '@example.com'), (seq % 100000) / 7, seq / 3.0, "
        "ELT(1 + seq % 3, 'new', 'active', 'closed'), "
        "TIMESTAMP('2020-01-01') + INTERVAL seq SECOND, "
        "TIMESTAMP('2021-01-01') + INTERVAL seq SECOND, "
        "DATE('1970-01-01') + INTERVAL (seq % 15000) DAY, "
        "IF(seq % 10 = 0, JSON_OBJECT('k', seq, 'tags', JSON_ARRAY('a', 'b')), NULL)",
    ),
}

CASES = ("extract", "tasuki_full", "tasuki_incremental", "adbc_ingest")
LABELS = {
    "extract": "extract only (connectorx Arrow stream, discarded)",
    "tasuki_full": "tasuki full (wk table, COPY, keys, ANALYZE, swap)",
    "tasuki_initial": "tasuki incremental, initial load",
    "tasuki_noop": "tasuki incremental, nothing new",
    "adbc_ingest": "connectorx + ADBC adbc_ingest (no keys)",
}


# -- source and target ----------------------------------------------------------------------


def _mysql(database: str | None = None) -> Any:
    import pymysql

    return pymysql.connect(
        host="127.0.0.1", port=3306, user="root", password="", database=database, autocommit=True
    )


def prepare_source(rows: int, shape: str) -> str:
    """Create (or reuse) the source table with ``rows`` rows of ``shape``."""
    columns, values = SHAPES[shape]
    marker = f"tasuki bench {shape} {rows}"
    conn = _mysql()
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE IF NOT EXISTS `{DATABASE}` CHARACTER SET utf8mb4")
        cur.execute(
            "SELECT TABLE_COMMENT FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
            (DATABASE, TABLE),
        )
        found = cur.fetchone()
        if found and found[0] == marker:
            return f"{MYSQL}/{DATABASE}"
        t0 = time.perf_counter()
        cur.execute(f"USE `{DATABASE}`")
        cur.execute(f"DROP TABLE IF EXISTS {TABLE}, _digits")
        # Rows from a cross join of a 0..999 digits table: portable to MySQL (no seq engine).
        cur.execute("CREATE TABLE _digits (n INT PRIMARY KEY)")
        cur.execute("INSERT INTO _digits VALUES (0)")
        while True:
            cur.execute("SELECT COUNT(*) FROM _digits")
            have = cur.fetchone()[0]
            if have >= 1000:
                break
            cur.execute(
                f"INSERT INTO _digits SELECT n + {have} FROM _digits WHERE n + {have} < 1000"
            )
        cur.execute(f"CREATE TABLE {TABLE} ({columns})")
        # One INSERT per million rows, so the join never walks past the rows it needs.
        for millions in range(0, -(-rows // 1_000_000)):
            cur.execute(
                f"INSERT INTO {TABLE} SELECT {values} FROM (SELECT 1 + {millions * 1_000_000} + "
                "b.n * 1000 + c.n AS seq FROM _digits b, _digits c "
                f"WHERE {millions * 1_000_000} + b.n * 1000 + c.n < {int(rows)}) s"
            )
        cur.execute("DROP TABLE _digits")
        # The marker goes on last, so a half-built table is never reused.
        cur.execute(f"ALTER TABLE {TABLE} COMMENT = %s", (marker,))
        cur.execute(f"ANALYZE TABLE {TABLE}")
        cur.fetchall()
        print(
            f"source: {rows:,} rows of shape {shape!r} built in {time.perf_counter() - t0:.1f} s",
            file=sys.stderr,
        )
    conn.close()
    return f"{MYSQL}/{DATABASE}"


def fresh_target() -> str:
    """Drop and recreate the target database; returns its URL."""
    import psycopg

    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    return f"{POSTGRES}/{DATABASE}"


# -- one measurement, in a child process ------------------------------------------------------


def child(case: str, source: str, target: str) -> dict[str, Any]:
    """Run one case in this (fresh) process and return its figures."""
    # Imports are not part of the copy: load what the case needs before the clock starts
    # (and nothing more: an unused module would inflate the peak RSS).
    import connectorx  # noqa: F401
    import pyarrow.compute  # noqa: F401

    if case.startswith("tasuki"):
        import tasuki.migrate._postgres  # noqa: F401
    elif case == "adbc_ingest":
        import adbc_driver_postgresql.dbapi  # noqa: F401
    cpu0 = time.process_time()
    out: dict[str, Any] = {}
    if case == "extract":
        import connectorx as cx

        t0 = time.perf_counter()
        reader = cx.read_sql(
            source, f"SELECT * FROM {TABLE}", return_type="arrow_stream", batch_size=32_768
        )
        rows = sum(batch.num_rows for batch in reader)
        out["extract"] = {"rows": rows, "seconds": time.perf_counter() - t0}
    elif case == "tasuki_full":
        from tasuki.migrate import TableSpec, migrate_table

        t0 = time.perf_counter()
        result = migrate_table(source, target, TableSpec(name=TABLE), schema="bench")
        out["tasuki_full"] = {"rows": result.rows_written, "seconds": time.perf_counter() - t0}
    elif case == "tasuki_incremental":
        from tasuki.migrate import TableSpec, migrate_table

        spec = TableSpec(
            name=TABLE,
            target="events_incr",
            mode="incremental",
            cursor="created_at",
            lag="10 minutes",
        )
        t0 = time.perf_counter()
        first = migrate_table(source, target, spec, schema="bench")
        t1, c1 = time.perf_counter(), time.process_time()
        again = migrate_table(source, target, spec, schema="bench")
        t2, c2 = time.perf_counter(), time.process_time()
        if again.rows_written or again.cursor_after != first.cursor_after:
            raise SystemExit(f"rerun changed the target: {again}")
        out["tasuki_initial"] = {"rows": first.rows_written, "seconds": t1 - t0, "cpu_s": c1 - cpu0}
        out["tasuki_noop"] = {
            "rows": again.rows_read,
            "seconds": t2 - t1,
            "cpu_s": c2 - c1,
            "no_throughput": True,
        }
    elif case == "adbc_ingest":
        import adbc_driver_postgresql.dbapi as pg
        import connectorx as cx

        t0 = time.perf_counter()
        reader = cx.read_sql(
            source, f"SELECT * FROM {TABLE}", return_type="arrow_stream", batch_size=32_768
        )
        with pg.connect(target) as conn, conn.cursor() as cur:
            rows = cur.adbc_ingest("events_adbc", reader, mode="replace")
            conn.commit()
        out["adbc_ingest"] = {"rows": rows, "seconds": time.perf_counter() - t0}
    else:
        raise SystemExit(f"unknown case {case!r}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for figures in out.values():
        figures["peak_rss_mb"] = peak
        figures.setdefault("cpu_s", time.process_time() - cpu0)
    return out


def measure(case: str, source: str, target: str) -> dict[str, Any]:
    """Run ``case`` in a fresh interpreter and parse its JSON line."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run(
        [sys.executable, __file__, "--child", case, "--source", source, "--target", target],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode:
        raise RuntimeError(f"{case} failed:\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


# -- reporting ----------------------------------------------------------------------------------


def _machine() -> dict[str, Any]:
    import connectorx
    import numpy
    import psycopg
    import pyarrow

    cpu = cpu_model()
    with _mysql().cursor() as cur:
        cur.execute("SELECT VERSION()")
        mariadb = cur.fetchone()[0]
    with psycopg.connect(f"{POSTGRES}/postgres") as conn:
        postgres = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
    try:
        import adbc_driver_postgresql

        adbc = adbc_driver_postgresql.__version__
    except ImportError:  # pragma: no cover
        adbc = "absent"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "mariadb": mariadb,
        "postgresql": postgres,
        "connectorx": connectorx.__version__,
        "pyarrow": pyarrow.__version__,
        "psycopg": psycopg.__version__,
        "adbc_driver_postgresql": adbc,
        "numpy": numpy.__version__,
    }


def summarise(samples: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Median seconds, rows/s and peak RSS per case."""
    rows = []
    for key in LABELS:
        runs = samples.get(key)
        if not runs:
            continue
        seconds = statistics.median(r["seconds"] for r in runs)
        no_rate = runs[0].get("no_throughput", False)
        rows.append(
            {
                "case": LABELS[key],
                "key": key,
                "rows": runs[0]["rows"],
                "median_s": seconds,
                "rows_per_s": None if no_rate else runs[0]["rows"] / seconds,
                "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in runs),
                "client_cpu_s": statistics.median(r["cpu_s"] for r in runs),
                "runs": len(runs),
            }
        )
    return rows


def render(
    rows: list[dict[str, Any]],
    machine: dict[str, Any],
    args: argparse.Namespace,
    load: tuple[float, float, float, float],
) -> str:
    """The results as a markdown section."""
    command = "python benchmarks/run.py migrate" + (f" --load {args.load}" if args.load else "")
    lines = [
        section_title(args.load),
        "",
        f"MariaDB -> PostgreSQL, `{args.rows:,}` rows, shape `{args.shape}`, median of "
        f"{args.repeat} runs, each case in a fresh process (peak RSS = `ru_maxrss` of that "
        f"process). Produced by `{command}`" + loaded_note(args.load) + ".",
        "",
        "| case | rows | median s | rows/s | peak RSS MB | client CPU s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        rate = f"{r['rows_per_s']:,.0f}" if r["rows_per_s"] else "—"
        lines.append(
            f"| {r['case']} | {r['rows']:,} | {r['median_s']:.2f} | {rate} | "
            f"{r['peak_rss_mb']:.0f} | {r['client_cpu_s']:.2f} |"
        )
    full = next((r for r in rows if r["key"] == "tasuki_full"), None)
    if full:
        ok_rate = full["rows_per_s"] >= TARGET_ROWS_PER_S
        ok_rss = full["peak_rss_mb"] <= TARGET_RSS_MB
        lines += [
            "",
            f"Targets: >= {TARGET_ROWS_PER_S:,} rows/s: **{'met' if ok_rate else 'missed'}** "
            f"({full['rows_per_s']:,.0f}); peak RSS <= {TARGET_RSS_MB} MB: "
            f"**{'met' if ok_rss else 'missed'}** ({full['peak_rss_mb']:.0f} MB).",
        ]
    lines += [
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gb']} GB; "
        f"load average {load[0]:.2f} before, {load[1]:.2f} after (median over the runs "
        f"{load[2]:.2f}, max {load[3]:.2f}). Python {machine['python']}, "
        f"MariaDB {machine['mariadb']}, PostgreSQL {machine['postgresql']}, connectorx "
        f"{machine['connectorx']}, pyarrow {machine['pyarrow']}, psycopg {machine['psycopg']}, "
        f"ADBC PostgreSQL {machine['adbc_driver_postgresql']}, numpy {machine['numpy']}.",
        "",
    ]
    return "\n".join(lines)


def section_title(load: int) -> str:
    """``## Migration``, or its loaded run's own section."""
    return "## Migration" + loaded_title(load)


def write_docs(section: str, title: str) -> None:
    """Replace the section called ``title`` of docs/benchmarks.md (added when missing)."""
    write_section(DOCS, section, title, "## Migration")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: measure every case, print the table, write docs (full runs)."""
    parser = argparse.ArgumentParser(prog="bench_migrate.py", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="typical")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated subset")
    parser.add_argument("--no-docs", action="store_true", help="leave docs/benchmarks.md alone")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep the target database")
    add_load_option(parser)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.source, args.target)))
        return 0

    cases = [c for c in args.cases.split(",") if c]
    source = prepare_source(args.rows, args.shape)
    machine = _machine()
    load_before = os.getloadavg()[0]
    samples: dict[str, list[dict[str, Any]]] = {}
    loads: list[float] = []
    with loaded(args.load):
        for rep in range(args.repeat):
            for case in cases:  # interleaved, so drifting load hits every case alike
                target = fresh_target()
                loads.append(os.getloadavg()[0])
                for key, figures in measure(case, source, target).items():
                    samples.setdefault(key, []).append(figures)
                    rate = figures["rows"] / figures["seconds"]
                    print(
                        f"run {rep + 1} {key}: {figures['seconds']:.2f} s, {rate:,.0f} rows/s, "
                        f"{figures['cpu_s']:.2f} s client CPU, {figures['peak_rss_mb']:.0f} MB",
                        file=sys.stderr,
                    )
    load_after = os.getloadavg()[0]
    loads.append(load_after)
    rows = summarise(samples)
    section = render(
        rows,
        machine,
        args,
        (load_before, load_after, statistics.median(loads), max(loads)),
    )
    print(section)
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "rows": rows}, indent=2))
    if not args.no_docs and args.rows >= 1_000_000 and args.repeat >= 3:
        write_docs(section, section_title(args.load))
    if not args.keep:
        import psycopg

        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
