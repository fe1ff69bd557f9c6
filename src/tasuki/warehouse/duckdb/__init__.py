"""The DuckDB warehouse backend (``duckdb:///path/to.db``, ``duckdb://`` in memory)."""

from __future__ import annotations

from tasuki.warehouse.duckdb.warehouse import DuckDBWarehouse

__all__ = ["DuckDBWarehouse"]
