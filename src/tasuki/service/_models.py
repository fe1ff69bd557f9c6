"""Request and response bodies of the query service API (they make its OpenAPI schema)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

__all__ = [
    "ColumnOut",
    "ErrorBody",
    "ErrorInfo",
    "ManifestOut",
    "PartOut",
    "QueryAccepted",
    "QueryList",
    "QueryRequest",
    "QueryState",
    "QueryStatus",
]

QueryState = Literal["queued", "running", "succeeded", "failed", "cancelled", "expired"]
"""Where a query is: ``queued`` → ``running`` → ``succeeded`` | ``failed`` | ``cancelled``;
a succeeded result becomes ``expired`` after the service's result TTL."""

TERMINAL: frozenset[str] = frozenset({"succeeded", "failed", "cancelled", "expired"})


class QueryRequest(BaseModel):
    """A query to run."""

    model_config = ConfigDict(extra="forbid")

    sql: str = Field(min_length=1, description="One read-only SELECT / WITH query.")
    params: dict[str, Any] | list[Any] | None = Field(
        None,
        description="Values for :name placeholders (an object) or ?/$n placeholders (an array).",
    )
    # Any JSON value is taken here and checked by the service (check_timeout), so that 0,
    # negatives, NaN, infinity, bools and strings all get the same 400 as the library gives.
    timeout: Annotated[
        Any,
        WithJsonSchema({"anyOf": [{"type": "number", "exclusiveMinimum": 0}, {"type": "null"}]}),
    ] = Field(
        None,
        description="Statement timeout in seconds, greater than 0; capped at the service's "
        "statement timeout. 0, negative and non-numeric values are refused (400).",
    )


class ErrorInfo(BaseModel):
    """Why a request or a query failed."""

    type: str = Field(description="tasuki error class, e.g. UnsafeQueryError, QueryTimeoutError.")
    message: str
    position: int | None = Field(None, description="Character offset of a SQL error, if known.")
    line: int | None = None
    column: int | None = None
    retryable: bool = Field(False, description="Whether trying again may succeed.")


class ErrorBody(BaseModel):
    """Every 4xx/5xx response body."""

    error: ErrorInfo


class QueryAccepted(BaseModel):
    """The answer to ``POST /v1/queries``."""

    id: str
    status: QueryState


class ColumnOut(BaseModel):
    """One column of the result."""

    name: str
    type: str = Field(description="Arrow type name, e.g. int64, timestamp[us, tz=UTC].")
    nullable: bool


class PartOut(BaseModel):
    """One Parquet part of the result."""

    index: int
    rows: int
    bytes: int
    url: str = Field(description="Where to GET the part (supports Range).")


class ManifestOut(BaseModel):
    """What a succeeded query produced."""

    backend: str
    sql: str = Field(description="The normalised SQL (placeholders, never values).")
    params: Any = None
    snapshot_at: dt.datetime
    finished_at: dt.datetime
    total_rows: int
    total_bytes: int
    columns: list[ColumnOut]
    arrow_schema: str = Field(description="The Arrow schema, IPC-serialised, base64.")
    parts: list[PartOut]


class QueryStatus(BaseModel):
    """A query's state, and its manifest once it succeeded."""

    id: str
    status: QueryState
    client: str
    sql: str
    submitted_at: dt.datetime
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    expires_at: dt.datetime | None = Field(
        None, description="When a succeeded result's parts will be deleted."
    )
    queue_position: int | None = Field(
        None, description="0 for the next of this client's queries to start."
    )
    error: ErrorInfo | None = None
    manifest: ManifestOut | None = None


class QueryList(BaseModel):
    """The caller's queries, newest first."""

    queries: list[QueryStatus]
