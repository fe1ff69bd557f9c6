"""The datasets and zoo pages on a real registry: datasets built, models pushed from tasks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

import tasuki
from tasuki.config import Settings
from tasuki.datasets import DatasetBuilder, build
from tasuki.web import _registry_pages
from tasuki.web._app import create_app
from tasuki.zoo import Zoo


class Part(tasuki.Task):
    i: int
    bump: int = 0

    def output(self) -> Any:
        return self.make_target("part.parquet")

    def run(self) -> None:
        ids = list(range(self.i * 10, self.i * 10 + 10))
        self.dump(pd.DataFrame({"user": ids, "clicks": [k + self.bump for k in ids]}))


def _builder(version: str, bump: int = 0) -> type[DatasetBuilder]:
    def splits(self: DatasetBuilder) -> dict[str, Any]:
        return {"train": [Part(i=0, bump=bump), Part(i=1, bump=bump)], "test": Part(i=9)}

    return type(
        "Clicks",
        (DatasetBuilder,),
        {
            "name": "shop/clicks",
            "VERSION": version,
            "RELEASE_NOTES": {version: f"**release** {version}"},
            "description": "Clicks per user. <script>alert('x')</script>",
            "columns": {"user": "Who clicked (hashed).", "clicks": "How often."},
            "splits": splits,
        },
    )


class Train(tasuki.Task):
    lr: float = 0.1

    def output(self) -> Any:
        return self.make_target("model.pkl")

    def run(self) -> None:
        self.log_metric("ndcg", 0.3 + self.lr)
        self.dump({"weights": [self.lr] * 3})


@pytest.fixture
def site(tmp_path: Path) -> tuple[TestClient, Settings]:
    settings = Settings(
        workspace=str(tmp_path / "ws"),
        registry=str(tmp_path / "registry"),
        catalog=f"sqlite:///{tmp_path / 'catalog.db'}",
        executor="inline",
        progress="off",
    )
    return TestClient(create_app(settings, insecure_local=True)), settings


def _publish(settings: Settings) -> None:
    where = {"registry": settings.registry, "workspace": settings.workspace}
    build(_builder("1.0.0"), executor="inline", progress="off", **where)
    build(_builder("1.1.0", bump=5), executor="inline", progress="off", **where)


def _push(settings: Settings) -> Zoo:
    zoo = Zoo(settings.registry, tracking_uri="", settings=settings)
    for lr in (0.1, 0.2):
        tasuki.run_build(Train(lr=lr), settings=settings)
    zoo.push("recs", Train(lr=0.1), alias="champion", reason="first model", description="*ALS*")
    zoo.push("recs", Train(lr=0.2), alias="staging", reason="try a higher rate")
    zoo.alias("recs", "champion", 2, reason="v2 wins <b>offline</b>", by="ana@example.com")
    return zoo


def test_empty_registry_lists_nothing(site: tuple[TestClient, Settings]) -> None:
    client, _ = site
    assert "No dataset has been published" in client.get("/datasets").text
    assert "No model has been pushed" in client.get("/models").text
    assert client.get("/datasets/shop/clicks").status_code == 404
    assert client.get("/models/recs").status_code == 404


def test_dataset_list_and_version_page(site: tuple[TestClient, Settings]) -> None:
    client, settings = site
    _publish(settings)
    listing = client.get("/datasets").text
    assert 'href="/datasets/shop/clicks"' in listing
    assert "test 10 · train 20" in listing and "<td>1.1.0</td>" in listing
    page = client.get("/datasets/shop/clicks").text
    assert "<small>default · 1.1.0</small>" in page  # the newest by default
    assert "tasuki.datasets.load(&#39;shop/clicks:1.1.0&#39;)" in page
    assert "<strong>release</strong> 1.1.0" in page  # release notes, Markdown
    assert "<script>alert" not in page and "&lt;script&gt;" in page  # description escaped
    schema = page[page.index('id="schema"') : page.index('id="splits"')]
    assert re.findall(r'<tr id="column-(\w+)">', schema) == ["user", "clicks"]
    assert "Who clicked (hashed)." in schema and "<code>int64</code>" in schema
    splits = page[page.index('id="splits"') :]
    assert f'href="/tasks/{Part(i=0, bump=5).unique_id}"' in splits
    assert '<td class="num">20</td><td class="num">' in splits
    old = client.get("/datasets/shop/clicks", params={"version": "1.0.0"}).text
    assert (
        "<small>default · 1.0.0</small>" in old
        and 'href="/datasets/shop/clicks?version=1.1.0"' in old
    )
    missing = client.get("/datasets/shop/clicks", params={"version": "9.9.9"})
    assert missing.status_code == 404 and "1.1.0" in missing.text


def test_model_pages_show_versions_aliases_and_their_log(site: tuple[TestClient, Settings]) -> None:
    client, settings = site
    _push(settings)
    listing = client.get("/models").text
    assert 'href="/models/recs"' in listing
    assert "champion → 2" in listing and "staging → 2" in listing
    page = client.get("/models/recs").text
    log = page[page.index('id="alias-champion"') : page.index('id="alias-staging"')]
    rows = re.findall(
        r"<tr><td>[^<]+</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>",
        log,
    )
    # Newest move first: 1 -> 2 by ana, with its reason escaped.
    assert rows[0] == ("ana@example.com", "1", "2", "v2 wins &lt;b&gt;offline&lt;/b&gt;")
    assert rows[1][1:] == ("—", "1", "first model")
    versions = page[page.index('id="versions"') : page.index('id="version"')]
    assert re.findall(r'\?version=(\d)">\d</a></td>', versions) == ["2", "1"]
    assert "ndcg 0.5" in versions and "ndcg 0.4" in versions
    assert f'href="/tasks/{Train(lr=0.2).unique_id}"' in versions
    chosen = page[page.index('id="version"') :]
    assert "Version 2" in chosen and "&#34;lr&#34;: " not in chosen and "<code>0.2</code>" in chosen
    first = client.get("/models/recs", params={"version": 1}).text
    assert "<em>ALS</em>" in first  # the description, Markdown
    assert client.get("/models/recs", params={"version": 7}).status_code == 404
    assert client.get("/models/Not A Name").status_code == 404


def test_model_versions_list_is_bounded(
    site: tuple[TestClient, Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, settings = site
    _push(settings)
    monkeypatch.setattr(_registry_pages, "MAX_VERSIONS", 1)
    page = client.get("/models/recs").text
    versions = page[page.index('id="versions"') : page.index('id="version"')]
    assert re.findall(r'\?version=(\d)">\d</a></td>', versions) == ["2"]
    assert "and 1 older versions" in page
