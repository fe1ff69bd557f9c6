"""Object <-> bytes, chosen by file extension.

``format_for("x.csv.gz")`` gives the Format that writes and reads that file; the
registry (:mod:`tasuki.formats.registry`) maps extensions to formats and takes
third-party formats through the ``tasuki.formats`` entry-point group.

Built-in extensions: ``.pkl``/``.pickle`` (any picklable value), ``.json``, ``.txt``,
``.csv``/``.tsv`` (data frames; load as pandas), ``.parquet``/``.feather``/``.arrow``
(pandas, polars, pyarrow; load as the kind written), ``.npy``, ``.npz``, and gzip twins
``.pkl.gz``, ``.json.gz``, ``.txt.gz``, ``.csv.gz``, ``.tsv.gz``.

Importing this package imports no pandas, polars, pyarrow or numpy: formats import them
inside ``dump`` and ``load``.

Example:
    >>> import io
    >>> fmt = format_for("metrics.json")
    >>> buf = io.BytesIO()
    >>> fmt.dump({"auc": 0.91}, buf)
    >>> _ = buf.seek(0)
    >>> fmt.load(buf)
    {'auc': 0.91}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tasuki.formats.base import Format
from tasuki.formats.registry import FormatRegistry, format_for, known_formats, register

if TYPE_CHECKING:
    from tasuki.formats._arrow import ArrowIpcFormat, FeatherFormat, ParquetFormat
    from tasuki.formats._columns import check_columns
    from tasuki.formats._concat import concat_frames
    from tasuki.formats._csv import CsvFormat, GzipCsvFormat, GzipTsvFormat, TsvFormat
    from tasuki.formats._dataset import read_dataset, write_dataset
    from tasuki.formats._numpy import NpyFormat, NpzFormat
    from tasuki.formats._pickle import GzipPickleFormat, PickleFormat
    from tasuki.formats._text import GzipJsonFormat, GzipTextFormat, JsonFormat, TextFormat
    from tasuki.formats._values import is_empty

# Imported on first use: a build imports only the modules of the formats it writes (the
# Arrow formats' module alone cost ~6 ms of a first build that writes one pickle).
_LAZY = {
    "ArrowIpcFormat": "_arrow",
    "FeatherFormat": "_arrow",
    "ParquetFormat": "_arrow",
    "check_columns": "_columns",
    "concat_frames": "_concat",
    "CsvFormat": "_csv",
    "GzipCsvFormat": "_csv",
    "GzipTsvFormat": "_csv",
    "TsvFormat": "_csv",
    "read_dataset": "_dataset",
    "write_dataset": "_dataset",
    "NpyFormat": "_numpy",
    "NpzFormat": "_numpy",
    "GzipPickleFormat": "_pickle",
    "PickleFormat": "_pickle",
    "GzipJsonFormat": "_text",
    "GzipTextFormat": "_text",
    "JsonFormat": "_text",
    "TextFormat": "_text",
    "is_empty": "_values",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "ArrowIpcFormat",
    "CsvFormat",
    "FeatherFormat",
    "Format",
    "FormatRegistry",
    "GzipCsvFormat",
    "GzipJsonFormat",
    "GzipPickleFormat",
    "GzipTextFormat",
    "GzipTsvFormat",
    "JsonFormat",
    "NpyFormat",
    "NpzFormat",
    "ParquetFormat",
    "PickleFormat",
    "TextFormat",
    "TsvFormat",
    "check_columns",
    "concat_frames",
    "format_for",
    "is_empty",
    "known_formats",
    "read_dataset",
    "register",
    "write_dataset",
]
