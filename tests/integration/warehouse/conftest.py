"""Stand-ins for Redshift and BigQuery that do the real work their statements ask for.

They are small real DB-API / client classes, not mocks: each records the SQL it is sent and
carries out ``UNLOAD`` / ``EXPORT DATA`` the way the cloud warehouse does, by running the
quoted SELECT on DuckDB over the given tables and writing real Parquet files (and, for
Redshift, a ``MANIFEST VERBOSE`` JSON) to the real S3 endpoint (moto's server) named in the
statement. The tests then read those parts through the backend's normal path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

from tasuki.warehouse.redshift._roles import OWNED_SQL, USER_SQL
from tests._s3 import S3_ENV


@pytest.fixture
def storage_options(s3_workspace: str, s3_endpoint: str) -> dict[str, Any]:
    return {
        "endpoint_url": s3_endpoint,
        "key": S3_ENV["AWS_ACCESS_KEY_ID"],
        "secret": S3_ENV["AWS_SECRET_ACCESS_KEY"],
    }


def _fs(storage_options: dict[str, Any]) -> Any:
    import s3fs

    return s3fs.S3FileSystem(
        key=storage_options["key"],
        secret=storage_options["secret"],
        client_kwargs={"endpoint_url": storage_options["endpoint_url"]},
        skip_instance_cache=True,
    )


def _run_select(select: str, read: str, tables: dict[str, pa.Table]) -> pa.Table:
    tree = sqlglot.parse_one(select, read=read)
    for table in tree.find_all(exp.Table):  # the emulator keeps every table in one schema
        table.set("catalog", None)
        table.set("db", None)
    con = duckdb.connect()
    for name, data in tables.items():
        con.register(name, data)
    return con.sql(tree.sql("duckdb")).to_arrow_table()


class DatabaseError(Exception):
    """Like a driver error: carries the server's SQLSTATE."""

    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def unload_strings(statement: str) -> list[str]:
    """The string literals of an UNLOAD statement, unescaped by Redshift's rules.

    sqlglot keeps UNLOAD as an opaque command, so the text after the keyword is tokenized.
    """
    assert statement.startswith("UNLOAD ")
    tokens = Dialect.get_or_raise("redshift").tokenize(statement[len("UNLOAD ") :])
    return [t.text for t in tokens if t.token_type.name == "STRING"]


class RecordingRedshift:
    """A DB-API 2.0 connection that records statements and performs UNLOAD.

    It answers the query path's privilege check (``pg_user``, the relations the user owns)
    from ``user`` (name, usesuper) and ``owned`` ((schema, table, relkind) rows).
    """

    def __init__(
        self,
        tables: dict[str, pa.Table],
        storage_options: dict[str, Any],
        *,
        slices: int = 2,
        fail_with: DatabaseError | None = None,
        user: tuple[str, bool] = ("analyst", False),
        owned: tuple[tuple[str, str, str], ...] = (),
    ) -> None:
        self.tables = tables
        self.storage_options = storage_options
        self.slices = slices
        self.fail_with = fail_with
        self.user = user
        self.owned = owned
        self.rows: list[tuple[Any, ...]] = []
        self.statements: list[str] = []
        self.committed = self.closed = False

    def __call__(self) -> RecordingRedshift:  # used as the connection factory
        return self

    def cursor(self) -> RecordingRedshift:
        return self

    def execute(self, sql: str, params: Any = None) -> None:
        self.statements.append(sql)
        if sql.startswith("SET statement_timeout TO "):
            return
        if sql == USER_SQL:
            self.rows = [self.user]
            return
        if sql == OWNED_SQL:
            self.rows = list(self.owned)
            return
        if self.fail_with is not None:
            raise self.fail_with
        if not sql.startswith("UNLOAD ("):
            raise DatabaseError(f"unexpected statement {sql[:40]!r}", "42601")
        select, target, role = unload_strings(sql)[:3]
        assert role.startswith("arn:aws:iam::")
        result = _run_select(select, "redshift", self.tables)
        fs = _fs(self.storage_options)
        entries = []
        per_slice = -(-result.num_rows // self.slices) if result.num_rows else 0
        for i in range(self.slices if result.num_rows else 0):
            chunk = result.slice(i * per_slice, per_slice)
            url = f"{target}{i:04d}_part_00.parquet"
            with fs.open(url, "wb") as f:
                pq.write_table(chunk, f)
            entries.append(
                {
                    "url": url,
                    "meta": {"content_length": fs.size(url), "record_count": chunk.num_rows},
                }
            )
        manifest = {
            "entries": entries,
            "schema": {
                "elements": [
                    {
                        "name": f.name,
                        "type": {
                            "base": "bigint" if pa.types.is_integer(f.type) else "character varying"
                        },
                    }
                    for f in result.schema
                ]
            },
            "meta": {"record_count": result.num_rows},
        }
        with fs.open(f"{target}manifest", "w") as f:
            f.write(json.dumps(manifest))

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows, self.rows = self.rows, []
        return rows

    def commit(self) -> None:
        self.committed = True

    def rollback(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


class RecordingBigQuery:
    """A BigQuery client stand-in: records jobs and performs EXPORT DATA."""

    def __init__(self, tables: dict[str, pa.Table], storage_options: dict[str, Any]) -> None:
        self.tables = tables
        self.storage_options = storage_options
        self.statements: list[str] = []
        self.job_configs: list[Any] = []

    def query(self, sql: str, job_config: Any = None) -> Job:
        self.statements.append(sql)
        self.job_configs.append(job_config)
        return Job(self, sql)


class Job:
    def __init__(self, client: RecordingBigQuery, sql: str) -> None:
        self.client, self.sql = client, sql
        self.cancelled = False

    def result(self, timeout: float | None = None) -> None:
        match = re.match(r"EXPORT DATA OPTIONS\((.*?)\) AS (SELECT .*)$", self.sql, re.S)
        assert match, self.sql
        options, select = match.groups()
        uri = re.search(r"uri='([^']*)'", options).group(1)  # type: ignore[union-attr]
        assert "format='PARQUET'" in options and uri.count("*") == 1
        result = _run_select(select, "bigquery", self.client.tables)
        fs = _fs(self.client.storage_options)
        half = max(1, -(-result.num_rows // 2))
        for i, start in enumerate(range(0, max(result.num_rows, 1), half)):
            with fs.open(uri.replace("*", f"{i:012d}"), "wb") as f:
                pq.write_table(result.slice(start, half), f, compression="zstd")

    def cancel(self) -> None:
        self.cancelled = True


@pytest.fixture
def sales() -> dict[str, pa.Table]:
    return {
        "sales": pa.table(
            {
                "id": pa.array(range(1, 11), pa.int64()),
                "seller": [
                    "o'brien",
                    "smith",
                    "back\\slash",
                    "",
                    None,
                    "smith",
                    "a",
                    "b",
                    "c",
                    "d",
                ],
                "amount": pa.array([10 * i for i in range(1, 11)], pa.int64()),
            }
        )
    }


@pytest.fixture
def staging(s3_workspace: str) -> Iterator[str]:
    yield s3_workspace.replace("/ws", "/unload")
