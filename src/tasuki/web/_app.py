"""The web app: one FastAPI application for the catalog, runs, ranking, datasets and models.

``create_app`` wires what every page shares (signed sessions, OIDC login, CSRF, roles,
error pages, security headers, static files) and includes the page routers, each behind the
login and the CSRF check::

    app = create_app(settings)                       # OIDC from [web]
    app = create_app(settings, insecure_local=True)  # no login: everyone is admin "local"

``tasuki web`` serves it under uvicorn.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from tasuki.errors import AccessDeniedError, CatalogNotFoundError, ConfigError, EditConflictError
from tasuki.web import _auth, _catalog_pages, _ranking, _registry_pages, _runs_pages, _users
from tasuki.web._deps import check_csrf, current_user, render

if TYPE_CHECKING:
    from tasuki.catalog import Catalog
    from tasuki.config import Settings

__all__ = ["PAGE_MODULES", "SESSION_COOKIE", "create_app"]

logger = logging.getLogger(__name__)

#: Name of the signed session cookie.
SESSION_COOKIE = "tasuki_session"
#: Page routers and the sections each adds to the header, in header order.
PAGE_MODULES: tuple[tuple[Any, tuple[tuple[str, str], ...]], ...] = (
    (_catalog_pages, (("Tables", "/tables/"),)),
    (_runs_pages, (("Runs", "/runs"),)),
    (_ranking, (("Compare", "/compare"),)),
    (_registry_pages, (("Datasets", "/datasets"), ("Models", "/models"))),
)
_STATIC = Path(__file__).parent / "static"
# Scripts only from this site: a description that slipped markup through still runs nothing.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
_SECURITY_HEADERS = {
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def create_app(
    settings: Settings, *, insecure_local: bool = False, catalog: Catalog | None = None
) -> FastAPI:
    """Build the web app.

    Args:
        settings: ``[web]`` (OIDC, session secret, roles, base URL), ``catalog`` (store URL)
            and the workspace (run records).
        insecure_local: No login: every request is the admin ``local``. Only for one person
            on their own machine (``tasuki web --insecure-local`` binds to 127.0.0.1).
        catalog: An open catalog to use (kept open afterwards); default: open
            ``settings.catalog`` and close it when the app shuts down.

    Raises:
        ConfigError: OIDC is not configured (``oidc_issuer``, ``oidc_client_id``,
            ``session_secret``) and ``insecure_local`` is False.
    """
    web = settings.web
    if not insecure_local:
        _check_oidc_settings(settings)
    owned = catalog is None
    if catalog is None:
        from tasuki.catalog import Catalog

        catalog = Catalog.open(settings=settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        import anyio

        # The runs index is built on its first use (~0.25 s for 10,000 records): build it
        # before serving, so no visitor waits for it.
        await anyio.to_thread.run_sync(_warm_runs_index, app)
        yield
        if owned:
            app.state.catalog.close()

    app = FastAPI(
        title="tasuki", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    state = app.state
    state.settings = settings
    state.catalog = catalog
    state.insecure_local = insecure_local
    state.oauth = None if insecure_local else _auth.make_oauth(settings)
    if insecure_local:
        state.local_user = _users.record_login(
            catalog, subject=_auth.LOCAL_SUBJECT, email=None, name="local", granted="admin"
        )
        logger.warning("insecure local mode: no login, every request is the admin 'local'")

    app.add_middleware(
        SessionMiddleware,
        # Under --insecure-local a key of this process: its cookies end with it.
        secret_key=web.session_secret or secrets.token_urlsafe(32),
        session_cookie=SESSION_COOKIE,
        max_age=web.session_max_age,
        same_site="lax",
        https_only=(web.base_url or "").startswith("https://"),
    )
    headers = dict(_SECURITY_HEADERS)
    if (web.base_url or "").startswith("https://"):
        # Served over https: browsers are to keep to it (a year, as usual).
        headers["Strict-Transport-Security"] = "max-age=31536000"

    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        # The page's own time (templates render before the response starts), for browsers'
        # developer tools and the benchmark's load generator.
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1e3:.1f}"
        return response

    app.middleware("http")(security_headers)
    app.mount("/static", StaticFiles(directory=_STATIC), name="static")
    # Browsers ask for /favicon.ico on every first page; the icon is in /static.
    app.add_api_route(
        "/favicon.ico",
        lambda: RedirectResponse("/static/favicon.svg", status_code=301),
        methods=["GET"],
        include_in_schema=False,
    )

    app.include_router(_auth.router)  # login, callback, logout: reachable without a login
    guarded = [Depends(current_user), Depends(check_csrf)]
    app.include_router(_users.router, dependencies=guarded)
    sections: list[tuple[str, str]] = []
    for module, links in PAGE_MODULES:
        app.include_router(module.router, dependencies=guarded)
        sections.extend(links)
    state.sections = sections
    app.add_api_route(
        "/",
        _index,
        methods=["GET"],
        response_class=HTMLResponse,
        dependencies=[Depends(current_user)],
    )
    _add_error_pages(app)
    return app


def _warm_runs_index(app: FastAPI) -> None:
    """Open the workspace and index its run records; a workspace that is not there yet is
    left for the runs pages to report."""
    from tasuki.web._runs_data import run_index

    try:
        from tasuki.core.runner import open_workspace

        app.state.store = open_workspace(app.state.settings, writes=False)
        run_index(app.state.store)
    except Exception as exc:  # the pages say what is wrong, with the request that met it
        logger.info("runs index not built at start: %s", exc)


def _check_oidc_settings(settings: Settings) -> None:
    web = settings.web
    missing = [
        f"web.{name}"
        for name in ("oidc_issuer", "oidc_client_id", "session_secret")
        if not getattr(web, name)
    ]
    if missing:
        raise ConfigError(
            f"the web app needs OpenID Connect login configured; missing: {', '.join(missing)}. "
            "Set them under [web] in tasuki.toml (or TASUKI_WEB__OIDC_ISSUER, "
            "TASUKI_WEB__OIDC_CLIENT_ID, TASUKI_WEB__OIDC_CLIENT_SECRET, "
            "TASUKI_WEB__SESSION_SECRET), or run `tasuki web --insecure-local` to use it "
            "alone on this machine (127.0.0.1 only, no login)"
        )
    if len(web.session_secret or "") < 32:
        raise ConfigError(
            f"web.session_secret is {len(web.session_secret or '')} characters; it signs the "
            "session cookies and needs at least 32 random ones: "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )


def _index(request: Request) -> HTMLResponse:
    """The front page: search and the sections of the app."""
    return render(request, "index.html", {"sections": request.app.state.sections})


def _wants_html(request: Request) -> bool:
    if request.headers.get("authorization", "").lower().startswith("bearer "):
        return False
    accept = request.headers.get("accept", "")
    return "text/html" in accept or not accept or "*/*" in accept


def _error_page(request: Request, status: int, message: str, title: str) -> Response:
    if not _wants_html(request):
        return JSONResponse({"detail": message}, status_code=status)
    return render(
        request,
        "auth/error.html",
        {"status": status, "title": title, "message": message},
        status_code=status,
    )


_TITLES = {
    400: "Bad request",
    401: "Log in needed",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Edit conflict",
    502: "Login provider unreachable",
}


def _add_error_pages(app: FastAPI) -> None:
    """Errors as pages a person can read (JSON for scripts); 401 on a page goes to login."""

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 401 and request.method == "GET" and _wants_html(request):
            return RedirectResponse(_auth.login_url(request), status_code=303)
        title = _TITLES.get(exc.status_code, "Error")
        response = _error_page(request, exc.status_code, str(exc.detail), title)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    async def tasuki_error(request: Request, exc: Exception) -> Response:
        status = (
            404
            if isinstance(exc, CatalogNotFoundError)
            else 409
            if isinstance(exc, EditConflictError)
            else 403
        )
        return _error_page(request, status, str(exc), _TITLES[status])

    async def bad_input(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if not _wants_html(request):
            return JSONResponse({"detail": jsonable_encoder(exc.errors())}, status_code=422)
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'request'}: {e.get('msg')}"
            for e in exc.errors()
        )
        return _error_page(
            request, 422, f"The request was not complete or not valid ({problems}).", "Bad input"
        )

    async def server_error(request: Request, exc: Exception) -> Response:
        # The server logs the traceback; the page says only that it failed. Who is logged in
        # is not looked up again: the database may be what failed.
        request.scope.setdefault("tasuki_user", None)
        return _error_page(
            request,
            500,
            "Something went wrong on the server; the log has the details. Try again, and if "
            "it keeps failing tell an admin.",
            "Server error",
        )

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, bad_input)
    app.add_exception_handler(Exception, server_error)
    for cls in (CatalogNotFoundError, EditConflictError, AccessDeniedError):
        app.add_exception_handler(cls, tasuki_error)
