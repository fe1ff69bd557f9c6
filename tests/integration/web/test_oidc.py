"""Logging in through a real OpenID Connect provider process, with ``tasuki web`` itself
serving under uvicorn: the code flow, roles from the settings, logout, a denied login, and
a provider that cannot be reached at start."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests._web import (
    ADMIN,
    EDITOR,
    VIEWER,
    csrf_of,
    free_port,
    oidc_issuer,  # noqa: F401  (fixture)
    oidc_login,
    server_env,
    tasuki_web,
    write_settings,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(oidc_issuer: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:  # noqa: F811
    """``tasuki web`` logging in through the provider; yields (base URL, its folder)."""
    folder = tmp_path_factory.mktemp("site")
    config = write_settings(folder, issuer=oidc_issuer)
    with tasuki_web(config) as base:
        yield base, folder


def _users(folder: Path) -> dict[str, tuple[str, str]]:
    with sqlite3.connect(folder / "catalog.db") as conn:
        rows = conn.execute("SELECT email, subject, role FROM users").fetchall()
    return {email: (subject, role) for email, subject, role in rows}


def test_code_flow_logs_in_with_the_role_the_settings_give(
    site: tuple[str, Path],
    oidc_issuer: str,  # noqa: F811  (the fixture)
) -> None:
    base, folder = site
    with httpx.Client() as client:
        first = client.get(f"{base}/admin/users")
        assert first.status_code == 303
        assert first.headers["location"] == "/login?next=%2Fadmin%2Fusers"
        page = oidc_login(client, base, "admin-sub", next_path="/admin/users")
        assert page.status_code == 200, page.text
        assert str(page.url) == f"{base}/admin/users"  # back where the login started
        assert "Ada Admin" in page.text and "(admin)" in page.text
        cookie = client.cookies.get("tasuki_session")
        assert cookie
    subject, role = _users(folder)[ADMIN]
    assert (subject, role) == (f"{oidc_issuer}#admin-sub", "admin")


def test_cookie_flags(site: tuple[str, Path]) -> None:
    base, _ = site
    with httpx.Client() as client:
        page = client.get(f"{base}/", follow_redirects=True)
        form_post = client.post(str(page.url), data={"sub": "eve-sub"})
        callback = client.get(form_post.headers["location"])
        set_cookie = callback.headers["set-cookie"].lower()
    assert "tasuki_session=" in set_cookie
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie
    assert "secure" not in set_cookie  # http base URL; https is tested in the unit tests


def test_editor_by_domain_viewer_otherwise(site: tuple[str, Path]) -> None:
    base, folder = site
    for sub in ("eve-sub", "viola-sub"):
        with httpx.Client() as client:
            assert oidc_login(client, base, sub).status_code == 200
    users = _users(folder)
    assert users[EDITOR][1] == "editor"
    assert users[VIEWER][1] == "viewer"


def test_viewer_is_refused_the_admin_page_with_a_clear_page(site: tuple[str, Path]) -> None:
    base, _ = site
    with httpx.Client() as client:
        home = oidc_login(client, base, "viola-sub")
        page = client.get(f"{base}/admin/users")
        assert page.status_code == 403
        assert "needs the admin role" in page.text and VIEWER in page.text
        # POSTing an admin action with a valid CSRF token is refused by role, not by CSRF.
        refused = client.post(
            f"{base}/admin/users/1/role", data={"role": "admin", "csrf_token": csrf_of(home.text)}
        )
        assert refused.status_code == 403 and "needs the admin role" in refused.text


def test_logout_ends_the_session(site: tuple[str, Path]) -> None:
    base, _ = site
    with httpx.Client() as client:
        home = oidc_login(client, base, "eve-sub")
        out = client.post(f"{base}/logout", data={"csrf_token": csrf_of(home.text)})
        assert out.status_code == 303 and out.headers["location"] == "/logged-out"
        assert client.get(f"{base}/").status_code == 303  # to the login again


def test_denied_at_the_provider_is_an_error_page(site: tuple[str, Path]) -> None:
    base, _ = site
    with httpx.Client() as client:
        page = client.get(f"{base}/", follow_redirects=True)
        denied = client.post(str(page.url), data={"action": "deny"}, follow_redirects=True)
        assert denied.status_code == 400
        assert "The login did not complete" in denied.text and "access_denied" in denied.text
        assert client.get(f"{base}/").status_code == 303  # still logged out


def test_callback_without_a_login_started_is_refused(site: tuple[str, Path]) -> None:
    base, _ = site
    # A forged callback (a code and state the app never asked for) logs nobody in.
    with httpx.Client() as client:
        page = client.get(f"{base}/auth/callback?code=abc&state=xyz")
        assert page.status_code == 400
        assert client.get(f"{base}/").status_code == 303


def test_unreachable_issuer_refuses_to_start(tmp_path: Path) -> None:
    config = write_settings(tmp_path, issuer=f"http://127.0.0.1:{free_port()}")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tasuki",
            "web",
            "--port",
            str(free_port()),
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        env=server_env(),
        timeout=60,
    )
    assert done.returncode == 2
    assert "could not read its OpenID configuration" in done.stderr


def test_insecure_local_serves_the_local_admin_on_loopback(tmp_path: Path) -> None:
    # No [web] OIDC at all: only --insecure-local starts, and everyone is the admin "local".
    config = write_settings(tmp_path, issuer=None)
    with tasuki_web(config, insecure_local=True) as base:
        assert base.startswith("http://127.0.0.1:")
        page = httpx.get(f"{base}/admin/users")
        assert page.status_code == 200
        assert "Insecure local mode" in page.text and "(admin)" in page.text
    with sqlite3.connect(tmp_path / "catalog.db") as conn:
        assert conn.execute("SELECT subject, role FROM users").fetchall() == [("local", "admin")]


def test_an_unverified_address_gets_no_role(site: tuple[str, Path], oidc_issuer: str) -> None:  # noqa: F811
    # The provider's form lets anyone type a subject; it then claims the typed text as the
    # e-mail address without saying it was verified. Typing the admin's address must not
    # make an admin.
    base, folder = site
    with httpx.Client() as client:
        page = oidc_login(client, base, ADMIN)
        assert page.status_code == 200
        assert "(viewer)" in page.text
    with sqlite3.connect(folder / "catalog.db") as conn:
        row = conn.execute(
            "SELECT email, role FROM users WHERE subject = ?", (f"{oidc_issuer}#{ADMIN}",)
        ).fetchone()
    assert row == (None, "viewer")


def test_the_authorization_request_carries_state_nonce_and_pkce(site: tuple[str, Path]) -> None:
    from urllib.parse import parse_qs, urlsplit

    base, _ = site
    with httpx.Client() as client:
        to_provider = client.get(f"{base}/login?next=/runs")
    assert to_provider.status_code == 302
    query = parse_qs(urlsplit(to_provider.headers["location"]).query)
    assert query["response_type"] == ["code"]
    assert query["redirect_uri"] == [f"{base}/auth/callback"]
    assert set(query["scope"][0].split()) == {"openid", "email", "profile"}
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) >= 43
    assert len(query["state"][0]) >= 20 and len(query["nonce"][0]) >= 20
