"""What the catalog pages share: their URLs, breadcrumbs and the helpers templates call.

URLs are the catalog path under ``/tables/``, one URL segment per level, each segment
percent-encoded (a table named ``売上 2024`` is ``/tables/dwh/public/%E5%A3%B2...``). A
column is linked as its table's page with the column's anchor (``/tables/wh/s/t#col``), the
URL people paste into chat; the column's own page (``/tables/wh/s/t/col``) has its history
and edit link. Actions sit after a ``/-/`` segment (``/tables/wh/s/t/-/edit``,
``/-/history``): a column may well be called ``history`` or ``edit``, hardly ``-``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from tasuki.web._deps import User, optional_user, render
from tasuki.web._markdown import render_markdown, summary

if TYPE_CHECKING:
    from fastapi import Request
    from fastapi.responses import HTMLResponse

    from tasuki.catalog._objects import CatalogObject

__all__ = [
    "ACTION",
    "Crumb",
    "anchor_id",
    "breadcrumbs",
    "can_edit",
    "object_url",
    "page",
    "path_url",
]

#: The URL segment that separates a catalog path from an action on it.
ACTION = "-"

Crumb = tuple[str, str]


@lru_cache(maxsize=8192)
def _segment(part: str) -> str:
    # A wide table's page links each column twice: quoting is most of its cost.
    return quote(part, safe="")


def path_url(path: str, *actions: str) -> str:
    """``/tables/<path>[/-/<action>...]`` with each path segment percent-encoded."""
    url = "/tables/" + "/".join(map(_segment, path.split("/")))
    if actions:
        url += f"/{ACTION}/" + "/".join(quote(a, safe="") for a in actions)
    return url


def anchor_id(column: str) -> str:
    """The ``id`` of a column's row on its table's page: the column name, with whitespace
    (which an HTML id may not hold) as ``_``."""
    return "_".join(column.split()) or "_"


def object_url(obj: CatalogObject) -> str:
    """Where a link to ``obj`` goes: its page, or for a column its row on the table's page."""
    if obj.kind == "column" and obj.column_name is not None and obj.parent_path is not None:
        return path_url(obj.parent_path) + "#" + quote(anchor_id(obj.column_name), safe="")
    return path_url(obj.path)


def breadcrumbs(path: str | None) -> list[Crumb]:
    """``[(label, url), ...]`` from the list of warehouses down to ``path`` itself."""
    crumbs: list[Crumb] = [("Tables", "/tables/")]
    if not path:
        return crumbs
    parts = path.split("/")
    for i in range(len(parts)):
        crumbs.append((parts[i], path_url("/".join(parts[: i + 1]))))
    return crumbs


def can_edit(user: User | None) -> bool:
    """Whether ``user`` may edit descriptions (the page shows edit links only then)."""
    return user is not None and user.has_role("editor")


def when(value: dt.datetime | None) -> str:
    """A timestamp as people read it: ``2026-01-02 03:04 UTC``; ``""`` for None."""
    if value is None:
        return ""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def size(value: int | None) -> str:
    """Bytes as ``12.3 MB``; ``""`` for None."""
    if value is None:
        return ""
    amount = float(value)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(amount) < 1000 or unit == "TB":
            return f"{amount:,.0f} {unit}" if unit == "B" else f"{amount:,.1f} {unit}"
        amount /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def count(value: int | None) -> str:
    """A row count with thousands separators (``~`` in front: it is an estimate)."""
    return "" if value is None else f"~{value:,}"


def as_text(value: Any) -> str:
    """A parameter value as one line: strings as they are, anything else as JSON."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    except ValueError:  # a structure that refers to itself
        return repr(value)


# Helpers every catalog template may call; plain functions, so nothing is added to the
# shared Jinja environment other pages use.
_HELPERS: dict[str, Any] = {
    "md": render_markdown,
    "summary": summary,
    "url_of": object_url,
    "path_url": path_url,
    "anchor_id": anchor_id,
    "when": when,
    "size": size,
    "count": count,
    "as_text": as_text,
}


def page(
    request: Request,
    name: str,
    ctx: Mapping[str, Any],
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """Render ``catalog/<name>`` with the catalog helpers and ``can_edit`` in the context."""
    context: dict[str, Any] = {**_HELPERS, "can_edit": can_edit(optional_user(request))}
    context.update(ctx)
    return render(request, f"catalog/{name}", context, status_code=status_code, headers=headers)
