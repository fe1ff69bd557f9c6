"""What ``write_table`` costs on PostgreSQL, against ADBC's bulk ingest alone.

A replace of a table whose columns the data has keeps the table (its views, grants and
comments) and copies the data straight into it after a ``TRUNCATE``; one with other columns
loads a staging table that takes the old table's place. The floor is ADBC's bulk ingest
(binary COPY) into a new table, which every mode does once. Cases run interleaved, repeat by
repeat, in this process; medians of wall time and of the client's CPU time (the server's is
not counted):

- ``floor: ingest into a new table``;
- ``replace, the table's columns`` (truncate, copy in);
- ``replace, other columns`` (staging table renamed in; the table is first written with
  other columns, untimed);
- ``append``.

    .venv/bin/python benchmarks/run.py write_back [--quick] [--repeat N] [--rows N]

Needs PostgreSQL on 127.0.0.1:5432 (trust auth); a database is made and dropped.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def _table(rows: int, other: bool = False) -> Any:
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(7)
    names = pa.array(np.char.add("r", np.arange(rows).astype(str)))
    return pa.table(
        {
            "id": np.arange(rows, dtype=np.int64),
            "score": rng.random(rows),
            ("label" if other else "name"): names,
        }
    )


Case = tuple[str, Callable[[], object], Callable[[], object] | None, Callable[[], object] | None]


def _postgres_cases(database: str, data: Any, other: Any) -> tuple[list[Case], Callable[[], None]]:
    """PostgreSQL's cases and what closes their connections."""
    import adbc_driver_postgresql.dbapi as adbc

    from tasuki.warehouse import PostgresWarehouse

    url = f"postgresql://postgres@127.0.0.1:5432/{database}?allow_privileged=true"
    wh = PostgresWarehouse.from_url(url)
    floor_conn = adbc.connect(url.split("?", 1)[0])

    def floor() -> None:
        with floor_conn.cursor() as cur:
            cur.adbc_ingest("floor_t", data, mode="create")
        floor_conn.commit()

    def after_floor() -> None:
        with floor_conn.cursor() as cur:
            cur.execute("DROP TABLE floor_t")
        floor_conn.commit()

    def close() -> None:
        floor_conn.close()
        getattr(wh, "close", lambda: None)()

    return _cases("PostgreSQL", wh, data, other, floor, after_floor), close


def _duckdb_cases(folder: str, data: Any, other: Any) -> tuple[list[Case], Callable[[], None]]:
    """DuckDB's cases (a file in ``folder``) and what closes the warehouse."""
    from tasuki.warehouse import DuckDBWarehouse

    wh = DuckDBWarehouse.from_url(f"duckdb://{folder}/bench.duckdb")
    wh.write_table("floor_seed", data.slice(0, 1))  # opens the file for writing
    conn = wh._connection(write=True)  # its own connection: one writer per file

    def floor() -> None:
        conn.register("floor_src", data)
        conn.execute("CREATE TABLE floor_t AS SELECT * FROM floor_src")
        conn.unregister("floor_src")

    def after_floor() -> None:
        conn.execute("DROP TABLE floor_t")

    return _cases("DuckDB", wh, data, other, floor, after_floor), lambda: wh.close()


def _cases(
    backend: str,
    wh: Any,
    data: Any,
    other: Any,
    floor: Callable[[], None],
    after_floor: Callable[[], None],
) -> list[Case]:
    wh.write_table("kept", data)
    return [
        (f"{backend}: floor, a new table from the data", floor, None, after_floor),
        (
            f"{backend}: replace, the table's columns",
            lambda: wh.write_table("kept", data),
            None,
            None,
        ),
        (
            f"{backend}: replace, other columns",
            lambda: wh.write_table("anew", data),
            lambda: wh.write_table("anew", other),
            None,
        ),
        (f"{backend}: append", lambda: wh.write_table("grows", data, mode="append"), None, None),
    ]


def run(quick: bool = False, repeat: int = 3, rows: int | None = None) -> list[dict[str, Any]]:
    """Time each case ``repeat`` times, interleaved; one row per case."""
    import tempfile

    import psycopg

    rows = rows or (100_000 if quick else 1_000_000)
    data, other = _table(rows), _table(rows, other=True)
    database = f"tasuki_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {database}".encode())
    closers: list[Callable[[], None]] = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            pg, close_pg = _postgres_cases(database, data, other)
            closers.append(close_pg)
            duck, close_duck = _duckdb_cases(folder, data, other)
            closers.append(close_duck)
            cases = pg + duck
            timings: dict[str, list[tuple[float, float]]] = {name: [] for name, *_ in cases}
            for _ in range(repeat):
                for name, timed, before, after in cases:
                    if before is not None:
                        before()
                    w0, c0 = time.perf_counter(), time.process_time()
                    timed()
                    timings[name].append((time.perf_counter() - w0, time.process_time() - c0))
                    if after is not None:
                        after()
            for close in reversed(closers):
                close()
            closers.clear()
    finally:
        for close in reversed(closers):
            close()
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (database,),
            )
            conn.execute(f"DROP DATABASE {database}".encode())
    out = []
    for name, series in timings.items():
        backend = name.split(":", 1)[0]
        floor_wall = statistics.median(
            w for w, _ in timings[f"{backend}: floor, a new table from the data"]
        )
        wall = statistics.median(w for w, _ in series)
        out.append(
            {
                "case": name,
                "rows": rows,
                "runs": len(series),
                "s": round(wall, 3),
                "CPU s": round(statistics.median(c for _, c in series), 3),
                "rows/s": int(rows / wall),
                "x floor": round(wall / floor_wall, 2),
            }
        )
    return out
