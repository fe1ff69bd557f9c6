"""A team deployment: ``tasuki web`` with the catalog (users, API tokens) on PostgreSQL,
logging in through the real OIDC provider; an admin makes an API token on the admin page, a
script uses it, the admin revokes it."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests._web import (
    ADMIN,
    csrf_of,
    oidc_issuer,  # noqa: F401  (fixture)
    oidc_login,
    tasuki_web,
    write_settings,
)

pytestmark = [pytest.mark.services, pytest.mark.slow]


@pytest.fixture
def team_site(
    oidc_issuer: str,  # noqa: F811  (the fixture)
    postgres_url: str,
    tmp_path: Path,
) -> Iterator[str]:
    catalog = postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)
    config = write_settings(tmp_path, issuer=oidc_issuer, catalog=catalog)
    with tasuki_web(config) as base:
        yield base


def test_admin_makes_a_token_a_script_uses_it_and_it_is_revoked(
    team_site: str,
    postgres_url: str,
    oidc_issuer: str,  # noqa: F811
) -> None:
    base = team_site
    with httpx.Client() as browser:
        page = oidc_login(browser, base, "admin-sub", next_path="/admin/users")
        assert page.status_code == 200 and "(admin)" in page.text
        with psycopg.connect(postgres_url) as conn:
            (uid, role, subject) = conn.execute(
                "SELECT id, role, subject FROM users WHERE email = %s", (ADMIN,)
            ).fetchone()  # type: ignore[misc]
        assert (role, subject) == ("admin", f"{oidc_issuer}#admin-sub")
        made = browser.post(
            f"{base}/admin/users/{uid}/tokens",
            data={"name": "nightly-docs", "csrf_token": csrf_of(page.text)},
        )
        assert made.status_code == 201
        found = re.search(r"tsk_[A-Za-z0-9_-]{43}", made.text)
        assert found
        token = found.group(0)

    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute("SELECT name, sha256 FROM api_tokens").fetchall()
    assert rows == [("nightly-docs", hashlib.sha256(token.encode()).hexdigest())]

    script = {"authorization": f"Bearer {token}"}
    assert httpx.get(f"{base}/admin/users", headers=script).status_code == 200
    assert httpx.get(f"{base}/admin/users").status_code == 303  # without it: to the login

    with httpx.Client() as browser:
        page = oidc_login(browser, base, "admin-sub", next_path="/admin/users")
        token_id = re.search(r"/admin/tokens/(\d+)/revoke", page.text)
        assert token_id
        revoked = browser.post(
            f"{base}/admin/tokens/{token_id.group(1)}/revoke",
            data={"csrf_token": csrf_of(page.text)},
        )
        assert revoked.status_code == 303
    refused = httpx.get(f"{base}/admin/users", headers=script)
    assert refused.status_code == 401
