"""Splitting interaction data (``user``, ``item``, maybe ``rating`` and ``timestamp``) into
train and test parts: at random, by time, or by user (each user's last ``n`` interactions).

The functions take and return pandas DataFrames; :class:`SplitInteractions` is the task
that runs one of them on another task's output and writes ``train`` and ``test`` Parquet
tables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from tasuki.core.params import param
from tasuki.core.task import Task
from tasuki.errors import ParameterError, TaskError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "SplitInteractions",
    "check_interactions",
    "pick_output",
    "split_by_time",
    "split_leave_last_n",
    "split_random",
]

SplitMethod = Literal["random", "time", "leave_last_n"]


def pick_output(value: Any, name: str | None, *, where: str) -> Any:
    """``value[name]`` when ``value`` is a dict of outputs (``name`` None: ``value``).

    Raises:
        TaskError: ``name`` is not one of the dict's entries.
    """
    if name is None or not isinstance(value, dict):
        return value
    if name not in value:
        raise TaskError(
            f"{where}: the upstream task has no output {name!r}; its outputs: "
            f"{', '.join(map(repr, value))}. Name one of them.",
            name=name,
        )
    return value[name]


def check_interactions(frame: Any, columns: list[str], *, where: str) -> None:
    """Raise ``MissingColumnsError`` naming the missing columns and the ones found."""
    from tasuki.formats import check_columns

    check_columns(frame, columns, where=where)


def _check_fraction(value: float, name: str, where: str) -> None:
    if not 0.0 < value < 1.0:
        raise ParameterError(
            f"{where}: {name} must be between 0 and 1 (exclusive), got {value!r}; "
            "e.g. 0.25 puts a quarter of the rows in test",
            parameter=name,
            value=repr(value),
        )


def split_random(
    frame: pd.DataFrame, *, test_fraction: float = 0.25, seed: int = 42
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each row goes to test with probability ``test_fraction`` (one draw per row, from a
    seeded generator), as Microsoft Recommenders' ``python_random_split`` does: the same
    rows on every machine for the same seed. Rows keep their order."""
    import numpy as np

    _check_fraction(test_fraction, "test_fraction", "split_random")
    check_interactions(frame, ["user", "item"], where="split_random")
    to_test = np.random.default_rng(seed).random(len(frame)) < test_fraction
    return frame[~to_test].reset_index(drop=True), frame[to_test].reset_index(drop=True)


def split_by_time(
    frame: pd.DataFrame, *, test_fraction: float = 0.25
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One cut in time for everyone: the latest ``test_fraction`` of the rows (by
    ``timestamp``; ties at the cut stay together, in train) are the test part."""
    _check_fraction(test_fraction, "test_fraction", "split_by_time")
    check_interactions(frame, ["user", "item", "timestamp"], where="split_by_time")
    cut = frame["timestamp"].quantile(1.0 - test_fraction, interpolation="higher")
    to_test = (frame["timestamp"] > cut).to_numpy()
    return frame[~to_test].reset_index(drop=True), frame[to_test].reset_index(drop=True)


def split_leave_last_n(frame: pd.DataFrame, *, n: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each user's ``n`` latest interactions (by ``timestamp``, then row order) are the test
    part; a user with ``n`` or fewer interactions stays wholly in train."""
    if n < 1:
        raise ParameterError(
            f"split_leave_last_n: n must be at least 1, got {n!r}",
            parameter="n",
            value=repr(n),
        )
    check_interactions(frame, ["user", "item", "timestamp"], where="split_leave_last_n")
    order = frame.reset_index(drop=True)
    ranked = order.sort_values(["user", "timestamp"], kind="stable")
    from_end = ranked.groupby("user").cumcount(ascending=False)
    sizes = ranked.groupby("user")["user"].transform("size")
    to_test = order.index.isin(ranked.index[(from_end < n) & (sizes > n)])
    return order[~to_test].reset_index(drop=True), order[to_test].reset_index(drop=True)


class SplitInteractions(Task):
    """Split another task's interaction table into ``train`` and ``test`` Parquet tables.

    Example:
        >>> split = SplitInteractions(data=MovieLens100k(), method="random", seed=42)
        >>> valid = SplitInteractions(data=split, data_output="train", seed=7)  # for tuning
    """

    data: Task
    data_output: str | None = param(
        default=None, description="which output of `data` to split (e.g. 'train')"
    )
    method: SplitMethod = "random"
    test_fraction: float = param(default=0.25, description="random and time splits")
    n: int = param(default=1, description="leave_last_n: interactions per user in test")
    seed: int = param(default=42, description="random split")
    min_rating: float | None = param(
        default=None, description="drop rows rated below this before splitting (positives only)"
    )

    def requires(self) -> Any:
        """The task whose output is split."""
        return self.data

    def output(self) -> Any:
        """``train.parquet`` and ``test.parquet``."""
        return {
            "train": self.make_target("train.parquet"),
            "test": self.make_target("test.parquet"),
        }

    def run(self) -> None:
        """Split and write both parts; their row counts go into the run record."""
        where = f"{type(self).task_name()} input"
        frame = pick_output(self.load(), self.data_output, where=f"{where} (data_output)")
        check_interactions(frame, ["user", "item"], where=where)
        if self.min_rating is not None:
            check_interactions(frame, ["rating"], where=f"{where} (min_rating)")
            frame = frame[frame["rating"] >= self.min_rating]
        if self.method == "random":
            train, test = split_random(frame, test_fraction=self.test_fraction, seed=self.seed)
        elif self.method == "time":
            train, test = split_by_time(frame, test_fraction=self.test_fraction)
        else:
            train, test = split_leave_last_n(frame, n=self.n)
        self.task_log.update({"train_rows": len(train), "test_rows": len(test)})
        self.dump(train, "train")
        self.dump(test, "test")
