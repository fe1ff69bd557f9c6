"""What the app does at start and on every response: the runs index built before serving,
the Server-Timing header, the favicon."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

import tasuki
from tasuki.catalog import Catalog
from tasuki.config import load_settings
from tasuki.web import _runs_data
from tasuki.web._app import create_app


class Hello(tasuki.Task):
    def output(self):
        return self.make_target("hello.json")

    def run(self):
        self.dump({"hello": 1})


def test_the_runs_index_is_built_before_the_first_request(tmp_path: Path) -> None:
    settings = load_settings({"workspace": str(tmp_path / "ws")})
    assert tasuki.run_build(Hello(), settings=settings, progress="off").ok
    _runs_data._INDEXES.clear()
    with Catalog.open(f"sqlite:///{tmp_path / 'c.db'}") as catalog:
        app = create_app(settings, insecure_local=True, catalog=catalog)
        with TestClient(app, follow_redirects=False) as client:
            # lifespan ran: the index exists before any page asked for it
            assert len(_runs_data._INDEXES) == 1
            page = client.get("/runs")
            assert page.status_code == 200 and "Hello" in page.text


def test_every_response_says_its_server_time_and_the_favicon_is_served(tmp_path: Path) -> None:
    settings = load_settings({"workspace": str(tmp_path / "ws")})
    with Catalog.open(f"sqlite:///{tmp_path / 'c.db'}") as catalog:
        app = create_app(settings, insecure_local=True, catalog=catalog)
        with TestClient(app, follow_redirects=False) as client:
            timing = client.get("/tables/").headers["server-timing"]
            assert re.fullmatch(r"app;dur=\d+\.\d", timing), timing
            icon = client.get("/favicon.ico")
            assert icon.status_code == 301
            svg = client.get(icon.headers["location"])
            assert svg.status_code == 200 and svg.text.startswith("<svg")
