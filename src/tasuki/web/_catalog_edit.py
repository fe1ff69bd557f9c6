"""Editing what people write about a catalog object, and the history of those edits.

The form carries the object's version as it was when the form was shown. Saving names that
version (:meth:`Catalog.edit` ``expected_version``); when someone else saved in between the
store refuses, and the page answers 409 with the other person's text, the text just typed
(still in the textarea, nothing lost) and a diff from theirs to it. The form then carries
the new version, so saving again, after merging, goes through.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from tasuki.catalog._objects import CatalogObject
from tasuki.errors import CatalogError, CatalogNotFoundError, EditConflictError
from tasuki.web._catalog_common import breadcrumbs, object_url, page, path_url
from tasuki.web._catalog_events import event_text, table_edits, table_events
from tasuki.web._deps import User, check_csrf, get_catalog, require_editor
from tasuki.web._diff import diff_html

if TYPE_CHECKING:
    from tasuki.catalog import Catalog

__all__ = ["parse_tags", "router"]

router = APIRouter()

CatalogDep = Annotated["Catalog", Depends(get_catalog)]
Editor = Annotated[User, Depends(require_editor)]
OptionalText = Annotated[str | None, Form()]


def parse_tags(text: str) -> list[str]:
    """Tags as typed in the form, comma-separated (``pii, daily``): trimmed, empty dropped."""
    return [part.strip() for part in text.split(",") if part.strip()]


def _form(
    request: Request,
    obj: CatalogObject,
    *,
    description: str,
    owner: str,
    tags: str,
    version: int,
    status: int = 200,
    error: str | None = None,
    theirs: CatalogObject | None = None,
) -> HTMLResponse:
    return page(
        request,
        "edit.html",
        {
            "obj": obj,
            "crumbs": [*breadcrumbs(obj.path), ("Edit", path_url(obj.path, "edit"))],
            "action": path_url(obj.path, "edit"),
            "back": object_url(obj),
            "description": description,
            "owner": owner,
            "tags": tags,
            "version": version,
            "error": error,
            "theirs": theirs,
            "diff": diff_html(theirs.description, description) if theirs is not None else None,
        },
        status_code=status,
        # An edit form holds someone's unsaved words: never from a cache.
        headers={"Cache-Control": "no-store"},
    )


@router.get("/tables/{path:path}/-/edit", response_class=HTMLResponse)
def edit_form(request: Request, path: str, catalog: CatalogDep, user: Editor) -> HTMLResponse:
    """The form to edit an object's description, owner and tags."""
    obj = catalog.get(path.strip("/"))
    return _form(
        request,
        obj,
        description=obj.description,
        owner=obj.owner or "",
        tags=", ".join(obj.tags),
        version=obj.version,
    )


@router.post(
    "/tables/{path:path}/-/edit",
    response_class=HTMLResponse,
    response_model=None,
    # create_app adds it to every router too; a route that writes says so itself.
    dependencies=[Depends(check_csrf)],
)
def edit_save(
    request: Request,
    path: str,
    catalog: CatalogDep,
    user: Editor,
    version: OptionalText = None,
    description: OptionalText = None,
    owner: OptionalText = None,
    tags: OptionalText = None,
) -> HTMLResponse | RedirectResponse:
    """Save an edit made from version ``version``; a field not sent stays as it is."""
    path = path.strip("/")
    if version is None:
        raise HTTPException(
            400,
            "The edit names no version: send version=<the version you started from> (the "
            "edit form carries it), so that an edit made meanwhile is not overwritten.",
        )
    try:
        expected = int(version)
    except ValueError:
        raise HTTPException(
            400,
            f"The form's version {version!r} is not a number; reload the edit page and save again.",
        ) from None
    try:
        saved = catalog.edit(
            path,
            author=user.author,
            expected_version=expected,
            description=description,
            owner=owner,
            tags=None if tags is None else parse_tags(tags),
        )
    except EditConflictError as exc:
        # The store puts the object as it is now on the error (``current``).
        theirs = exc.fields.get("current")
        if not isinstance(theirs, CatalogObject):
            theirs = catalog.get(path)
        return _form(
            request,
            theirs,
            description=description if description is not None else theirs.description,
            owner=owner if owner is not None else theirs.owner or "",
            tags=tags if tags is not None else ", ".join(theirs.tags),
            # Saving again means "I have seen their text": it goes against their version.
            version=theirs.version,
            status=409,
            error=str(exc),
            theirs=theirs,
        )
    except CatalogNotFoundError:
        raise
    except CatalogError as exc:
        obj = catalog.get(path)
        return _form(
            request,
            obj,
            description=description if description is not None else obj.description,
            owner=owner if owner is not None else obj.owner or "",
            tags=tags if tags is not None else ", ".join(obj.tags),
            version=expected,
            status=400,
            error=str(exc),
        )
    return RedirectResponse(object_url(saved), status_code=303)


@router.get("/tables/{path:path}/-/history", response_class=HTMLResponse)
def history(request: Request, path: str, catalog: CatalogDep) -> HTMLResponse:
    """Every edit of an object (of a table: and of its columns), newest first, each with a
    diff; then what syncs saw."""
    obj = catalog.get(path.strip("/"))
    edits = table_edits(catalog, obj) if obj.kind == "table" else catalog.history(obj.path)
    events = table_events(catalog, obj) if obj.kind == "table" else catalog.events(obj.path)
    return page(
        request,
        "history.html",
        {
            "obj": obj,
            "crumbs": [*breadcrumbs(obj.path), ("History", path_url(obj.path, "history"))],
            "edits": [(edit, diff_html(edit.before, edit.after)) for edit in edits],
            "events": events,
            "event_text": event_text,
        },
    )
