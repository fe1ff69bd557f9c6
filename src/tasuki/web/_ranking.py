"""The ranking comparison page (Livesense's viewer): two recommenders' top-N side by side.

``/compare?a=<task>&b=<task>&by=user&value=<user id>&n=10`` loads the two tasks' ranking
tables (:mod:`tasuki.web._ranking_data`), takes the top ``n`` items of that user (or, with
``by=item``, the top users of that item) from each, and shows them side by side with the
overlap, the Jaccard index and each entry's move (up, down, new). Optional item metadata
(title, genre...) is joined from a third task's table (``meta=<task>``) or a warehouse
table (``meta_table=<warehouse>:<schema.table>``), matched on ``meta_column`` (default:
the listed column, ``item`` for a user's list).

A task is picked by unique id (or prefix) or as ``Family param=value ...``. The form is a
GET, so every comparison has a URL to paste into a review.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from tasuki.errors import TasukiError
from tasuki.storage.base import Store  # noqa: TC001 (FastAPI reads the annotation)
from tasuki.web._deps import get_settings, get_store, render
from tasuki.web._ranking_data import (
    Comparison,
    compare,
    item_metadata,
    load_ranking,
    resolve_task,
    warehouse_metadata,
)
from tasuki.web._runs_data import run_index

__all__ = ["MAX_TOP_N", "router"]

router = APIRouter()

MAX_TOP_N = 200
_META_COLUMNS = 4  # metadata columns shown next to each entry (the rest are in the tooltip)


@router.get("/compare", response_class=HTMLResponse)
def compare_page(
    request: Request,
    store: Annotated[Store, Depends(get_store)],
    a: str = "",
    b: str = "",
    by: Literal["user", "item"] = "user",
    value: str = "",
    n: Annotated[int, Query(ge=1, le=MAX_TOP_N)] = 10,
    meta: str = "",
    meta_table: str = "",
    meta_column: str = "",
) -> Response:
    """The form, and the comparison once both tasks and a user (or item) are given."""
    index = run_index(store)
    listed = "item" if by == "user" else "user"
    ctx: dict[str, Any] = {
        "a": a,
        "b": b,
        "by": by,
        "value": value,
        "n": n,
        "meta": meta,
        "meta_table": meta_table,
        "meta_column": meta_column or listed,
        "listed": listed,
        "choices": index.runs(status="done", limit=100).rows,
        "max_n": MAX_TOP_N,
        "metadata": {},
        "meta_names": [],
    }
    if not (a and b and value):
        return render(request, "ranking/compare.html", ctx)
    try:
        records = [resolve_task(store, index, spec) for spec in (a, b)]
        need = ("user", "item")
        tables = [load_ranking(store, r, need=need) for r in records]
        for record, table in zip(records, tables, strict=True):
            if "rank" not in table.column_names and "score" not in table.column_names:
                raise TasukiError(
                    f"{record.task} [{record.unique_id[:10]}] has neither a rank nor a score "
                    f"column (it has {', '.join(table.column_names)}); a ranking needs one"
                )
        result = compare(tables[0], tables[1], by=by, value=value, top_n=n)
        ctx.update(records=records, result=result)
        ctx["metadata"] = _metadata(
            request, store, index, result, ctx["meta_column"], meta, meta_table
        )
    except (TasukiError, FileNotFoundError) as exc:
        ctx["error"] = str(exc)
        return render(request, "ranking/compare.html", ctx, status_code=400)
    ctx["meta_names"] = _meta_names(ctx["metadata"], ctx["meta_column"])
    return render(request, "ranking/compare.html", ctx)


def _metadata(
    request: Request,
    store: Store,
    index: Any,
    result: Comparison,
    column: str,
    meta: str,
    meta_table: str,
) -> dict[str, dict[str, Any]]:
    """Metadata rows of the listed entities, by their key as text (empty when none asked)."""
    keys = sorted({e.key for e in result.a} | {e.key for e in result.b})
    if meta:
        record = resolve_task(store, index, meta)
        return item_metadata(load_ranking(store, record, need=(column,)), keys, column=column)
    if meta_table:
        from tasuki.errors import WarehouseError

        name, sep, table = meta_table.partition(":")
        warehouses = get_settings(request).warehouses
        if not sep or name not in warehouses:
            known = ", ".join(sorted(warehouses)) or "none configured"
            raise WarehouseError(
                f"meta_table={meta_table!r}: write <warehouse>:<schema.table> with a warehouse "
                f"named in [warehouses] ({known})"
            )
        rows = warehouse_metadata(warehouses[name], table, keys, column=column)
        return item_metadata(rows, keys, column=column)
    return {}


def _meta_names(metadata: dict[str, dict[str, Any]], column: str) -> list[str]:
    """The metadata columns shown beside each entry (the key column left out)."""
    for row in metadata.values():
        return [k for k in row if k != column][:_META_COLUMNS]
    return []
