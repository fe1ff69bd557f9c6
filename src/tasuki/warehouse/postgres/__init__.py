"""The PostgreSQL warehouse backend (``postgresql://user@host:5432/db``)."""

from __future__ import annotations

from tasuki.warehouse.postgres.warehouse import PostgresWarehouse

__all__ = ["PostgresWarehouse"]
