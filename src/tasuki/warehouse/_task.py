"""Warehouse pulls as pipeline steps: :class:`QueryTask`.

The output is the unloaded result as a folder of Parquet parts in the workspace, cached under
an id made of the *normalised* SQL (whitespace, comments and keyword case do not matter), the
bound parameters, the warehouse, and a declared freshness: a time bucket (``freshness``, one
day by default, so the pull is repeated at most once a day) or an explicit ``as_of`` such as a
table version.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Literal

from tasuki.core.params import param
from tasuki.core.task import Task
from tasuki.errors import ConfigError
from tasuki.warehouse._safety import check_query

if TYPE_CHECKING:
    from tasuki.config import Settings

__all__ = ["QueryTask", "freshness_bucket"]

ParamValue = str | int | float | bool | None

_DIALECTS = {
    "duckdb": "duckdb",
    "postgresql": "postgres",
    "postgres": "postgres",
    "redshift": "redshift",
    "bigquery": "bigquery",
}


def freshness_bucket(freshness: dt.timedelta, now: dt.datetime | None = None) -> str:
    """The start of the UTC time bucket ``now`` falls in, as ISO 8601."""
    now = now or dt.datetime.now(dt.UTC)
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    step = freshness.total_seconds()
    start = epoch + dt.timedelta(seconds=(now - epoch).total_seconds() // step * step)
    return start.isoformat()


def _resolve(warehouse: str, settings: Settings | None = None) -> str:
    """The URL of ``warehouse``: a URL as it is, or a name looked up in ``[warehouses]``.

    Names are looked up in ``settings``; by default in those of the build running this code
    (a task's ``output()`` and ``run()`` are not handed them, and reading them again here would
    be a second resolution that can disagree with the one the build was given). Only outside a
    build (``tasuki.load(task)`` or ``task.output()`` in a notebook) is this call itself the
    edge, and it reads the settings, once.
    """
    if "://" in warehouse:
        return warehouse
    if settings is None:
        from tasuki.config import active_settings, load_settings

        settings = active_settings() or load_settings()
    named = settings.warehouses
    if warehouse not in named:
        raise ConfigError(
            f"no warehouse named {warehouse!r} in settings; known: {', '.join(named) or 'none'}. "
            "Add it under [warehouses] in tasuki.toml or pass a URL.",
            key="warehouses",
            value=warehouse,
        )
    return named[warehouse]


class QueryTask(Task):
    """Run one read-only query and keep its result as Parquet parts in the workspace.

    Example:
        >>> recent = QueryTask(
        ...     sql="SELECT user_id, score FROM scores WHERE day >= $1",
        ...     params=["2024-01-01"],
        ...     warehouse="postgresql://dwh/analytics",
        ... )
        >>> tasuki.build(recent)  # a pyarrow Table (as_="pandas" for a DataFrame)
    """

    sql: str
    warehouse: str
    params: list[ParamValue] | dict[str, ParamValue] | None = None
    freshness: dt.timedelta | None = dt.timedelta(days=1)
    as_of: str = ""
    timeout: float | None = param(
        default=None, significant=False, description="statement timeout (s)"
    )
    as_: Literal["arrow", "pandas", "polars"] = param(default="arrow", significant=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        scheme = self.warehouse.split("://", 1)[0] if "://" in self.warehouse else ""
        dialect = _DIALECTS.get(scheme, "postgres")
        checked = check_query(self.sql, dialect=dialect)
        # The id is made of the normalised text (no comments, one spacing, one keyword case),
        # so reformatting a query keeps its cache.
        object.__setattr__(self, "sql", checked.expression.sql(dialect=dialect, comments=False))
        if not self.as_of and self.freshness is not None:
            object.__setattr__(self, "as_of", freshness_bucket(self.freshness))

    def output(self) -> Any:
        """A folder of zstd Parquet parts."""
        return self.make_directory_target("result", as_=self.as_)

    def run(self) -> None:
        """Query, stream the parts into the workspace, and log rows and bytes."""
        from tasuki.warehouse.registry import connect

        with connect(_resolve(self.warehouse)) as wh:
            result = wh.query(self.sql, self.params, timeout=self.timeout)
            manifest = result.manifest
            self.task_log["rows"] = manifest.total_rows
            self.task_log["bytes"] = manifest.total_bytes
            self.task_log["parts"] = len(manifest.parts)
            self.dump(result.iter_batches())
