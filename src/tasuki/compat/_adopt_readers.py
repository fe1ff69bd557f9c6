"""Reading gokart's output files and writing them to tasuki targets.

gokart picks a file processor by the file's extension (``os.path.splitext``); the readers
here follow gokart 1.12's processors (``gokart/file_processor``) without importing gokart:
``.pkl`` (dill protocol 4, read by pickle), ``.txt``/``.ini``, ``.csv``, ``.tsv``, ``.gz``
(text lines), ``.json``/``.ndjson`` (pandas), ``.parquet``, ``.feather`` (with gokart's index
column), ``.npz`` (the ``data`` array), ``.xml``, ``.png``/``.jpg`` (bytes) and ``.zip``
(model and large data frame targets).

The value read is written through the tasuki target (its format computes the size and
content hash the run record keeps), so loading it later gives what tasuki's own run would
have given. Bytes go across unchanged where that gives the same: compat targets that keep
gokart's processors (``.txt``, ``.csv``, ``.json``, ``.npz``, ``.gz``... read as gokart reads
them), and tasuki's ``.txt`` (it writes the bytes gokart writes for a str or a list of str).
"""

from __future__ import annotations

import io
import os
import pickle
import re
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xxhash

from tasuki.core.targets import FileTarget, ModelTarget, OutputInfo, Target
from tasuki.errors import FormatError

if TYPE_CHECKING:
    from tasuki.core.task import Task
    from tasuki.storage.base import Store

__all__ = ["READABLE", "import_output", "read_gokart_file", "unpickle_gokart"]

#: Extensions gokart writes that these readers take (gokart's make_file_processor + zip).
READABLE = (
    ".pkl",
    ".txt",
    ".ini",
    ".csv",
    ".tsv",
    ".gz",
    ".json",
    ".ndjson",
    ".parquet",
    ".feather",
    ".npz",
    ".xml",
    ".png",
    ".jpg",
    ".zip",
)
_FEATHER_INDEX = "__feather_gokart_index__"
_COPY_CHUNK = 8 << 20
#: Copied files up to this size are read back through the target's format as a check.
_CHECK_LIMIT = 256 << 20
_CHUNK = re.compile(r"data_(\d+)\.pkl")


def _dill_array(f: Any, args: Any, state: Any, npdict: Any = None) -> Any:
    array = f(*args)
    array.__setstate__(state)
    if npdict is not None:
        array.__dict__.update(npdict)
    return array


def _dill_type(name: str) -> Any:
    import builtins
    import types

    found = getattr(types, name, None) or getattr(builtins, name, None)
    if found is None and name.endswith("Type"):
        found = getattr(builtins, name[: -len("Type")].lower(), None)
    if name == "NoneType":
        found = type(None)
    if not isinstance(found, type):
        raise pickle.UnpicklingError(f"dill type {name!r} is unknown here")
    return found


def _dill_dtypemeta(scalar_type: Any) -> Any:
    import numpy as np

    return type(np.dtype(scalar_type)) if scalar_type is not None else type(np.dtype)


def _dill_namedtuple(name: str, fieldnames: Any, modulename: str, defaults: Any = None) -> Any:
    import collections
    import importlib

    try:
        found = getattr(importlib.import_module(modulename), name)
        if isinstance(found, type):
            return found
    except (ImportError, AttributeError):
        pass
    return collections.namedtuple(name, fieldnames, defaults=defaults, module=modulename)


def _dill_get_attr(obj: Any, name: str) -> Any:
    import builtins

    return getattr(obj, name, None) or getattr(builtins, name)


# The helpers dill (gokart's pickler) writes into pickles of plain data: numpy arrays (inside
# every data frame), namedtuples, builtin types. Functions, classes and code objects need
# dill itself.
_DILL_DATA = {
    "_create_array": _dill_array,
    "_load_type": _dill_type,
    "_create_dtypemeta": _dill_dtypemeta,
    "_create_namedtuple": _dill_namedtuple,
    "_get_attr": _dill_get_attr,
}


class _DillDataUnpickler(pickle.Unpickler):
    """Reads dill's pickles of data without dill installed (see :data:`_DILL_DATA`)."""

    def find_class(self, module: str, name: str) -> Any:
        if module in ("dill._dill", "dill.dill", "dill"):
            found = _DILL_DATA.get(name)
            if found is None:
                raise pickle.UnpicklingError(
                    f"this pickle holds what only dill can read (dill's {name}); install "
                    "dill (pip install dill) in this environment to adopt it"
                )
            return found
        return super().find_class(module, name)


def unpickle_gokart(data: bytes) -> Any:
    """A value gokart pickled (dill, protocol 4), read with dill when installed, else with
    pickle and dill's helpers for data (numpy arrays, namedtuples, builtin types)."""
    try:
        import dill  # gokart pickles with dill: read with it where it is installed
    except ImportError:
        dill = None
    try:
        if dill is not None:
            return dill.loads(data)
        return _DillDataUnpickler(io.BytesIO(data)).load()  # gokart's own output
    except Exception as first:
        try:  # gokart falls back to pandas for pickles of older pandas versions
            import pandas as pd

            return pd.read_pickle(io.BytesIO(data))
        except Exception:
            raise first from None


def _frame_from_feather(data: bytes, store_index: bool) -> Any:
    import pandas as pd

    frame = pd.read_feather(io.BytesIO(data))
    if store_index:
        index_columns = [c for c in frame.columns[::-1] if str(c).startswith(_FEATHER_INDEX)]
        if index_columns:
            column = index_columns[0]
            name: str | None = column[len(_FEATHER_INDEX) :]
            frame.index = pd.Index(frame[column].values, name=None if name == "None" else name)
            frame = frame.drop(columns=[column])
    return frame


def read_gokart_file(data: bytes, extension: str, *, store_index_in_feather: bool = True) -> Any:
    """The value gokart's processor for ``extension`` loads from ``data``.

    Raises:
        FormatError: an extension gokart has no processor for (``.zip`` is read by
            :func:`import_output`, which needs the target's load function).
    """
    if extension == ".pkl":
        return unpickle_gokart(data)
    if extension in (".txt", ".ini"):
        return [line.rstrip() for line in data.decode("utf-8").splitlines(keepends=True)]
    if extension in (".csv", ".tsv"):
        import pandas as pd

        try:
            return pd.read_csv(io.BytesIO(data), sep="," if extension == ".csv" else "\t")
        except pd.errors.EmptyDataError:
            return pd.DataFrame()
    if extension == ".gz":
        import gzip

        text = gzip.decompress(data)
        return [line.rstrip().decode() for line in io.BytesIO(text).readlines()]
    if extension in (".json", ".ndjson"):
        import pandas as pd

        records = extension == ".ndjson"
        try:
            return pd.read_json(
                io.BytesIO(data), orient="records" if records else None, lines=records
            )
        except pd.errors.EmptyDataError:
            return pd.DataFrame()
    if extension == ".parquet":
        import pandas as pd

        return pd.read_parquet(io.BytesIO(data))
    if extension == ".feather":
        return _frame_from_feather(data, store_index_in_feather)
    if extension == ".npz":
        import numpy as np

        with np.load(io.BytesIO(data)) as archive:
            return archive["data"]
    if extension == ".xml":
        import xml.etree.ElementTree as ET

        try:
            return ET.parse(io.BytesIO(data))  # gokart's own output
        except ET.ParseError:
            return ET.ElementTree()
    if extension in (".png", ".jpg"):
        return data
    raise FormatError(
        f"gokart has no file processor for {extension!r} files; readable: {', '.join(READABLE)}",
        extension=extension,
    )


def _copies_bytes(target: FileTarget, extension: str) -> bool:
    """Whether gokart's bytes can go across as they are: the target would write the same
    bytes, or reads them exactly as gokart does."""
    name = str(getattr(target.format, "name", ""))
    # tasuki.compat's targets keep gokart's processors ("gokart-text", "gokart-csv"...):
    # they read gokart's bytes as gokart does, so copying gives the value gokart gives.
    if name.startswith("gokart-"):
        return True
    # gokart's TextFileProcessor writes str(obj), or str(item) + "\n" per list item; tasuki's
    # .txt writes a str as is and a list of str one item + "\n" a line: the same bytes.
    return extension in (".txt", ".ini") and name == "text"


def _gunzipped_text(target: FileTarget, extension: str) -> bool:
    return extension == ".gz" and getattr(target.format, "name", "") == "text+gzip"


def _model_value(target: ModelTarget, data: bytes) -> Any:
    """Unpack gokart's zip (``model.pkl`` and ``load_function.pkl``, or ``data_<i>.pkl``
    chunks of a large data frame) and load it with the target's own load function."""
    with tempfile.TemporaryDirectory(prefix="tasuki-adopt-") as tmp:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            archive.extractall(tmp)  # gokart's own archive
        folder = Path(tmp)
        chunks = sorted(
            (int(m.group(1)), p)
            for p in folder.iterdir()
            if (m := _CHUNK.fullmatch(p.name)) is not None
        )
        if chunks and not (folder / "model.pkl").exists():
            # make_large_data_frame_target: pickled pieces of one frame, in order.
            import pandas as pd

            return pd.concat([pd.read_pickle(p) for _, p in chunks])
        return target.load_function(folder)


def _copy(target: FileTarget, source: Store, path: str, store: Store, where: str) -> OutputInfo:
    """Stream gokart's bytes to the target (atomically, hashing on the way), then read them
    once through the target's format where that fits in memory: bytes it cannot read are
    not adopted."""
    hasher = xxhash.xxh3_64()
    size = 0
    with source.open_read(path) as src, store.open_atomic(target.key) as dst:
        while chunk := src.read(_COPY_CHUNK):
            hasher.update(chunk)
            dst.write(chunk)
            size += len(chunk)
    if size <= _CHECK_LIMIT:
        try:
            with store.open_read(target.key) as f:
                target.format.load(f)
        except Exception as exc:
            target.remove(store)
            raise FormatError(
                f"{where}: {target.key} cannot read it ({type(exc).__name__}: {exc})",
                key=target.key,
            ) from exc
    return OutputInfo(target.key, size, hasher.hexdigest())


def import_output(
    target: Target,
    task: Task,
    source: Store,
    path: str,
    store: Store,
) -> OutputInfo:
    """Write gokart's file ``path`` (in ``source``) to ``target`` in the tasuki ``store``.

    Returns:
        What the run record keeps about the written output (size and xxh3 of its bytes).

    Raises:
        FormatError: the file cannot be read as gokart wrote it, or the target's format
            cannot hold the value (``.json`` written by pandas into tasuki's JSON format).
    """
    where = f"adopting {path} for {type(task).task_name()}"
    extension = os.path.splitext(path)[1]
    if isinstance(target, FileTarget) and _copies_bytes(target, extension):
        return _copy(target, source, path, store, where)
    data = source.read_bytes(path)
    try:
        if isinstance(target, ModelTarget):
            value = _model_value(target, data)
        elif not isinstance(target, FileTarget):
            raise FormatError(
                f"{where}: a {type(target).__name__} cannot take a gokart file; only files "
                "and model targets can be adopted",
                key=target.key,
            )
        elif _gunzipped_text(target, extension):
            import gzip

            value = gzip.decompress(data).decode("utf-8")
        else:
            store_index = bool(getattr(task, "store_index_in_feather", True))
            value = read_gokart_file(data, extension, store_index_in_feather=store_index)
    except FormatError:
        raise
    except Exception as exc:
        raise FormatError(
            f"{where}: cannot read it as gokart wrote it ({type(exc).__name__}: {exc})",
            key=target.key,
        ) from exc
    try:
        return target.dump(store, value, fail_on_empty=False, where=where)
    except FormatError as exc:
        if where in str(exc):
            raise
        raise FormatError(f"{where} into {target.key}: {exc}", key=target.key) from exc
    except Exception as exc:
        raise FormatError(
            f"{where}: the target {target.key} cannot hold the value gokart's reader gives "
            f"({type(exc).__name__}: {exc})",
            key=target.key,
        ) from exc
