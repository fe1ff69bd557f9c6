"""The BigQuery warehouse backend (``bigquery://project/dataset`` + ``gcs_staging``)."""

from __future__ import annotations

from tasuki.warehouse.bigquery.warehouse import BigQueryWarehouse, export_sql

__all__ = ["BigQueryWarehouse", "export_sql"]
