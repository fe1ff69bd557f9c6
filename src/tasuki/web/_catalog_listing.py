"""The lists of warehouses, schemas and tables, a page at a time.

A schema may hold thousands of tables: its page lists :data:`PAGE_SIZE` of them at a time
(``?page=2``), read with one narrow query (only the columns the list shows), so that the
page costs the same whatever the schema's size. Objects a sync no longer finds are listed
apart, as gone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from fastapi import HTTPException

from tasuki.catalog import _schema as t
from tasuki.catalog._objects import as_utc
from tasuki.web._markdown import summary

if TYPE_CHECKING:
    from tasuki.catalog import Catalog
    from tasuki.catalog._objects import CatalogObject

__all__ = ["PAGE_SIZE", "Item", "Listing", "list_children"]

#: Objects listed on one page.
PAGE_SIZE = 500


@dataclass(frozen=True)
class Item:
    """One row of a list: what the list shows of a warehouse, schema or table."""

    name: str
    path: str
    kind: str
    table_type: str | None
    row_estimate: int | None
    size_bytes: int | None
    summary: str
    """The first paragraph of its description (else of its warehouse comment), plain text."""
    gone_at: dt.datetime | None


@dataclass(frozen=True)
class Listing:
    """One page of an object's children, and its gone children (at most a page of them)."""

    items: list[Item]
    gone: list[Item]
    total: int
    gone_total: int
    page: int
    pages: int

    @property
    def first(self) -> int:
        """The 1-based number of the page's first item."""
        return (self.page - 1) * PAGE_SIZE + 1


def _where(parent: CatalogObject | None, *, gone: bool) -> list[sa.ColumnElement[bool]]:
    o = t.objects
    where: list[sa.ColumnElement[bool]] = [
        o.c.gone_at.is_not(None) if gone else o.c.gone_at.is_(None)
    ]
    if parent is None:
        where.append(o.c.kind == "database")
    else:
        where.append(o.c.parent_id == parent.id)
    return where


def _items(conn: sa.Connection, where: list[sa.ColumnElement[bool]], offset: int) -> list[Item]:
    o = t.objects
    query = (
        sa.select(
            o.c.path,
            o.c.kind,
            o.c.table_type,
            o.c.row_estimate,
            o.c.size_bytes,
            o.c.description,
            o.c.comment,
            o.c.gone_at,
        )
        .where(*where)
        .order_by(o.c.path)
        .offset(offset)
        .limit(PAGE_SIZE)
    )
    return [
        Item(
            name=row.path.rsplit("/", 1)[-1],
            path=row.path,
            kind=row.kind,
            table_type=row.table_type,
            row_estimate=row.row_estimate,
            size_bytes=row.size_bytes,
            summary=summary(row.description) or summary(row.comment),
            gone_at=as_utc(row.gone_at),
        )
        for row in conn.execute(query)
    ]


def list_children(catalog: Catalog, parent: CatalogObject | None, page: int) -> Listing:
    """Page ``page`` (1-based) of ``parent``'s children by name (the warehouses for None).

    Raises:
        HTTPException: 400 when ``page`` is below 1 or past the last page.
    """
    if page < 1:
        raise HTTPException(400, f"page {page} does not exist; pages are numbered from 1.")
    o = t.objects
    with catalog.engine.connect() as conn:
        here, gone = _where(parent, gone=False), _where(parent, gone=True)
        total = conn.execute(sa.select(sa.func.count()).select_from(o).where(*here)).scalar_one()
        pages = max(1, -(-total // PAGE_SIZE))
        if page > pages:
            raise HTTPException(
                400, f"page {page} does not exist; there are {pages} (of {PAGE_SIZE} each)."
            )
        gone_total = conn.execute(
            sa.select(sa.func.count()).select_from(o).where(*gone)
        ).scalar_one()
        items = _items(conn, here, (page - 1) * PAGE_SIZE)
        gone_items = _items(conn, gone, 0) if gone_total and page == 1 else []
    return Listing(
        items=items,
        gone=gone_items,
        total=total,
        gone_total=gone_total,
        page=page,
        pages=pages,
    )
