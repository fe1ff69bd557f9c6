"""Editing descriptions through the pages: CSRF, roles, two editors at once (the second
gets a conflict page and loses nothing), history with diffs."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("markdown_it")

from fastapi.testclient import TestClient

from tasuki.catalog import Catalog
from tasuki.web._users import create_token, record_login
from tests._services import postgres_url  # noqa: F401  (fixture)
from tests.unit.web.test_catalog_pages import catalog_url, make_catalog, make_client  # noqa: F401

TABLE = "/tables/dwh/public/orders"


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:  # noqa: F811  (the imported fixture)
    with make_catalog(catalog_url) as cat:
        yield cat


@pytest.fixture
def client(catalog: Catalog, tmp_path: Path) -> TestClient:
    return make_client(catalog, tmp_path)


def bearer(catalog: Catalog, email: str, role: str) -> dict[str, str]:
    """Headers of a script acting as a user with ``role`` (an API token of theirs)."""
    user = record_login(catalog, subject=f"test#{email}", email=email, name=None, granted=role)
    return {"Authorization": f"Bearer {create_token(catalog, user.id, 'test')}"}


def form_fields(page: str) -> dict[str, str]:
    """The edit form's hidden fields and current values, as a browser would send them."""
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    fields["description"] = html.unescape(
        re.search(r'<textarea id="description" name="description"[^>]*>\n(.*?)</textarea>',
                  page, re.DOTALL).group(1)  # type: ignore[union-attr]
    )  # fmt: skip
    for name in ("owner", "tags"):
        found = re.search(rf'id="{name}" name="{name}" value="([^"]*)"', page)
        assert found is not None, name
        fields[name] = html.unescape(found.group(1))
    return fields


def test_edit_in_a_browser_session_with_the_csrf_token(
    client: TestClient, catalog: Catalog
) -> None:
    form = client.get(f"{TABLE}/-/edit")
    assert form.status_code == 200
    assert form.headers["cache-control"] == "no-store"
    fields = form_fields(form.text)
    assert fields["version"] == "1" and fields["csrf_token"]
    assert fields["description"].startswith("One row per **order line**.")
    fields.update(description="Order lines; refunds negative.", owner="ana@example.com",
                  tags="sales, pii")  # fmt: skip
    saved = client.post(f"{TABLE}/-/edit", data=fields, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == TABLE
    obj = catalog.get("dwh/public/orders")
    assert obj.description == "Order lines; refunds negative."
    assert obj.owner == "ana@example.com" and obj.tags == ["sales", "pii"]
    assert [e.author for e in catalog.history(obj.path)] == ["local"] * 3
    assert "Order lines; refunds negative." in client.get(TABLE).text


def test_a_column_edit_goes_back_to_the_columns_anchor(client: TestClient) -> None:
    fields = form_fields(client.get(f"{TABLE}/amount/-/edit").text)
    fields["description"] = "Yen, tax included."
    saved = client.post(f"{TABLE}/amount/-/edit", data=fields, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == f"{TABLE}#amount"


def test_post_without_or_with_a_wrong_csrf_token_is_refused(
    client: TestClient, catalog: Catalog
) -> None:
    fields = form_fields(client.get(f"{TABLE}/-/edit").text)
    fields["description"] = "forged"
    for token in (None, "wrong"):
        data = {k: v for k, v in fields.items() if k != "csrf_token"}
        if token:
            data["csrf_token"] = token
        refused = client.post(f"{TABLE}/-/edit", data=data, follow_redirects=False)
        assert refused.status_code == 403
    assert catalog.get("dwh/public/orders").description.startswith("One row per")
    assert catalog.history("dwh/public/orders") == []


def test_two_editors_at_once_the_second_gets_a_conflict_and_loses_nothing(
    client: TestClient, catalog: Catalog
) -> None:
    ana = bearer(catalog, "ana@example.com", "editor")
    bo = bearer(catalog, "bo@example.com", "editor")
    # Both open the form at version 1.
    ana_form = form_fields(client.get(f"{TABLE}/-/edit", headers=ana).text)
    bo_form = form_fields(client.get(f"{TABLE}/-/edit", headers=bo).text)
    assert ana_form["version"] == bo_form["version"] == "1"
    ana_form["description"] = "Ana: one row per order line. Refunds are negative."
    assert client.post(f"{TABLE}/-/edit", data=ana_form, headers=ana,
                       follow_redirects=False).status_code == 303  # fmt: skip
    bo_text = "Bo: one row per order line.\n\n<script>alert('bo')</script> Refunds are negative."
    bo_form["description"] = bo_text
    conflict = client.post(f"{TABLE}/-/edit", data=bo_form, headers=bo, follow_redirects=False)
    assert conflict.status_code == 409
    page = conflict.text
    # Nothing of Bo's was written; Ana's text stands.
    obj = catalog.get("dwh/public/orders")
    assert obj.description.startswith("Ana:") and obj.version == 2
    assert [e.author for e in catalog.history(obj.path)] == ["ana@example.com"]
    # The page shows Ana's text, keeps Bo's in the textarea, and diffs them (escaped).
    assert "Someone else saved first" in page
    their = re.search(r'<div class="pre-wrap diff" id="their-text">(.*?)</div>', page, re.DOTALL)
    assert their is not None and html.unescape(their.group(1)) == obj.description
    again = form_fields(page)
    assert again["description"] == bo_text
    assert again["version"] == "2"  # saving again goes against Ana's version
    diff = re.search(r'<div class="diff" id="conflict-diff">(.*?)</div>', page, re.DOTALL)
    assert diff is not None
    assert "<del>Ana</del><ins>Bo</ins>" in diff.group(1)
    assert "&lt;script&gt;" in diff.group(1) and "<script>" not in page
    # Bo merges and saves: it goes through, both edits are in the history.
    again["description"] = "Merged by Bo. Refunds are negative."
    merged = client.post(f"{TABLE}/-/edit", data=again, headers=bo, follow_redirects=False)
    assert merged.status_code == 303
    assert [e.author for e in catalog.history(obj.path)] == ["bo@example.com", "ana@example.com"]


def test_a_viewer_can_neither_open_nor_post_the_edit_form(
    client: TestClient, catalog: Catalog
) -> None:
    viewer = bearer(catalog, "vi@example.com", "viewer")
    page = client.get(TABLE, headers=viewer)
    assert page.status_code == 200
    assert "/-/edit" not in page.text  # no edit links for a viewer
    assert client.get(f"{TABLE}/-/edit", headers=viewer).status_code == 403
    refused = client.post(f"{TABLE}/-/edit", headers=viewer,
                          data={"version": "1", "description": "mine now"})  # fmt: skip
    assert refused.status_code == 403
    assert "editor role" in refused.json()["detail"]
    assert catalog.history("dwh/public/orders") == []


def test_bad_input_is_a_400_form_that_keeps_the_text(client: TestClient, catalog: Catalog) -> None:
    fields = form_fields(client.get(f"{TABLE}/-/edit").text)
    fields.update(description="kept text", tags="ok, " + "x" * 65)
    page = client.post(f"{TABLE}/-/edit", data=fields)
    assert page.status_code == 400
    assert "tags are 1 to 64 characters" in html.unescape(page.text)
    assert form_fields(page.text)["description"] == "kept text"
    fields["version"] = "one"
    page = client.post(f"{TABLE}/-/edit", data=fields)
    assert page.status_code == 400 and "is not a number" in page.text
    del fields["version"]
    page = client.post(f"{TABLE}/-/edit", data=fields)
    assert page.status_code == 400 and "The edit names no version" in page.text
    assert catalog.history("dwh/public/orders") == []


def test_a_script_may_send_only_the_fields_it_changes(client: TestClient, catalog: Catalog) -> None:
    editor = bearer(catalog, "bot@example.com", "editor")
    data = {"version": "1", "owner": "data-team"}
    sent = client.post(f"{TABLE}/-/edit", headers=editor, data=data, follow_redirects=False)
    assert sent.status_code == 303
    obj = catalog.get("dwh/public/orders")
    assert obj.owner == "data-team" and obj.description.startswith("One row per")


def test_history_lists_every_edit_with_author_time_and_escaped_diff(
    client: TestClient, catalog: Catalog
) -> None:
    path = "dwh/public/orders"
    v = catalog.edit(path, author="ana@example.com", expected_version=1,
                     description="Counts <b>orders</b> per day").version  # fmt: skip
    catalog.edit(path, author="bo@example.com", expected_version=v,
                 description="Counts <b>order lines</b> per day", tags=["sales"])  # fmt: skip
    page = client.get(f"{TABLE}/-/history")
    assert page.status_code == 200
    body = page.text
    assert body.index("bo@example.com") < body.index("ana@example.com")  # newest first
    assert "Counts &lt;b&gt;<del>orders</del><ins>order lines</ins>&lt;/b&gt; per day" in body
    assert "<ins>sales</ins>" in body
    # A table's history has its columns' edits too, each naming its column.
    catalog.edit(f"{path}/amount", author="cy@example.com", expected_version=1,
                 description="Yen")  # fmt: skip
    body = client.get(f"{TABLE}/-/history").text
    assert body.index("cy@example.com") < body.index("bo@example.com")
    assert f'<a href="{TABLE}/amount">amount</a>: <strong>description</strong> by cy@' in body
    column = client.get(f"{TABLE}/amount/-/history").text
    assert "cy@example.com" in column and "bo@example.com" not in column
    assert "<b>orders</b>" not in body
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT[^"]+">\d{4}-\d\d-\d\d \d\d:\d\d UTC', body)
