"""Pieces every built-in backend shares: context management, timeouts, finishing a result."""

from __future__ import annotations

import datetime as dt
import logging
import math
from typing import TYPE_CHECKING, Any

from tasuki._redact import redact
from tasuki.errors import WarehouseError
from tasuki.warehouse._result import Manifest, PartInfo, QueryResult, jsonable

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType
    from typing import Self

    import pyarrow as pa

    from tasuki.warehouse._safety import CheckedQuery
    from tasuki.warehouse.base import Params

__all__ = ["DEFAULT_TIMEOUT", "BaseWarehouse", "redact", "utcnow"]

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 3600.0
"""Seconds a statement may run unless the warehouse or the call says otherwise."""


def utcnow() -> dt.datetime:
    """The current time in UTC."""
    return dt.datetime.now(dt.UTC)


def check_timeout(timeout: float | None, default: float) -> float:
    """The timeout to use, validated."""
    value = default if timeout is None else timeout
    if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise WarehouseError(
            f"timeout must be a positive number of seconds, got {value!r}", timeout=value
        )
    return float(value)


class BaseWarehouse:
    """Context management and result bookkeeping for the built-in backends."""

    backend: str = ""
    dialect: str = ""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release resources."""

    def _result(
        self,
        *,
        query_id: str,
        checked: CheckedQuery,
        params: Params | None,
        schema: pa.Schema,
        parts: list[PartInfo],
        location: str,
        snapshot_at: dt.datetime,
        storage_options: Mapping[str, Any] | None,
        extra: Mapping[str, Any] | None = None,
    ) -> QueryResult:
        manifest = Manifest(
            query_id=query_id,
            backend=self.backend,
            sql=checked.normalized,
            schema=schema,
            parts=tuple(parts),
            snapshot_at=snapshot_at,
            finished_at=utcnow(),
            location=location,
            params=jsonable(params) if params else None,
            extra=dict(extra or {}),
        )
        result = QueryResult(manifest, storage_options=storage_options)
        # The manifest is written last: a result directory without one is incomplete.
        result.save_manifest()
        logger.debug(
            "query %s: %d rows in %d parts at %s",
            query_id,
            manifest.total_rows,
            len(parts),
            location,
        )
        return result
