"""What the catalog store hands out: plain frozen values, never live database rows."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["CatalogObject", "Edit", "Event", "SearchHit", "as_utc", "object_from_row"]


def as_utc(value: Any) -> dt.datetime | None:
    """A stored timestamp as an aware UTC datetime (SQLite hands back naive ones)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if not isinstance(value, dt.datetime):
        raise TypeError(f"not a timestamp: {value!r}")
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


@dataclass(frozen=True)
class CatalogObject:
    """A database, schema, table or column, with what people wrote about it."""

    id: int
    path: str
    """``warehouse/schema/table/column`` (fewer parts for outer levels)."""
    kind: str
    warehouse: str
    schema_name: str | None
    table_name: str | None
    column_name: str | None
    parent_id: int | None
    position: int | None
    table_type: str | None
    data_type: str | None
    nullable: bool | None
    row_estimate: int | None
    size_bytes: int | None
    last_modified: dt.datetime | None
    comment: str | None
    """The warehouse's own ``COMMENT``, as last synced."""
    description: str
    """Markdown written by people."""
    owner: str | None
    tags: list[str]
    version: int
    """Bumped by every edit; pass it back as ``expected_version`` when editing."""
    first_seen: dt.datetime
    last_seen: dt.datetime
    gone_at: dt.datetime | None
    """When a sync stopped finding it (it keeps its text and history)."""

    @property
    def name(self) -> str:
        """The last part of the path."""
        return self.path.rsplit("/", 1)[-1]

    @property
    def parent_path(self) -> str | None:
        """The path of the enclosing object (None for a database)."""
        head, sep, _ = self.path.rpartition("/")
        return head if sep else None

    @property
    def gone(self) -> bool:
        """True when the warehouse no longer has it."""
        return self.gone_at is not None


def object_from_row(row: Mapping[Any, Any]) -> CatalogObject:
    """A :class:`CatalogObject` from a ``catalog_objects`` row mapping."""
    first_seen = as_utc(row["first_seen"])
    last_seen = as_utc(row["last_seen"])
    assert first_seen is not None and last_seen is not None  # NOT NULL columns
    return CatalogObject(
        id=row["id"],
        path=row["path"],
        kind=row["kind"],
        warehouse=row["warehouse"],
        schema_name=row["schema_name"],
        table_name=row["table_name"],
        column_name=row["column_name"],
        parent_id=row["parent_id"],
        position=row["position"],
        table_type=row["table_type"],
        data_type=row["data_type"],
        nullable=None if row["nullable"] is None else bool(row["nullable"]),
        row_estimate=row["row_estimate"],
        size_bytes=row["size_bytes"],
        last_modified=as_utc(row["last_modified"]),
        comment=row["comment"],
        description=row["description"] or "",
        owner=row["owner"],
        tags=list(json.loads(row["tags"] or "[]")),
        version=row["version"],
        first_seen=first_seen,
        last_seen=last_seen,
        gone_at=as_utc(row["gone_at"]),
    )


@dataclass(frozen=True)
class Edit:
    """One change a person made to one field of an object."""

    id: int
    path: str
    field: str
    """``description``, ``owner`` or ``tags``."""
    before: str | None
    after: str | None
    author: str
    at: dt.datetime
    version: int
    """The object's version this edit made."""


@dataclass(frozen=True)
class Event:
    """Something a sync saw happen to an object (appeared, gone, returned, type_changed,
    renamed, comment_changed)."""

    id: int
    path: str
    kind: str
    detail: dict[str, Any]
    at: dt.datetime


@dataclass(frozen=True)
class SearchHit:
    """One search result: the object, its score (higher is better) and a short plain-text
    excerpt of where the words were found (escape it before putting it in HTML)."""

    object: CatalogObject
    score: float
    snippet: str
