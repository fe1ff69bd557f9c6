"""Logging in: OpenID Connect (authorization code flow) and who a request comes from.

``/login`` sends the browser to the provider (Authlib's Starlette client keeps the state
and nonce in the session), ``/auth/callback`` checks the ID token, makes or updates the user
row and starts a fresh session (``uid``, ``login_at``, a new CSRF token), ``/logout``
(POST, with the CSRF token) ends it.

Sessions live in a cookie signed with ``[web] session_secret`` (Starlette's
``SessionMiddleware``: HttpOnly, SameSite=Lax, Secure behind an https ``base_url``); a cookie
that fails the signature, is older than ``session_max_age``, or names a login older than that
is no login at all. Under ``--insecure-local`` everyone is the local admin ``local``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tasuki.web._deps import User, check_csrf, render
from tasuki.web._users import granted_role, record_login, user_by_id, user_for_token

if TYPE_CHECKING:
    from authlib.integrations.starlette_client import OAuth

    from tasuki.config import Settings

__all__ = [
    "LOCAL_SUBJECT",
    "Identity",
    "discovery_url",
    "identity",
    "login_url",
    "make_oauth",
    "resolve_user",
    "router",
    "safe_next",
]

logger = logging.getLogger(__name__)

#: The subject of the one user of ``--insecure-local``.
LOCAL_SUBJECT = "local"

router = APIRouter()


def _http_errors() -> tuple[type[Exception], ...]:
    """What Authlib's HTTP client raises when the provider cannot be reached: newer Authlib
    speaks through ``httpx2``, older through ``httpx``."""
    import httpx

    errors: list[type[Exception]] = [httpx.HTTPError]
    try:
        import httpx2  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        pass
    else:
        errors.append(httpx2.HTTPError)
    return tuple(errors)


_HTTP_ERRORS = _http_errors()


def make_oauth(settings: Settings) -> OAuth:
    """Authlib's OAuth registry with the provider of ``[web] oidc_issuer`` as ``oidc``.

    The provider's ``/.well-known/openid-configuration`` is read at the first login (and
    kept); ``tasuki web`` reads it once before listening, so a wrong issuer fails at start.
    """
    from authlib.integrations.starlette_client import OAuth

    web = settings.web
    oauth = OAuth()
    oauth.register(
        "oidc",
        client_id=web.oidc_client_id,
        client_secret=web.oidc_client_secret,
        server_metadata_url=discovery_url(web.oidc_issuer or ""),
        # PKCE on top of the client secret: a stolen code is useless without the verifier.
        client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256"},
    )
    return oauth


def discovery_url(issuer: str) -> str:
    """The provider's OpenID configuration document for ``issuer``."""
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def safe_next(target: str | None) -> str:
    """``target`` when it is a path on this site, else ``/`` (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    # Browsers drop tabs and newlines from URLs: "/\t/evil.example.com" would become "//...".
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return "/"
    return target


def login_url(request: Request) -> str:
    """``/login`` with the current page as where to come back to."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login?next=" + quote(here, safe="")


@dataclass(frozen=True)
class Identity:
    """Who the ID token says logged in. ``email`` is None unless the provider verified it."""

    subject: str  # "<issuer>#<sub>": unique across providers
    sub: str
    email: str | None
    name: str | None


def identity(claims: Mapping[str, Any], *, issuer: str) -> Identity | None:
    """The identity in ID token ``claims``, or None without a subject.

    The e-mail is kept only with ``email_verified`` true: an address the provider did not
    check (some let people type any) must neither grant a role nor sign an edit.
    """
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        return None
    iss = claims.get("iss")
    email = claims.get("email")
    verified = claims.get("email_verified") in (True, "true", "True")
    name = claims.get("name")
    return Identity(
        subject=f"{iss if isinstance(iss, str) and iss else issuer}#{sub}",
        sub=sub,
        email=email if isinstance(email, str) and email and verified else None,
        name=name if isinstance(name, str) and name else None,
    )


def resolve_user(request: Request) -> User | None:
    """Who made ``request``: an API token's user, the session's user, or None.

    A ``Bearer`` header is used alone (a wrong token is no login, whatever cookie comes
    with it). A session counts while its login is younger than ``session_max_age`` and its
    user still exists; the cookie's own signature and age were checked by the middleware.
    """
    state = request.app.state
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return user_for_token(state.catalog, header[7:].strip())
    if state.insecure_local:
        local: User = state.local_user
        return local
    session = request.session
    uid, login_at = session.get("uid"), session.get("login_at")
    if not isinstance(uid, int) or not isinstance(login_at, int | float):
        return None
    age = time.time() - login_at
    if age > state.settings.web.session_max_age or age < -60:
        logger.debug("session of user %d expired (%.0f s old)", uid, age)
        return None
    return user_by_id(state.catalog, uid)


def _redirect_uri(request: Request) -> str:
    base: str | None = request.app.state.settings.web.base_url
    if base:
        return base.rstrip("/") + "/auth/callback"
    return str(request.url_for("auth_callback"))


@router.get("/login")
async def login(request: Request, next: str | None = None) -> Response:
    """Send the browser to the OIDC provider (or straight on under ``--insecure-local``)."""
    target = safe_next(next)
    if request.app.state.insecure_local:
        return RedirectResponse(target, status_code=303)
    request.session["next"] = target
    oauth: OAuth = request.app.state.oauth
    try:
        response: Response = await oauth.oidc.authorize_redirect(request, _redirect_uri(request))
    except _HTTP_ERRORS as exc:
        raise _provider_down(request, exc) from None
    return response


def _provider_down(request: Request, exc: Exception) -> HTTPException:
    issuer = request.app.state.settings.web.oidc_issuer
    logger.warning("OIDC provider %s unreachable: %s: %s", issuer, type(exc).__name__, exc)
    return HTTPException(
        502,
        f"The login provider ({issuer}) cannot be reached just now "
        f"({type(exc).__name__}). Try again in a moment; if it lasts, tell an admin.",
    )


@router.get("/auth/callback", name="auth_callback")
async def auth_callback(request: Request) -> Response:
    """The provider's answer: check it, record the user, start the session."""
    from authlib.integrations.base_client import OAuthError

    state = request.app.state
    oauth: OAuth = state.oauth
    try:
        token: dict[str, Any] = await oauth.oidc.authorize_access_token(request)
    except OAuthError as exc:
        logger.warning("OIDC login failed: %s", exc)
        raise HTTPException(
            400, f"The login did not complete ({exc.error}: {exc.description}). Try again."
        ) from None
    except _HTTP_ERRORS as exc:
        raise _provider_down(request, exc) from None
    web = state.settings.web
    who = identity(token.get("userinfo") or {}, issuer=web.oidc_issuer or "")
    if who is None:
        raise HTTPException(400, "The provider's ID token names no subject (sub); try again.")
    granted = granted_role(
        web.admins, web.editors, subject=who.subject, sub=who.sub, email=who.email
    )
    user = await _in_thread(
        record_login,
        state.catalog,
        subject=who.subject,
        email=who.email,
        name=who.name,
        granted=granted,
    )
    target = safe_next(request.session.get("next"))
    # A fresh session (and CSRF token) at each login: nothing set before it carries over.
    request.session.clear()
    request.session.update({"uid": user.id, "login_at": int(time.time())})
    logger.info("login: %s (%s) as %s", user.author, who.subject, user.role)
    return RedirectResponse(target, status_code=303)


@router.post("/logout", dependencies=[Depends(check_csrf)])
def logout(request: Request) -> Response:
    """End the session (the cookie is cleared) and say so."""
    request.session.clear()
    return RedirectResponse("/logged-out", status_code=303)


@router.get("/logged-out", response_class=HTMLResponse)
def logged_out(request: Request) -> HTMLResponse:
    """The page after logging out (public: it shows nothing of the catalog)."""
    return render(request, "auth/logged_out.html")


async def _in_thread(fn: Any, *args: Any, **kwargs: Any) -> User:
    """Run a blocking database call off the event loop."""
    from starlette.concurrency import run_in_threadpool

    user: User = await run_in_threadpool(fn, *args, **kwargs)
    return user
