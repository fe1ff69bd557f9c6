"""Type mapping, real MariaDB -> real PostgreSQL: every documented mapping, edge values included."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from tasuki.migrate import TableSpec, migrate_table

from .conftest import MySQL, Postgres

pytestmark = pytest.mark.services

ALL_TYPES = """
CREATE TABLE all_types (
  id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  flag TINYINT(1),
  ti TINYINT,
  tu TINYINT UNSIGNED,
  si SMALLINT,
  su SMALLINT UNSIGNED,
  mi MEDIUMINT,
  mu MEDIUMINT UNSIGNED,
  i INT,
  iu INT UNSIGNED,
  bi BIGINT,
  dec_small DECIMAL(10,2),
  dec_zero DECIMAL(5,0),
  dec_frac DECIMAL(4,4),
  dec_wide DECIMAL(30,10),
  dec_huge DECIMAL(65,30),
  f FLOAT,
  d DOUBLE,
  dt DATE,
  dtt DATETIME(6),
  ts TIMESTAMP(3) NULL DEFAULT NULL,
  tm TIME(6),
  yr YEAR,
  ch CHAR(5),
  vc VARCHAR(20),
  tx TEXT,
  e ENUM('small','large'),
  st SET('x','y','z'),
  j JSON,
  bl BLOB,
  bn BINARY(4),
  vb VARBINARY(10),
  b1 BIT(1),
  b8 BIT(8)
) CHARACTER SET utf8mb4
"""

EXPECTED_TYPES = {
    "id": "numeric(20,0)",
    "flag": "boolean",
    "ti": "smallint",
    "tu": "smallint",
    "si": "smallint",
    "su": "integer",
    "mi": "integer",
    "mu": "integer",
    "i": "integer",
    "iu": "bigint",
    "bi": "bigint",
    "dec_small": "numeric(10,2)",
    "dec_zero": "numeric(5,0)",
    "dec_frac": "numeric(4,4)",
    "dec_wide": "numeric(30,10)",
    "dec_huge": "numeric(65,30)",
    "f": "real",
    "d": "double precision",
    "dt": "date",
    "dtt": "timestamp without time zone",
    "ts": "timestamp with time zone",
    "tm": "interval",
    "yr": "smallint",
    "ch": "character varying(5)",
    "vc": "character varying(20)",
    "tx": "text",
    "e": "text",
    "st": "text",
    "j": "jsonb",
    "bl": "bytea",
    "bn": "bytea",
    "vb": "bytea",
    "b1": "boolean",
    "b8": "bigint",
}

COLUMNS = list(EXPECTED_TYPES)


def _insert(mysql: MySQL, values: dict[str, object]) -> None:
    cols = ", ".join(f"`{c}`" for c in values)
    marks = ", ".join(["%s"] * len(values))
    mysql.run(f"INSERT INTO all_types ({cols}) VALUES ({marks})", params=tuple(values.values()))


@pytest.fixture
def typed_source(mysql: MySQL) -> MySQL:
    # Zero dates need a permissive sql_mode to be inserted at all; the TIMESTAMP is written
    # in +09:00 so the test proves the copier reads it back as the UTC instant.
    mysql.run("SET SESSION sql_mode = ''", "SET SESSION time_zone = '+09:00'", ALL_TYPES)
    _insert(
        mysql,
        {
            "id": 18446744073709551615,
            "flag": 1,
            "ti": -128,
            "tu": 255,
            "si": -32768,
            "su": 65535,
            "mi": -8388608,
            "mu": 16777215,
            "i": -2147483648,
            "iu": 4294967295,
            "bi": -9223372036854775808,
            "dec_small": "-12345678.99",
            "dec_zero": "-99999",
            "dec_frac": "0.9999",
            "dec_wide": "12345678901234567890.0123456789",
            "dec_huge": "-12345678901234567890123456789012345.123456789012345678901234567891",
            "f": 1.5,
            "d": 2.25e300,
            "dt": "2024-02-29",
            "dtt": "2024-01-02 03:04:05.123456",
            "ts": "2024-06-01 21:00:00.500",
            "tm": "-838:59:59.000000",
            "yr": 2024,
            "ch": "ab",
            "vc": "",
            "tx": "emoji 😀 and 絵文字 and 'quotes' \\ backslash\ttab\nnewline",
            "e": "large",
            "st": "x,z",
            "j": '{"a": [1, 2, {"b": null}], "e": "😀"}',
            "bl": b"\x00\xff\x10",
            "bn": b"\x01\x02\x03\x04",
            "vb": b"",
            "b1": b"\x01",
            "b8": b"\xaa",
        },
    )
    _insert(
        mysql,
        {
            "id": 9223372036854775808,
            "flag": 0,
            "dec_small": "0.01",
            "dec_zero": "0",
            "dec_frac": "-0.0001",
            "dec_wide": "-0.0000000001",
            "dec_huge": "0",
            "dt": "0000-00-00",
            "dtt": "0000-00-00 00:00:00",
            "ts": "0000-00-00 00:00:00",
            "tm": "12:34:56.789000",
            "vc": "😀 絵文字",
            "j": "[]",
            "b1": b"\x00",
        },
    )
    _insert(mysql, {"id": 1, "dt": "2024-00-10", "dtt": "2024-05-00 10:00:00"})  # partial zeros
    return mysql


def test_every_mapping_round_trips(typed_source: MySQL, mariadb_url: str, pg: Postgres) -> None:
    result = migrate_table(mariadb_url, pg.url, TableSpec(name="all_types"), schema="app")
    assert (result.rows_read, result.rows_written) == (3, 3)

    types = dict(
        pg.rows(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "WHERE a.attrelid = 'app.all_types'::regclass AND a.attnum > 0 ORDER BY a.attnum"
        )
    )
    assert types == EXPECTED_TYPES

    cols = ", ".join(COLUMNS)
    rows = {r[0]: dict(zip(COLUMNS, r)) for r in pg.rows(f"SELECT {cols} FROM app.all_types")}
    big = rows[Decimal(18446744073709551615)]
    assert big["flag"] is True
    assert (big["ti"], big["tu"], big["si"], big["su"]) == (-128, 255, -32768, 65535)
    assert (big["mi"], big["mu"], big["i"], big["iu"]) == (
        -8388608,
        16777215,
        -2147483648,
        4294967295,
    )
    assert big["bi"] == -9223372036854775808
    assert big["dec_small"] == Decimal("-12345678.99")
    assert big["dec_zero"] == Decimal("-99999")
    assert big["dec_frac"] == Decimal("0.9999")
    assert str(big["dec_wide"]) == "12345678901234567890.0123456789"
    assert str(big["dec_huge"]) == (
        "-12345678901234567890123456789012345.123456789012345678901234567891"
    )
    assert big["f"] == 1.5
    assert big["d"] == 2.25e300
    assert big["dt"] == date(2024, 2, 29)
    assert big["dtt"] == datetime(2024, 1, 2, 3, 4, 5, 123456)
    assert big["ts"] == datetime(2024, 6, 1, 12, 0, 0, 500000, tzinfo=UTC)
    assert big["tm"] == -timedelta(hours=838, minutes=59, seconds=59)
    assert big["yr"] == 2024
    assert big["ch"] == "ab"
    assert big["vc"] == ""  # empty string stays an empty string ...
    assert big["tx"] == "emoji 😀 and 絵文字 and 'quotes' \\ backslash\ttab\nnewline"
    assert (big["e"], big["st"]) == ("large", "x,z")
    assert big["j"] == {"a": [1, 2, {"b": None}], "e": "😀"}
    assert bytes(big["bl"]) == b"\x00\xff\x10"
    assert bytes(big["bn"]) == b"\x01\x02\x03\x04"
    assert bytes(big["vb"]) == b""
    assert (big["b1"], big["b8"]) == (True, 0xAA)

    above = rows[Decimal(9223372036854775808)]  # 2**63: does not fit a signed bigint
    assert above["flag"] is False
    assert above["dec_frac"] == Decimal("-0.0001")
    assert above["dec_wide"] == Decimal("-0.0000000001")
    assert above["dec_huge"] == 0
    assert (above["dt"], above["dtt"], above["ts"]) == (None, None, None)  # zero dates
    assert above["tm"] == timedelta(hours=12, minutes=34, seconds=56, microseconds=789000)
    assert above["vc"] == "😀 絵文字"
    assert above["j"] == []
    assert above["b1"] is False
    assert above["ti"] is None and above["tx"] is None and above["vb"] is None  # ... and NULL NULL

    partial = rows[Decimal(1)]
    assert (partial["dt"], partial["dtt"]) == (None, None)  # '2024-00-10', '2024-05-00 ...'
    assert partial["flag"] is None and partial["vc"] is None

    # PostgreSQL's own text form keeps every digit and the declared scale.
    assert pg.rows(
        "SELECT dec_wide::text, dec_small::text, dec_huge::text FROM app.all_types WHERE id = 2^63"
    ) == [("-0.0000000001", "0.01", "0.000000000000000000000000000000")]

    # NULL and '' stay distinct in SQL too, not only through the Python driver.
    assert pg.one("SELECT count(*) FROM app.all_types WHERE vc = ''") == 1
    assert pg.one("SELECT count(*) FROM app.all_types WHERE vc IS NULL") == 1


def test_decimals_are_exact_for_many_random_values(
    mysql: MySQL, mariadb_url: str, pg: Postgres
) -> None:
    rng = random.Random(20240601)
    shapes = {"d18": (18, 6), "d12": (12, 0), "d38": (38, 12), "d65": (65, 20), "d10": (10, 10)}
    mysql.run(
        "CREATE TABLE nums (id INT PRIMARY KEY, "
        + ", ".join(f"{c} DECIMAL({p},{s})" for c, (p, s) in shapes.items())
        + ")"
    )

    def value(p: int, s: int) -> str | None:
        if rng.random() < 0.05:
            return None
        digits = rng.randint(1, p)
        n = rng.randint(0, 10**digits - 1)
        text = str(n).rjust(s + 1, "0")
        whole, frac = (text[:-s], text[-s:]) if s else (text, "")
        whole = whole[-(p - s) :] if p > s else "0"
        sign = "-" if rng.random() < 0.5 else ""
        return f"{sign}{whole or '0'}" + (f".{frac}" if frac else "")

    expected = {}
    rows = []
    for i in range(400):
        vals = {c: value(p, s) for c, (p, s) in shapes.items()}
        rows.append((i, *vals.values()))
        expected[i] = {c: (Decimal(v) if v is not None else None) for c, v in vals.items()}
    marks = ", ".join(["%s"] * (len(shapes) + 1))
    with mysql.conn.cursor() as cur:
        cur.executemany(f"INSERT INTO nums VALUES ({marks})", rows)

    # Small batches so values straddle several COPY batches.
    migrate_table(mariadb_url, pg.url, TableSpec(name="nums"), schema="app", batch_rows=37)

    got = pg.rows(f"SELECT id, {', '.join(shapes)} FROM app.nums")
    assert len(got) == 400
    for row in got:
        assert dict(zip(shapes, row[1:])) == expected[row[0]], row[0]
