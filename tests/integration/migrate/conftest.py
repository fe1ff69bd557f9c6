"""Helpers for migration tests: run SQL on the MariaDB source and read the PostgreSQL target."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pymysql
import pytest

pytestmark = pytest.mark.services


class MySQL:
    """A pymysql connection to the test's MariaDB database."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.database = parts.path.strip("/")
        self.conn = pymysql.connect(
            host=parts.hostname,
            port=parts.port or 3306,
            user=parts.username or "root",
            password=parts.password or "",
            database=self.database,
            charset="utf8mb4",
            autocommit=True,
        )

    def run(self, *statements: str, params: Any = None) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        with self.conn.cursor() as cur:
            for sql in statements:
                cur.execute(sql, params)
                rows = list(cur.fetchall())
        return rows

    def close(self) -> None:
        self.conn.close()


class Postgres:
    """An autocommit psycopg connection to the test's PostgreSQL database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn = psycopg.connect(url, autocommit=True)

    def rows(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, params).fetchall()

    def one(self, sql: str, params: Any = None) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def checksum(self, table: str, key: str = "id") -> str:
        return str(self.one(f"SELECT md5(string_agg(t::text, '|' ORDER BY {key})) FROM {table} t"))

    def tables(self, schema: str) -> list[str]:
        return [
            r[0]
            for r in self.rows(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1", (schema,)
            )
        ]

    def state(self, table: str, schema: str = "app") -> tuple[Any, ...] | None:
        rows = self.rows(
            "SELECT cursor_column, cursor_value, mode, rows_written "
            f"FROM {schema}.tasuki_migrate_state WHERE target_table = %s",
            (table,),
        )
        return rows[0] if rows else None

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def mysql(mariadb_url: str) -> Iterator[MySQL]:
    conn = MySQL(mariadb_url)
    yield conn
    conn.close()


@pytest.fixture
def pg(postgres_url: str) -> Iterator[Postgres]:
    conn = Postgres(postgres_url)
    yield conn
    conn.close()


USERS = """
CREATE TABLE users (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(50) NOT NULL,
  email VARCHAR(100),
  score DECIMAL(8,2),
  updated_at DATETIME(6) NOT NULL,
  UNIQUE KEY users_email (email),
  KEY users_updated (updated_at)
)
"""


def seed_users(mysql: MySQL, count: int, *, start: int = 1, when: str = "2024-01-01") -> None:
    """Insert users ``start .. start+count-1``, one second apart from ``when``."""
    mysql.run(
        "INSERT INTO users (id, name, email, score, updated_at) "
        f"SELECT seq, CONCAT('user ', seq), CONCAT('u', seq, '@example.com'), seq / 4, "
        f"TIMESTAMP(%s) + INTERVAL seq SECOND FROM seq_{start}_to_{start + count - 1}",
        params=(when,),
    )


@pytest.fixture
def users(mysql: MySQL) -> MySQL:
    """A source ``users`` table with 500 rows, a unique and a plain secondary index."""
    mysql.run(USERS)
    seed_users(mysql, 500)
    return mysql
