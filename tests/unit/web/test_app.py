"""The app shell: what create_app refuses, --insecure-local, error pages, headers, the layout
(skip link, escaping, navigation) and the static files."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tasuki.catalog import Catalog
from tasuki.catalog import _schema as t
from tasuki.config import load_settings
from tasuki.errors import ConfigError
from tasuki.web._app import create_app
from tasuki.web._users import record_login


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    with Catalog.open(f"sqlite:///{tmp_path / 'catalog.db'}") as cat:
        yield cat


def _settings(tmp_path: Path, **web: Any) -> Any:
    return load_settings({"workspace": str(tmp_path / "ws"), "web": web})


@pytest.fixture
def local(tmp_path: Path, catalog: Catalog) -> Iterator[TestClient]:
    app = create_app(_settings(tmp_path), insecure_local=True, catalog=catalog)
    with TestClient(app, follow_redirects=False) as client:
        yield client


def test_refuses_to_start_without_oidc(tmp_path: Path, catalog: Catalog) -> None:
    with pytest.raises(ConfigError) as err:
        create_app(_settings(tmp_path), catalog=catalog)
    message = str(err.value)
    assert "web.oidc_issuer, web.oidc_client_id, web.session_secret" in message
    assert "--insecure-local" in message
    with pytest.raises(ConfigError, match=r"web\.session_secret"):
        create_app(_settings(tmp_path, oidc_issuer="http://x", oidc_client_id="c"), catalog=catalog)


def test_refuses_a_short_session_secret(tmp_path: Path, catalog: Catalog) -> None:
    settings = _settings(
        tmp_path, oidc_issuer="http://x", oidc_client_id="c", session_secret="short"
    )
    with pytest.raises(ConfigError, match=r"is 5 characters.*at least 32"):
        create_app(settings, catalog=catalog)


def test_insecure_local_is_the_local_admin(local: TestClient, catalog: Catalog) -> None:
    page = local.get("/")
    assert page.status_code == 200
    assert "Insecure local mode" in page.text
    assert 'href="/admin/users"' in page.text
    assert local.get("/admin/users").status_code == 200
    with catalog.engine.connect() as conn:
        row = conn.execute(sa.select(t.users.c.subject, t.users.c.role)).one()
    assert tuple(row) == ("local", "admin")
    # /login has nothing to do: back to where the user was going (on this site only).
    assert local.get("/login?next=/admin/users").headers["location"] == "/admin/users"
    assert local.get("/login?next=//evil.example.com").headers["location"] == "/"


def test_insecure_local_still_checks_csrf(local: TestClient) -> None:
    # No login does not mean another site may post forms into it.
    refused = local.post("/admin/users/1/role", data={"role": "viewer"})
    assert refused.status_code == 403


def test_layout_has_a_skip_link_viewport_and_the_stylesheet(local: TestClient) -> None:
    page = local.get("/").text
    assert '<a class="skip-link" href="#content">Skip to content</a>' in page
    assert '<main id="content"' in page
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in page
    assert 'href="/static/tasuki.css"' in page
    css = local.get("/static/tasuki.css")
    assert css.status_code == 200 and ":focus-visible" in css.text and ".skip-link" in css.text
    assert local.get("/static/tasuki.js").status_code == 200


def test_security_headers(local: TestClient) -> None:
    headers = local.get("/").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"


def test_names_are_escaped(tmp_path: Path, catalog: Catalog) -> None:
    app = create_app(_settings(tmp_path), insecure_local=True, catalog=catalog)
    record_login(
        catalog,
        subject="x",
        email="<script>alert(1)</script>@x",
        name="<b>Bo</b>",
        granted="viewer",
    )
    with TestClient(app) as client:
        page = client.get("/admin/users").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;@x" in page
    assert "<b>Bo</b>" not in page


def test_not_found_is_a_page_for_people_and_json_for_scripts(local: TestClient) -> None:
    page = local.get("/no/such/page", headers={"accept": "text/html"})
    assert page.status_code == 404 and "<h1>Not found</h1>" in page.text
    api = local.get("/no/such/page", headers={"accept": "application/json"})
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}


def test_bad_role_is_a_clear_400(local: TestClient) -> None:
    page = local.get("/admin/users")
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    bad = local.post("/admin/users/1/role", data={"role": "owner", "csrf_token": token.group(1)})
    assert bad.status_code == 400
    assert "role &#39;owner&#39; is not one of viewer, editor, admin" in bad.text


def test_an_incomplete_form_is_a_page_naming_the_field(local: TestClient) -> None:
    import re

    page = local.get("/admin/users")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    bad = local.post(
        "/admin/users/1/tokens",
        data={"csrf_token": token.group(1)},
        headers={"accept": "text/html"},
    )
    assert bad.status_code == 422
    assert "<h1>Bad input</h1>" in bad.text and "name: Field required" in bad.text
    api = local.post(
        "/admin/users/1/tokens",
        data={"csrf_token": token.group(1)},
        headers={"accept": "application/json"},
    )
    assert api.status_code == 422 and api.json()["detail"][0]["loc"] == ["body", "name"]


def test_a_failing_database_is_a_500_page_not_a_traceback(tmp_path: Path, catalog: Catalog) -> None:
    app = create_app(_settings(tmp_path), insecure_local=True, catalog=catalog)
    with catalog.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE api_tokens"))  # a broken store, for real
    with TestClient(app, raise_server_exceptions=False) as client:
        page = client.get("/admin/users", headers={"accept": "text/html"})
    assert page.status_code == 500
    assert "<h1>Server error</h1>" in page.text and "the log has the details" in page.text
    assert "Traceback" not in page.text and "api_tokens" not in page.text


def test_every_section_in_the_header_opens(local: TestClient) -> None:
    home = local.get("/").text
    links = re.findall(r'<nav class="site-nav".*?</nav>', home, re.S)[0]
    hrefs = re.findall(r'href="(/[^"]*)"', links)
    assert hrefs[:6] == ["/", "/tables/", "/runs", "/compare", "/datasets", "/models"]
    for href in hrefs:
        page = local.get(href)
        assert page.status_code == 200, (href, page.status_code)
        assert 'aria-current="page"' in page.text or href == "/"
