"""``tasuki catalog lineage``, ``lineage-refresh`` and ``openlineage export|import``."""

from __future__ import annotations

import json

import pytest

from tasuki.catalog._lineage import Batch, write_batch
from tasuki.catalog._store import Catalog


@pytest.fixture
def url(tmp_path):
    """A catalog where a task wrote dwh/ml/scores from events, and alice read it."""
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    b = Batch()
    detail = {"id": "abc123", "family": "m:Score", "status": "done", "params": {"day": "d1"}}
    b.node("task:abc123", "task", "m:Score [abc123]", detail)
    for key in ("table:dwh/main/events", "table:dwh/ml/scores"):
        b.node(key, "table", key[6:], {})
    b.placeholder("client:alice", "client", "alice")
    b.edge("table:dwh/main/events", "task:abc123", "read")
    b.edge("task:abc123", "table:dwh/ml/scores", "wrote")
    b.edge("table:dwh/ml/scores", "client:alice", "read")
    with Catalog.open(url) as cat, cat.engine.begin() as conn:
        write_batch(conn, b)
    return url


def test_lineage_of_a_table_each_way_and_format(cli, url):
    out = cli("catalog", "lineage", "ml.scores", "--catalog", url)
    assert out.exit_code == 0, out.output
    assert out.stdout.splitlines()[0] == "table dwh/ml/scores"
    assert "<- wrote: task m:Score [abc123]  (done)" in out.stdout
    assert "-> read: client alice" in out.stdout
    assert "table dwh/main/events" in out.stdout  # two steps up
    out = cli("catalog", "lineage", "dwh/ml/scores", "--upstream", "--catalog", url, "-f", "json")
    doc = json.loads(out.stdout)
    assert doc["root"] == "table:dwh/ml/scores"
    assert {n["key"] for n in doc["nodes"]} == {
        "table:dwh/ml/scores",
        "task:abc123",
        "table:dwh/main/events",
    }
    out = cli("catalog", "lineage", "table:dwh/ml/scores", "--downstream", "--depth", "1",
              "--catalog", url, "--format", "mermaid")  # fmt: skip
    assert out.stdout.startswith("graph LR") and "client alice" in out.stdout
    assert "events" not in out.stdout


def test_lineage_bad_input_exits_2_with_the_reason(cli, url):
    out = cli("catalog", "lineage", "dwh/ml/scorez", "--catalog", url)
    assert out.exit_code == 2
    assert "table:dwh/ml/scorez" in out.output and "table:dwh/ml/scores" in out.output
    out = cli("catalog", "lineage", "ml.scores", "--upstream", "--downstream", "--catalog", url)
    assert out.exit_code == 2 and "--upstream or --downstream" in out.output
    out = cli("catalog", "lineage", "ml.scores", "-f", "dot", "--catalog", url)
    assert out.exit_code == 2 and "text, mermaid or json" in out.output


def test_openlineage_export_import_round_trip_and_bad_files(cli, url, tmp_path):
    events_file = tmp_path / "events.jsonl"
    out = cli("catalog", "openlineage", "export", "--out", str(events_file), "--catalog", url)
    assert out.exit_code == 0, out.output
    lines = events_file.read_text().splitlines()
    assert len(lines) == 2  # the task, and the client
    assert {json.loads(line)["job"]["name"] for line in lines} == {"m:Score", "client:alice"}
    other = f"sqlite:///{tmp_path / 'other.db'}"
    out = cli("catalog", "openlineage", "import", str(events_file), "--catalog", other)
    assert out.exit_code == 0 and "2 events imported" in out.stdout
    out = cli("catalog", "lineage", "dwh/ml/scores", "--catalog", other, "-f", "json")
    edges = {(e["source"], e["target"], e["relation"]) for e in json.loads(out.stdout)["edges"]}
    assert edges == {
        ("table:dwh/main/events", "task:abc123", "read"),
        ("task:abc123", "table:dwh/ml/scores", "wrote"),
        ("table:dwh/ml/scores", "client:alice", "read"),
    }
    bad = tmp_path / "bad.jsonl"
    bad.write_text(lines[0] + "\n{not json\n")
    out = cli("catalog", "openlineage", "import", str(bad), "--catalog", other)
    assert out.exit_code == 2 and "line 2 is not a JSON event" in out.output
    bad.write_text(json.dumps([{"eventTime": "2024-01-01T00:00:00Z", "job": {}}]))
    out = cli("catalog", "openlineage", "import", str(bad), "--catalog", other)
    assert out.exit_code == 2 and "OpenLineage event 0: job.namespace is missing" in out.output
    out = cli("catalog", "openlineage", "export", "--since", "yesterday", "--catalog", url)
    assert out.exit_code == 2 and "not an ISO 8601 time" in out.output


def test_lineage_refresh_reports_and_warns(cli, tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    cfg = tmp_path / "tasuki.toml"
    cfg.write_text(
        f'registry = "{tmp_path / "registry"}"\n'
        "[warehouses]\n"
        'down = "postgresql://postgres@127.0.0.1:9/nope"\n'
    )
    out = cli("catalog", "lineage-refresh", "--catalog", url, "--config", str(cfg))
    assert out.exit_code == 0, out.output
    assert out.stdout.startswith("lineage: 0 nodes, 0 edges")
    assert "warning: warehouse 'down' skipped" in out.output
    out = cli("catalog", "lineage-refresh", "--catalog", url, "--config", str(cfg), "-f", "json")
    assert json.loads(out.stdout)["writes"] == {}
    assert not (tmp_path / "ws").exists()  # reading lineage makes no workspace
