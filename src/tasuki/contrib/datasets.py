"""MovieLens-100k from the files a PyPI package ships, so nothing is downloaded at run time.

The 100,000 ratings (943 users, 1,682 movies, 1997-1998) ship inside the ``recbole`` wheel
(``recbole/dataset_example/ml-100k/``, RecBole's atomic-file copy of GroupLens' ``u.data``,
``u.item`` and ``u.user``). Only those files are read: the package is found with
``importlib.util.find_spec`` and never imported, so install it without its dependencies
(torch, ray...)::

    pip install --no-deps recbole==1.2.1

A folder holding GroupLens' own ``u.data`` (and ``u.item``) works as well: pass ``path``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasuki.core.task import Task
from tasuki.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MOVIELENS_PACKAGE",
    "MovieLens100k",
    "MovieLens100kItems",
    "load_movielens_100k",
    "load_movielens_100k_items",
    "movielens_100k_folder",
]

MOVIELENS_PACKAGE = "recbole"
"""The PyPI package whose wheel ships MovieLens-100k."""
_SUBDIR = ("dataset_example", "ml-100k")
_INSTALL = f"pip install --no-deps {MOVIELENS_PACKAGE}==1.2.1"


def movielens_100k_folder(path: str | Path | None = None) -> Path:
    """The folder holding the MovieLens-100k files.

    Args:
        path: A folder with ``u.data`` (GroupLens) or ``ml-100k.inter`` (RecBole); None
            finds the copy in the installed ``recbole`` package without importing it.

    Raises:
        ConfigError: the package is not installed, or the folder has neither file.
    """
    if path is None:
        spec = importlib.util.find_spec(MOVIELENS_PACKAGE)
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError(
                f"MovieLens-100k ships in the PyPI package {MOVIELENS_PACKAGE!r}, which is not "
                f"installed. Install its data files only with `{_INSTALL}` (its own "
                "dependencies are not needed), or pass path= a folder holding u.data.",
                package=MOVIELENS_PACKAGE,
            )
        folder = Path(next(iter(spec.submodule_search_locations))).joinpath(*_SUBDIR)
    else:
        folder = Path(path)
    if not ((folder / "ml-100k.inter").is_file() or (folder / "u.data").is_file()):
        raise ConfigError(
            f"{folder} holds neither ml-100k.inter (RecBole's copy) nor u.data (GroupLens' "
            f"file); point path= at the unpacked ml-100k folder, or run `{_INSTALL}`",
            path=str(folder),
        )
    return folder


def load_movielens_100k(path: str | Path | None = None) -> pd.DataFrame:
    """The 100,000 ratings as ``user``, ``item`` (int64 ids as in GroupLens' files),
    ``rating`` (1-5, float) and ``timestamp`` (Unix seconds, int64), in file order."""
    import pandas as pd

    folder = movielens_100k_folder(path)
    names = ["user", "item", "rating", "timestamp"]
    if (folder / "ml-100k.inter").is_file():
        frame = pd.read_csv(folder / "ml-100k.inter", sep="\t", header=0, names=names)
    else:
        frame = pd.read_csv(folder / "u.data", sep="\t", header=None, names=names)
    return frame.astype(
        {"user": "int64", "item": "int64", "rating": "float64", "timestamp": "int64"}
    )


def load_movielens_100k_items(path: str | Path | None = None) -> pd.DataFrame:
    """One row per movie: ``item``, ``title``, ``year`` (text, may be empty) and ``genres``
    (space-separated), for showing recommendations by name."""
    import pandas as pd

    folder = movielens_100k_folder(path)
    if (folder / "ml-100k.item").is_file():
        frame = pd.read_csv(
            folder / "ml-100k.item",
            sep="\t",
            header=0,
            names=["item", "title", "year", "genres"],
            dtype={"year": "string", "genres": "string"},
            keep_default_na=False,
        )
        return frame.astype({"item": "int64"})
    raw = pd.read_csv(
        folder / "u.item", sep="|", header=None, encoding="latin-1", keep_default_na=False
    )
    genre_names = [
        "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
        "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
        "Romance", "Sci-Fi", "Thriller", "War", "Western",
    ]  # fmt: skip
    flags = raw.iloc[:, 5:24].to_numpy()
    return pd.DataFrame(
        {
            "item": raw[0].astype("int64"),
            "title": raw[1].str.replace(r"\s*\(\d{4}\)$", "", regex=True),
            "year": raw[2].str[-4:],
            "genres": [
                " ".join(g for g, f in zip(genre_names, row, strict=True) if f) for row in flags
            ],
        }
    )


class MovieLens100k(Task):
    """The MovieLens-100k ratings as a Parquet table (``user, item, rating, timestamp``).

    ``path`` empty reads the copy shipped in the ``recbole`` package; its version joins
    the code fingerprint, so another copy of the data means a rerun.
    """

    path: str = ""
    library_versions = (MOVIELENS_PACKAGE,)

    def output(self) -> Any:
        """``ratings.parquet``."""
        return self.make_target("ratings.parquet")

    def run(self) -> None:
        """Read the shipped files and write them as Parquet."""
        frame = load_movielens_100k(self.path or None)
        self.task_log["rows"] = len(frame)
        self.dump(frame)


class MovieLens100kItems(Task):
    """The MovieLens-100k movies (``item, title, year, genres``) as a Parquet table: the
    metadata the ranking comparison page shows beside each recommended item."""

    path: str = ""
    library_versions = (MOVIELENS_PACKAGE,)

    def output(self) -> Any:
        """``items.parquet``."""
        return self.make_target("items.parquet")

    def run(self) -> None:
        """Read the shipped movie list and write it as Parquet."""
        self.dump(load_movielens_100k_items(self.path or None))
