"""The search page: ``/search?q=&kind=&warehouse=&gone=1``.

Hits come ranked from :meth:`Catalog.search` (a trigram index: substrings in any script,
``売上`` inside ``月次売上集計`` included). Each shows its path, kind, the snippet the store
found with the query's words marked, and the first line of its description.
"""

from __future__ import annotations

import re
from html import escape
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from tasuki.catalog._schema import KINDS
from tasuki.errors import CatalogError
from tasuki.web._catalog_common import page
from tasuki.web._deps import get_catalog

if TYPE_CHECKING:
    from tasuki.catalog import Catalog

__all__ = ["MAX_QUERY", "RESULTS", "highlight", "router"]

#: Hits shown on one page.
RESULTS = 50
#: Longest query accepted, in characters (longer ones are cut, and the page says so).
MAX_QUERY = 200

router = APIRouter()

CatalogDep = Annotated["Catalog", Depends(get_catalog)]


def highlight(text: str, query: str) -> Markup:
    """``text`` escaped, with every case-insensitive occurrence of a word of ``query`` in
    ``<mark>``."""
    words = sorted({w for w in query.split() if w}, key=len, reverse=True)
    if not words or not text:
        return Markup(escape(text))
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)
    out: list[str] = []
    last = 0
    for found in pattern.finditer(text):
        out.append(escape(text[last : found.start()]))
        out.append(f"<mark>{escape(found.group())}</mark>")
        last = found.end()
    out.append(escape(text[last:]))
    return Markup("".join(out))


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    catalog: CatalogDep,
    q: str = "",
    kind: str = "",
    warehouse: str = "",
    gone: str = "",
) -> HTMLResponse:
    """Search names, paths, descriptions and warehouse comments."""
    query = q.strip()
    notice = None
    if len(query) > MAX_QUERY:
        query = query[:MAX_QUERY]
        notice = f"The query was cut to its first {MAX_QUERY} characters."
    error = None
    status = 200
    hits = []
    if kind and kind not in KINDS:
        error = f"kind {kind!r} is not one of {', '.join(KINDS)}; pick one or leave it empty."
        status = 400
    elif query:
        try:
            hits = catalog.search(
                query,
                limit=RESULTS,
                kind=kind or None,
                warehouse=warehouse.strip() or None,
                include_gone=bool(gone),
            )
        except CatalogError as exc:
            error, status = str(exc), 400
    return page(
        request,
        "search.html",
        {
            "q": query,
            "kind": kind,
            "warehouse": warehouse.strip(),
            "gone": bool(gone),
            "kinds": KINDS,
            "warehouses": [o.warehouse for o in catalog.children(None)],
            "hits": [(hit, highlight(hit.snippet, query)) for hit in hits],
            "limit": RESULTS,
            "error": error,
            "notice": notice,
            "crumbs": [("Tables", "/tables/"), ("Search", "/search")],
        },
        status_code=status,
    )
