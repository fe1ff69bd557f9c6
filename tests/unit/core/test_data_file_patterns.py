"""``data_files`` takes glob patterns: the files they match count by name and bytes.

``data_files = ("data/*.csv",)`` used to stop the build ("not there"); listing each file by
hand misses the one added next week, whose rows the cached output then lacks. A pattern is
expanded on every build, so a file added, removed or edited under it reruns the task, and a
file it does not match changes nothing.
"""

from __future__ import annotations

import glob
from pathlib import Path

import pytest

import tasuki
from tasuki.errors import TaskError


class ReadsCsvs(tasuki.Task):
    data_files = ("data/*.csv",)

    def run(self):
        self.dump(sorted(Path(p).read_text() for p in glob.glob("data/*.csv")))


class ReadsTree(tasuki.Task):
    data_files = ("tree/**/*.json",)

    def run(self):
        self.dump(len(glob.glob("tree/**/*.json", recursive=True)))


class MatchesNothing(tasuki.Task):
    data_files = ("nowhere/*.csv",)

    def run(self):
        self.dump(0)


class NamesAFolder(tasuki.Task):
    data_files = ("data",)

    def run(self):
        self.dump(0)


def _status(task: tasuki.Task, ws: Path) -> str:
    result = tasuki.build(task, workspace=ws, progress="off", return_value=False)
    return result.results[task.unique_id].status


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("a")
    return tmp_path


def test_a_file_added_edited_or_removed_under_a_pattern_reruns_the_task(here: Path) -> None:
    ws = here / "ws"
    assert _status(ReadsCsvs(), ws) == "ran"
    assert _status(ReadsCsvs(), ws) == "cached"
    (here / "data" / "b.csv").write_text("b")
    assert _status(ReadsCsvs(), ws) == "ran"
    assert tasuki.load(ReadsCsvs(), workspace=ws) == ["a", "b"]
    (here / "data" / "notes.txt").write_text("not matched")
    assert _status(ReadsCsvs(), ws) == "cached"
    (here / "data" / "b.csv").write_text("B, longer")
    assert _status(ReadsCsvs(), ws) == "ran"
    (here / "data" / "b.csv").unlink()
    assert _status(ReadsCsvs(), ws) == "ran"
    assert tasuki.load(ReadsCsvs(), workspace=ws) == ["a"]


def test_a_recursive_pattern_follows_files_in_subfolders(here: Path) -> None:
    ws = here / "ws"
    (here / "tree" / "x" / "y").mkdir(parents=True)
    (here / "tree" / "top.json").write_text("{}")
    assert _status(ReadsTree(), ws) == "ran"
    (here / "tree" / "x" / "y" / "deep.json").write_text("{}")
    assert _status(ReadsTree(), ws) == "ran"
    assert tasuki.load(ReadsTree(), workspace=ws) == 2


def test_a_pattern_that_matches_nothing_stops_the_build(here: Path) -> None:
    with pytest.raises(TaskError, match=r"pattern 'nowhere/\*\.csv' matches no file") as err:
        tasuki.build(MatchesNothing(), workspace=here / "ws", progress="off")
    assert err.value.path == "nowhere/*.csv"


def test_a_folder_says_a_pattern_would_do(here: Path) -> None:
    with pytest.raises(TaskError, match=r"a folder.*give a pattern \('data/\*\.csv'"):
        tasuki.build(NamesAFolder(), workspace=here / "ws", progress="off")
