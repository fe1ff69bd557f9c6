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


def run(quick: bool = False, repeat: int = 3, rows: int | None = None) -> list[dict[str, Any]]:
    """Time each case ``repeat`` times, interleaved; one row per case."""
    import psycopg

    from tasuki.warehouse import PostgresWarehouse

    rows = rows or (100_000 if quick else 1_000_000)
    data, other = _table(rows), _table(rows, other=True)
    database = f"tasuki_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {database}".encode())
    url = f"postgresql://postgres@127.0.0.1:5432/{database}?allow_privileged=true"
    wh = PostgresWarehouse.from_url(url)
    try:
        import adbc_driver_postgresql.dbapi as adbc

        floor_conn = adbc.connect(url.split("?", 1)[0])

        def floor() -> None:
            with floor_conn.cursor() as cur:
                cur.adbc_ingest("floor_t", data, mode="create")
            floor_conn.commit()

        def after_floor() -> None:
            with floor_conn.cursor() as cur:
                cur.execute("DROP TABLE floor_t")
            floor_conn.commit()

        wh.write_table("kept", data)
        cases: list[tuple[str, Callable[[], object], Callable[[], object] | None, Any]] = [
            ("floor: ingest into a new table", floor, None, after_floor),
            ("replace, the table's columns", lambda: wh.write_table("kept", data), None, None),
            (
                "replace, other columns",
                lambda: wh.write_table("anew", data),
                lambda: wh.write_table("anew", other),
                None,
            ),
            ("append", lambda: wh.write_table("grows", data, mode="append"), None, None),
        ]
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
        floor_conn.close()
    finally:
        close = getattr(wh, "close", None)
        if close is not None:
            close()
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (database,),
            )
            conn.execute(f"DROP DATABASE {database}".encode())
    floor_wall = statistics.median(w for w, _ in timings[cases[0][0]])
    out = []
    for name, series in timings.items():
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
