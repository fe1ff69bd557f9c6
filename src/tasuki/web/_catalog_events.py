"""What happened to catalog objects, as the pages show it: people's edits and what syncs
saw, for a table together with its columns."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from tasuki.catalog import _schema as t
from tasuki.catalog._objects import Edit, Event, as_utc

if TYPE_CHECKING:
    from tasuki.catalog import Catalog
    from tasuki.catalog._objects import CatalogObject

__all__ = ["EVENTS_SHOWN", "event_text", "table_edits", "table_events"]

#: Most recent sync events shown on a table's page.
EVENTS_SHOWN = 50


def table_edits(catalog: Catalog, table: CatalogObject) -> list[Edit]:
    """Every edit of a table and of its columns, newest first (one query)."""
    o, ed = t.objects, t.edits
    inside = sa.select(o.c.id).where(o.c.parent_id == table.id)
    query = (
        sa.select(ed, o.c.path)
        .join(o, o.c.id == ed.c.object_id)
        .where(sa.or_(ed.c.object_id == table.id, ed.c.object_id.in_(inside)))
        .order_by(ed.c.id.desc())
    )
    with catalog.engine.connect() as conn:
        rows = conn.execute(query).all()
    out: list[Edit] = []
    for row in rows:
        at = as_utc(row.at)
        assert at is not None  # NOT NULL column
        out.append(
            Edit(row.id, row.path, row.field, row.before, row.after, row.author, at, row.version)
        )
    return out


def table_events(catalog: Catalog, table: CatalogObject) -> list[Event]:
    """What syncs saw happen to a table and its columns (type changes, renames, columns
    gone or appeared), newest first, at most :data:`EVENTS_SHOWN`.

    One query for the table and all its columns: a wide table must not cost a query per
    column.
    """
    o, e = t.objects, t.events
    inside = sa.select(o.c.id).where(o.c.parent_id == table.id)
    query = (
        sa.select(e.c.id, e.c.kind, e.c.detail, e.c.at, o.c.path)
        .join(o, o.c.id == e.c.object_id)
        .where(sa.or_(e.c.object_id == table.id, e.c.object_id.in_(inside)))
        .order_by(e.c.at.desc(), e.c.id.desc())
        .limit(EVENTS_SHOWN)
    )
    with catalog.engine.connect() as conn:
        rows = conn.execute(query).all()
    out: list[Event] = []
    for row in rows:
        at = as_utc(row.at)
        assert at is not None  # NOT NULL column
        out.append(Event(row.id, row.path, row.kind, json.loads(row.detail or "{}"), at))
    return out


def event_text(event: Event) -> str:
    """One line saying what an event recorded: ``type INTEGER → BIGINT``, ``renamed from
    old_name``, ``gone``... (plain text; the template escapes it)."""
    detail: dict[str, Any] = event.detail
    before, after = detail.get("before"), detail.get("after")
    if event.kind == "type_changed":
        return f"type changed: {before} → {after}"
    if event.kind == "renamed":
        # Sync records the old path; its last part is the old name.
        return f"renamed from {str(before).rsplit('/', 1)[-1]}" if before else "renamed"
    if event.kind == "comment_changed":
        return "warehouse comment changed"
    if "before" in detail or "after" in detail:
        return f"{event.kind.replace('_', ' ')}: {before} → {after}"
    return event.kind.replace("_", " ")
