"""gokart's own examples (README, docs, the notebook with param.ini) on gokart 1.12.2 and on
tasuki.compat, side by side.

The code is in ``tests/reference/gokart`` (verbatim but for the import lines); its runner
``tests.reference.gokart._run`` runs every example in one process: once with the peer
interpreter (the real gokart), then twice with this one (tasuki.compat) on the same folders,
so the second tasuki run finds everything cached. Each side pickles what it observed; the
tests compare them. Every difference is listed in ``DIFFERENCES`` with both sides' values and
why (docs/gokart.md documents them); what does not run on tasuki is in ``CANNOT_RUN`` with
the error it gives, and what cannot run here at all is in ``NOT_RUN`` with the reason.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests._gokart_peer import gokart_python  # noqa: F401
from tests.reference.gokart._run import EXAMPLES, REFUSED_BY_COMPAT

REPO = Path(__file__).resolve().parents[2]

# (example, observation) -> (gokart's value, tasuki.compat's value, the difference to document);
# a value may be a check (a callable) where one side's value depends on the process.
DIFFERENCES: dict[tuple[str, str], tuple[Any, Any, str]] = {
    ("tutorial", "build Main"): (
        ("raised", "FileNotFoundError"),
        None,
        "a task with no run() (the tutorial's Main) writes nothing; gokart.build then fails "
        "loading its output, tasuki.compat returns None",
    ),
    ("tutorial_rerun", "build Main"): (
        ("raised", "FileNotFoundError"),
        None,
        "as above (Main has no run())",
    ),
    ("setting_task_parameters", "build UpstreamTask"): (
        ("raised", "FileNotFoundError"),
        None,
        "as above (UpstreamTask has no run())",
    ),
    ("tutorial", "make_unique_id() is gokart's"): (
        True,
        False,
        "make_unique_id() is tasuki's id (64 hex digits, in the output names); gokart's md5 "
        "id is computed by tasuki.compat for adopting outputs ('gokart ids' are equal)",
    ),
    ("task_on_kart_outline", "build [TaskB]"): (
        ("raised", "TaskException"),
        ["Task A: param=world\nTaskB: param=Hello"],
        "the doc's gokart.build([TaskB(...)]) fails on gokart 1.12.2 ('Can not schedule "
        "non-task [...]'); tasuki.compat builds the list and returns the list of values",
    ),
    ("task_on_kart_formats", ".xml"): (
        ("raised", "GokartBuildError"),
        '<root><item n="1">x</item></root>',
        "gokart 1.12.2 cannot dump an ElementTree to .xml (its XmlFileProcessor writes bytes "
        "to a text file: TypeError); tasuki.compat writes and reads it back",
    ),
    ("task_settings_rerun", "rewritten by Task(rerun=True)"): (
        [],
        ["Task"],
        "luigi keeps one task instance per parameter values in a process and gokart clears "
        "its rerun flag at the first completeness check: after `--rerun` on the command "
        "line, gokart.build(Task(rerun=True)) in the same process does not rerun; "
        "tasuki.compat reruns a rerun=True task every time it is built",
    ),
    ("task_settings_rerun", "rewritten with TaskA(rerun=True)"): (
        [],
        ["TaskA", "TaskB", "TaskC"],
        "rerun=True on a task under a complete root: gokart checks only the root, so "
        "nothing runs; tasuki.compat reruns that task and everything downstream of it",
    ),
    ("task_settings_rerun", "rewritten with TaskB(rerun=True)"): (
        [],
        ["TaskB", "TaskC"],
        "as above (the doc says TaskB and TaskC rerun; gokart 1.12.2 reruns neither)",
    ),
    ("task_settings_seed", "builds"): (
        lambda got: _seed_57_window(got, offset_at_least=1),
        lambda got: _seed_57_window(got, offset_at_least=0, offset_at_most=0),
        "both seed random and numpy with 57; numpy's draws are the same, random's are not: "
        "between seeding and run() gokart writes its log files through luigi's atomic "
        "writes, whose temporary names draw from random (how many draws depends on what "
        "the process did before: 6 here, as in the doc, 8 in a fresh process); "
        "tasuki.compat seeds right before run(), so run() gets random's first draws",
    ),
    ("multi_workers", "SampleTask2"): (
        ("raised", "AssertionError"),
        "locked run",
        "should_lock_run = True needs a Redis server on gokart ('redis_host must be set when "
        "should_lock_run is True'); tasuki.compat accepts and ignores it: tasuki's workspace "
        "leases keep two builds from computing one task twice, with no server",
    ),
}

# Examples tasuki.compat refuses, with the text its error must contain.
CANNOT_RUN: dict[str, str] = REFUSED_BY_COMPAT

# gokart documentation that needs a service or an internal API this test cannot run (listed
# here and in docs/gokart.md; nothing to assert about them).
NOT_RUN = {
    "docs/using_task_task_conflict_prevention_lock.rst (redis_host)": "needs a Redis server; "
    "tasuki.compat accepts redis_host/redis_port and ignores them: tasuki's workspace leases "
    "make two builds compute each task once",
    "docs/slack_notification.rst": "needs Slack; tasuki's notify settings send build notices",
    "docs/task_on_kart.rst, Cache output in memory (InMemoryTarget)": "gokart's experimental "
    "gokart.in_memory module (internal lock parameters); tasuki.compat has no such module",
    "docs/polars.rst": "every example passes make_target(processor=...FileProcessor("
    "dataframe_type='polars')); tasuki.compat refuses processor= with an UnsupportedError "
    "(tasuki picks the format by the extension; test_unsupported_constructs_of_the_docs_say_why)",
    "README / intro: S3 and GCS workspaces": "needs S3/GCS; tasuki takes s3:// and gs:// "
    "workspaces itself (tests/integration/s3, tests/integration/gcs)",
}


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TASUKI_", "LUIGI_"))}
    env["PYTHONPATH"] = str(REPO)
    env["PYTHONHASHSEED"] = "0"
    return env


def _run(python: Path | str, out: Path, work: Path, side: str) -> dict[str, Any]:
    env = _env()
    env["GOKART_REFERENCE_SIDE"] = side
    proc = subprocess.run(
        [str(python), "-m", "tests.reference.gokart._run", str(out), str(work)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"the {side} reference run failed (exit {proc.returncode}):\n{proc.stderr}")
    results: dict[str, Any] = json.loads((out / "results.json").read_text())
    return results


class Side:
    """One run of every example: the records and the pickled observations."""

    def __init__(self, out: Path, records: dict[str, Any]) -> None:
        self.out, self.records = out, records

    def value(self, name: str) -> Any:
        with open(self.out / f"{name}.pkl", "rb") as f:
            return pickle.load(f)


@pytest.fixture(scope="module")
def sides(gokart_python: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Side]:  # noqa: F811
    root = tmp_path_factory.mktemp("gokart-reference")
    out = {name: root / f"out-{name}" for name in ("gokart", "compat", "compat-again")}
    gokart_records = _run(gokart_python, out["gokart"], root / "work-gokart", "gokart")
    first = _run(sys.executable, out["compat"], root / "work-compat", "compat")
    again = _run(sys.executable, out["compat-again"], root / "work-compat", "compat")
    return {
        "gokart": Side(out["gokart"], gokart_records),
        "compat": Side(out["compat"], first),
        "compat-again": Side(out["compat-again"], again),
    }


def _same(a: Any, b: Any) -> bool:
    import pandas as pd

    if isinstance(a, pd.DataFrame) or isinstance(b, pd.DataFrame):
        if not (isinstance(a, pd.DataFrame) and isinstance(b, pd.DataFrame)):
            return False
        pd.testing.assert_frame_equal(a, b)
        return True
    return bool(a == b) and type(a) is type(b)


def _seed_57_window(builds: Any, *, offset_at_least: int, offset_at_most: int = 20) -> bool:
    """The docs' seeded Task: numpy's draws are numpy's after seed 57; random's are the
    draws after seed 57 once ``offset`` of them were taken (within the bounds)."""
    import random

    import numpy as np

    [value] = builds
    np.random.seed(57)
    if value["numpy"] != [np.random.randint(0, 100) for _ in range(10)]:
        return False
    random.seed(57)
    stream = [random.randint(0, 100) for _ in range(offset_at_most + 10)]
    return any(
        stream[k : k + 10] == value["random"] for k in range(offset_at_least, offset_at_most + 1)
    )


def _compare(name: str, got: Any, want: Any, *, expected: bool = True) -> None:
    assert isinstance(got, dict) and isinstance(want, dict), (name, got, want)
    assert set(got) == set(want), f"{name}: observations differ: {set(got) ^ set(want)}"
    for key in got:
        if expected and (name, key) in DIFFERENCES:
            on_gokart, on_compat, _why = DIFFERENCES[(name, key)]
            for side, value, expect in (
                ("gokart", want[key], on_gokart),
                ("compat", got[key], on_compat),
            ):
                ok = expect(value) if callable(expect) else _same(value, expect)
                assert ok, f"{name} / {key} on {side}: {value!r}"
        else:
            assert _same(got[key], want[key]), (
                f"{name} / {key}: tasuki.compat gave {got[key]!r}, gokart {want[key]!r}"
            )


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_example_gives_gokarts_result(sides: dict[str, Side], name: str) -> None:
    on_gokart, on_compat = sides["gokart"], sides["compat"]
    assert on_gokart.records[name]["ok"], on_gokart.records[name].get("traceback")
    record = on_compat.records[name]
    if name in CANNOT_RUN:  # runs on gokart only: tasuki.compat refuses it, saying why
        assert not record["ok"] and CANNOT_RUN[name] in record["error"], record
        return
    assert record["ok"], record.get("traceback")
    _compare(name, on_compat.value(name), on_gokart.value(name))


@pytest.mark.parametrize("name", [n for n in EXAMPLES if n not in CANNOT_RUN])
def test_second_run_on_tasuki_computes_nothing(sides: dict[str, Side], name: str) -> None:
    first, again = sides["compat"], sides["compat-again"]
    assert again.records[name]["ok"], again.records[name].get("traceback")
    counts = again.records[name]["counts"]
    assert counts, f"{name}: no build ran"
    ran = [c.get("ran", 0) for c in counts]
    if name == "tutorial_rerun":
        # Main (rerun=True) and what its requires() makes with rerun=True (Sample,
        # StringToSplit) run again, as the tutorial says; the plain StringToSplit is cached.
        assert ran == [3, 0], counts
    elif name == "task_settings_rerun":
        # What has rerun=True runs again (the command line's --rerun, Task(rerun=True), the
        # chain with A, B, C flagged); the rest is cached.
        assert ran == [0, 1, 0, 1, 0, 3, 2, 1], counts
    else:
        assert not any(ran), f"{name}: the second run computed again: {counts}"
    got, want = again.value(name), first.value(name)
    if name == "for_pandas":
        # The first run left EmptyTask complete: with the flag it no longer runs (as gokart).
        key = "run EmptyTask --fail-on-empty-dump true"
        assert got.pop(key) == ("exit", 0) and want.pop(key) == ("exit", 40)
    if name == "task_settings_rerun":
        # The first run's first gokart.run wrote Task: the second run finds it.
        assert got.pop("rewritten by --rerun") == want.pop("rewritten by --rerun") == ["Task"]
    _compare(name, got, want, expected=False)


def test_tutorial_ids_are_the_tutorials(sides: dict[str, Side]) -> None:
    # docs/tutorial.rst shows Sample_cdf55a3d6c255d8c191f5f472da61f99.pkl.
    for side in ("gokart", "compat"):
        assert sides[side].value("tutorial")["gokart ids"][0] == "cdf55a3d6c255d8c191f5f472da61f99"


def test_every_difference_is_met(sides: dict[str, Side]) -> None:
    # A listed difference that no longer shows up must leave the list (and docs/gokart.md).
    for name, key in DIFFERENCES:
        assert key in sides["gokart"].value(name), (name, key)


def test_unsupported_constructs_of_the_docs_say_why() -> None:
    # docs/task_on_kart.rst "Dump csv with encoding" (processor=CsvFileProcessor(...)) and the
    # central scheduler (luigi.build(..., local_scheduler=False)).
    import tasuki.compat.gokart as gokart
    import tasuki.compat.luigi as luigi
    from tasuki.errors import UnsupportedError

    class CsvTask(gokart.TaskOnKart):
        def output(self) -> Any:
            return self.make_target("file_name.csv", processor=object())

    with pytest.raises(UnsupportedError, match="processor= is gokart's file processor"):
        CsvTask().output()
    with pytest.raises(UnsupportedError, match="central scheduler"):
        luigi.build([CsvTask()], local_scheduler=False)
