"""The catalog's pages: browse warehouses, schemas, tables and columns; search; edit with
history and diff; lineage (see :mod:`tasuki.web._catalog_common` for the URLs).

    /tables/                         the warehouses
    /tables/{wh}                     its schemas
    /tables/{wh}/{schema}            its tables
    /tables/{wh}/{schema}/{table}    the table: description, owner, tags, stats, columns
                                     (each row has id=<column>: /tables/wh/s/t#col), events,
                                     lineage (the task that wrote it, its parameters, what
                                     went in, who reads it)
    /tables/{...}/{column}           one column: description, events, edit and history links
    /tables/{path}/-/edit            the edit form (GET) and the edit (POST)
    /tables/{path}/-/history         every edit with a diff, and what syncs saw
    /search?q=&kind=&warehouse=      ranked search
    /lineage/{key}                   the lineage graph around a node (SVG and a text list)

Objects a sync no longer finds stay reachable, marked gone, with their text and history.

The table page carries Open Graph and Twitter card tags (title: the table's path,
description: the first paragraph of its description), so chat tools that unfurl links show
them. Those tools fetch the page anonymously: behind OpenID Connect they get the login
redirect and show no preview (nothing of the catalog leaks to them); the preview appears
where the page is reachable without a login, i.e. under ``--insecure-local``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from tasuki.web import _catalog_edit, _catalog_lineage, _catalog_search
from tasuki.web._catalog_common import breadcrumbs, path_url
from tasuki.web._catalog_common import page as render_page
from tasuki.web._catalog_events import EVENTS_SHOWN, event_text, table_events
from tasuki.web._catalog_listing import list_children
from tasuki.web._deps import get_catalog, get_settings
from tasuki.web._markdown import summary

if TYPE_CHECKING:
    from tasuki.catalog import Catalog
    from tasuki.catalog._objects import CatalogObject

__all__ = ["router"]

router = APIRouter()
# Action routes first: ``/tables/{path:path}`` would otherwise take ``.../-/edit`` as a path.
router.include_router(_catalog_edit.router)
router.include_router(_catalog_search.router)
router.include_router(_catalog_lineage.router)

CatalogDep = Annotated["Catalog", Depends(get_catalog)]


@router.get("/tables/", response_class=HTMLResponse)
def warehouses(request: Request, catalog: CatalogDep, page: int = 1) -> HTMLResponse:
    """Every catalogued warehouse."""
    return _list_page(request, catalog, None, page)


@router.get("/tables/{path:path}", response_class=HTMLResponse)
def catalog_object(request: Request, path: str, catalog: CatalogDep, page: int = 1) -> HTMLResponse:
    """The page of the database, schema, table or column at ``path`` (``page``: which
    page of a long list of schemas or tables)."""
    obj = catalog.get(path.strip("/"))
    if obj.kind == "table":
        return _table_page(request, catalog, obj)
    if obj.kind == "column":
        return render_page(
            request,
            "column.html",
            {
                "obj": obj,
                "crumbs": breadcrumbs(obj.path),
                "events": catalog.events(obj.path)[:EVENTS_SHOWN],
                "event_text": event_text,
            },
        )
    return _list_page(request, catalog, obj, page)


def _list_page(
    request: Request, catalog: Catalog, obj: CatalogObject | None, number: int
) -> HTMLResponse:
    listing = list_children(catalog, obj, number)
    kind = "warehouse" if obj is None else "schema" if obj.kind == "database" else "table"
    here = path_url(obj.path) if obj is not None else "/tables/"
    return render_page(
        request,
        "list.html",
        {
            "title": obj.path if obj is not None else "Tables",
            "obj": obj,
            "crumbs": breadcrumbs(obj.path if obj is not None else None),
            "listing": listing,
            "child_kind": kind,
            "page_url": lambda n: here if n == 1 else f"{here}?page={n}",
        },
    )


def _table_page(request: Request, catalog: Catalog, obj: CatalogObject) -> HTMLResponse:
    columns = catalog.children(obj.path, include_gone=True)
    return render_page(
        request,
        "table.html",
        {
            "obj": obj,
            "crumbs": breadcrumbs(obj.path),
            "columns": columns,
            "column_paths": {c.id: c.path for c in columns},
            "events": table_events(catalog, obj),
            "event_text": event_text,
            "lineage": _catalog_lineage.table_lineage(catalog, obj),
            "preview": _preview(request, obj),
        },
    )


def _preview(request: Request, obj: CatalogObject) -> dict[str, str]:
    """Open Graph / Twitter card fields of a table's page (escaped by the template)."""
    base = get_settings(request).web.base_url
    url = (base.rstrip("/") + path_url(obj.path)) if base else str(request.url)
    text = summary(obj.description) or summary(obj.comment) or f"{obj.kind} {obj.path}"
    return {"title": obj.path, "description": text, "url": url}
