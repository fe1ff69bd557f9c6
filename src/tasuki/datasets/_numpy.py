"""``as_numpy_batches``: a split as batches of NumPy arrays, ready for PyTorch or JAX.

Without a seed the rows come in split order (the streaming reader of ``_load``). With one,
the order is shuffled deterministically across shards in bounded memory: the row groups the
selection touches are the units of a seeded permutation, read a window of rows at a time and
permuted within it before they are cut into batches.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from tasuki.datasets._load import (
    Verify,
    _batches,
    _check_batch_size,
    _guarded,
    _Piece,
    _piece_row_groups,
    _Plan,
    _plan,
    _read_piece,
)
from tasuki.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

__all__ = ["as_numpy_batches"]


def _to_numpy(table: pa.Table) -> dict[str, np.ndarray]:
    """Columns as NumPy arrays: numbers and booleans as themselves, fixed-size lists
    (embeddings) as 2-D arrays, strings and variable lists as object arrays."""
    import pyarrow as pa

    out: dict[str, np.ndarray] = {}
    for name in table.column_names:
        column = table.column(name).combine_chunks()
        if pa.types.is_fixed_size_list(column.type) and column.null_count == 0:
            width = column.type.list_size
            values = column.flatten().to_numpy(zero_copy_only=False)
            out[name] = values.reshape(len(column), width)
        else:
            out[name] = column.to_numpy(zero_copy_only=False)
    return out


def _row_group_units(plan: _Plan) -> list[tuple[_Piece, int]]:
    """Every (piece, row group) the selection touches: the shuffle's units."""
    units: list[tuple[_Piece, int]] = []
    for piece in plan.pieces:
        units.extend((piece, rg) for rg, _, _ in _piece_row_groups(plan, piece))
    return units


def as_numpy_batches(
    ref: str,
    split: str,
    batch_size: int,
    *,
    shuffle_seed: int | None = None,
    drop_last: bool = False,
    shuffle_window: int = 262_144,
    columns: Sequence[str] | None = None,
    filter: Any = None,
    config: str | None = None,
    registry: str | os.PathLike[str] | None = None,
    verify: Verify = "once",
) -> Iterator[dict[str, np.ndarray]]:
    """Batches of ``batch_size`` rows as ``{column: numpy array}``, ready for PyTorch
    (``torch.from_numpy``) or JAX.

    Without ``shuffle_seed`` the rows come in split order. With it, the order is shuffled
    deterministically (the same seed gives the same batches) across shards with bounded
    memory: the row groups the selection touches (units of a shard, 64 k rows as tasuki
    publishes them) are put in a random order, then read ``shuffle_window`` rows at a time
    and those rows mixed before they are cut into batches (the few rows short of a batch at
    the end of a window open the next one's first batch). Memory is about
    ``shuffle_window`` rows plus one row group. Use a new seed per epoch (``seed + epoch``)
    for a new order.

    Args:
        ref: As for :func:`load`.
        split: As for :func:`load`.
        batch_size: Rows per batch.
        shuffle_seed: Seed of the shuffle; None keeps the split order.
        drop_last: Drop the last batch when it has fewer than ``batch_size`` rows.
        shuffle_window: Rows mixed together at a time (more mixes better, costs memory).
        columns: As for :func:`load`.
        filter: As for :func:`load`.
        config: As for :func:`load`.
        registry: As for :func:`load`.
        verify: As for :func:`load`.

    Example:
        >>> for batch in as_numpy_batches("product_a/clicks:1.*", "train", 1024,
        ...                               shuffle_seed=epoch):  # doctest: +SKIP
        ...     x = torch.from_numpy(batch["features"])
    """
    _check_batch_size(batch_size)
    if shuffle_window < 1:
        raise ConfigError(
            f"shuffle_window must be a positive number of rows, got {shuffle_window!r}",
            shuffle_window=shuffle_window,
        )
    plan = _plan(
        ref,
        split,
        columns=columns,
        filter=filter,
        config=config,
        registry=registry,
        verify=verify,
    )
    if shuffle_seed is None:
        tables: Iterator[pa.Table] = (_table_of(b) for b in _batches(plan, max(batch_size, 8192)))
    else:
        tables = _shuffled(plan, shuffle_seed, shuffle_window)
    return _guarded(plan, _numpy_batches(tables, batch_size, drop_last))


def _table_of(batch: pa.RecordBatch) -> pa.Table:
    import pyarrow as pa

    return pa.Table.from_batches([batch])


def _shuffled(plan: _Plan, seed: int, window: int) -> Iterator[pa.Table]:
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    units = _row_group_units(plan)
    order = rng.permutation(len(units))
    buffer: list[pa.Table] = []
    held = 0
    for i in order:
        piece, rg = units[int(i)]
        table = _read_piece(plan, piece, [rg])
        buffer.append(table)
        held += table.num_rows
        if held >= window:
            mixed = pa.concat_tables(buffer)
            yield mixed.take(rng.permutation(mixed.num_rows))
            buffer, held = [], 0
    if held:
        mixed = pa.concat_tables(buffer)
        yield mixed.take(rng.permutation(mixed.num_rows))


def _numpy_batches(
    tables: Iterator[pa.Table], batch_size: int, drop_last: bool
) -> Iterator[dict[str, np.ndarray]]:
    import pyarrow as pa

    carry: pa.Table | None = None
    for table in tables:
        if carry is not None and carry.num_rows:
            table = pa.concat_tables([carry, table])
        start = 0
        while table.num_rows - start >= batch_size:
            yield _to_numpy(table.slice(start, batch_size))
            start += batch_size
        carry = table.slice(start)
    if carry is not None and carry.num_rows and not drop_last:
        yield _to_numpy(carry)
