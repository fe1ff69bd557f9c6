"""Who a request is: signed session cookies (forged, tampered, expired), API tokens, roles,
and CSRF on every POST. The app is the real one (``create_app``) on a real SQLite catalog;
a login is a session cookie signed with the app's key, as the OIDC callback would set it."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tasuki.catalog import Catalog
from tasuki.catalog import _schema as t
from tasuki.config import load_settings
from tasuki.web._app import SESSION_COOKIE, create_app
from tasuki.web._auth import safe_next
from tasuki.web._users import (
    create_token,
    granted_role,
    record_login,
    revoke_token,
    user_for_token,
)
from tests._web import CLIENT_ID, ROLES, SESSION_SECRET, csrf_of, signed_session

MAX_AGE = 600


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    with Catalog.open(f"sqlite:///{tmp_path / 'catalog.db'}") as cat:
        yield cat


def _settings(tmp_path: Path, **web: Any) -> Any:
    return load_settings(
        {
            "workspace": str(tmp_path / "ws"),
            "web": {
                "oidc_issuer": "http://127.0.0.1:9",
                "oidc_client_id": CLIENT_ID,
                "session_secret": SESSION_SECRET,
                "session_max_age": MAX_AGE,
                **ROLES,
                **web,
            },
        }
    )


@pytest.fixture
def client(tmp_path: Path, catalog: Catalog) -> Iterator[TestClient]:
    app = create_app(_settings(tmp_path), catalog=catalog)
    with TestClient(app, follow_redirects=False) as c:
        yield c


Login = Callable[..., TestClient]


@pytest.fixture
def login(client: TestClient, catalog: Catalog) -> Login:
    """Log ``client`` in as a user with ``role`` (a signed session as the callback makes)."""

    def do(role: str = "viewer", *, email: str | None = None, **session: Any) -> TestClient:
        email = email or f"{role}@example.com"
        user = record_login(catalog, subject=f"iss#{email}", email=email, name=None, granted=role)
        data = {
            "uid": user.id,
            "login_at": int(time.time()),
            "csrf_token": "tok-" + role,
            **session,
        }
        client.cookies.set(SESSION_COOKIE, signed_session(data))
        return client

    return do


def test_no_session_sends_a_browser_to_the_login(client: TestClient) -> None:
    page = client.get("/admin/users?x=1", headers={"accept": "text/html"})
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fadmin%2Fusers%3Fx%3D1"
    api = client.get("/admin/users", headers={"accept": "application/json"})
    assert api.status_code == 401 and api.json() == {"detail": "Log in to see this page."}


def test_signed_session_logs_in(login: Login) -> None:
    client = login("admin")
    page = client.get("/admin/users")
    assert page.status_code == 200 and "admin@example.com" in page.text


def test_forged_session_is_logged_out(login: Login, client: TestClient) -> None:
    login("admin")
    good = client.cookies.get(SESSION_COOKIE)
    assert good
    # The same claims signed with another key.
    forged = signed_session(
        {"uid": 1, "login_at": int(time.time())}, secret="not-the-apps-key-" + "x" * 30
    )
    client.cookies.set(SESSION_COOKIE, forged)
    assert client.get("/admin/users").status_code == 303
    # The app's own cookie with its payload changed (another user id), signature kept.
    payload, _, sig = good.partition(".")
    import base64
    import json

    data = json.loads(base64.b64decode(payload))
    data["uid"] = data["uid"] + 1
    tampered = base64.b64encode(json.dumps(data).encode()).decode() + "." + sig
    client.cookies.set(SESSION_COOKIE, tampered)
    assert client.get("/admin/users").status_code == 303
    client.cookies.set(SESSION_COOKIE, "garbage")
    assert client.get("/admin/users").status_code == 303
    client.cookies.set(SESSION_COOKIE, good)
    assert client.get("/admin/users").status_code == 200


def test_expired_cookie_is_logged_out(login: Login, client: TestClient, catalog: Catalog) -> None:
    login("admin")
    uid = 1
    old = time.time() - MAX_AGE - 5
    # Signed by the app's key, but longer ago than session_max_age.
    client.cookies.set(SESSION_COOKIE, signed_session({"uid": uid, "login_at": int(old)}, at=old))
    assert client.get("/admin/users").status_code == 303
    # A fresh cookie (re-signed) naming a login older than session_max_age: also logged out.
    client.cookies.set(SESSION_COOKIE, signed_session({"uid": uid, "login_at": int(old)}))
    assert client.get("/admin/users").status_code == 303
    client.cookies.set(SESSION_COOKIE, signed_session({"uid": uid, "login_at": int(time.time())}))
    assert client.get("/admin/users").status_code == 200


def test_session_of_a_deleted_user_is_logged_out(
    login: Login, client: TestClient, catalog: Catalog
) -> None:
    login("admin")
    with catalog.engine.begin() as conn:
        conn.execute(sa.delete(t.users))
    assert client.get("/admin/users").status_code == 303


def test_viewer_posting_an_admin_edit_gets_a_clear_403(login: Login, catalog: Catalog) -> None:
    client = login("viewer")
    page = client.post("/admin/users/1/role", data={"role": "admin", "csrf_token": "tok-viewer"})
    assert page.status_code == 403
    assert "<h1>Not allowed</h1>" in page.text
    assert "needs the admin role; viewer@example.com is viewer" in page.text
    with catalog.engine.connect() as conn:
        assert conn.execute(sa.select(t.users.c.role)).scalar_one() == "viewer"  # unchanged


def test_csrf_is_checked_on_every_post(login: Login, catalog: Catalog) -> None:
    client = login("admin")
    other = record_login(catalog, subject="o", email="o@example.com", name=None, granted="viewer")
    url = f"/admin/users/{other.id}/role"

    def role() -> str:
        with catalog.engine.connect() as conn:
            q = sa.select(t.users.c.role).where(t.users.c.id == other.id)
            return str(conn.execute(q).scalar_one())

    missing = client.post(url, data={"role": "editor"})
    assert missing.status_code == 403 and "security token" in missing.text
    wrong = client.post(url, data={"role": "editor", "csrf_token": "tok-someone-else"})
    assert wrong.status_code == 403
    assert role() == "viewer"
    by_header = client.post(url, data={"role": "admin"}, headers={"X-CSRF-Token": "tok-admin"})
    assert by_header.status_code == 303
    assert role() == "admin"
    by_field = client.post(url, data={"role": "editor", "csrf_token": "tok-admin"})
    assert by_field.status_code == 303
    assert role() == "editor"


def test_logout_needs_the_csrf_token(login: Login) -> None:
    client = login("viewer")
    assert client.post("/logout").status_code == 403  # another site cannot log people out
    assert client.get("/admin/users").status_code == 403  # still logged in (as a viewer)
    out = client.post("/logout", data={"csrf_token": "tok-viewer"})
    assert out.status_code == 303 and out.headers["location"] == "/logged-out"
    # The browser is told to drop the cookie (the integration test follows a real one).
    assert out.headers["set-cookie"].startswith(f"{SESSION_COOKIE}=null;")
    assert "expires=Thu, 01 Jan 1970" in out.headers["set-cookie"]


def test_pages_carry_the_sessions_csrf_token(login: Login) -> None:
    client = login("admin")
    assert csrf_of(client.get("/admin/users").text) == "tok-admin"


def test_api_token_is_stored_hashed_and_works_as_bearer(
    client: TestClient, catalog: Catalog
) -> None:
    user = record_login(
        catalog, subject="iss#bot", email="bot@example.com", name=None, granted="admin"
    )
    token = create_token(catalog, user.id, "nightly")
    assert re.fullmatch(r"tsk_[A-Za-z0-9_-]{43}", token)  # 32 random bytes, url-safe base64
    with catalog.engine.connect() as conn:
        stored = conn.execute(sa.select(t.api_tokens)).one()
    assert stored.sha256 == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(tuple(stored))
    auth = {"authorization": f"Bearer {token}"}
    assert client.get("/admin/users", headers=auth).status_code == 200
    # A script's POST needs no CSRF token: it sends no cookie another site could ride on.
    assert (
        client.post("/admin/users/1/role", data={"role": "admin"}, headers=auth).status_code == 303
    )
    with catalog.engine.connect() as conn:
        assert conn.execute(sa.select(t.api_tokens.c.last_used)).scalar_one() is not None
    wrong = client.get("/admin/users", headers={"authorization": "Bearer tsk_" + "A" * 43})
    assert wrong.status_code == 401 and wrong.headers["content-type"] == "application/json"
    revoke_token(catalog, stored.id)
    assert user_for_token(catalog, token) is None
    assert client.get("/admin/users", headers=auth).status_code == 401


def test_a_wrong_bearer_token_is_no_login_even_with_a_session(login: Login) -> None:
    client = login("admin")
    page = client.get("/admin/users", headers={"authorization": "Bearer nope"})
    assert page.status_code == 401


def test_admin_page_makes_shows_once_and_revokes_tokens(login: Login, catalog: Catalog) -> None:
    client = login("admin")
    made = client.post("/admin/users/1/tokens", data={"name": "ci", "csrf_token": "tok-admin"})
    assert made.status_code == 201
    assert made.headers["cache-control"] == "no-store"
    token = re.search(r"tsk_[A-Za-z0-9_-]{43}", made.text)
    assert token
    assert user_for_token(catalog, token.group(0)) is not None
    listed = client.get("/admin/users").text
    assert "ci" in listed and token.group(0) not in listed  # shown once only
    token_id = re.search(r"/admin/tokens/(\d+)/revoke", listed)
    assert token_id
    done = client.post(
        f"/admin/tokens/{token_id.group(1)}/revoke", data={"csrf_token": "tok-admin"}
    )
    assert done.status_code == 303
    assert user_for_token(catalog, token.group(0)) is None
    nameless = client.post("/admin/users/1/tokens", data={"name": "  ", "csrf_token": "tok-admin"})
    assert nameless.status_code == 400 and "a token needs a name" in nameless.text


def test_role_from_settings_at_login() -> None:
    kw = {"admins": ["root@example.com", "ops-sub"], "editors": ["*@data.example.com"]}
    assert granted_role(**kw, subject="i#x", sub="x", email="root@example.com") == "admin"
    assert granted_role(**kw, subject="i#ops-sub", sub="ops-sub", email=None) == "admin"
    assert granted_role(**kw, subject="i#y", sub="y", email="Ann@Data.Example.com") == "editor"
    assert granted_role(**kw, subject="i#y", sub="y", email="ann@evil-data.example.com") == "viewer"
    assert granted_role(**kw, subject="i#y", sub="y", email=None) == "viewer"
    # A subject that looks like an admin's address is not their verified address.
    assert (
        granted_role(**kw, subject="i#root@example.com", sub="root@example.com", email=None)
        == "viewer"
    )
    full = {"admins": ["https://id.example.com#42"], "editors": []}
    assert (
        granted_role(**full, subject="https://id.example.com#42", sub="42", email=None) == "admin"
    )
    assert (
        granted_role(**full, subject="https://evil.example.com#42", sub="42", email=None)
        == "viewer"
    )


def test_a_login_raises_a_role_but_never_lowers_it(catalog: Catalog) -> None:
    u = record_login(catalog, subject="s", email="a@x", name=None, granted="viewer")
    assert u.role == "viewer"
    assert (
        record_login(catalog, subject="s", email="a@x", name=None, granted="editor").role
        == "editor"
    )
    # An admin made them admin on the admin page; the next login keeps it.
    with catalog.engine.begin() as conn:
        conn.execute(sa.update(t.users).values(role="admin"))
    assert (
        record_login(catalog, subject="s", email="a@x", name=None, granted="viewer").role == "admin"
    )


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/tables/wh?x=1", "/tables/wh?x=1"),
        ("//evil.example.com/", "/"),
        ("https://evil.example.com/", "/"),
        ("/\\evil.example.com", "/"),
        ("/\t/evil.example.com", "/"),
        ("/\n/evil.example.com", "/"),
        (None, "/"),
    ],
)
def test_login_never_redirects_off_site(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


@pytest.mark.parametrize(
    ("base_url", "secure"), [("https://tasuki.example.com", True), (None, False)]
)
def test_cookie_flags(tmp_path: Path, catalog: Catalog, base_url: str | None, secure: bool) -> None:
    app = create_app(_settings(tmp_path, base_url=base_url), catalog=catalog)
    user = record_login(catalog, subject="s", email="a@x", name=None, granted="admin")
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        client.cookies.set(
            SESSION_COOKIE, signed_session({"uid": user.id, "login_at": time.time()})
        )
        # The page's forms need a CSRF token: the session gets one and the cookie is re-set.
        page = client.get("/admin/users")
    flags = [f.strip().lower() for f in page.headers["set-cookie"].split(";")]
    assert "httponly" in flags and "samesite=lax" in flags
    assert f"max-age={MAX_AGE}" in flags
    assert ("secure" in flags) is secure
    assert ("strict-transport-security" in page.headers) is secure


def _table(catalog: Catalog, path: str = "dwh/main/orders") -> None:
    """One table row in the catalog, as a sync would leave it."""
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    wh, schema, table = path.split("/")
    with catalog.engine.begin() as conn:
        conn.execute(
            sa.insert(t.objects).values(
                path=path,
                kind="table",
                warehouse=wh,
                schema_name=schema,
                table_name=table,
                first_seen=now,
                last_seen=now,
            )
        )


def test_a_viewer_posting_a_description_edit_is_refused_and_nothing_is_written(
    login: Login, catalog: Catalog
) -> None:
    _table(catalog)
    client = login("viewer")
    url = "/tables/dwh/main/orders/-/edit"
    assert client.get(url).status_code == 403
    page = client.post(
        url, data={"version": "1", "description": "mine now", "csrf_token": "tok-viewer"}
    )
    assert page.status_code == 403
    assert "Editing needs the editor role; viewer@example.com is viewer" in page.text
    assert "Ask an admin to change your role" in page.text
    assert catalog.get("dwh/main/orders").description == ""
    assert catalog.history("dwh/main/orders") == []


def test_an_edit_is_attributed_to_the_person_who_made_it(login: Login, catalog: Catalog) -> None:
    _table(catalog)
    client = login("editor", email="ed@example.com")
    url = "/tables/dwh/main/orders/-/edit"
    no_token = client.post(url, data={"version": "1", "description": "forged"})
    assert no_token.status_code == 403  # another site's form cannot edit on their behalf
    saved = client.post(
        url, data={"version": "1", "description": "Orders.", "csrf_token": "tok-editor"}
    )
    assert saved.status_code == 303
    [edit] = catalog.history("dwh/main/orders")
    assert (edit.author, edit.after) == ("ed@example.com", "Orders.")


def test_an_api_token_edit_is_attributed_to_the_tokens_user(
    client: TestClient, catalog: Catalog
) -> None:
    _table(catalog)
    bot = record_login(catalog, subject="iss#bot", email=None, name="bot", granted="editor")
    token = create_token(catalog, bot.id, "docs-sync")
    saved = client.post(
        "/tables/dwh/main/orders/-/edit",
        data={"version": "1", "description": "From a script."},
        headers={"authorization": f"Bearer {token}"},
    )
    assert saved.status_code == 303
    [edit] = catalog.history("dwh/main/orders")
    assert edit.author == "iss#bot"  # no e-mail: the subject


def test_every_post_route_of_the_app_refuses_a_missing_csrf_token(
    login: Login, client: TestClient, catalog: Catalog
) -> None:
    from fastapi.routing import APIRoute

    _table(catalog)
    login("admin")

    def routes(items: Any) -> Iterator[Any]:
        for r in items:
            inner = getattr(r, "original_router", None)  # an included router (FastAPI >= 0.1xx)
            yield from routes(inner.routes) if inner is not None else [r]

    posts = [
        r for r in routes(client.app.routes) if isinstance(r, APIRoute) and "POST" in r.methods
    ]  # type: ignore[attr-defined]
    assert len(posts) >= 5  # logout, the admin page's three, the catalog edit
    for route in posts:
        url = re.sub(r"\{[^}]+\}", "1", route.path_format)
        if "{path" in route.path:
            url = route.path_format.replace("{path}", "dwh/main/orders")
        refused = client.post(url, data={"version": "1", "role": "admin", "name": "n"})
        assert refused.status_code == 403, (route.path, refused.status_code, refused.text[:200])
        assert "security token" in refused.text, route.path


def test_the_last_admin_cannot_be_demoted(login: Login, catalog: Catalog) -> None:
    client = login("admin")
    page = client.post("/admin/users/1/role", data={"role": "editor", "csrf_token": "tok-admin"})
    assert page.status_code == 400
    assert "user 1 is the last admin; make someone else admin first" in page.text
    with catalog.engine.connect() as conn:
        assert conn.execute(sa.select(t.users.c.role)).scalar_one() == "admin"


def test_a_tokens_last_use_is_written_at_most_once_a_minute(catalog: Catalog) -> None:
    from datetime import UTC, datetime, timedelta

    user = record_login(catalog, subject="s", email=None, name=None, granted="viewer")
    token = create_token(catalog, user.id, "poller")

    def last_used() -> datetime | None:
        with catalog.engine.connect() as conn:
            value: datetime | None = conn.execute(sa.select(t.api_tokens.c.last_used)).scalar_one()
        return value

    assert user_for_token(catalog, token) is not None
    first = last_used()
    assert first is not None
    assert user_for_token(catalog, token) is not None
    assert last_used() == first  # a second use within the minute writes nothing
    with catalog.engine.begin() as conn:
        conn.execute(
            sa.update(t.api_tokens).values(last_used=datetime.now(UTC) - timedelta(minutes=2))
        )
    assert user_for_token(catalog, token) is not None
    later = last_used()
    assert later is not None and later.replace(tzinfo=UTC) > datetime.now(UTC) - timedelta(
        seconds=30
    )


def test_an_unreachable_provider_at_login_is_a_clear_502(tmp_path: Path, catalog: Catalog) -> None:
    from tests._web import free_port

    issuer = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    app = create_app(_settings(tmp_path, oidc_issuer=issuer), catalog=catalog)
    with TestClient(app, follow_redirects=False) as client:
        page = client.get("/login?next=/tables/")
    assert page.status_code == 502
    assert "<h1>Login provider unreachable</h1>" in page.text
    assert f"The login provider ({issuer}) cannot be reached just now" in page.text


def test_identity_keeps_only_a_verified_email() -> None:
    from tasuki.web._auth import identity

    base = {"iss": "https://id.example.com", "sub": "42", "name": "Ann"}
    who = identity({**base, "email": "ann@example.com", "email_verified": True}, issuer="x")
    assert who is not None
    assert (who.subject, who.sub, who.email, who.name) == (
        "https://id.example.com#42",
        "42",
        "ann@example.com",
        "Ann",
    )
    # Unverified or unsaid: the address could be anyone's, so it is not kept (no role by
    # it, and edits are signed with the subject instead).
    for flag in ({"email_verified": False}, {}, {"email_verified": "false"}):
        who = identity({**base, "email": "boss@example.com", **flag}, issuer="x")
        assert who is not None and who.email is None
    assert identity({"sub": "7"}, issuer="https://fallback").subject == "https://fallback#7"  # type: ignore[union-attr]
    assert identity({"email": "a@b"}, issuer="x") is None  # no subject: no login


def test_two_first_logins_at_once_make_one_user(catalog: Catalog) -> None:
    from datetime import UTC, datetime

    # The other login's INSERT lands between this one's look-up and its own INSERT.
    raced = []

    def other_login_first(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("INSERT INTO users") and not raced:
            raced.append(True)
            with catalog.engine.begin() as other:
                now = datetime.now(UTC)
                other.execute(
                    sa.insert(t.users).values(
                        subject="s", email="a@x", role="viewer", created_at=now
                    )
                )

    sa.event.listen(catalog.engine, "before_cursor_execute", other_login_first)
    try:
        user = record_login(catalog, subject="s", email="a@x", name="A", granted="editor")
    finally:
        sa.event.remove(catalog.engine, "before_cursor_execute", other_login_first)
    assert raced
    assert (user.subject, user.role, user.name) == ("s", "editor", "A")
    with catalog.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.users)).scalar_one() == 1
