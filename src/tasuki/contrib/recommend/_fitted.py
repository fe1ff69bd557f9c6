"""A fitted recommender: the model, the user and item ids it knows, and what each user has
seen, with the top-k query every recommender task answers and the files a model target keeps.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasuki.errors import FormatError, ParameterError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import scipy.sparse as sp

__all__ = ["FittedRecommender", "build_matrix", "load_fitted", "save_fitted"]

_KINDS = ("popularity", "als", "bpr", "itemknn")


def build_matrix(frame: pd.DataFrame) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """The users x items CSR matrix of ones (float32; a repeated pair counts once) and the
    sorted user and item ids its rows and columns stand for."""
    import numpy as np
    import scipy.sparse as sp

    users, rows = np.unique(frame["user"].to_numpy(), return_inverse=True)
    items, cols = np.unique(frame["item"].to_numpy(), return_inverse=True)
    matrix = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)),
        shape=(len(users), len(items)),
        dtype=np.float32,
    )
    matrix.data[:] = 1.0  # duplicates were summed
    return matrix, users, items


@dataclass
class FittedRecommender:
    """What a recommender task's ``model`` output loads as.

    Attributes:
        kind: ``popularity``, ``als``, ``bpr`` or ``itemknn``.
        model: an ``implicit`` model, or the item counts (popularity).
        users: the user ids of the matrix rows, sorted.
        items: the item ids of the matrix columns, sorted.
        seen: the users x items training matrix (what each user has seen).
    """

    kind: str
    model: Any
    users: np.ndarray
    items: np.ndarray
    seen: sp.csr_matrix

    def recommend(self, users: Any = None, *, k: int = 10) -> pd.DataFrame:
        """The top ``k`` unseen items of each known user in ``users`` (all users when None),
        as ``user``, ``item``, ``score``, ``rank`` (1 is best); unknown users are skipped.

        Raises:
            ParameterError: ``k`` is below 1 or above the number of items.
        """
        import numpy as np
        import pandas as pd

        check_k(k, len(self.items), where=f"{self.kind} recommender")
        rows = (
            np.arange(len(self.users))
            if users is None
            else np.flatnonzero(np.isin(self.users, np.asarray(users)))
        )
        if self.kind == "popularity":
            ids, scores = _top_popular(self.model, self.seen[rows], k)
        else:
            ids, scores = self.model.recommend(
                rows, self.seen[rows], N=k, filter_already_liked_items=True
            )
        ids = np.asarray(ids).reshape(len(rows), -1)
        scores = np.asarray(scores, dtype=np.float64).reshape(len(rows), -1)
        # A user who has seen nearly every item gets fewer than k: implicit pads with -1.
        keep = (ids >= 0) & np.isfinite(scores)
        ranks = np.broadcast_to(np.arange(1, ids.shape[1] + 1, dtype=np.int32), ids.shape)
        return pd.DataFrame(
            {
                "user": np.repeat(self.users[rows], ids.shape[1])[keep.ravel()],
                "item": self.items[np.where(keep, ids, 0)][keep],
                "score": scores[keep],
                "rank": ranks[keep],
            }
        )


def check_k(k: int, n_items: int, *, where: str) -> None:
    """Raise ``ParameterError`` unless ``1 <= k <= n_items``."""
    if not 1 <= k <= n_items:
        raise ParameterError(
            f"{where}: k={k} but the training data has {n_items} items; pick k between 1 "
            f"and {n_items} (a top-k list cannot be longer than the catalogue)",
            parameter="k",
            value=repr(k),
            expected=f"1..{n_items}",
        )


def _top_popular(counts: np.ndarray, seen: sp.csr_matrix, k: int) -> tuple[Any, Any]:
    """The ``k`` most counted items per row of ``seen``, seen ones left out; ties by item
    order (a stable sort), so the answer is the same on every run."""
    import numpy as np

    scores = np.tile(counts.astype(np.float64), (seen.shape[0], 1))
    rows, cols = seen.nonzero()
    scores[rows, cols] = -np.inf
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(scores, order, axis=1)


def save_fitted(fitted: FittedRecommender, folder: Path) -> None:
    """Write ``meta.json``, ``index.npz`` (ids and the seen matrix) and ``model.npz``."""
    import numpy as np

    (folder / "meta.json").write_text(json.dumps({"kind": fitted.kind, "format": 1}))
    seen = fitted.seen
    np.savez(
        folder / "index.npz",
        users=fitted.users,
        items=fitted.items,
        indptr=seen.indptr,
        indices=seen.indices,
        shape=np.asarray(seen.shape),
    )
    if fitted.kind == "popularity":
        np.savez(folder / "model.npz", counts=fitted.model)
    else:
        fitted.model.save(str(folder / "model.npz"))


def load_fitted(folder: Path) -> FittedRecommender:
    """Read what :func:`save_fitted` wrote.

    Raises:
        FormatError: ``meta.json`` names a kind this version does not know.
    """
    import numpy as np
    import scipy.sparse as sp

    kind = json.loads((folder / "meta.json").read_text())["kind"]
    if kind not in _KINDS:
        raise FormatError(
            f"{folder}: a recommender model of kind {kind!r}; known kinds: {', '.join(_KINDS)}",
            kind=kind,
        )
    with np.load(folder / "index.npz", allow_pickle=False) as index:
        users, items = index["users"], index["items"]
        indices = index["indices"]
        seen = sp.csr_matrix(
            (np.ones(len(indices), dtype=np.float32), indices, index["indptr"]),
            shape=tuple(index["shape"]),
        )
    if kind == "popularity":
        with np.load(folder / "model.npz", allow_pickle=False) as data:
            model: Any = data["counts"]
    else:
        from threadpoolctl import threadpool_limits

        model_class = _model_class(kind)  # imported first: a limit covers loaded libraries
        with threadpool_limits(1, "blas"):  # implicit warns of a BLAS pool when one is made
            model = model_class.load(str(folder / "model.npz"))
    return FittedRecommender(kind, model, users, items, seen)


def _model_class(kind: str) -> Any:
    if kind == "als":
        from implicit.cpu.als import AlternatingLeastSquares

        return AlternatingLeastSquares
    if kind == "bpr":
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        return BayesianPersonalizedRanking
    from implicit.nearest_neighbours import ItemItemRecommender

    return ItemItemRecommender
