"""Interaction splits: random, by time and leave-last-n-out, and the split task."""

from __future__ import annotations

import pandas as pd
import pytest

import tasuki
from tasuki.contrib.split import (
    SplitInteractions,
    split_by_time,
    split_leave_last_n,
    split_random,
)
from tasuki.errors import MissingColumnsError, ParameterError, TaskFailedError
from tests.unit.contrib._data import Table, frame


def _big() -> pd.DataFrame:
    rows = [(u, i, 1.0, u * 1000 + i) for u in range(50) for i in range(40)]
    return frame(rows)


def _pairs(df: pd.DataFrame) -> set[tuple[int, int]]:
    return set(zip(df["user"], df["item"], strict=True))


def test_random_split_is_a_partition_of_about_the_fraction_and_repeats_for_a_seed():
    data = _big()
    train, test = split_random(data, test_fraction=0.25, seed=3)
    assert len(train) + len(test) == len(data)
    assert not _pairs(train) & _pairs(test)
    assert 0.22 < len(test) / len(data) < 0.28
    again, _ = split_random(data, test_fraction=0.25, seed=3)
    other, _ = split_random(data, test_fraction=0.25, seed=4)
    assert again.equals(train)
    assert not other.equals(train)


def test_time_split_puts_the_latest_rows_in_test():
    data = _big()
    train, test = split_by_time(data, test_fraction=0.2)
    assert train["timestamp"].max() < test["timestamp"].min()
    assert len(test) == pytest.approx(0.2 * len(data), abs=1)


def test_leave_last_n_out_takes_each_users_latest_and_keeps_small_users_in_train():
    train, test = split_leave_last_n(frame(), n=2)
    # Users 1 and 3 have more than 2 interactions: their two latest go to test.
    assert sorted(zip(test["user"], test["item"], strict=True)) == [(1, 2), (1, 3), (3, 2), (3, 3)]
    # Users 2 and 4 have exactly 2: nothing of theirs is held out.
    assert set(train["user"]) == {1, 2, 3, 4}
    assert len(train) + len(test) == len(frame())


def test_a_table_without_a_required_column_names_it_and_the_columns_found():
    with pytest.raises(MissingColumnsError) as caught:
        split_leave_last_n(frame().drop(columns=["timestamp"]), n=1)
    message = str(caught.value)
    assert "timestamp" in message
    assert "user" in message and "item" in message and "rating" in message


def test_bad_fraction_and_n_are_refused_with_the_allowed_range():
    with pytest.raises(ParameterError, match=r"between 0 and 1.*got 1\.5"):
        split_random(frame(), test_fraction=1.5)
    with pytest.raises(ParameterError, match="at least 1, got 0"):
        split_leave_last_n(frame(), n=0)


def test_split_task_filters_positives_and_splits_another_split(tmp_path):
    ws = str(tmp_path / "ws")
    split = SplitInteractions(data=Table(), method="leave_last_n", n=1, min_rating=3.0)
    parts = tasuki.build(split, workspace=ws, progress="off")
    assert (pd.concat([parts["train"], parts["test"]])["rating"] >= 3.0).all()
    assert len(parts["train"]) + len(parts["test"]) == int((frame()["rating"] >= 3.0).sum())
    inner = SplitInteractions(data=split, data_output="train", method="leave_last_n", n=1)
    nested = tasuki.build(inner, workspace=ws, progress="off")
    assert len(nested["train"]) + len(nested["test"]) == len(parts["train"])


def test_split_task_on_a_ratings_table_missing_a_column_fails_naming_it(tmp_path):
    task = SplitInteractions(data=Table(drop="item"))
    with pytest.raises(TaskFailedError) as caught:
        tasuki.build(task, workspace=str(tmp_path / "ws"), progress="off")
    message = str(caught.value)
    assert "MissingColumnsError" in message
    assert "['item']" in message and "['user', 'rating', 'timestamp']" in message


def test_an_output_name_that_is_not_there_lists_the_outputs(tmp_path):
    split = SplitInteractions(data=Table(), method="leave_last_n")
    inner = SplitInteractions(data=split, data_output="training")
    with pytest.raises(TaskFailedError, match=r"no output 'training'; its outputs: 'train', 'te"):
        tasuki.build(inner, workspace=str(tmp_path / "ws"), progress="off")
