"""A task that requires thousands: its page lists the first 100 and links the whole record."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

import tasuki
from tasuki.catalog import Catalog
from tasuki.config import load_settings
from tasuki.web._app import create_app


class Leaf(tasuki.Task):
    i: int

    def output(self):
        return self.make_target("leaf.json")

    def run(self):
        self.dump(self.i)


class Root(tasuki.Task):
    n: int

    def requires(self):
        return [Leaf(i=i) for i in range(self.n)]

    def output(self):
        return self.make_target("root.json")

    def run(self):
        self.dump(sum(self.load()))


def test_a_fan_in_root_lists_100_upstream_and_links_the_whole_record(tmp_path: Path) -> None:
    settings = load_settings({"workspace": str(tmp_path / "ws")})
    root = Root(n=150)
    assert tasuki.run_build(root, settings=settings, progress="off").ok
    with Catalog.open(f"sqlite:///{tmp_path / 'c.db'}") as catalog:
        app = create_app(settings, insecure_local=True, catalog=catalog)
        with TestClient(app) as client:
            page = client.get(f"/tasks/{root.unique_id}")
            assert page.status_code == 200
            assert page.text.count('<li><a href="/tasks/') == 100
            assert "and 50 more" in page.text
            assert "... 50 more" in page.text  # the JSON block is cut too
            whole = client.get(f"/tasks/{root.unique_id}/record.json")
            assert whole.status_code == 200
            assert len(json.loads(whole.content)["requires"]) == 150
            assert client.get("/tasks/ffffffffff/record.json").status_code == 404
