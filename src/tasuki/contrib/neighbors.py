"""Nearest-neighbour search over embeddings: an HNSW index (``hnswlib``) built and searched
as tasks, an exact brute-force baseline, and recall@k of one against the other.

Embeddings are a 2-D float array (``.npy``), or a table whose one list column holds a
vector per row (Parquet). Rows are items; an item's id is its row number, or the value of
``id_column`` when the table has one. Distances follow ``hnswlib``: ``l2`` is the squared
Euclidean distance, ``ip`` is ``1 - dot``, ``cosine`` is ``1 - cosine similarity``; smaller
is nearer for all three.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tasuki.contrib.split import pick_output
from tasuki.core.params import param
from tasuki.core.task import Task
from tasuki.errors import FormatError, ParameterError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = [
    "BuildIndex",
    "ExactNeighbors",
    "NeighborIndex",
    "SearchNeighbors",
    "as_embeddings",
    "exact_neighbors",
    "recall_at_k",
]

Metric = Literal["l2", "ip", "cosine"]
_METRICS = ("l2", "ip", "cosine")


def as_embeddings(
    value: Any, *, column: str | None = None, id_column: str | None = None, where: str
) -> tuple[np.ndarray, np.ndarray]:
    """``(vectors, ids)``: ``value`` as a C-contiguous float32 ``n x d`` array and the id of
    each row (row numbers unless ``id_column`` names a column of a table).

    Raises:
        FormatError: not a 2-D array nor a table with a list column.
        ParameterError: a NaN or infinity in a vector (names how many rows and the first).
    """
    import numpy as np

    ids: np.ndarray | None = None
    if hasattr(value, "to_pandas") and not hasattr(value, "iloc"):
        value = value.to_pandas()  # a pyarrow Table or polars DataFrame
    if hasattr(value, "iloc"):
        frame = value
        if id_column is not None:
            if id_column not in frame.columns:
                raise FormatError(
                    f"{where}: id_column {id_column!r} is not a column; columns: "
                    f"{list(frame.columns)}",
                    column=id_column,
                )
            ids = frame[id_column].to_numpy()
        name = column or _the_list_column(frame, where)
        if name not in frame.columns:
            raise FormatError(
                f"{where}: column {name!r} is not in the table; columns: {list(frame.columns)}",
                column=name,
            )
        cells = frame[name].to_list()
        value = np.stack([np.asarray(c, dtype=np.float32) for c in cells]) if cells else None
    array = np.asarray(value) if value is not None else np.empty((0, 0), np.float32)
    if array.ndim != 2 or array.shape[0] == 0 or array.dtype.kind not in "fiu":
        raise FormatError(
            f"{where}: embeddings must be a non-empty 2-D numeric array (items x dimensions) or "
            f"a table with one list column; got {type(value).__name__} of shape "
            f"{getattr(array, 'shape', None)} and dtype {array.dtype}",
            shape=str(array.shape),
        )
    vectors = np.ascontiguousarray(array, dtype=np.float32)
    check_finite(vectors, where=where)
    return vectors, (np.arange(len(vectors)) if ids is None else ids)


def _the_list_column(frame: pd.DataFrame, where: str) -> str:
    first = frame.iloc[0] if len(frame) else None
    found = [c for c in frame.columns if first is not None and hasattr(first[c], "__len__")]
    found = [c for c in found if not isinstance(first[c], str | bytes)]  # type: ignore[index]
    if len(found) != 1:
        raise FormatError(
            f"{where}: cannot tell which column holds the vectors (list columns: {found}; all "
            f"columns: {list(frame.columns)}); name it with column=...",
            columns=str(list(frame.columns)),
        )
    return str(found[0])


def check_finite(vectors: np.ndarray, *, where: str) -> None:
    """Raise ``ParameterError`` when a row of ``vectors`` holds NaN or an infinity: the
    index would place it anywhere, and its distances would poison every ranking."""
    import numpy as np

    bad = ~np.isfinite(vectors).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise ParameterError(
            f"{where}: {len(rows)} of {len(vectors)} embedding rows hold NaN or infinity (first "
            f"at row {int(rows[0])}); drop or repair those rows before indexing or searching",
            rows=len(rows),
            first_row=int(rows[0]),
        )


def check_k(k: int, n_items: int, *, where: str) -> None:
    """Raise ``ParameterError`` unless ``1 <= k <= n_items``."""
    if not 1 <= k <= n_items:
        raise ParameterError(
            f"{where}: k={k} but the index holds {n_items} items; pick k between 1 and "
            f"{n_items} (there are no more neighbours to return)",
            parameter="k",
            value=repr(k),
            expected=f"1..{n_items}",
        )


def _check_metric(metric: str, where: str) -> None:
    if metric not in _METRICS:
        raise ParameterError(
            f"{where}: metric {metric!r} is not one of {', '.join(_METRICS)}",
            parameter="metric",
            value=repr(metric),
        )


def exact_neighbors(
    items: np.ndarray,
    queries: np.ndarray,
    *,
    k: int = 10,
    metric: str = "l2",
    block: int = 65_536,
) -> tuple[np.ndarray, np.ndarray]:
    """The exact ``k`` nearest items of each query by brute force: ``(ids, distances)``, both
    ``queries x k``, nearest first (row numbers of ``items``; distances as in the module
    docstring). Items are scored in blocks of ``block`` rows, one matrix product each, so
    memory stays at ``queries x block`` floats; numpy's BLAS decides the threads.

    Raises:
        ParameterError: ``k`` above the number of items, an unknown metric, NaN / inf.
    """
    import numpy as np

    where = "exact_neighbors"
    _check_metric(metric, where)
    check_k(k, len(items), where=where)
    items = np.ascontiguousarray(items, dtype=np.float32)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    check_finite(items, where=f"{where} items")
    check_finite(queries, where=f"{where} queries")
    if metric == "cosine":
        items, queries = _unit(items), _unit(queries)
    q_norms = (queries * queries).sum(axis=1)[:, None] if metric == "l2" else 0.0
    best_d = np.full((len(queries), 0), np.inf, dtype=np.float32)
    best_i = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, len(items), block):
        part = items[start : start + block]
        dots = queries @ part.T
        if metric == "l2":
            dist = q_norms - 2.0 * dots + (part * part).sum(axis=1)[None, :]
        else:
            dist = 1.0 - dots
        # Keep this block's k best, merged with the best so far.
        take = min(k, part.shape[0])
        local = np.argpartition(dist, take - 1, axis=1)[:, :take]
        cand_d = np.concatenate([best_d, np.take_along_axis(dist, local, axis=1)], axis=1)
        cand_i = np.concatenate([best_i, local + start], axis=1)
        keep = np.argpartition(cand_d, min(k, cand_d.shape[1]) - 1, axis=1)[:, :k]
        best_d = np.take_along_axis(cand_d, keep, axis=1)
        best_i = np.take_along_axis(cand_i, keep, axis=1)
    order = np.lexsort((best_i, best_d), axis=1)  # nearest first, ties by item id
    return np.take_along_axis(best_i, order, axis=1), np.take_along_axis(best_d, order, axis=1)


def _unit(x: np.ndarray) -> np.ndarray:
    import numpy as np

    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.asarray(x / np.where(norms == 0, 1.0, norms), dtype=np.float32)


def recall_at_k(approx: np.ndarray, exact: np.ndarray) -> float:
    """The mean, over queries, of the share of each exact top-k (a row of ``exact``) found
    in the same row of ``approx``: 1.0 when every true neighbour was returned.

    Raises:
        ParameterError: the arrays have different numbers of rows, or are empty.
    """
    import numpy as np

    a, e = np.asarray(approx), np.asarray(exact)
    if a.ndim != 2 or e.ndim != 2 or len(a) != len(e) or e.size == 0:
        raise ParameterError(
            f"recall_at_k: approx {a.shape} and exact {e.shape} must be 2-D with one row per "
            "query (and not empty)",
            parameter="approx",
        )
    hits = sum(len(np.intersect1d(a[i], e[i])) for i in range(len(e)))
    return float(hits / e.size)


@dataclass
class NeighborIndex:
    """What a :class:`BuildIndex` task's ``model`` output loads as.

    Attributes:
        index: the ``hnswlib.Index``.
        ids: the item id of each index label (label ``i`` is row ``i``).
        metric: ``l2``, ``ip`` or ``cosine``.
    """

    index: Any
    ids: np.ndarray
    metric: str

    def search(
        self, queries: np.ndarray, *, k: int = 10, ef: int = 64, num_threads: int = 1
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, distances)`` of the ``k`` approximate nearest items of each query,
        nearest first. ``ef`` (at least ``k``) trades speed for recall.

        Raises:
            ParameterError: ``k`` above the item count, NaN / inf in a query.
        """
        import numpy as np

        check_k(k, len(self.ids), where="NeighborIndex.search")
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        check_finite(queries, where="NeighborIndex.search queries")
        self.index.set_ef(max(ef, k))  # hnswlib needs ef >= k to return k
        labels, distances = self.index.knn_query(queries, k=k, num_threads=num_threads)
        return self.ids[labels.astype(np.int64)], distances


def save_index(fitted: NeighborIndex, folder: Path) -> None:
    """Write ``meta.json``, ``ids.npy`` and ``index.bin`` (hnswlib's own file)."""
    import numpy as np

    meta = {"metric": fitted.metric, "dim": fitted.index.dim, "format": 1}
    (folder / "meta.json").write_text(json.dumps(meta))
    np.save(folder / "ids.npy", fitted.ids, allow_pickle=False)
    fitted.index.save_index(str(folder / "index.bin"))


def load_index(folder: Path) -> NeighborIndex:
    """Read what :func:`save_index` wrote."""
    import hnswlib
    import numpy as np

    meta = json.loads((folder / "meta.json").read_text())
    ids = np.load(folder / "ids.npy", allow_pickle=False)
    index = hnswlib.Index(space=meta["metric"], dim=int(meta["dim"]))
    index.load_index(str(folder / "index.bin"), max_elements=len(ids))
    return NeighborIndex(index, ids, meta["metric"])


def build_hnsw(
    vectors: np.ndarray,
    ids: np.ndarray,
    *,
    metric: str = "l2",
    m: int = 16,
    ef_construction: int = 200,
    seed: int = 100,
    num_threads: int = 1,
) -> NeighborIndex:
    """An HNSW index over ``vectors`` (labels are row numbers; ``ids`` maps them back)."""
    import hnswlib
    import numpy as np

    _check_metric(metric, "build_hnsw")
    index = hnswlib.Index(space=metric, dim=int(vectors.shape[1]))
    index.init_index(
        max_elements=len(vectors), M=m, ef_construction=ef_construction, random_seed=seed
    )
    index.add_items(vectors, np.arange(len(vectors)), num_threads=num_threads)
    return NeighborIndex(index, np.asarray(ids), metric)


def neighbor_table(ids: np.ndarray, distances: np.ndarray) -> pd.DataFrame:
    """``query, rank, id, distance``: one row per neighbour, rank 1 nearest."""
    import numpy as np
    import pandas as pd

    n, k = ids.shape
    return pd.DataFrame(
        {
            "query": np.repeat(np.arange(n), k),
            "rank": np.tile(np.arange(1, k + 1, dtype=np.int32), n),
            "id": ids.ravel(),
            "distance": np.asarray(distances, dtype=np.float32).ravel(),
        }
    )


class BuildIndex(Task):
    """An HNSW index (``hnswlib``) over another task's embeddings, kept as a model target
    that loads as :class:`NeighborIndex`.

    With ``num_threads`` above 1 items are inserted in an order that depends on thread
    timing, so the graph (not its quality) changes from run to run: ``num_threads`` is
    significant and only 1 repeats exactly for a ``seed``.
    """

    embeddings: Task
    embeddings_output: str | None = param(default=None, description="which output of it")
    column: str | None = param(default=None, description="the list column of a table")
    id_column: str | None = param(default=None, description="item ids (default: row numbers)")
    metric: Metric = "l2"
    M: int = param(default=16, description="links per node: more, better recall, more memory")
    ef_construction: int = param(default=200, description="candidate list while building")
    seed: int = param(default=100, description="hnswlib's random_seed (node levels)")
    num_threads: int = param(default=1, description="above 1 the graph is not repeatable")
    library_versions = ("hnswlib",)

    def requires(self) -> Any:
        """The embeddings."""
        return self.embeddings

    def output(self) -> Any:
        """``index.zip``: the hnswlib index, the item ids and the metric."""
        return self.make_model_target(
            "index.zip", save_function=save_index, load_function=load_index
        )

    def run(self) -> None:
        """Check the vectors, build the index; build time goes in as ``build_s``."""
        import time

        where = f"{type(self).task_name()} embeddings"
        value = pick_output(self.load(), self.embeddings_output, where=where)
        vectors, ids = as_embeddings(
            value, column=self.column, id_column=self.id_column, where=where
        )
        start = time.perf_counter()
        fitted = build_hnsw(
            vectors,
            ids,
            metric=self.metric,
            m=self.M,
            ef_construction=self.ef_construction,
            seed=self.seed,
            num_threads=self.num_threads,
        )
        self.log_metric("build_s", time.perf_counter() - start)
        self.task_log.update({"items": len(vectors), "dim": int(vectors.shape[1])})
        self.dump(fitted)


class SearchNeighbors(Task):
    """The ``k`` approximate nearest items of each query vector, from a :class:`BuildIndex`:
    ``neighbors.parquet`` with ``query`` (row of the queries), ``rank``, ``id``, ``distance``.
    """

    index: Task
    queries: Task
    queries_output: str | None = param(default=None, description="which output of `queries`")
    column: str | None = param(default=None, description="the list column of a table")
    k: int = param(default=10, description="neighbours per query")
    ef: int = param(default=64, description="search candidate list (>= k): more, better recall")
    num_threads: int = param(default=1, significant=False, description="same result at any")

    def requires(self) -> Any:
        """The index and the queries."""
        return {"index": self.index, "queries": self.queries}

    def output(self) -> Any:
        """``neighbors.parquet``."""
        return self.make_target("neighbors.parquet")

    def run(self) -> None:
        """Search each query; write the table."""
        where = f"{type(self).task_name()} queries"
        fitted = self.load("index")
        if not isinstance(fitted, NeighborIndex):
            raise ParameterError(
                f"{type(self).task_name()}: index must be a BuildIndex task (its output loads "
                f"as NeighborIndex), got one whose output is {type(fitted).__name__}",
                parameter="index",
            )
        value = pick_output(self.load("queries"), self.queries_output, where=where)
        queries, _ = as_embeddings(value, column=self.column, where=where)
        ids, distances = fitted.search(queries, k=self.k, ef=self.ef, num_threads=self.num_threads)
        self.dump(neighbor_table(ids, distances))


class ExactNeighbors(Task):
    """The exact ``k`` nearest items of each query by brute force (numpy, in blocks): the
    baseline an index's recall is measured against. Same table as :class:`SearchNeighbors`.
    """

    items: Task
    queries: Task
    items_output: str | None = param(default=None, description="which output of `items`")
    queries_output: str | None = param(default=None, description="which output of `queries`")
    column: str | None = param(default=None, description="the list column of a table")
    id_column: str | None = param(default=None, description="item ids (default: row numbers)")
    metric: Metric = "l2"
    k: int = param(default=10, description="neighbours per query")

    def requires(self) -> Any:
        """The items and the queries."""
        return {"items": self.items, "queries": self.queries}

    def output(self) -> Any:
        """``neighbors.parquet``."""
        return self.make_target("neighbors.parquet")

    def run(self) -> None:
        """Score every item for every query; write the table."""
        name = type(self).task_name()
        raw_items = pick_output(self.load("items"), self.items_output, where=f"{name} items")
        items, ids = as_embeddings(
            raw_items, column=self.column, id_column=self.id_column, where=f"{name} items"
        )
        raw_q = pick_output(self.load("queries"), self.queries_output, where=f"{name} queries")
        queries, _ = as_embeddings(raw_q, column=self.column, where=f"{name} queries")
        rows, distances = exact_neighbors(items, queries, k=self.k, metric=self.metric)
        self.dump(neighbor_table(ids[rows], distances))
