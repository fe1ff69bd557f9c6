"""The web app in headless Chromium: log in through a real OIDC provider, edit a table's
description, find it in search and history, open a run's graph and the ranking comparison,
reach the edit link by keyboard with a visible focus, and read pages 360 pixels wide.

One site for the module (``tasuki web`` under uvicorn, seeded by a real build and sync), one
logged-in browser context shared by the tests in order; each page is screenshotted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests._web import (
    EDITOR,
    REPO,
    Screenshots,
    oidc_issuer,  # noqa: F401  (fixture)
    tasuki_web,
    write_settings,
)
from tests.e2e.web._site import Seeded, seed

pytestmark = pytest.mark.slow

TABLE = "/tables/dwh/main/orders"
MARKER = "quokka-ledger"
TIMEOUT_MS = 20_000


@dataclass(frozen=True)
class Site:
    base: str
    seeded: Seeded


@pytest.fixture(scope="module")
def site(
    oidc_issuer: str,  # noqa: F811  (the fixture)
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("site")
    seeded = seed(folder, REPO)
    config = write_settings(folder, issuer=oidc_issuer, warehouses={"dwh": seeded.warehouse_url})
    with tasuki_web(config, pythonpath=[folder, REPO]) as base:
        yield Site(base, seeded)


@pytest.fixture(scope="module")
def editor(browser: Any, site: Site, screenshots: Screenshots) -> Iterator[Any]:
    """A browser page logged in as the editor through the provider's form."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.base)
    page = context.new_page()
    page.goto(site.base + TABLE)
    # Not logged in: the app sent the browser to the provider's authorization form.
    assert "/oauth2/authorize" in page.url, page.url
    page.fill('input[name="sub"]', "eve-sub")
    screenshots.take(page, "provider-login-form")
    page.click('button[type="submit"]:has-text("Authorize")')
    page.wait_for_url(site.base + TABLE)
    try:
        yield page
    finally:
        context.close()


def _fits_a_phone(page: Any, screenshots: Screenshots, name: str) -> None:
    """The page as it is, 360 pixels wide: no horizontal scroll (wide parts scroll inside)."""
    page.set_viewport_size({"width": 360, "height": 780})
    try:
        scroll, client = _no_horizontal_scroll(page)
        screenshots.take(page, f"narrow-360-{name}")
        assert scroll <= client, f"{name}: {scroll} px wide in a {client} px window"
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})


def _no_horizontal_scroll(page: Any) -> tuple[int, int]:
    widths: tuple[int, int] = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    return widths


def test_login_lands_on_the_page_asked_for(
    editor: Any, site: Site, screenshots: Screenshots
) -> None:
    assert editor.url == site.base + TABLE
    header = editor.locator(".site-user").inner_text()
    assert "Eve Editor" in header and "(editor)" in header
    assert editor.locator("h1").first.inner_text().strip() != ""
    screenshots.take(editor, "table-page")


def test_copy_button_copies_the_pages_link(editor: Any, site: Site) -> None:
    editor.goto(site.base + TABLE)
    button = editor.locator('button[data-copy="#page-url"]')
    button.click()
    assert editor.evaluate("() => navigator.clipboard.readText()") == site.base + TABLE
    assert button.inner_text() == "Copied"


def test_edit_description_then_find_it_in_search_and_history(
    editor: Any, site: Site, screenshots: Screenshots
) -> None:
    editor.goto(site.base + TABLE)
    editor.click(f'a[href="{TABLE}/-/edit"]')
    editor.wait_for_url(site.base + TABLE + "/-/edit")
    text = f"Orders as placed in the shop ({MARKER}). 返品は含まない注文の明細。"
    editor.fill("textarea#description", text)
    screenshots.take(editor, "edit-form")
    editor.click('form.edit-form button[type="submit"]')
    editor.wait_for_url(site.base + TABLE)
    assert MARKER in editor.locator("main").inner_text()
    screenshots.take(editor, "table-after-edit")

    editor.fill("#site-search-q", MARKER)
    editor.press("#site-search-q", "Enter")
    editor.wait_for_url("**/search?q=*")
    hit = editor.locator(f'main a[href="{TABLE}"]')
    assert hit.count() >= 1, editor.locator("main").inner_text()
    screenshots.take(editor, "search-english")
    # Japanese substrings are found too (a trigram index).
    editor.goto(site.base + "/search?q=" + "含まない注文")
    assert editor.locator(f'main a[href="{TABLE}"]').count() >= 1
    screenshots.take(editor, "search-japanese")

    editor.goto(site.base + TABLE + "/-/history")
    history = editor.locator("main").inner_text()
    assert EDITOR in history and MARKER in history
    screenshots.take(editor, "history")


def test_run_graph(editor: Any, site: Site, screenshots: Screenshots) -> None:
    editor.goto(site.base + "/runs?view=builds")
    screenshots.take(editor, "runs")
    editor.locator('main a[href^="/runs/"]').first.click()
    editor.wait_for_url("**/runs/*")
    graph = editor.locator("main svg").first
    graph.wait_for(state="visible")
    labels = editor.locator("main svg").first.inner_html()
    assert "Recommender" in labels and "Interactions" in labels
    screenshots.take(editor, "run-graph")
    _fits_a_phone(editor, screenshots, "run-graph")


def test_ranking_comparison(editor: Any, site: Site, screenshots: Screenshots) -> None:
    editor.goto(site.base + "/compare")
    editor.fill("#c-a", site.seeded.popular)
    editor.fill("#c-b", site.seeded.personal)
    editor.fill("#c-value", "1")
    editor.locator("form.compare-form").evaluate("f => f.requestSubmit()")
    editor.wait_for_url("**/compare?*")
    items_a = editor.locator("table.ranking-a tbody td code").all_inner_texts()
    items_b = editor.locator("table.ranking-b tbody td code").all_inner_texts()
    assert items_a == ["a", "b", "c", "d", "e", "f"]  # the seed's popular list for user 1
    assert items_b == ["c", "a", "f", "b", "g", "h"]  # and the personal one
    assert "Overlap 4" in editor.locator("main").inner_text()
    screenshots.take(editor, "ranking-comparison")
    _fits_a_phone(editor, screenshots, "ranking-comparison")


def test_lineage_of_a_table_tasuki_wrote(editor: Any, site: Site, screenshots: Screenshots) -> None:
    editor.goto(site.base + "/tables/dwh/main/daily_revenue")
    lineage = editor.locator("main").inner_text()
    assert "DailyRevenue" in lineage, lineage
    screenshots.take(editor, "table-written-by-tasuki")
    editor.click('main a:has-text("Lineage graph")')
    editor.wait_for_url("**/lineage/**")
    editor.locator("main svg").first.wait_for(state="visible")
    screenshots.take(editor, "lineage-graph")
    # All the way up: the write-back, the task, its query and the table it read.
    editor.goto(site.base + "/lineage/table:dwh/main/daily_revenue?direction=up&depth=all")
    graph = editor.locator("main svg").first
    graph.wait_for(state="visible")
    drawn = graph.inner_html()
    assert "DailyRevenue" in drawn and "orders" in drawn, drawn
    screenshots.take(editor, "lineage-graph-upstream")


def test_a_viewer_sees_no_edit_link_and_is_refused_the_form(
    browser: Any, site: Site, screenshots: Screenshots
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        page.goto(site.base + TABLE)
        page.fill('input[name="sub"]', "viola-sub")
        page.click('button[type="submit"]:has-text("Authorize")')
        page.wait_for_url(site.base + TABLE)
        assert "(viewer)" in page.locator(".site-user").inner_text()
        assert page.locator(f'a[href="{TABLE}/-/edit"]').count() == 0
        response = page.goto(site.base + TABLE + "/-/edit")
        assert response is not None and response.status == 403
        assert "needs the editor role" in page.locator("main").inner_text()
        screenshots.take(page, "viewer-refused-edit")
    finally:
        context.close()


def test_keyboard_reaches_the_edit_link_with_a_visible_focus(
    editor: Any, site: Site, screenshots: Screenshots
) -> None:
    editor.goto(site.base + TABLE)
    editor.keyboard.press("Tab")
    first = editor.evaluate(
        "() => { const e = document.activeElement; const r = e.getBoundingClientRect();"
        " return [e.className, e.getAttribute('href'), r.top, r.height]; }"
    )
    assert first[:2] == ["skip-link", "#content"]
    assert first[2] >= 0 and first[3] > 0  # the skip link shows itself when focused
    # Following it skips the header: the next Tab lands inside <main>.
    editor.keyboard.press("Enter")
    editor.keyboard.press("Tab")
    assert editor.evaluate("() => !!document.activeElement.closest('main')")
    assert not editor.evaluate("() => !!document.activeElement.closest('header')")
    for presses in range(1, 80):
        editor.keyboard.press("Tab")
        href = editor.evaluate("() => document.activeElement.getAttribute('href')")
        if href == f"{TABLE}/-/edit":
            break
    else:
        pytest.fail("80 presses of Tab never reached the table's edit link")
    outline = editor.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, parseFloat(s.outlineWidth)]; }"
    )
    assert outline[0] != "none" and outline[1] >= 2, outline
    screenshots.take(editor, f"keyboard-focus-on-edit-after-{presses + 1}-tabs")
    editor.keyboard.press("Enter")
    editor.wait_for_url(site.base + TABLE + "/-/edit")
    # The whole edit by keyboard: Tab to the text, type, Tab to Save, Enter.
    _tab_to(editor, "document.activeElement.id === 'description'")
    editor.keyboard.press("ControlOrMeta+A")
    editor.keyboard.type(f"Typed by keyboard ({MARKER}).")
    _tab_to(editor, "document.activeElement.matches('form.edit-form button[type=submit]')")
    screenshots.take(editor, "keyboard-focus-on-save")
    editor.keyboard.press("Enter")
    editor.wait_for_url(site.base + TABLE)
    assert "Typed by keyboard" in editor.locator("main").inner_text()


def _tab_to(page: Any, condition: str, limit: int = 60) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"() => {condition}"):
            return
    pytest.fail(f"{limit} presses of Tab never reached: {condition}")


@pytest.mark.parametrize(
    "path",
    [
        TABLE,
        "/",
        "/tables/",
        f"/search?q={MARKER}",
        f"{TABLE}/-/history",
        f"{TABLE}/-/edit",
        "/runs",
        "/runs?view=builds",
        "/compare",
        "/datasets",
        "/models",
    ],
)
def test_narrow_screen_has_no_horizontal_scroll(
    browser: Any, editor: Any, site: Site, screenshots: Screenshots, path: str
) -> None:
    context = browser.new_context(
        viewport={"width": 360, "height": 780}, storage_state=editor.context.storage_state()
    )
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(site.base + path)
        assert page.url.startswith(site.base + path.split("?")[0]), page.url  # still logged in
        scroll, client = _no_horizontal_scroll(page)
        screenshots.take(page, f"narrow-360-{path}")
        assert scroll <= client, f"{path}: {scroll} px wide in a {client} px window"
    finally:
        context.close()


def test_admin_makes_a_token_on_the_admin_page(
    browser: Any, site: Site, screenshots: Screenshots
) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 780})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        page.goto(site.base + "/admin/users")
        page.fill('input[name="sub"]', "admin-sub")
        page.click('button[type="submit"]:has-text("Authorize")')
        page.wait_for_url(site.base + "/admin/users")
        row = page.locator("tr", has_text="admin@example.com")
        row.locator('input[name="name"]').fill("nightly-docs")
        row.locator('button:has-text("Create token")').click()
        token = page.locator("#new-token").inner_text()
        assert token.startswith("tsk_") and len(token) == 47
        scroll, client = _no_horizontal_scroll(page)
        screenshots.take(page, "narrow-360-admin-new-token")
        assert scroll <= client, f"admin page: {scroll} px wide in a {client} px window"
        page.goto(site.base + "/admin/users")
        assert token not in page.content()  # shown once
        assert "nightly-docs" in page.locator("main").inner_text()
    finally:
        context.close()
