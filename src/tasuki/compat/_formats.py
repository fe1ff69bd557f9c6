"""gokart's file processors, for compat targets: the same value back as on gokart.

gokart picks a processor by the *last* extension and gives some extensions other meanings
than tasuki does: ``.txt`` loads back as a list of lines, ``.json`` holds a data frame,
``.npz`` one array, ``.gz`` gzipped text lines. Code written against gokart relies on that, so
compat targets use these formats; native tasks keep tasuki's (``tasuki upgrade-gokart`` notes
the extensions whose meaning changes).
"""

from __future__ import annotations

import gzip
import io
import os
from typing import Any, BinaryIO, ClassVar

from tasuki.errors import FormatError

__all__ = ["gokart_format_for"]


class _GokartFormat:
    name: ClassVar[str]
    extensions: ClassVar[tuple[str, ...]]

    def is_empty(self, obj: Any) -> bool:
        """Whether ``obj`` counts as empty (for ``fail_on_empty_dump``)."""
        size = getattr(obj, "size", None)
        if isinstance(size, int) and not callable(size):
            return size == 0
        try:
            return len(obj) == 0
        except TypeError:
            return False

    def _refuse(self, obj: Any, accepts: str) -> FormatError:
        return FormatError(
            f"gokart's {self.extensions[0]} processor needs {accepts}; got "
            f"{type(obj).__name__}. Dump that, or use another extension (.pkl holds anything).",
            extension=self.extensions[0],
        )


class TextLines(_GokartFormat):
    """``.txt`` / ``.ini``: ``str(x)`` per line for a list, else ``str(obj)``; loads the lines."""

    name = "gokart-text"
    extensions = (".txt",)

    def dump(self, obj: Any, file: BinaryIO) -> None:
        """Write the text."""
        text = "".join(f"{x}\n" for x in obj) if isinstance(obj, list) else str(obj)
        file.write(text.encode("utf-8"))

    def load(self, file: BinaryIO) -> Any:
        """The lines, right-stripped."""
        return [line.rstrip() for line in io.TextIOWrapper(file, encoding="utf-8")]


class GzipTextLines(TextLines):
    """``.gz``: gzipped text lines."""

    name = "gokart-gzip-text"
    extensions = (".gz",)

    def dump(self, obj: Any, file: BinaryIO) -> None:
        """Write the gzipped text."""
        with gzip.GzipFile(fileobj=file, mode="wb", mtime=0) as gz:
            super().dump(obj, gz)  # type: ignore[arg-type]

    def load(self, file: BinaryIO) -> Any:
        """The lines, right-stripped."""
        with gzip.GzipFile(fileobj=file, mode="rb") as gz:
            return [line.rstrip().decode() for line in gz.readlines()]


class PandasCsv(_GokartFormat):
    """``.csv`` / ``.tsv``: ``to_csv(index=False)``, ``read_csv`` back."""

    name = "gokart-csv"
    extensions = (".csv",)
    sep = ","

    def dump(self, obj: Any, file: BinaryIO) -> None:
        """Write the frame (or series) without its index."""
        if type(obj).__name__ not in ("DataFrame", "Series"):
            raise self._refuse(obj, "a pandas DataFrame or Series")
        text = obj.to_csv(index=False, sep=self.sep, header=True)
        file.write(text.encode("utf-8"))

    def load(self, file: BinaryIO) -> Any:
        """A pandas DataFrame (empty when the file is)."""
        import pandas as pd

        try:
            return pd.read_csv(file, sep=self.sep)
        except pd.errors.EmptyDataError:
            return pd.DataFrame()


class PandasTsv(PandasCsv):
    name = "gokart-tsv"
    extensions = (".tsv",)
    sep = "\t"


class PandasJson(_GokartFormat):
    """``.json``: a data frame (a dict becomes one) through ``to_json`` / ``read_json``."""

    name = "gokart-json"
    extensions = (".json",)
    orient: ClassVar[Any] = None  # pandas types it as a Literal

    def dump(self, obj: Any, file: BinaryIO) -> None:
        """Write the frame as JSON."""
        import pandas as pd

        if isinstance(obj, dict):
            obj = pd.DataFrame.from_dict(obj)
        if not isinstance(obj, pd.DataFrame | pd.Series):
            raise self._refuse(obj, "a pandas DataFrame, Series or dict")
        lines = self.orient == "records"
        text = obj.to_json(orient=self.orient, lines=lines)
        file.write(text.encode("utf-8"))

    def load(self, file: BinaryIO) -> Any:
        """A pandas DataFrame (empty when the file is)."""
        import pandas as pd

        data = file.read()
        if not data.strip():
            return pd.DataFrame()
        return pd.read_json(
            io.StringIO(data.decode()), orient=self.orient, lines=self.orient == "records"
        )


class PandasNdjson(PandasJson):
    name = "gokart-ndjson"
    extensions = (".ndjson",)
    orient = "records"


class NpzArray(_GokartFormat):
    """``.npz``: one array, kept under the name ``data``."""

    name = "gokart-npz"
    extensions = (".npz",)

    def dump(self, obj: Any, file: BinaryIO) -> None:
        """Write the array compressed."""
        import numpy as np

        if not isinstance(obj, np.ndarray):
            raise self._refuse(obj, "a numpy ndarray")
        np.savez_compressed(file, data=obj)

    def load(self, file: BinaryIO) -> Any:
        """The array."""
        import numpy as np

        return np.load(io.BytesIO(file.read()))["data"]


class RawBytes(_GokartFormat):
    """``.png`` / ``.jpg``: the bytes as given."""

    name = "gokart-binary"
    extensions = (".png", ".jpg")

    def dump(self, obj: Any, file: BinaryIO) -> None:
        """Write the bytes."""
        if not isinstance(obj, bytes | bytearray):
            raise self._refuse(obj, "bytes")
        file.write(obj)

    def load(self, file: BinaryIO) -> Any:
        """The bytes."""
        return file.read()


class XmlTree(_GokartFormat):
    """``.xml``: an ``xml.etree.ElementTree.ElementTree``."""

    name = "gokart-xml"
    extensions = (".xml",)

    def dump(self, obj: Any, file: BinaryIO) -> None:
        """Write the tree."""
        import xml.etree.ElementTree as ET

        if not isinstance(obj, ET.ElementTree):
            raise self._refuse(obj, "an xml.etree.ElementTree.ElementTree")
        obj.write(file)

    def load(self, file: BinaryIO) -> Any:
        """The tree (an empty one when the file does not parse, as gokart)."""
        import xml.etree.ElementTree as ET

        try:
            return ET.parse(file)
        except ET.ParseError:
            return ET.ElementTree()


_BY_EXTENSION: dict[str, _GokartFormat] = {}
for _cls in (
    TextLines,
    GzipTextLines,
    PandasCsv,
    PandasTsv,
    PandasJson,
    PandasNdjson,
    NpzArray,
    RawBytes,
    XmlTree,
):
    for _ext in _cls.extensions:
        _BY_EXTENSION[_ext] = _cls()
_BY_EXTENSION[".ini"] = _BY_EXTENSION[".txt"]


def gokart_format_for(name: str) -> Any:
    """gokart's processor for a file name (by its last extension), where it differs from
    tasuki's format for that name; ``None`` where tasuki's gives the same value back
    (``.pkl``, ``.parquet``, ``.feather``) or gokart knows no such extension."""
    return _BY_EXTENSION.get(os.path.splitext(name)[1])
