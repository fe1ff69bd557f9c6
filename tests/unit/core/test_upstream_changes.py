"""An output made from an upstream output that has changed since is out of date.

Each run record keeps the state (sizes and content hashes of the outputs) of every
requirement it read. An upstream task that runs again on its own (``tasuki rerun``, a build
of it alone, its output deleted and made anew) and makes other bytes leaves every output
downstream of it out of date, however deep; one that makes the same bytes changes nothing.

The matrix: a rerun that makes other bytes and one that makes the same, with workers and
without, a chain three deep, an intermediate output deleted (its record kept) and an
intermediate record deleted (nothing to compare: trusted until it runs), a fan-in, a
folder of parts made again with the same rows, records of an older tasuki (trusted: no rerun on
upgrade), a records database made before the state columns, a remote workspace (records as
files), ``tasuki rerun`` / ``run`` / ``why`` on the command line, and ``tasuki.load``.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import tasuki
from tasuki.cli import app
from tasuki.core.records import RunRecord, delete_record, read_states, records_db
from tasuki.storage import open_store
from tests._records import raw_record, write_raw_record


class Source(tasuki.Task):
    """What a file says when it runs (a warehouse query whose table changes, in life)."""

    path: str

    def output(self):
        return self.make_target("source.pkl")

    def run(self):
        self.dump(Path(self.path).read_text())


class Upper(tasuki.Task):
    path: str

    def requires(self):
        return Source(path=self.path)

    def output(self):
        return self.make_target("upper.pkl")

    def run(self):
        self.dump(self.load().upper())


class Report(tasuki.Task):
    path: str

    def requires(self):
        return Upper(path=self.path)

    def output(self):
        return self.make_target("report.pkl")

    def run(self):
        self.dump(f"report: {self.load()}")


class Shout(tasuki.Task):
    """Upper-cases Source; killed right after its dump while ``<path>.die`` exists."""

    path: str

    def requires(self):
        return Source(path=self.path)

    def output(self):
        return self.make_target("shout.pkl")

    def run(self):
        self.dump(self.load().upper())
        if Path(self.path + ".die").exists():
            os.kill(os.getpid(), signal.SIGKILL)


class Counted(tasuki.Task):
    """Upper-cases Source slowly, noting each run's process in ``log``."""

    path: str
    log: str = tasuki.param(default="", significant=False)

    def requires(self):
        return Source(path=self.path)

    def output(self):
        return self.make_target("counted.pkl")

    def run(self):
        with open(self.log, "a") as f:
            f.write(f"{os.getpid()}\n")
        time.sleep(1.5)
        self.dump(self.load().upper())


class Total(tasuki.Task):
    paths: list[str]

    def requires(self):
        return [Source(path=p) for p in self.paths]

    def output(self):
        return self.make_target("total.pkl")

    def run(self):
        self.dump("+".join(self.load()))


class Both(tasuki.Task):
    """Reads Source twice: itself, and through Upper and Report (a diamond)."""

    path: str

    def requires(self):
        return [Source(path=self.path), Report(path=self.path)]

    def output(self):
        return self.make_target("both.pkl")

    def run(self):
        self.dump(" / ".join(self.load()))


class Parts(tasuki.Task):
    """A folder of Parquet parts: its record hashes each part as it is written."""

    path: str

    def output(self):
        return self.make_directory_target("parts", as_="pandas")

    def run(self):
        import pandas as pd

        self.dump(pd.DataFrame({"text": [Path(self.path).read_text()]}))


class FromParts(tasuki.Task):
    path: str

    def requires(self):
        return Parts(path=self.path)

    def output(self):
        return self.make_target("from_parts.pkl")

    def run(self):
        self.dump(self.load()["text"].iloc[0])


@pytest.fixture
def ws(tmp_path: Path) -> str:
    return str(tmp_path / "ws")


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "source.txt"
    path.write_text("one")
    return path


#: A warm build of Report: only the root's check, nothing planned to run.
_WARM = {"Report": "cached", "Upper": "not_needed", "Source": "not_needed"}


def _statuses(result: tasuki.BuildResult) -> dict[str, str]:
    return {type(result.graph.nodes[u].task).__name__: r.status for u, r in result.results.items()}


def _build(task: tasuki.Task, ws: str, **kw) -> tasuki.BuildResult:
    return tasuki.run_build(task, workspace=ws, progress="off", **kw)


@pytest.mark.parametrize("workers", [1, 2])
def test_an_upstream_rerun_that_made_other_bytes_reruns_everything_below(ws, source, workers):
    report = Report(path=str(source))
    assert _build(report, ws, workers=workers).ok
    # A warm build after a cold one (with workers too) finds nothing out of date.
    assert _statuses(_build(report, ws, workers=workers)) == _WARM
    source.write_text("two")
    assert _statuses(_build(Source(path=str(source)), ws, rerun=True)) == {"Source": "ran"}
    again = _build(report, ws, workers=workers)
    assert _statuses(again) == {"Report": "ran", "Upper": "ran", "Source": "cached"}
    assert tasuki.load(report, workspace=ws) == "report: TWO"
    assert _statuses(_build(report, ws, workers=workers))["Report"] == "cached"


def test_an_upstream_rerun_that_made_the_same_bytes_reruns_nothing(ws, source):
    report = Report(path=str(source))
    _build(report, ws)
    _build(Source(path=str(source)), ws, rerun=True)  # same file, same bytes
    assert _statuses(_build(report, ws)) == _WARM


def test_an_upstream_output_deleted_and_made_anew_counts(ws, source):
    report = Report(path=str(source))
    _build(report, ws)
    store = open_store(ws)
    (Path(ws) / Source(path=str(source)).output().key).unlink()
    source.write_text("two")
    assert _statuses(_build(Source(path=str(source)), ws)) == {"Source": "ran"}
    assert _statuses(_build(report, ws))["Report"] == "ran"
    assert tasuki.load(report, store=store) == "report: TWO"


def test_an_intermediate_output_deleted_does_not_hide_a_change_below_it(ws, source):
    """gokart users delete intermediate files to save space: the record stays, and says
    what that run read."""
    report = Report(path=str(source))
    _build(report, ws)
    (Path(ws) / Upper(path=str(source)).output().key).unlink()
    source.write_text("two")
    _build(Source(path=str(source)), ws, rerun=True)
    assert _statuses(_build(report, ws)) == {"Report": "ran", "Upper": "ran", "Source": "cached"}
    assert tasuki.load(report, workspace=ws) == "report: TWO"


def test_an_intermediate_record_deleted_is_checked_once_it_runs_again(ws, source):
    """Without the intermediate's record, what the root read of it cannot be checked: it was
    trusted, and a root made from Source's old bytes was handed out although Source had run
    again with new ones. The intermediate (no record) runs first now, and the root only if
    that made other bytes than it read."""
    report = Report(path=str(source))
    _build(report, ws)
    store = open_store(ws)
    delete_record(store, Upper(path=str(source)).unique_id)
    source.write_text("two")
    _build(Source(path=str(source)), ws, rerun=True)
    assert _statuses(_build(report, ws)) == {"Report": "ran", "Upper": "ran", "Source": "cached"}
    assert tasuki.load(report, store=store) == "report: TWO"
    # Its record deleted again, with nothing changed below it: it runs, the root does not.
    delete_record(store, Upper(path=str(source)).unique_id)
    assert _statuses(_build(report, ws)) == {
        "Report": "cached",
        "Upper": "ran",
        "Source": "cached",
    }


def test_a_fan_in_reruns_for_the_one_source_that_changed(ws, tmp_path):
    paths = []
    for i in range(3):
        path = tmp_path / f"s{i}.txt"
        path.write_text(f"s{i}")
        paths.append(str(path))
    total = Total(paths=paths)
    _build(total, ws)
    Path(paths[1]).write_text("S1")
    _build(Source(path=paths[1]), ws, rerun=True)
    again = _build(total, ws)
    ran = [type(again.graph.nodes[r.uid].task).__name__ for r in again.by_status("ran")]
    assert ran == ["Total"]
    assert tasuki.load(total, workspace=ws) == "s0+S1+s2"


def test_a_requirement_checked_on_its_own_is_still_compared_with_what_read_it(ws, source):
    """The root's output deleted: its requirements are checked together, Source (which
    requires nothing, so nothing it read is looked at) and Report (whose own requirement,
    Upper, read Source): Upper must still be compared with the Source that ran again."""
    both = Both(path=str(source))
    _build(both, ws)
    (Path(ws) / both.output().key).unlink()
    source.write_text("two")
    _build(Source(path=str(source)), ws, rerun=True)
    assert _statuses(_build(both, ws)) == {
        "Both": "ran",
        "Report": "ran",
        "Upper": "ran",
        "Source": "cached",
    }
    assert tasuki.load(both, workspace=ws) == "two / report: TWO"


def test_a_rerun_killed_after_its_dump_never_leaves_the_new_bytes_under_the_old_record(ws, source):
    """Shout reruns because Source changed ("one" -> "two") and is killed right after writing
    "TWO". Then Source goes back to "one", which is what Shout's old record says it read,
    and "TWO" has the size of "ONE": had the old record been kept, Shout would pass for
    complete and hand out "TWO". Its record is dropped before the rerun instead."""
    shout = Shout(path=str(source))
    _build(shout, ws)
    source.write_text("two")
    _build(Source(path=str(source)), ws, rerun=True)
    Path(str(source) + ".die").write_text("")
    code = (
        "import tasuki; from tests.unit.core.test_upstream_changes import Shout; "
        f"tasuki.build(Shout(path={str(source)!r}), workspace={ws!r}, progress='off')"
    )
    root = Path(__file__).parents[3]
    killed = subprocess.run([sys.executable, "-c", code], cwd=root, check=False)
    assert killed.returncode == -signal.SIGKILL
    Path(str(source) + ".die").unlink()
    store = open_store(ws)
    assert shout.unique_id not in read_states(store, [shout.unique_id])  # no record
    source.write_text("one")
    _build(Source(path=str(source)), ws, rerun=True)
    assert _statuses(_build(shout, ws))["Shout"] == "ran"
    assert tasuki.load(shout, workspace=ws) == "ONE"


def test_two_builds_at_once_run_an_out_of_date_task_once(ws, source, tmp_path):
    """Both builds find Counted out of date; one runs it under its lease, the other checks
    it again once it has the lease, finds what it read is current, and reports it cached."""
    log = tmp_path / "runs.txt"
    task = Counted(path=str(source), log=str(log))
    _build(task, ws)
    source.write_text("two")
    _build(Source(path=str(source)), ws, rerun=True)
    log.write_text("")
    code = (
        "import tasuki; from tests.unit.core.test_upstream_changes import Counted; "
        f"t = Counted(path={str(source)!r}, log={str(log)!r}); "
        f"r = tasuki.run_build(t, workspace={ws!r}, progress='off'); "
        "print(r.results[t.unique_id].status, '|', r.results[t.unique_id].note)"
    )
    root = Path(__file__).parents[3]
    procs = [
        subprocess.Popen([sys.executable, "-c", code], cwd=root, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    said = sorted(p.communicate(timeout=120)[0].strip() for p in procs)
    assert len(log.read_text().splitlines()) == 1
    assert said[1] == "ran |"
    assert said[0] in ("cached | finished by another process", "cached |")
    assert tasuki.load(task, workspace=ws) == "TWO"


def test_load_reads_what_another_process_made_since(ws, source):
    """A notebook built Source, then a terminal ran it again with other bytes: loading it in
    the notebook reads its record again (this process remembered the older one, and took
    the new bytes for damaged)."""
    task = Source(path=str(source))
    _build(task, ws)
    source.write_text("two")
    code = (
        "import tasuki; from tests.unit.core.test_upstream_changes import Source; "
        f"tasuki.build(Source(path={str(source)!r}), workspace={ws!r}, progress='off', "
        "rerun=True)"
    )
    subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[3], check=True)
    assert tasuki.load(task, workspace=ws) == "two"
    assert tasuki.load_output(task.unique_id, workspace=ws) == "two"


def test_a_folder_of_parts_made_again_with_the_same_rows_changes_nothing(ws, source):
    """A folder's record holds the hash of its parts (it had sizes only, so any run of it
    again reran everything below it)."""
    down = FromParts(path=str(source))
    _build(down, ws)
    _build(Parts(path=str(source)), ws, rerun=True)  # the same rows
    assert _statuses(_build(down, ws))["FromParts"] == "cached"
    source.write_text("uno")  # other rows of the same size
    _build(Parts(path=str(source)), ws, rerun=True)
    assert _statuses(_build(down, ws))["FromParts"] == "ran"


def test_records_of_an_older_tasuki_are_trusted(ws, source):
    """Records written before tasuki kept what a run read: nothing to compare, nothing
    reruns after the upgrade (the same as before it)."""
    report = Report(path=str(source))
    _build(report, ws)
    store = open_store(ws)
    for task in (report, Upper(path=str(source))):
        doc = raw_record(store, task.unique_id)
        del doc["inputs"]
        write_raw_record(store, task.unique_id, doc)  # no state columns either, as before
    source.write_text("two")
    _build(Source(path=str(source)), ws, rerun=True)
    assert _statuses(_build(report, ws)) == _WARM


def test_a_records_database_made_before_the_state_columns(ws, source):
    report = Report(path=str(source))
    _build(report, ws)
    store = open_store(ws)
    db = records_db(store)
    rows = db.items()
    path = Path(ws) / ".tasuki" / "records.db"
    con = sqlite3.connect(path)
    con.execute("DROP TABLE records")
    con.execute("CREATE TABLE records (uid TEXT PRIMARY KEY, body BLOB NOT NULL)")
    con.executemany("INSERT INTO records VALUES (?, ?)", rows)
    con.commit()
    con.close()
    from tasuki.core import _record_db

    _record_db._OPEN.clear()  # as a new process would open it
    assert _statuses(_build(report, ws))["Report"] == "cached"  # old rows read
    source.write_text("two")
    _build(Source(path=str(source)), ws, rerun=True)  # written with the columns added
    assert _statuses(_build(report, ws))["Report"] == "ran"
    states = read_states(store, [report.unique_id])
    upper = Upper(path=str(source)).unique_id
    assert states[report.unique_id][1] == f"{upper}={RunRecord.read(store, upper).state}"


def test_a_remote_workspace_keeps_what_each_run_read(source):
    ws = "memory://upstream-changes"
    report = Report(path=str(source))
    try:
        _build(report, ws)
        source.write_text("two")
        _build(Source(path=str(source)), ws, rerun=True)
        assert _statuses(_build(report, ws))["Report"] == "ran"
        assert tasuki.load(report, workspace=ws) == "report: TWO"
    finally:
        open_store(ws).fs.rm("/upstream-changes", recursive=True)


def test_the_command_line_says_what_changed_upstream(ws, source, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parents[3]))
    report = Report(path=str(source))
    name = f"{__name__}:Report"
    runner = CliRunner()
    args = ["--workspace", ws, "--path", str(source)]
    assert runner.invoke(app, ["run", name, *args]).exit_code == 0
    source.write_text("two")
    up = Source(path=str(source)).unique_id
    assert runner.invoke(app, ["rerun", up[:12], "--workspace", ws]).exit_code == 0
    why = runner.invoke(app, ["why", name, *args])
    assert why.exit_code == 0, why.output
    assert (
        f"Upper[{Upper(path=str(source)).unique_id[:10]}]: Source[{up[:10]}] ran again after "
        "Upper read its output, and made other outputs"
    ) in why.output
    # Report read Upper, which runs first: Report runs only if Upper makes other bytes
    assert "Checked again once what runs below them has run" in why.output
    assert f"other outputs than they read):\n  Report[{report.unique_id[:10]}]" in why.output
    upper = Upper(path=str(source)).unique_id
    show = runner.invoke(app, ["show", upper[:12], "--workspace", ws])
    assert f"{__name__}:Source {up}  (ran again since this run read it)" in show.output
    tree = runner.invoke(app, ["tree", name, *args, "--format", "json"])
    status = {n["task"].rpartition(":")[2]: n["status"] for n in _json_in(tree.output)["nodes"]}
    assert status == {"Report": "pending", "Upper": "pending", "Source": "complete"}
    assert runner.invoke(app, ["run", name, *args]).exit_code == 0
    show = runner.invoke(app, ["show", upper[:12], "--workspace", ws])
    assert f"{__name__}:Source {up}\n" in show.output
    assert tasuki.load(report, workspace=ws) == "report: TWO"


def _json_in(output: str) -> dict:
    return json.loads(output[output.index("{") :])  # after the "workspace: ..." line


def test_load_says_when_an_upstream_output_changed_since(ws, source, caplog):
    report = Report(path=str(source))
    _build(report, ws)
    with caplog.at_level(logging.WARNING, logger="tasuki"):
        tasuki.load(report, workspace=ws)
    # (Not every warning: the one that a str parameter names a file comes once per process,
    # here or in whichever test of this process made a Report first.)
    assert "changed since" not in caplog.text
    source.write_text("two")
    _build(Source(path=str(source)), ws, rerun=True)
    with caplog.at_level(logging.WARNING, logger="tasuki"):
        assert tasuki.load(report, workspace=ws) == "report: ONE"  # what is there
    assert "made from upstream outputs that have changed since" in caplog.text
    assert "Source[" in caplog.text
