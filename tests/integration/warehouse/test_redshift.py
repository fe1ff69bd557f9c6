"""Redshift: the UNLOAD statement emitted, and parts plus manifest read back from S3."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
import sqlglot

from tasuki.errors import (
    ConfigError,
    PermissionDeniedError,
    QueryTimeoutError,
    UnsafeQueryError,
    WarehouseError,
)
from tasuki.warehouse import QueryResult, RedshiftWarehouse, connect
from tasuki.warehouse.redshift._roles import OWNED_SQL, USER_SQL

from .conftest import DatabaseError, RecordingRedshift, unload_strings

ROLE = "arn:aws:iam::123456789012:role/unload"


def _wh(
    conn: RecordingRedshift, staging: str, storage_options: dict[str, Any], **options: Any
) -> RedshiftWarehouse:
    wh = connect(
        "redshift://analyst:pw@example-cluster:5439/dev",
        s3_staging=staging,
        iam_role=ROLE,
        storage_options=storage_options,
        connection_factory=conn,
        **options,
    )
    assert isinstance(wh, RedshiftWarehouse)
    return wh


def test_unload_statement_shape(sales: Any, staging: str, storage_options: dict[str, Any]) -> None:
    conn = RecordingRedshift(sales, storage_options)
    wh = _wh(conn, staging, storage_options)
    result = wh.query("SELECT id, seller FROM sales WHERE amount >= :min", {"min": 50}, timeout=90)
    # The first query checks the user's privileges on the same connection, before UNLOAD.
    set_timeout, user, owned, unload = conn.statements
    assert set_timeout == "SET statement_timeout TO 90000"
    assert (user, owned) == (USER_SQL, OWNED_SQL)
    location = f"{staging}/{result.query_id}/"
    assert unload == (
        "UNLOAD ('SELECT id, seller FROM sales WHERE amount >= 50') "
        f"TO '{location}' IAM_ROLE '{ROLE}' FORMAT PARQUET PARALLEL ON MAXFILESIZE 256 MB "
        "MANIFEST VERBOSE"
    )
    assert conn.committed and conn.closed
    # The parts Redshift wrote are read back through the manifest.
    assert result.num_rows == 6 and len(result.parts) == 2
    assert [p.rows for p in result.parts] == [3, 3]
    assert all(p.path.startswith(location) for p in result.parts)
    assert sorted(result.to_arrow().column("id").to_pylist()) == [5, 6, 7, 8, 9, 10]
    # Our own manifest sits beside Redshift's and reopens the result.
    again = QueryResult.from_manifest(f"{location}_manifest.json", storage_options=storage_options)
    assert again.to_arrow().equals(result.to_arrow())
    assert again.manifest.backend == "redshift"


HOSTILE = [
    "o'brien",
    "x'); DELETE FROM sales; --",
    "back\\slash",
    "\\'); DROP TABLE sales; --",
    "'') TO 's3://evil/' --",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_parameters_cannot_break_out_of_the_unload_string(
    sales: Any, staging: str, storage_options: dict[str, Any], value: str
) -> None:
    conn = RecordingRedshift(sales, storage_options)
    wh = _wh(conn, staging, storage_options)
    result = wh.query("SELECT id FROM sales WHERE seller = :s", {"s": value})
    unload = conn.statements[-1]
    # One statement; its first string is the query, its second the target we chose.
    assert len(sqlglot.parse(unload, read="redshift")) == 1
    strings = unload_strings(unload)
    assert strings[1] == f"{staging}/{result.query_id}/" and strings[2] == ROLE
    inner = sqlglot.parse(strings[0], read="redshift")
    assert len(inner) == 1
    assert inner[0].args["where"].this.expression.this == value
    expected = [r["id"] for r in sales["sales"].to_pylist() if r["seller"] == value]
    assert result.to_arrow().column("id").to_pylist() == expected


def test_an_empty_result_takes_its_schema_from_the_manifest(
    sales: Any, staging: str, storage_options: dict[str, Any]
) -> None:
    conn = RecordingRedshift(sales, storage_options)
    result = _wh(conn, staging, storage_options).query("SELECT id, seller FROM sales WHERE id < 0")
    assert result.num_rows == 0 and result.parts == ()
    assert result.schema == pa.schema([("id", pa.int64()), ("seller", pa.string())])
    assert result.to_arrow().num_rows == 0


def test_refusals_and_errors(sales: Any, staging: str, storage_options: dict[str, Any]) -> None:
    conn = RecordingRedshift(sales, storage_options)
    wh = _wh(conn, staging, storage_options)
    with pytest.raises(UnsafeQueryError):
        wh.query("UNLOAD ('select 1') TO 's3://x/'")
    assert conn.statements == []  # nothing reached the cluster
    denied = RecordingRedshift(
        sales,
        storage_options,
        fail_with=DatabaseError("permission denied for relation sales", "42501"),
    )
    with pytest.raises(PermissionDeniedError, match="sales"):
        _wh(denied, staging, storage_options).query("SELECT * FROM sales")
    timed_out = RecordingRedshift(
        sales,
        storage_options,
        fail_with=DatabaseError("canceling statement due to statement timeout", "57014"),
    )
    with pytest.raises(QueryTimeoutError):
        _wh(timed_out, staging, storage_options).query("SELECT * FROM sales", timeout=1)


def test_configuration_is_checked() -> None:
    with pytest.raises(ConfigError, match="s3_staging"):
        connect("redshift://u@h/db", iam_role=ROLE)  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="iam_role"):
        RedshiftWarehouse("redshift://u@h/db", s3_staging="s3://b/p", iam_role="")
    with pytest.raises(ConfigError, match="between 5 and 6200"):
        RedshiftWarehouse(
            "redshift://u@h/db", s3_staging="s3://b/p", iam_role=ROLE, max_file_size_mb=1
        )
    wh = RedshiftWarehouse("redshift://u:secret@h/db", s3_staging="s3://b/p/", iam_role="default")
    assert "secret" not in repr(wh)
    assert "IAM_ROLE default " in wh.unload_statement("SELECT 1", query_id="q")


def test_a_superuser_or_an_owner_is_refused_before_the_unload(
    sales: Any, staging: str, storage_options: dict[str, Any]
) -> None:
    superuser = RecordingRedshift(sales, storage_options, user=("admin", True))
    with pytest.raises(WarehouseError, match="Redshift role 'admin': it is a superuser") as info:
        _wh(superuser, staging, storage_options).query("SELECT id FROM sales")
    assert info.value.role == "admin" and info.value.option == "allow_privileged"
    assert "allow_privileged=True" in str(info.value) and "pw" not in str(info.value)
    # A superuser is not asked what it owns, and no UNLOAD was sent.
    assert superuser.statements[1:] == [USER_SQL] and not superuser.committed
    owner = RecordingRedshift(
        sales,
        storage_options,
        owned=(("public", "sales", "r"), ("public", "v", "v"), ("s", "a", "r"), ("s", "b", "r")),
    )
    with pytest.raises(WarehouseError) as info:
        _wh(owner, staging, storage_options).query("SELECT id FROM sales")
    assert info.value.privileges == [
        "owns table public.sales",
        "owns view public.v",
        "owns table s.a",
        "owns more relations",
    ]
    assert not any(s.startswith("UNLOAD") for s in owner.statements)


def test_allow_privileged_skips_the_check_and_a_reader_is_checked_once(
    sales: Any, staging: str, storage_options: dict[str, Any]
) -> None:
    superuser = RecordingRedshift(sales, storage_options, user=("admin", True))
    wh = _wh(superuser, staging, storage_options, allow_privileged=True)
    assert wh.query("SELECT id FROM sales").num_rows == 10
    assert USER_SQL not in superuser.statements
    from_url = RecordingRedshift(sales, storage_options, user=("admin", True))
    wh = connect(
        "redshift://admin:pw@example-cluster:5439/dev?allow_privileged=true",
        s3_staging=staging,
        iam_role=ROLE,
        storage_options=storage_options,
        connection_factory=from_url,
    )
    assert isinstance(wh, RedshiftWarehouse) and wh.allow_privileged
    assert "allow_privileged" not in wh.dsn and "allow_privileged" not in wh.url
    assert wh.query("SELECT id FROM sales").num_rows == 10
    reader = RecordingRedshift(sales, storage_options)
    wh = _wh(reader, staging, storage_options)
    wh.query("SELECT id FROM sales")
    wh.query("SELECT id FROM sales")
    assert reader.statements.count(USER_SQL) == 1 and reader.statements.count(OWNED_SQL) == 1
