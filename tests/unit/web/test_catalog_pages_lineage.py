"""Lineage on the catalog pages: the table page's section (writer, its parameters,
upstream, readers) and the graph view, up to a 1,000-node upstream graph."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("markdown_it")

from fastapi.testclient import TestClient

from tasuki.catalog import Catalog
from tasuki.catalog._lineage import Batch, write_batch
from tasuki.web import _catalog_lineage
from tests.unit.web.test_catalog_pages import make_catalog, make_client

WRITER = "a1" * 32
READER = "b2" * 32
UPSTREAM_TASK = "c3" * 32
SCORES = "table:dwh/mart/scores"


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    with make_catalog(f"sqlite:///{tmp_path / 'catalog.db'}") as cat:
        yield cat


@pytest.fixture
def client(catalog: Catalog, tmp_path: Path) -> TestClient:
    return make_client(catalog, tmp_path)


def write(catalog: Catalog, batch: Batch) -> None:
    with catalog.engine.begin() as conn:
        write_batch(conn, batch)


@pytest.fixture
def lineage(catalog: Catalog) -> None:
    """orders, a dataset and a query go into the task that writes scores; a task reads it."""
    b = Batch()
    b.node(SCORES, "table", "dwh/mart/scores")
    b.node("table:dwh/public/orders", "table", "dwh/public/orders")
    b.node(f"task:{WRITER}", "task", f"mypkg.scores:Score [{WRITER[:10]}]",
           {"id": WRITER, "status": "done", "params": {"day": "2026-01-01", "top_k": 50,
                                                       "note": "<script>x</script>"}})  # fmt: skip
    b.node(f"task:{UPSTREAM_TASK}", "task", f"mypkg.prep:Prep [{UPSTREAM_TASK[:10]}]",
           {"id": UPSTREAM_TASK})  # fmt: skip
    b.node("dataset:product_a/clicks:1.2.0", "dataset", "product_a/clicks:1.2.0")
    b.node("query:0123456789abcdef", "query", "SELECT * FROM raw.events")
    b.node(f"task:{READER}", "task", f"mypkg.report:Report [{READER[:10]}]", {"id": READER})
    b.edge(f"task:{WRITER}", SCORES, "wrote")
    b.edge("table:dwh/public/orders", f"task:{WRITER}", "read")
    b.edge("dataset:product_a/clicks:1.2.0", f"task:{WRITER}", "read")
    b.edge("query:0123456789abcdef", f"task:{UPSTREAM_TASK}", "reads")
    b.edge(f"task:{UPSTREAM_TASK}", f"task:{WRITER}", "requires")
    b.edge(SCORES, f"task:{READER}", "read")
    write(catalog, b)


@pytest.mark.usefixtures("lineage")
def test_table_page_names_the_writer_its_parameters_what_went_in_and_readers(
    client: TestClient,
) -> None:
    body = client.get("/tables/dwh/mart/scores").text
    section = body.split('<h2 id="lineage">', 1)[1].split('<h2 id="events">', 1)[0]
    written_by = section.split("<h3>Upstream</h3>")[0]
    assert f'href="/tasks/{WRITER}">mypkg.scores:Score [{WRITER[:10]}]</a>' in written_by
    assert "<td>day</td><td>2026-01-01</td>" in written_by
    assert "<td>top_k</td><td>50</td>" in written_by
    assert "&lt;script&gt;x&lt;/script&gt;" in written_by and "<script>x" not in body
    upstream = section.split("<h3>Upstream</h3>")[1].split("<h3>Read by</h3>")[0]
    assert 'href="/tables/dwh/public/orders"' in upstream
    assert 'href="/datasets/product_a/clicks"' in upstream
    assert f'href="/tasks/{UPSTREAM_TASK}"' in upstream
    assert f'href="/tasks/{WRITER}"' not in upstream  # listed as the writer, not twice
    assert "SELECT * FROM raw.events" not in upstream  # three steps away: the graph has it
    readers = section.split("<h3>Read by</h3>")[1]
    assert f'href="/tasks/{READER}"' in readers
    assert 'href="/lineage/table:dwh/mart/scores"' in section


def test_table_without_lineage_says_so(client: TestClient) -> None:
    body = client.get("/tables/dwh/public/orders").text
    assert "tasuki knows nothing yet of what writes or reads this table" in body


@pytest.mark.usefixtures("lineage")
def test_graph_view_draws_the_graph_with_links_and_a_text_list(client: TestClient) -> None:
    page = client.get("/lineage/table:dwh/mart/scores", params={"depth": "3"})
    assert page.status_code == 200
    body = page.text
    assert "<svg" in body
    assert 'class="dag-text"' in body  # the same graph as a list
    assert f'href="/tasks/{WRITER}"' in body and 'href="/tables/dwh/public/orders"' in body
    assert 'href="/lineage/query:0123456789abcdef"' in body  # a query has no page of its own
    assert 'data-key="table:dwh/mart/scores"' in body and "dag-node-highlight" in body
    views = client.get("/lineage/table:dwh/mart/scores").text
    assert '<a href="/lineage/table:dwh/mart/scores" aria-current="page">' in views
    # A table's path works as its key; case differences too.
    assert client.get("/lineage/dwh/mart/scores").status_code == 200
    up = client.get("/lineage/table:dwh/mart/scores", params={"direction": "up", "depth": "all"})
    assert f'href="/tasks/{READER}"' not in up.text and "SELECT * FROM raw.events" in up.text


@pytest.mark.usefixtures("lineage")
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"direction": "sideways"}, "is not one of both, up, down"),
        ({"depth": "0"}, "is not a number of steps from 1 to 50"),
        ({"depth": "many"}, "is not a number of steps from 1 to 50"),
        ({"depth": "all"}, "depth=all needs direction=up or direction=down"),
    ],
)
def test_graph_view_bad_parameters_are_400_saying_what_is_allowed(
    client: TestClient, params: dict[str, str], message: str
) -> None:
    page = client.get("/lineage/table:dwh/mart/scores", params=params)
    assert page.status_code == 400
    assert message in page.text


def test_graph_view_of_an_unknown_node_is_404(client: TestClient) -> None:
    assert client.get("/lineage/table:dwh/mart/nope").status_code == 404


def test_thousand_node_upstream_graph_is_one_plain_svg(
    client: TestClient, catalog: Catalog
) -> None:
    b = Batch()
    keys = [f"table:dwh/chain/t{i:04d}" for i in range(1000)]
    for i, key in enumerate(keys):
        b.node(key, "table", key.removeprefix("table:"))
        if i:
            b.edge(keys[i - 1], key, "read")
        if i >= 2 and i % 7 == 0:  # some fan-in, as real pipelines have
            b.edge(keys[i - 2], key, "read")
    write(catalog, b)
    url = f"/lineage/{keys[-1]}"
    client.get(url, params={"direction": "up", "depth": "all"})  # warm the templates
    started = time.perf_counter()
    page = client.get(url, params={"direction": "up", "depth": "all"})
    elapsed = time.perf_counter() - started
    assert page.status_code == 200
    body = page.text
    assert body.count("<svg") == 1
    assert len(re.findall(r'data-key="table:dwh/chain/t\d{4}"', body)) == 1000
    # Nothing for the browser to run per node: no script, no event handlers.
    assert "<script" not in body.split("</head>", 1)[1]
    assert not re.search(r"\son[a-z]+=", body)
    assert len(body) < 2_000_000
    assert elapsed < 2.0, f"server took {elapsed:.2f} s for 1,000 nodes"


@pytest.mark.usefixtures("lineage")
def test_graph_too_large_to_draw_is_listed(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_catalog_lineage, "MAX_DRAWN", 3)
    body = client.get("/lineage/table:dwh/mart/scores").text
    assert "<svg" not in body
    assert "more than a picture can show (at most 3)" in body
    assert f'href="/tasks/{WRITER}"' in body


@pytest.mark.usefixtures("lineage")
def test_a_table_read_by_many_lists_the_first_and_counts_the_rest(
    client: TestClient, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_catalog_lineage, "SECTION_LIMIT", 2)
    b = Batch()
    b.node(SCORES, "table", "dwh/mart/scores")
    for i in range(4):
        b.node(f"task:{i:064d}", "task", f"mypkg.read:Read{i}", {"id": f"{i:064d}"})
        b.edge(SCORES, f"task:{i:064d}", "read")
    write(catalog, b)
    body = client.get("/tables/dwh/mart/scores").text
    readers = body.split("<h3>Read by</h3>")[1].split('<h2 id="events">')[0]
    assert readers.count("<li>") == 2
    assert "and 3 more in" in readers  # five readers in all
    upstream = body.split("<h3>Upstream</h3>")[1].split("<h3>Read by</h3>")[0]
    assert "and 1 more in" in upstream  # orders, the dataset, the upstream task
