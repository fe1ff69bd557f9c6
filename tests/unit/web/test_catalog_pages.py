"""The catalog's pages through the real app: browse, table pages, anchors, gone objects,
events, search, and descriptions with HTML in them."""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("markdown_it")

from fastapi.testclient import TestClient

from tasuki.catalog import Catalog
from tasuki.catalog import _schema as t
from tasuki.config import Settings
from tasuki.web._app import create_app
from tests._catalog import NOW, add_tables
from tests._services import postgres_url  # noqa: F401  (fixture)

TABLES = {
    "public.orders": [("id", "BIGINT"), ("amount", "NUMERIC"), ("user id", "TEXT")],
    "public.売上": [("月次売上", "NUMERIC")],
    "mart.scores": [("score", "DOUBLE")],
    "public.audit": [("history", "TEXT"), ("edit", "TEXT")],
}


def make_catalog(url: str) -> Catalog:
    """A catalog at ``url`` holding :data:`TABLES` in warehouse ``dwh``."""
    catalog = Catalog.open(url)
    add_tables(
        catalog,
        "dwh",
        TABLES,
        descriptions={
            "dwh/public/orders": "One row per **order line**.\n\nRefunds are negative.",
            "dwh/public/orders/amount": "In yen, tax included.",
            "dwh/public/売上": "月次の売上集計テーブル",
        },
        comments={"dwh/mart/scores": "scores from the recommender"},
    )
    return catalog


def make_client(catalog: Catalog, tmp_path: Path, *, base_url: str | None = None) -> TestClient:
    """The real app under ``--insecure-local`` (every request is the admin ``local``)."""
    settings = Settings(
        workspace=str(tmp_path / "ws"),
        catalog=catalog.url,
        web={"base_url": base_url} if base_url else {},
    )
    return TestClient(create_app(settings, insecure_local=True, catalog=catalog))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A tmp SQLite file, and a fresh PostgreSQL database (the team's store)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    with make_catalog(catalog_url) as cat:
        yield cat


@pytest.fixture
def client(catalog: Catalog, tmp_path: Path) -> TestClient:
    return make_client(catalog, tmp_path)


def set_row(catalog: Catalog, path: str, **values: object) -> None:
    """Change a ``catalog_objects`` row the way a sync would."""
    with catalog.engine.begin() as conn:
        conn.execute(t.objects.update().where(t.objects.c.path == path).values(**values))


def add_event(catalog: Catalog, path: str, kind: str, detail: dict[str, object]) -> None:
    """Leave an event on ``path`` as a sync would."""
    with catalog.engine.begin() as conn:
        oid = conn.execute(t.objects.select().where(t.objects.c.path == path)).one().id
        conn.execute(
            t.events.insert().values(object_id=oid, kind=kind, detail=json.dumps(detail), at=NOW)
        )


def test_browse_from_warehouses_down_to_a_table(client: TestClient) -> None:
    page = client.get("/tables/")
    assert page.status_code == 200
    assert 'href="/tables/dwh"' in page.text
    page = client.get("/tables/dwh")
    assert 'href="/tables/dwh/mart"' in page.text and 'href="/tables/dwh/public"' in page.text
    page = client.get("/tables/dwh/public")
    assert 'href="/tables/dwh/public/orders"' in page.text
    # A Japanese table name is a percent-encoded URL segment, and its page answers.
    assert 'href="/tables/dwh/public/%E5%A3%B2%E4%B8%8A"' in page.text
    assert "One row per order line." in page.text  # the description's first paragraph
    assert client.get("/tables/dwh/public/%E5%A3%B2%E4%B8%8A").status_code == 200


def test_table_page_has_description_stats_and_column_anchors(
    client: TestClient, catalog: Catalog
) -> None:
    set_row(catalog, "dwh/public/orders", owner="ana@example.com", tags='["sales", "pii"]',
            size_bytes=12_345_678, row_estimate=1_234_567)  # fmt: skip
    page = client.get("/tables/dwh/public/orders")
    assert page.status_code == 200
    body = page.text
    assert "<strong>order line</strong>" in body
    assert "ana@example.com" in body and ">sales<" in body and ">pii<" in body
    assert "~1,234,567" in body and "12.3 MB" in body
    # Each column row is the target of /tables/dwh/public/orders#<column>.
    assert '<tr id="id"' in body and '<tr id="amount"' in body
    assert '<tr id="user_id"' in body  # whitespace is not allowed in an id
    assert "In yen, tax included." in body
    assert 'href="/tables/dwh/public/orders/amount"' in body  # the column's own page
    assert 'href="/tables/dwh/public/orders/-/edit"' in body  # local is admin: may edit
    assert 'href="/tables/dwh/public/orders/-/history"' in body


def test_column_page_links_back_to_its_anchor(client: TestClient) -> None:
    page = client.get("/tables/dwh/public/orders/amount")
    assert page.status_code == 200
    assert "In yen, tax included." in page.text
    assert 'href="/tables/dwh/public/orders#amount"' in page.text
    assert 'href="/tables/dwh/public/orders/amount/-/edit"' in page.text


def test_a_column_named_like_an_action_is_still_a_column(
    client: TestClient, catalog: Catalog
) -> None:
    page = client.get("/tables/dwh/public/audit/history")
    assert page.status_code == 200
    assert "column of" in page.text
    assert client.get("/tables/dwh/public/audit/-/history").status_code == 200


def test_unknown_path_is_404_naming_it(client: TestClient) -> None:
    page = client.get("/tables/dwh/public/nope")
    assert page.status_code == 404
    assert "dwh/public/nope" in html.unescape(page.text)


def test_gone_table_and_column_are_shown_as_gone_with_their_text(
    client: TestClient, catalog: Catalog
) -> None:
    gone = NOW + dt.timedelta(days=3)
    set_row(catalog, "dwh/public/orders/amount", gone_at=gone)
    page = client.get("/tables/dwh/public/orders")
    assert '<tr id="amount" class="gone">' in page.text
    assert "In yen, tax included." in page.text  # its text is kept
    assert "gone since 2026-01-05 03:04 UTC" in page.text
    set_row(catalog, "dwh/public/orders", gone_at=gone)
    page = client.get("/tables/dwh/public/orders")
    assert page.status_code == 200
    assert "Gone since 2026-01-05 03:04 UTC" in page.text
    assert "<strong>order line</strong>" in page.text
    listing = client.get("/tables/dwh/public").text
    gone_part = listing.split("gone (kept with their descriptions)", 1)
    assert len(gone_part) == 2 and 'href="/tables/dwh/public/orders"' in gone_part[1]


def test_type_changes_of_columns_show_on_the_table_page(
    client: TestClient, catalog: Catalog
) -> None:
    add_event(catalog, "dwh/public/orders/amount", "type_changed",
              {"before": "INTEGER", "after": "NUMERIC"})  # fmt: skip
    add_event(catalog, "dwh/public/orders", "appeared", {})
    renamed = {"before": "dwh/public/orders/order_id", "after": "dwh/public/orders/id"}
    add_event(catalog, "dwh/public/orders/id", "renamed", renamed)
    body = client.get("/tables/dwh/public/orders").text
    assert "type changed: INTEGER → NUMERIC" in body
    assert 'href="/tables/dwh/public/orders/amount">amount</a>:' in body
    assert "appeared" in body
    assert "renamed from order_id" in body
    column = client.get("/tables/dwh/public/orders/amount").text
    assert "type changed: INTEGER → NUMERIC" in column


def test_html_and_script_in_descriptions_are_never_live(
    client: TestClient, catalog: Catalog
) -> None:
    evil = (
        '<script>alert("x")</script> <img src=x onerror=alert(1)> '
        "[click](javascript:alert(1)) </textarea><b>bold</b>"
    )
    set_row(catalog, "dwh/public/orders", description=evil, owner="<i>o</i>",
            tags=json.dumps(["<svg onload=alert(1)>"]), comment="<script>c</script>")  # fmt: skip
    set_row(catalog, "dwh/public/orders/amount", description=evil)
    for url in (
        "/tables/dwh/public/orders",
        "/tables/dwh/public",
        "/tables/dwh/public/orders/amount",
        "/tables/dwh/public/orders/-/edit",
        "/search?q=alert",
    ):
        body = client.get(url).text
        main = body.split("<main", 1)[1]
        assert "<script" not in main, url
        assert "<img src=x" not in body, url
        assert 'href="javascript:' not in body, url
        assert "<svg onload" not in body, url
        assert "<i>o</i>" not in body, url
        assert "<b>bold</b>" not in body, url
        assert "</textarea><b>" not in body, url
    body = client.get("/tables/dwh/public/orders").text
    assert "&lt;script&gt;alert" in body  # shown as text, for the reader to see
    # The link preview's tags are escaped attributes too.
    assert 'content="&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;' in body


def test_slack_link_preview_tags(catalog: Catalog, tmp_path: Path) -> None:
    client = make_client(catalog, tmp_path, base_url="https://tasuki.example.com")
    body = client.get("/tables/dwh/public/orders").text
    assert '<meta property="og:title" content="dwh/public/orders">' in body
    assert '<meta property="og:description" content="One row per order line.">' in body
    url = "https://tasuki.example.com/tables/dwh/public/orders"
    assert f'<meta property="og:url" content="{url}">' in body
    assert '<meta name="twitter:card" content="summary">' in body
    assert f'<code id="page-url">{url}</code>' in body  # with a button that copies it
    # No description: the warehouse comment, else the path.
    body = client.get("/tables/dwh/mart/scores").text
    assert '<meta property="og:description" content="scores from the recommender">' in body


def test_search_ranks_highlights_and_links_columns_to_their_anchor(client: TestClient) -> None:
    page = client.get("/search", params={"q": "amount"})
    assert page.status_code == 200
    assert 'href="/tables/dwh/public/orders#amount"' in page.text
    page = client.get("/search", params={"q": "tax"})
    assert "In yen, <mark>tax</mark> included." in page.text


def test_search_finds_japanese_substrings(client: TestClient) -> None:
    page = client.get("/search", params={"q": "売上集計"})
    assert 'href="/tables/dwh/public/%E5%A3%B2%E4%B8%8A"' in page.text
    assert "月次の<mark>売上集計</mark>テーブル" in page.text
    page = client.get("/search", params={"q": "売上"})  # two characters: below a trigram
    table = "/tables/dwh/public/" + quote("売上")
    assert f'href="{table}#{quote("月次売上")}"' in page.text


def test_search_filters_and_bad_kind(client: TestClient) -> None:
    page = client.get("/search", params={"q": "orders", "kind": "column"})
    assert 'href="/tables/dwh/public/orders"' not in page.text
    page = client.get("/search", params={"q": "orders", "kind": "table"})
    assert 'href="/tables/dwh/public/orders"' in page.text
    page = client.get("/search", params={"q": "orders", "warehouse": "other"})
    assert "Nothing found" in page.text
    page = client.get("/search", params={"q": "orders", "kind": "tabel"})
    assert page.status_code == 400
    assert "kind &#39;tabel&#39; is not one of database, schema, table, column" in page.text
    assert client.get("/search").status_code == 200  # the empty form


def test_search_snippet_markup_is_escaped(client: TestClient, catalog: Catalog) -> None:
    set_row(catalog, "dwh/mart/scores", description="score <b>between</b> 0 & 1")
    body = client.get("/search", params={"q": "between"}).text
    assert "&lt;b&gt;<mark>between</mark>&lt;/b&gt; 0 &amp; 1" in body


def test_an_anonymous_link_unfurler_gets_the_login_not_the_preview(
    catalog: Catalog, tmp_path: Path
) -> None:
    settings = Settings(
        workspace=str(tmp_path / "ws"),
        catalog=catalog.url,
        web={
            "oidc_issuer": "https://login.example.com",
            "oidc_client_id": "tasuki",
            "oidc_client_secret": "s3cret",
            "session_secret": "x" * 40,
        },
    )
    client = TestClient(create_app(settings, catalog=catalog))
    slackbot = {"User-Agent": "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"}
    page = client.get("/tables/dwh/public/orders", headers=slackbot, follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/login?next=")
    assert "order line" not in page.text and "og:" not in page.text


def test_tables_without_the_slash_and_trailing_slashes(client: TestClient) -> None:
    assert client.get("/tables").url.path == "/tables/"
    assert 'href="/tables/dwh/public"' in client.get("/tables/dwh/").text


def test_long_lists_come_a_page_at_a_time(
    client: TestClient, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tasuki.web import _catalog_listing

    monkeypatch.setattr(_catalog_listing, "PAGE_SIZE", 2)
    set_row(catalog, "dwh/public/audit", gone_at=NOW)
    first = client.get("/tables/dwh/public").text  # orders, 売上 (audit is gone)
    assert "1–2 of 2" not in first  # one page: no pager
    add = {"public.more": [("x", "INT")], "public.zzz": [("y", "INT")]}
    with catalog.engine.begin() as conn:
        schema_id = (
            conn.execute(t.objects.select().where(t.objects.c.path == "dwh/public")).one().id
        )
        for qualified in add:
            table = qualified.split(".")[1]
            conn.execute(t.objects.insert().values(
                path=f"dwh/public/{table}", kind="table", warehouse="dwh", schema_name="public",
                table_name=table, parent_id=schema_id, first_seen=NOW, last_seen=NOW,
            ))  # fmt: skip
    page1 = client.get("/tables/dwh/public").text
    assert "1–2 of 4" in page1 and 'rel="next" href="/tables/dwh/public?page=2"' in page1
    assert 'href="/tables/dwh/public/more"' in page1 and 'href="/tables/dwh/public/orders"' in page1
    assert "1 gone (kept with their descriptions)" in page1
    page2 = client.get("/tables/dwh/public?page=2").text
    assert "3–4 of 4" in page2 and 'rel="prev" href="/tables/dwh/public"' in page2
    assert 'href="/tables/dwh/public/zzz"' in page2
    assert 'href="/tables/dwh/public/orders"' not in page2
    assert "gone (kept" not in page2  # listed on the first page only
    for bad, message in (("0", "pages are numbered from 1"), ("3", "there are 2")):
        refused = client.get(f"/tables/dwh/public?page={bad}")
        assert refused.status_code == 400 and message in refused.text
