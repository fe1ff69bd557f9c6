"""The runs pages on a real workspace: list, filters, paging, a build's graph, a task page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import tasuki
from tasuki.config import Settings
from tasuki.core.records import delete_record, record_ids
from tasuki.storage import open_store
from tasuki.web import _runs_pages
from tasuki.web._app import create_app
from tests._read_only import ReadOnly


class Raw(tasuki.Task):
    part: int
    note: str = "plain"

    def output(self) -> Any:
        return self.make_target("raw.pkl")

    def run(self) -> None:
        self.task_log["rows"] = self.part * 10
        self.dump(list(range(self.part)))


class Train(tasuki.Task):
    parts: int = 3

    def requires(self) -> Any:
        return [Raw(part=i) for i in range(self.parts)]

    def output(self) -> Any:
        return self.make_target("model.pkl")

    def run(self) -> None:
        self.log_metric("loss", 0.25)
        self.dump(sum(len(x) for x in self.load()))


class Broken(tasuki.Task):
    def requires(self) -> Any:
        return Raw(part=1)

    def output(self) -> Any:
        return self.make_target("never.pkl")

    def run(self) -> None:
        raise RuntimeError("the data was <b>bad</b>")


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        workspace=str(tmp_path / "ws"),
        catalog=f"sqlite:///{tmp_path / 'catalog.db'}",
        executor="inline",
        progress="off",
    )


def _build(settings: Settings, *tasks: tasuki.Task, **kw: Any) -> tasuki.BuildResult:
    result: tasuki.BuildResult = tasuki.run_build(list(tasks), settings=settings, **kw)
    return result


@pytest.fixture
def site(tmp_path: Path) -> tuple[TestClient, Settings]:
    settings = _settings(tmp_path)
    return TestClient(create_app(settings, insecure_local=True)), settings


def _uids(html: str) -> list[str]:
    return re.findall(r'href="/tasks/([0-9a-f]{64})"', html)


def test_list_filters_by_family_and_status(site: tuple[TestClient, Settings]) -> None:
    client, settings = site
    _build(settings, Train())
    failing = _build(settings, Broken(), fail_fast=False)
    assert not failing.ok
    page = client.get("/runs")
    assert page.status_code == 200
    assert page.text.count('<tr class="status-') == 5  # 3 Raw, Train, Broken
    # Newest first: Broken ran last.
    rows = re.findall(
        r'<tr class="status-(\w+)">\s*<td><a href="/tasks/\w+" title="([^"]+)"', page.text
    )
    assert rows[0] == ("failed", f"{__name__}:Broken")
    only_raw = client.get("/runs", params={"task": f"{__name__}:Raw"}).text
    assert only_raw.count('<tr class="status-') == 3 and "Train</a>" not in only_raw
    failed = client.get("/runs", params={"status": "failed"}).text
    assert failed.count('<tr class="status-') == 1 and "Broken</a>" in failed
    # A build's failed runs: linked from its page, filtered by build and status.
    build_page = client.get(f"/runs/{failing.build_id}").text
    link = f"/runs?build={failing.build_id}&amp;status=failed"
    assert link in build_page
    in_build = client.get("/runs", params={"build": failing.build_id, "status": "failed"}).text
    assert _uids(in_build) == [Broken().unique_id]
    other = client.get("/runs", params={"build": failing.build_id, "task": f"{__name__}:Train"})
    assert _uids(other.text) == []  # Train ran in the first build
    # The filter form offers the families and statuses the records hold.
    assert f'<option value="{__name__}:Train">Train (1)</option>' in page.text
    assert '<option value="failed">failed</option>' in page.text


def test_list_pages_newest_first(
    site: tuple[TestClient, Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, settings = site
    monkeypatch.setattr(_runs_pages, "PAGE_SIZE", 2)
    _build(settings, Train(parts=4))
    first = client.get("/runs").text
    second = client.get("/runs", params={"offset": 2}).text
    third = client.get("/runs", params={"offset": 4}).text
    seen = _uids(first) + _uids(second) + _uids(third)
    assert len(seen) == len(set(seen)) == 5
    assert "1&ndash;2 of 5" in first and 'rel="next"' in first and 'rel="prev"' not in first
    assert 'rel="prev"' in third and 'rel="next"' not in third
    starts = re.findall(r"<td>(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)</td>", first + second + third)
    assert starts == sorted(starts, reverse=True)


def test_build_page_draws_every_task_with_links_and_a_timeline(
    site: tuple[TestClient, Settings],
) -> None:
    client, settings = site
    result = _build(settings, Train())
    builds = client.get("/runs", params={"view": "builds"}).text
    assert f'href="/runs/{result.build_id}"' in builds
    page = client.get(f"/runs/{result.build_id}").text
    graph = page[page.index('id="graph"') : page.index('id="timeline"')]
    assert graph.count('class="dag-node ') == 4
    assert len(set(_uids(graph))) == 4
    assert graph.count("<polyline") == 3  # each Raw -> Train
    timeline = page[page.index('id="timeline"') :]
    assert timeline.count('class="timeline-bar') == 4
    # A second build that reuses the Raw outputs shows them as earlier, upstream runs.
    again = _build(settings, Train(), rerun=[f"{__name__}:Train"])
    page = client.get(f"/runs/{again.build_id}").text
    assert page.count("dag-kind-cached") == 3 and "Raw (earlier)" in page
    # The first build's page, summarised before, now holds only the Raw runs.
    first = client.get(f"/runs/{result.build_id}").text
    assert first.count('class="dag-node ') == 3 and "3 task runs still recorded" in first


def test_a_large_build_is_drawn_by_family_with_drill_down(
    site: tuple[TestClient, Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, settings = site
    monkeypatch.setattr(_runs_pages, "GRAPH_LIMIT", 3)
    result = _build(settings, Train(parts=5))
    page = client.get(f"/runs/{result.build_id}").text
    assert "one node per task family" in page
    graph = page[page.index('id="graph"') : page.index('id="timeline"')]
    assert graph.count('class="dag-node ') == 2  # Raw x5 and Train x1
    assert "Raw \u00d75" in graph
    assert graph.count("<polyline") == 1
    # Opening Raw: five runs is past the limit of three, so they are paged, not drawn.
    raw = client.get(f"/runs/{result.build_id}", params={"family": f"{__name__}:Raw"}).text
    assert len(set(_uids(raw))) == 5 and "dag-node-highlight" in raw
    # Opening Train draws its one run between the Raw family and nothing else.
    train = client.get(f"/runs/{result.build_id}", params={"family": f"{__name__}:Train"}).text
    drawn = train[train.index('id="graph"') : train.index('id="timeline"')]
    assert drawn.count('class="dag-node ') == 2 and "Raw \u2026" in drawn
    missing = client.get(f"/runs/{result.build_id}", params={"family": "nope:Nope"})
    assert missing.status_code == 404 and "nope:Nope" in missing.text
    # Past the family limit too, only the table of families is left.
    monkeypatch.setattr(_runs_pages, "FAMILY_LIMIT", 1)
    page = client.get(f"/runs/{result.build_id}").text
    assert "too many to draw" in page and "<svg" not in page
    assert page.count(f"/runs/{result.build_id}?family=") == 2


def test_unknown_build_and_task_are_404_with_a_way_on(site: tuple[TestClient, Settings]) -> None:
    client, _ = site
    page = client.get("/runs/20990101T000000000Z-deadbeef")
    assert page.status_code == 404 and "/runs?view=builds" in page.text
    task = client.get("/tasks/" + "0" * 64)
    assert task.status_code == 404 and "/runs" in task.text
    assert client.get("/runs", params={"view": "nope"}).status_code == 400


def test_task_page_shows_record_and_a_rerun_command_that_works(
    site: tuple[TestClient, Settings],
) -> None:
    client, settings = site
    _build(settings, Train(parts=2), Raw(part=7, note="<script>alert(1)</script>"))
    raw = Raw(part=7, note="<script>alert(1)</script>")
    page = client.get(f"/tasks/{raw.unique_id}").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the parameter, escaped
    assert "rows" in page and "70" in page  # task_log
    record = tasuki.RunRecord.read(open_store(settings.workspace), raw.unique_id)
    out = record.outputs[0]
    assert (
        out["key"] in page and out["xxh3"] in page and f'<td class="num">{out["size"]}</td>' in page
    )
    assert "The whole run record (JSON)" in page and "&#34;code_fingerprint&#34;" in page
    assert 'data-copy="#rerun-command"' in page
    command = re.search(r'<code class="token" id="rerun-command">([^<]+)</code>', page)
    assert command is not None
    argv = command.group(1).split()
    assert argv[:3] == ["tasuki", "rerun", raw.unique_id]
    from tasuki.cli._app import app

    ran = CliRunner().invoke(app, [*argv[1:], "--executor", "inline"])
    assert ran.exit_code == 0, ran.output
    assert raw.unique_id in ran.output
    train = client.get(f"/tasks/{Train(parts=2).unique_id}").text
    assert "loss" in train and "0.25" in train  # metrics
    assert train.count("Raw <code>") == 2  # upstream links


def test_task_page_of_a_failed_run_shows_the_error_escaped(
    site: tuple[TestClient, Settings],
) -> None:
    client, settings = site
    _build(settings, Broken(), fail_fast=False)
    page = client.get(f"/tasks/{Broken().unique_id}").text
    assert "RuntimeError: the data was &lt;b&gt;bad&lt;/b&gt;" in page
    assert "Traceback" in page


def test_a_unique_prefix_redirects(site: tuple[TestClient, Settings]) -> None:
    client, settings = site
    _build(settings, Raw(part=1))
    uid = Raw(part=1).unique_id
    page = client.get(f"/tasks/{uid[:8]}", follow_redirects=False)
    assert page.status_code == 307 and page.headers["location"] == f"/tasks/{uid}"


def test_the_list_follows_new_rewritten_and_deleted_records(
    site: tuple[TestClient, Settings],
) -> None:
    client, settings = site
    _build(settings, Raw(part=1))
    assert len(_uids(client.get("/runs").text)) == 1
    _build(settings, Raw(part=2))
    assert len(_uids(client.get("/runs").text)) == 2
    # Rerunning the newest record's task writes it back under the same rowid.
    before = client.get(f"/tasks/{Raw(part=2).unique_id}").text
    again = _build(settings, Raw(part=2), rerun=True)
    listing = client.get("/runs").text
    assert again.build_id in listing and again.build_id not in before
    store = open_store(settings.workspace)
    delete_record(store, Raw(part=1).unique_id)
    assert record_ids(store) == [Raw(part=2).unique_id]
    assert _uids(client.get("/runs").text) == [Raw(part=2).unique_id]


def test_a_task_id_under_runs_goes_to_the_task_page(site: tuple[TestClient, Settings]) -> None:
    client, settings = site
    _build(settings, Raw(part=3))
    uid = Raw(part=3).unique_id
    page = client.get(f"/runs/{uid[:12]}", follow_redirects=False)
    assert page.status_code == 307 and page.headers["location"] == f"/tasks/{uid}"


def test_a_workspace_made_anew_is_followed(site: tuple[TestClient, Settings]) -> None:
    import shutil

    client, settings = site
    _build(settings, Raw(part=1))
    assert _uids(client.get("/runs").text) == [Raw(part=1).unique_id]
    shutil.rmtree(settings.workspace)
    _build(settings, Raw(part=2))
    assert _uids(client.get("/runs").text) == [Raw(part=2).unique_id]


def test_records_kept_as_files_are_listed_and_reread_after_a_while(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tasuki.web import _runs_data

    settings = Settings(
        workspace=f"memory://w3-runs-{tmp_path.name}",
        catalog=f"sqlite:///{tmp_path / 'catalog.db'}",
        executor="inline",
        progress="off",
    )
    client = TestClient(create_app(settings, insecure_local=True))
    _build(settings, Train(parts=2))
    assert len(_uids(client.get("/runs").text)) == 3
    _build(settings, Raw(part=5))
    assert len(_uids(client.get("/runs").text)) == 3  # read again only after FILE_TTL_S
    monkeypatch.setattr(_runs_data, "FILE_TTL_S", 0.0)
    assert len(_uids(client.get("/runs").text)) == 4


def test_broken_and_old_records_do_not_break_the_list(site: tuple[TestClient, Settings]) -> None:
    import json

    from tasuki.core.records import records_db

    client, settings = site
    _build(settings, Raw(part=1))
    store = open_store(settings.workspace)
    db = records_db(store)
    assert db is not None
    db.put("f" * 64, b"{not json")
    old = json.loads(tasuki.RunRecord.read(store, Raw(part=1).unique_id).to_bytes())
    del old["status"]  # written before failed runs were recorded: done
    old["unique_id"] = "e" * 64
    db.put("e" * 64, json.dumps(old).encode())
    page = client.get("/runs")
    assert page.status_code == 200
    assert sorted(_uids(page.text)) == sorted(["e" * 64, Raw(part=1).unique_id])
    done = client.get("/runs", params={"status": "done"}).text
    assert done.count('<tr class="status-done">') == 2


def test_the_runs_pages_read_a_workspace_on_a_read_only_mount(
    tmp_path: Path, read_only: ReadOnly
) -> None:
    """The app checked that the workspace was writable, and showed no runs of one it may
    only read (a team's results mounted read-only beside the app)."""
    settings = _settings(tmp_path)
    _build(settings, Train(parts=2))
    view = read_only(tmp_path / "ws")
    ro = Settings(**{**settings.model_dump(), "workspace": str(view)})
    with TestClient(create_app(ro, insecure_local=True)) as client:
        page = client.get("/runs")
        assert page.status_code == 200, page.text
        assert page.text.count('<tr class="status-') == 3
        task = client.get(f"/tasks/{Train(parts=2).unique_id}")
        assert task.status_code == 200 and "loss" in task.text
