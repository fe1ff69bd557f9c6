"""Pieces every built-in backend shares: context management, timeouts, finishing a result."""

from __future__ import annotations

import datetime as dt
import logging
import math
from typing import TYPE_CHECKING, Any

from tasuki._clock import utcnow
from tasuki._redact import redact
from tasuki.errors import WarehouseError
from tasuki.warehouse._result import Manifest, PartInfo, QueryResult, jsonable

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from types import TracebackType
    from typing import Self

    import pyarrow as pa

    from tasuki.warehouse._safety import CheckedQuery
    from tasuki.warehouse.base import Params

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_TIMEOUT",
    "BaseWarehouse",
    "check_timeout",
    "redact",
    "timeout_ms",
    "utcnow",
]

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 3600.0
"""Seconds a statement may run unless the warehouse or the call says otherwise."""


MAX_TIMEOUT = 2_147_483.647
"""The largest timeout, in seconds: PostgreSQL's and Redshift's largest ``statement_timeout``
(2**31 - 1 ms, about 24.8 days)."""


def check_timeout(timeout: float | None, default: float) -> float:
    """The timeout to use (``timeout``, or ``default`` when it is None), validated.

    A timeout is a number of seconds greater than 0 and at most :data:`MAX_TIMEOUT`. Every
    other value is refused, not mapped: 0, a negative number, NaN and infinity (which a
    server would read as "no limit" or reject), a bool, a string, and a number past the
    largest limit the servers accept. Tiny values are allowed; :func:`timeout_ms` rounds
    them up to 1 ms.

    Raises:
        WarehouseError: With ``parameter="timeout"`` and the ``timeout`` given.
    """
    value = default if timeout is None else timeout
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 < value <= MAX_TIMEOUT
    ):
        raise WarehouseError(
            f"timeout must be a positive number of seconds, at most {MAX_TIMEOUT} "
            f"(about 24.8 days), got {value!r}; there is no 'no timeout' value",
            parameter="timeout",
            timeout=value,
        )
    return float(value)


def timeout_ms(seconds: float) -> int:
    """``seconds`` (from :func:`check_timeout`) as the server's whole milliseconds.

    Rounded up, never down, and at least 1: ``statement_timeout = 0`` means no limit to
    PostgreSQL and Redshift, so a tiny timeout must not become 0. The product is rounded to
    a nanosecond first, so ``0.57`` is 570 ms, not 571.
    """
    return min(max(1, math.ceil(round(seconds * 1000, 6))), 2**31 - 1)


class BaseWarehouse:
    """Context management, the query check and result bookkeeping for the built-in
    backends."""

    backend: str = ""
    dialect: str = ""
    #: Function names allowed beyond the dialect's allow list (the ``allow_functions``
    #: option, checked by :func:`tasuki.warehouse._functions.allow_list` when set).
    allow_functions: frozenset[str] = frozenset()

    def _allow(self, names: Iterable[str]) -> None:
        """Take the ``allow_functions`` option; refused names fail here, at connect time."""
        from tasuki.warehouse._functions import allow_list

        self.allow_functions = allow_list(names)

    def _check(self, sql: str) -> CheckedQuery:
        """The read-only check every query passes, with this warehouse's allowed functions."""
        from tasuki.warehouse._safety import check_query

        return check_query(sql, dialect=self.dialect, allow_functions=self.allow_functions)

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
