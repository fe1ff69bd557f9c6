"""What every page of the web app shares: templates, the signed-in user, roles, CSRF.

Pages are FastAPI routes that declare what they need::

    @router.get("/tables/{wh}")
    def page(request: Request, user: User = Depends(current_user),
             catalog: Catalog = Depends(get_catalog)) -> HTMLResponse:
        return render(request, "catalog/warehouse.html", {"objects": ...})

    @router.post("/tables/{path:path}/edit", dependencies=[Depends(check_csrf)])
    def edit(..., user: User = Depends(require_editor)) -> Response: ...

``create_app`` also adds :func:`current_user` and :func:`check_csrf` to every router it
includes, so a page that forgets them is still behind the login and every POST still needs
the form's token. Templates extend ``base.html`` (blocks ``title``, ``content``, ``head``) and
put ``{{ csrf_field(request) }}`` in every form that POSTs.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from tasuki.catalog._schema import ROLES

if TYPE_CHECKING:
    from collections.abc import Mapping

    from fastapi.responses import HTMLResponse

    from tasuki.catalog import Catalog
    from tasuki.config import Settings
    from tasuki.storage.base import Store

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "User",
    "check_csrf",
    "csrf_field",
    "csrf_token",
    "current_user",
    "get_catalog",
    "get_settings",
    "get_store",
    "optional_user",
    "render",
    "require_admin",
    "require_editor",
    "templates",
]

logger = logging.getLogger(__name__)

#: Name of the hidden form field that carries the CSRF token.
CSRF_FIELD = "csrf_token"
#: Header that carries the CSRF token for scripts using the session (htmx, fetch).
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_STORE_LOCK = threading.Lock()

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
"""The app's Jinja2 templates (``tasuki/web/templates``); autoescape is on for ``.html``."""
# Autoescape on for every template name: a template without an .html suffix must not turn
# a description's <script> into markup.
templates.env.autoescape = True


@dataclass(frozen=True)
class User:
    """Who made the request: a row of the ``users`` table.

    ``author`` is what an edit records (the e-mail, else the OIDC subject). ``via_token``
    is True for a script that sent ``Authorization: Bearer <API token>`` (no CSRF there).
    """

    id: int
    subject: str
    email: str | None
    name: str | None
    role: str
    via_token: bool = False

    @property
    def author(self) -> str:
        """The name an edit is attributed to: the e-mail address, else the subject."""
        return self.email or self.subject

    @property
    def display(self) -> str:
        """The name shown in the page header."""
        return self.name or self.email or self.subject

    def has_role(self, needed: str) -> bool:
        """Whether this user's role is ``needed`` or stronger (viewer < editor < admin)."""
        return _rank(self.role) >= _rank(needed)


def _rank(role: str) -> int:
    return ROLES.index(role) if role in ROLES else -1


def get_settings(request: Request) -> Settings:
    """The app's settings (given to ``create_app``)."""
    settings: Settings = request.app.state.settings
    return settings


def get_catalog(request: Request) -> Catalog:
    """The catalog store the app was created with (one per app, shared by requests)."""
    catalog: Catalog = request.app.state.catalog
    return catalog


def get_store(request: Request) -> Store:
    """The workspace store holding run records (opened on first use, then kept)."""
    state = request.app.state
    store: Store | None = getattr(state, "store", None)
    if store is None:
        from tasuki.core.runner import open_workspace

        with _STORE_LOCK:  # sync routes run in threads: open it once
            store = getattr(state, "store", None)
            if store is None:
                store = open_workspace(state.settings, writes=False)
                state.store = store
    return store


def optional_user(request: Request) -> User | None:
    """The signed-in user, or None (a page that also shows something to visitors)."""
    if "tasuki_user" in request.scope:
        cached: User | None = request.scope["tasuki_user"]
        return cached
    from tasuki.web._auth import resolve_user

    user = resolve_user(request)
    request.scope["tasuki_user"] = user
    return user


def current_user(request: Request) -> User:
    """The signed-in user; 401 when there is none (a browser's GET is sent to the login).

    Who it is comes from a valid API token (``Authorization: Bearer``), else from the signed
    session cookie; a forged, expired or unknown session counts as logged out.
    """
    user = optional_user(request)
    if user is None:
        raise HTTPException(401, "Log in to see this page.")
    return user


def _require(user: User, needed: str, action: str) -> User:
    if not user.has_role(needed):
        raise HTTPException(
            403,
            f"{action} needs the {needed} role; {user.author} is {user.role}. "
            "Ask an admin to change your role.",
        )
    return user


def require_editor(user: Annotated[User, Depends(current_user)]) -> User:
    """The signed-in user when they may edit (editor or admin); else 403."""
    return _require(user, "editor", "Editing")


def require_admin(user: Annotated[User, Depends(current_user)]) -> User:
    """The signed-in user when they are an admin; else 403."""
    return _require(user, "admin", "This page")


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use, kept for the session)."""
    token = request.session.get(CSRF_FIELD)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session[CSRF_FIELD] = token
    return token


def csrf_field(request: Request) -> Markup:
    """The hidden input carrying the CSRF token: ``{{ csrf_field(request) }}`` in a form."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(
        CSRF_FIELD, csrf_token(request)
    )


async def check_csrf(request: Request) -> None:
    """Refuse (403) a POST, PUT, PATCH or DELETE without the session's CSRF token.

    The token comes from the form field ``csrf_token`` or the ``X-CSRF-Token`` header. A
    script authenticated by an API token sends no cookie, so it cannot be forged by another
    site, and needs no CSRF token.
    """
    if request.method in _SAFE_METHODS:
        return
    if request.headers.get("authorization", "").lower().startswith("bearer "):
        return  # the token itself is checked by current_user
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            value = (await request.form()).get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    expected = request.session.get(CSRF_FIELD)
    if not sent or not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
        logger.info("refused %s %s: missing or wrong CSRF token", request.method, request.url.path)
        raise HTTPException(
            403,
            "The form's security token is missing or out of date (the session may have "
            "expired). Reload the page and submit again.",
        )


def render(
    request: Request,
    name: str,
    ctx: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """Render template ``name`` with ``ctx`` plus ``request``, ``user`` and
    ``insecure_local`` (the settings stay out of templates: they hold secrets)."""
    context: dict[str, Any] = {
        "request": request,
        "user": optional_user(request),
        "insecure_local": request.app.state.insecure_local,
    }
    context.update(ctx or {})
    started = time.perf_counter()
    response = templates.TemplateResponse(
        request, name, context, status_code=status_code, headers=headers
    )
    logger.debug("rendered %s in %.1f ms", name, (time.perf_counter() - started) * 1000)
    return response


templates.env.globals["csrf_field"] = csrf_field
