"""Which outputs a task sends to the tracker (``track_outputs``)."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import pytest

import tasuki
from tasuki.tracking._outputs import tracked_outputs


def _save(model: Any, folder: Any) -> None:
    (folder / "m").write_text("m")


def _load(folder: Any) -> Any:
    return (folder / "m").read_text()


class Split(tasuki.Task):
    track_outputs: ClassVar[Any] = ["test", "nope"]

    def output(self) -> Any:
        return {
            "train": self.make_target("train.pkl"),
            "test": self.make_target("test.pkl"),
            "parts": self.make_directory_target("parts"),
            "model": self.make_model_target("m.zip", save_function=_save, load_function=_load),
        }


class Everything(Split):
    track_outputs: ClassVar[Any] = True


class Nothing(Split):
    track_outputs: ClassVar[Any] = False


class Single(tasuki.Task):
    track_outputs: ClassVar[Any] = "output"


def test_named_outputs_model_targets_always_folders_never(
    caplog: pytest.LogCaptureFixture,
) -> None:
    warned: set[tuple[str, str]] = set()
    task = Split()
    chosen = tracked_outputs(task.output(), Split, warned)
    assert [n for n, _ in chosen] == ["test", "model"]
    tracked_outputs(task.output(), Split, warned)  # said once per class
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(said) == 1
    assert "track_outputs names ['nope']" in said[0] and "'train'" in said[0]


def test_true_false_and_a_single_target() -> None:
    warned: set[tuple[str, str]] = set()
    assert [n for n, _ in tracked_outputs(Everything().output(), Everything, warned)] == [
        "train",
        "test",
        "model",
    ]
    assert [n for n, _ in tracked_outputs(Nothing().output(), Nothing, warned)] == ["model"]
    assert [n for n, _ in tracked_outputs(Single().output(), Single, warned)] == ["output"]
    assert warned == set()
