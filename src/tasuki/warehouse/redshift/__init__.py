"""The Redshift warehouse backend (``redshift://user:pw@host:5439/db`` + ``s3_staging``)."""

from __future__ import annotations

from tasuki.warehouse.redshift._unload import unload_sql
from tasuki.warehouse.redshift.warehouse import RedshiftWarehouse

__all__ = ["RedshiftWarehouse", "unload_sql"]
