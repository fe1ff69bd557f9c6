"""The data behind the ranking comparison page: two tasks' ranking tables, side by side.

A ranking table is a task output with the columns ``user``, ``item`` and ``rank`` or
``score`` (a rank is computed from the score, highest first, when there is none): a pandas
or polars DataFrame, an Arrow table, or a Parquet / Feather / CSV file. It is loaded the
way a downstream task would load it, through the task's own output target (bytes checked
against the run record); when the web app cannot import the task's code, a Parquet, Arrow
or CSV output is read straight from the workspace after the same check of its xxh3 hash.

A task is named by its unique id (or a prefix of it), or by its family and parameters:
``pkg.recs:Recommender algo=als k=20`` (``Recommender`` alone when only one family has
that class name).
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from tasuki.core.records import RunRecord, find_record
from tasuki.errors import CorruptOutputError, RecordNotFoundError, TasukiError

if TYPE_CHECKING:
    import pyarrow as pa

    from tasuki.storage.base import Store
    from tasuki.web._runs_data import RunIndex

__all__ = [
    "Comparison",
    "Entry",
    "RankingError",
    "compare",
    "item_metadata",
    "load_ranking",
    "resolve_task",
]

RankingError = RecordNotFoundError
"""What a bad pick raises (an id matching nothing, a table without the columns...)."""

_CACHE: OrderedDict[tuple[str, str, str], pa.Table] = OrderedDict()
_CACHE_SIZE = 6
_CACHE_LOCK = threading.Lock()
_FILE_READERS = (".parquet", ".pq", ".feather", ".arrow", ".ipc", ".csv")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*){0,2}$")


def resolve_task(store: Store, index: RunIndex, spec: str) -> RunRecord:
    """The run record a pick names: a unique id or prefix, or ``family key=value ...``.

    Raises:
        RecordNotFoundError: nothing matches, or several records do (the message lists
            them with their parameters, to pick one).
    """
    spec = spec.strip()
    head, *pairs = spec.split()
    if not pairs and re.fullmatch(r"[0-9a-fA-F]{4,64}", head):
        return find_record(store, head)
    wanted: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise RankingError(
                f"{pair!r} in {spec!r} is not a parameter: write name=value "
                "(e.g. 'Recommender algo=als k=20')",
                uid=spec,
            )
        wanted[name] = value
    families = [t for t, _ in index.tasks() if t == head or t.rpartition(":")[2] == head]
    if len(families) > 1:
        raise RankingError(
            f"{head!r} names several task families ({', '.join(families)}); "
            "give the full module:Class name",
            uid=spec,
        )
    if not families:
        raise RankingError(
            f"no run record of a task {head!r} (nor a unique id) in the workspace; "
            "pick a task from /runs",
            uid=spec,
        )
    matches: list[RunRecord] = []
    for row in index.runs(task=families[0], status="done", limit=10_000).rows:
        record = RunRecord.read(store, row.uid)
        if all(_param_text(record.params.get(k)) == v for k, v in wanted.items()):
            matches.append(record)
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise RankingError(
            f"no finished {families[0]} run has {' '.join(pairs) or 'any parameters'}; "
            "check the values on its task pages (/runs?task=" + families[0] + ")",
            uid=spec,
        )
    shown = "; ".join(
        f"{r.unique_id[:10]} ({' '.join(f'{k}={_param_text(v)}' for k, v in r.params.items())})"
        for r in matches[:5]
    )
    raise RankingError(
        f"{spec!r} matches {len(matches)} runs: {shown}; add parameters or give an id",
        uid=spec,
    )


def _param_text(value: Any) -> str:
    """A recorded parameter as typed in a pick: strings bare, the rest as JSON."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def load_ranking(store: Store, record: RunRecord, *, need: tuple[str, ...] = ()) -> pa.Table:
    """The first output of ``record``'s task that is a table with the ``need`` columns.

    Kept in a small cache by (workspace, unique id, output hashes): a finished output does
    not change, and a rewritten one has a new hash.

    Raises:
        RecordNotFoundError: the run did not finish, or no output is such a table.
        CorruptOutputError: an output's bytes differ from its record.
    """
    if not record.done:
        raise RankingError(
            f"{record.task} [{record.unique_id[:10]}] did not finish (status {record.status}); "
            "pick a finished run",
            uid=record.unique_id,
        )
    key = (store.url, record.unique_id, "|".join(str(o.get("xxh3")) for o in record.outputs))
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            table = _CACHE[key]
            return _checked(table, record, need)
    tables = _output_tables(store, record)
    found: list[str] = []
    for table in tables:
        if all(c in table.column_names for c in need):
            with _CACHE_LOCK:
                _CACHE[key] = table
                while len(_CACHE) > _CACHE_SIZE:
                    _CACHE.popitem(last=False)
            return table
        found.append(", ".join(table.column_names))
    raise RankingError(
        f"{record.task} [{record.unique_id[:10]}] has no output table with the columns "
        f"{', '.join(need)} (its tables have: {' | '.join(found) or 'none'}); a ranking is a "
        "DataFrame or Arrow table with user, item and rank or score",
        uid=record.unique_id,
    )


def _checked(table: pa.Table, record: RunRecord, need: tuple[str, ...]) -> pa.Table:
    missing = [c for c in need if c not in table.column_names]
    if missing:
        raise RankingError(
            f"{record.task} [{record.unique_id[:10]}] has no column {', '.join(missing)} "
            f"(it has {', '.join(table.column_names)})",
            uid=record.unique_id,
        )
    return table


def _output_tables(store: Store, record: RunRecord) -> list[pa.Table]:
    """Every output of the run that is a table, as Arrow."""
    from tasuki.core.loading import task_from_record
    from tasuki.core.task import load_task_outputs

    try:
        loaded = load_task_outputs(task_from_record(record, store), store, fresh=True)
    except CorruptOutputError:
        raise
    except (ImportError, AttributeError, TasukiError):
        # The web app may not have the pipeline's code: read table files directly.
        return [t for t in (_read_file(store, o) for o in record.outputs) if t is not None]
    values = list(loaded.values()) if isinstance(loaded, dict) else loaded
    if not isinstance(values, list | tuple):
        values = [values]
    return [t for t in (_as_arrow(v) for v in values) if t is not None]


def _as_arrow(value: Any) -> pa.Table | None:
    import pyarrow as pa

    if isinstance(value, pa.Table):
        return value
    if hasattr(value, "to_arrow") and hasattr(value, "columns"):  # polars
        table = value.to_arrow()
        return table if isinstance(table, pa.Table) else None
    if type(value).__name__ == "DataFrame" and hasattr(value, "reset_index"):  # pandas
        return pa.Table.from_pandas(value, preserve_index=False)
    return None


def _read_file(store: Store, output: dict[str, Any]) -> pa.Table | None:
    import io

    import pyarrow as pa
    import xxhash

    key = str(output.get("key", ""))
    if not key.endswith(_FILE_READERS):
        return None
    data = store.read_bytes(key)
    digest = xxhash.xxh3_64_hexdigest(data)
    if output.get("xxh3") and digest != output["xxh3"]:
        raise CorruptOutputError(
            f"{key} differs from its run record (xxh3 {digest}, recorded {output['xxh3']}); "
            "rebuild the task that wrote it"
        )
    if key.endswith((".parquet", ".pq")):
        import pyarrow.parquet as pq

        # pre_buffer=False: see tasuki.formats._arrow.ParquetFormat.read_table (SIGABRT at exit)
        return pq.read_table(io.BytesIO(data), pre_buffer=False)
    if key.endswith(".csv"):
        import pyarrow.csv as pcsv

        return pcsv.read_csv(io.BytesIO(data))
    import pyarrow.feather as feather

    table = feather.read_table(io.BytesIO(data))
    return table if isinstance(table, pa.Table) else None


@dataclass(frozen=True)
class Entry:
    """One row of a top-N list, and how it moved from the other list."""

    key: str
    rank: int
    score: float | None
    other_rank: int | None
    change: Literal["up", "down", "same", "new"]


@dataclass(frozen=True)
class Comparison:
    """Two top-N lists for one user (or item), and how much they agree."""

    by: str
    value: str
    a: list[Entry]
    b: list[Entry]
    overlap: int
    jaccard: float
    dropped: list[str]


def compare(
    a: pa.Table, b: pa.Table, *, by: Literal["user", "item"], value: str, top_n: int = 10
) -> Comparison:
    """The top ``top_n`` of each table for ``by == value`` (items of a user, or users of an
    item), with overlap, Jaccard index and each entry's rank change from ``a`` to ``b``.

    Raises:
        RecordNotFoundError: ``value`` cannot be compared with the ``by`` column's type.
    """
    other = "item" if by == "user" else "user"
    top_a = _top(a, by, other, value, top_n)
    top_b = _top(b, by, other, value, top_n)
    ranks_a = {k: i + 1 for i, (k, _) in enumerate(top_a)}
    ranks_b = {k: i + 1 for i, (k, _) in enumerate(top_b)}
    shared = set(ranks_a) & set(ranks_b)
    union = set(ranks_a) | set(ranks_b)
    return Comparison(
        by=by,
        value=value,
        a=[_entry(k, s, i + 1, ranks_b) for i, (k, s) in enumerate(top_a)],
        b=[_entry(k, s, i + 1, ranks_a) for i, (k, s) in enumerate(top_b)],
        overlap=len(shared),
        jaccard=len(shared) / len(union) if union else 1.0,
        dropped=[k for k, _ in top_a if k not in ranks_b],
    )


def _entry(key: str, score: float | None, rank: int, others: dict[str, int]) -> Entry:
    there = others.get(key)
    change: Literal["up", "down", "same", "new"]
    if there is None:
        change = "new"
    elif there > rank:
        change = "up"
    elif there < rank:
        change = "down"
    else:
        change = "same"
    return Entry(key, rank, score, there, change)


def _top(
    table: pa.Table, by: str, other: str, value: str, top_n: int
) -> list[tuple[str, float | None]]:
    """``(entity, score)`` of the best ``top_n`` rows where ``by == value``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = table.column(by)
    try:
        probe = pa.scalar(value).cast(column.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as exc:
        raise RankingError(
            f"{by} {value!r} is not a value of the {by} column ({column.type}); "
            f"give a {column.type} {by}",
            uid=value,
        ) from exc
    rows = table.filter(pc.equal(column, probe))
    # A recorded rank wins; without one the best score comes first.
    ranked = "rank" in rows.column_names
    rows = rows.sort_by([("rank", "ascending")] if ranked else [("score", "descending")])
    rows = rows.slice(0, top_n)
    keys = [str(k) for k in rows.column(other).to_pylist()]
    scores = (
        rows.column("score").to_pylist() if "score" in rows.column_names else [None] * len(keys)
    )
    return list(zip(keys, scores, strict=True))


def item_metadata(
    table: pa.Table, keys: list[str], *, column: str = "item"
) -> dict[str, dict[str, Any]]:
    """The rows of a metadata table for ``keys`` (matched as text on ``column``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if column not in table.column_names:
        raise RankingError(
            f"the metadata table has no column {column!r} (it has "
            f"{', '.join(table.column_names)}); it needs one row per {column}",
            uid=column,
        )
    wanted = pa.array(keys, type=pa.string())
    rows = table.filter(pc.is_in(pc.cast(table.column(column), pa.string()), value_set=wanted))
    return {str(r[column]): r for r in rows.to_pylist()}


def warehouse_metadata(url: str, table: str, keys: list[str], *, column: str = "item") -> pa.Table:
    """Rows of warehouse table ``table`` whose ``column`` is one of ``keys``.

    Raises:
        WarehouseError: ``table`` or ``column`` is not a plain identifier, or the query fails.
    """
    from tasuki.errors import WarehouseError
    from tasuki.warehouse import connect

    if not _IDENTIFIER.match(table) or not _IDENTIFIER.match(column):
        raise WarehouseError(
            f"metadata table {table!r} / column {column!r}: give plain names "
            "(schema.table, column: letters, digits, underscores)"
        )
    if not keys:
        import pyarrow as pa

        return pa.table({column: pa.array([], pa.string())})
    marks = ", ".join(f":k{i}" for i in range(len(keys)))
    params = {f"k{i}": k for i, k in enumerate(keys)}
    sql = f"SELECT * FROM {table} WHERE CAST({column} AS VARCHAR) IN ({marks})"
    with connect(url) as wh:
        result: pa.Table = wh.query(sql, params).to_arrow()
    return result
