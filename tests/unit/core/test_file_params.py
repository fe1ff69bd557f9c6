"""A parameter that names a file is warned about once: its bytes are not in the id.

``Clean(raw="data/raw.csv")`` keeps its id when a new export replaces the file; the build
hands back the output of the old one. The build says so, once per class and parameter, and
names the two ways to make the bytes count (`tasuki.FileInput`, `data_files`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import tasuki
from tasuki.core._file_params import forget_file_params, warn_file_params

LOGGER = "tasuki.core._file_params"


class ReadsPath(tasuki.Task):
    raw: str
    day: str = "2024-01-01"
    n: int = 1

    def run(self) -> None:
        self.dump(Path(self.raw).read_text())


class ReadsPathObject(tasuki.Task):
    raw: Path | None = None

    def run(self) -> None:
        self.dump(self.raw.read_text() if self.raw else "")


class Declared(tasuki.Task):
    raw: str
    data_files = ("declared.txt",)

    def run(self) -> None:
        self.dump(Path(self.raw).read_text())


class DeclaredByPattern(tasuki.Task):
    raw: str
    data_files = ("*.csv",)

    def run(self) -> None:
        self.dump(Path(self.raw).read_text())


class Insignificant(tasuki.Task):
    raw: str = tasuki.param(default="", significant=False)

    def run(self) -> None:
        self.dump(1)


@pytest.fixture(autouse=True)
def _fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "raw.csv").write_text("x")
    (tmp_path / "declared.txt").write_text("y")
    forget_file_params()
    yield
    forget_file_params()


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


def test_a_parameter_naming_a_file_is_warned_about_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    tasuki.build(ReadsPath(raw="raw.csv"), workspace=tmp_path / "ws", progress="off")
    (message,) = _warnings(caplog)
    assert "ReadsPath.raw is 'raw.csv', a file" in message
    assert "tasuki.FileInput(path=...)" in message and "data_files" in message
    tasuki.build(ReadsPath(raw="raw.csv", n=2), workspace=tmp_path / "ws", progress="off")
    assert len(_warnings(caplog)) == 1


def test_a_path_object_parameter_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    task = ReadsPathObject(raw=tmp_path / "raw.csv")
    tasuki.build(task, workspace=tmp_path / "ws", progress="off")
    assert len(_warnings(caplog)) == 1


@pytest.mark.parametrize(
    "task",
    [
        ReadsPath(raw="no/such/file.csv"),  # not a file (yet): nothing to read
        Declared(raw="declared.txt"),  # its bytes count through data_files
        DeclaredByPattern(raw="raw.csv"),  # ... through a pattern
        Insignificant(raw="raw.csv"),  # not in the id at all, by choice
        ReadsPathObject(),
    ],
    ids=["missing", "declared", "pattern", "insignificant", "none"],
)
def test_no_warning_where_the_bytes_count_or_nothing_is_read(
    caplog: pytest.LogCaptureFixture, task: tasuki.Task
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    warn_file_params(tasuki.build_graph([task]))
    assert _warnings(caplog) == []


def test_a_file_input_is_not_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    tasuki.build(tasuki.FileInput(path="raw.csv", as_="path"), workspace=tmp_path / "ws")
    assert _warnings(caplog) == []
