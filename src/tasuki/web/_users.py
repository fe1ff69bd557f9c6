"""People and API tokens: the ``users`` and ``api_tokens`` tables, and the admin page.

A user row is made at the first login (subject ``<issuer>#<sub>``, or ``local`` under
``--insecure-local``). The role comes from ``[web] admins`` / ``editors`` at each login, as a
floor: an admin may raise someone on the admin page, and a login never lowers a role (to take
the admin role back from someone the settings name, take them out of the settings too).

API tokens are for scripts: 256 random bits, shown once when made, stored only as their
sha256; a request sends ``Authorization: Bearer <token>`` and acts as the token's user.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from tasuki.catalog import Catalog
from tasuki.catalog import _schema as t
from tasuki.web._deps import User, check_csrf, get_catalog, render, require_admin

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "TOKEN_PREFIX",
    "TokenInfo",
    "create_token",
    "granted_role",
    "list_tokens",
    "list_users",
    "record_login",
    "revoke_token",
    "router",
    "set_role",
    "user_by_id",
    "user_for_token",
]

logger = logging.getLogger(__name__)

#: Every API token starts with this, so a leaked one is recognisable (secret scanners).
TOKEN_PREFIX = "tsk_"

router = APIRouter()
_LAST_USED_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class TokenInfo:
    """An API token as the admin page lists it (never the token itself)."""

    id: int
    user_id: int
    user: str
    name: str
    created_at: datetime
    last_used: datetime | None
    revoked_at: datetime | None


def _now() -> datetime:
    return datetime.now(UTC)


def _user(row: sa.Row[tuple[object, ...]] | sa.RowMapping, *, via_token: bool = False) -> User:
    m = row._mapping if isinstance(row, sa.Row) else row
    return User(
        id=int(m["id"]),
        subject=str(m["subject"]),
        email=m["email"],
        name=m["name"],
        role=str(m["role"]),
        via_token=via_token,
    )


def _matches(pattern: str, subject: str, sub: str, email: str | None) -> bool:
    pattern = pattern.strip().lower()
    if not pattern:
        return False
    if "#" in pattern:  # "<issuer>#<sub>": that subject of that provider
        return pattern == subject.lower()
    if "@" in pattern:  # an address or "*@domain": only ever a verified e-mail
        if email is None:
            return False
        if pattern.startswith("*@"):
            return email.lower().endswith(pattern[1:])
        return pattern == email.lower()
    return pattern == sub.lower()


def granted_role(
    admins: Sequence[str], editors: Sequence[str], *, subject: str, sub: str, email: str | None
) -> str:
    """The role the settings give someone: ``admin``, ``editor`` or ``viewer``.

    ``admins``/``editors`` hold e-mail addresses or ``*@domain`` (matched against the
    verified e-mail only, never against a subject that looks like one), OIDC subjects
    ``<issuer>#<sub>``, or bare ``sub`` values. ``email`` must be None unless the provider
    verified it, so that nobody gets a role by claiming an address.
    """
    if any(_matches(p, subject, sub, email) for p in admins):
        return "admin"
    if any(_matches(p, subject, sub, email) for p in editors):
        return "editor"
    return "viewer"


def record_login(
    catalog: Catalog, *, subject: str, email: str | None, name: str | None, granted: str
) -> User:
    """Create or update the user row at a login; the role is at least ``granted``."""
    try:
        return _record_login(catalog, subject=subject, email=email, name=name, granted=granted)
    except sa.exc.IntegrityError:
        # Two first logins of one person at once (two tabs): the other made the row first;
        # this one now finds it and updates it.
        return _record_login(catalog, subject=subject, email=email, name=name, granted=granted)


def _record_login(
    catalog: Catalog, *, subject: str, email: str | None, name: str | None, granted: str
) -> User:
    now = _now()
    with catalog.engine.begin() as conn:
        row = conn.execute(sa.select(t.users).where(t.users.c.subject == subject)).first()
        if row is None:
            user_id = conn.execute(
                sa.insert(t.users).values(
                    subject=subject,
                    email=email,
                    name=name,
                    role=granted,
                    created_at=now,
                    last_login=now,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            logger.info("new user %s (%s) with role %s", email or subject, subject, granted)
        else:
            user_id = row.id
            role = row.role
            if t.ROLES.index(granted) > (t.ROLES.index(role) if role in t.ROLES else -1):
                role = granted
            conn.execute(
                sa.update(t.users)
                .where(t.users.c.id == user_id)
                .values(email=email or row.email, name=name or row.name, role=role, last_login=now)
            )
        new = conn.execute(sa.select(t.users).where(t.users.c.id == user_id)).one()
    return _user(new)


def user_by_id(catalog: Catalog, user_id: int) -> User | None:
    """The user with this id, or None (deleted since the session was made)."""
    with catalog.engine.connect() as conn:
        row = conn.execute(sa.select(t.users).where(t.users.c.id == user_id)).first()
    return None if row is None else _user(row)


def list_users(catalog: Catalog) -> list[User]:
    """Every user, by e-mail (else subject)."""
    with catalog.engine.connect() as conn:
        rows = conn.execute(
            sa.select(t.users).order_by(sa.func.coalesce(t.users.c.email, t.users.c.subject))
        ).all()
    return [_user(r) for r in rows]


def set_role(catalog: Catalog, user_id: int, role: str, *, by: User) -> User:
    """Change a user's role (``viewer``, ``editor``, ``admin``); logs who did it.

    Raises:
        ValueError: ``role`` is not one of the roles, or no user has ``user_id``.
    """
    if role not in t.ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(t.ROLES)}")
    with catalog.engine.begin() as conn:
        done = conn.execute(sa.update(t.users).where(t.users.c.id == user_id).values(role=role))
        if not done.rowcount:
            raise ValueError(f"no user with id {user_id}")
        admins = conn.execute(
            sa.select(sa.func.count()).select_from(t.users).where(t.users.c.role == "admin")
        ).scalar_one()
        if not admins:
            # Rolled back with the transaction: nobody could manage roles any more.
            raise ValueError(f"user {user_id} is the last admin; make someone else admin first")
        row = conn.execute(sa.select(t.users).where(t.users.c.id == user_id)).one()
    logger.info("%s set the role of %s to %s", by.author, row.email or row.subject, role)
    return _user(row)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(catalog: Catalog, user_id: int, name: str) -> str:
    """Make an API token for ``user_id``; returns it (the only time it is seen).

    Raises:
        ValueError: ``name`` is empty.
    """
    name = name.strip()
    if not name:
        raise ValueError(
            "a token needs a name (what script or machine uses it), e.g. 'nightly-sync'"
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)  # 256 random bits
    with catalog.engine.begin() as conn:
        conn.execute(
            sa.insert(t.api_tokens).values(
                user_id=user_id, name=name, sha256=_digest(token), created_at=_now()
            )
        )
    return token


def revoke_token(catalog: Catalog, token_id: int) -> None:
    """Revoke a token: requests sending it are refused from now on (the row is kept)."""
    with catalog.engine.begin() as conn:
        conn.execute(
            sa.update(t.api_tokens)
            .where(t.api_tokens.c.id == token_id, t.api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=_now())
        )


def list_tokens(catalog: Catalog) -> list[TokenInfo]:
    """Every API token (live and revoked), newest first."""
    q = (
        sa.select(t.api_tokens, sa.func.coalesce(t.users.c.email, t.users.c.subject).label("who"))
        .join(t.users, t.users.c.id == t.api_tokens.c.user_id)
        .order_by(t.api_tokens.c.id.desc())
    )
    with catalog.engine.connect() as conn:
        rows = conn.execute(q).all()
    return [
        TokenInfo(r.id, r.user_id, r.who, r.name, r.created_at, r.last_used, r.revoked_at)
        for r in rows
    ]


def user_for_token(catalog: Catalog, token: str) -> User | None:
    """The user a live API token belongs to (and note its use), or None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    with catalog.engine.connect() as conn:
        row = conn.execute(
            sa.select(
                t.users,
                t.api_tokens.c.id.label("token_id"),
                t.api_tokens.c.last_used.label("token_last_used"),
            )
            .join(t.api_tokens, t.api_tokens.c.user_id == t.users.c.id)
            .where(t.api_tokens.c.sha256 == _digest(token), t.api_tokens.c.revoked_at.is_(None))
        ).first()
    if row is None:
        return None
    now = _now()
    last = row.token_last_used
    if last is not None and last.tzinfo is None:  # SQLite gives naive UTC back
        last = last.replace(tzinfo=UTC)
    # At most one write a minute per token: a script's burst of reads stays reads.
    if last is None or now - last > _LAST_USED_EVERY:
        with catalog.engine.begin() as conn:
            conn.execute(
                sa.update(t.api_tokens)
                .where(t.api_tokens.c.id == row.token_id)
                .values(last_used=now)
            )
    return _user(row, via_token=True)


# --- the admin page -------------------------------------------------------------------------

Admin = Annotated[User, Depends(require_admin)]
CatalogDep = Annotated[Catalog, Depends(get_catalog)]


def _admin_page(
    request: Request, catalog: Catalog, *, new_token: str | None = None, status: int = 200
) -> HTMLResponse:
    return render(
        request,
        "admin/users.html",
        {
            "users": list_users(catalog),
            "tokens": list_tokens(catalog),
            "roles": t.ROLES,
            "new_token": new_token,
        },
        status_code=status,
        # The page may show a token once: no cache is to keep it.
        headers={"Cache-Control": "no-store"},
    )


@router.get("/admin/users", response_class=HTMLResponse)
def admin_users(request: Request, admin: Admin, catalog: CatalogDep) -> HTMLResponse:
    """Users with their roles, and API tokens."""
    return _admin_page(request, catalog)


@router.post("/admin/users/{user_id}/role", dependencies=[Depends(check_csrf)])
def admin_set_role(
    user_id: int, role: Annotated[str, Form()], admin: Admin, catalog: CatalogDep
) -> RedirectResponse:
    """Change a user's role."""
    try:
        set_role(catalog, user_id, role, by=admin)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    return RedirectResponse("/admin/users", status_code=303)


@router.post(
    "/admin/users/{user_id}/tokens",
    response_class=HTMLResponse,
    dependencies=[Depends(check_csrf)],
)
def admin_create_token(
    request: Request,
    user_id: int,
    name: Annotated[str, Form()],
    admin: Admin,
    catalog: CatalogDep,
) -> HTMLResponse:
    """Make a token and show it once (the page is not cached)."""
    if user_by_id(catalog, user_id) is None:
        raise HTTPException(404, f"no user with id {user_id}")
    try:
        token = create_token(catalog, user_id, name)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    logger.info("%s made API token %r for user %d", admin.author, name.strip(), user_id)
    return _admin_page(request, catalog, new_token=token, status=201)


@router.post("/admin/tokens/{token_id}/revoke", dependencies=[Depends(check_csrf)])
def admin_revoke_token(token_id: int, admin: Admin, catalog: CatalogDep) -> RedirectResponse:
    """Revoke a token."""
    revoke_token(catalog, token_id)
    logger.info("%s revoked API token %d", admin.author, token_id)
    return RedirectResponse("/admin/users", status_code=303)
