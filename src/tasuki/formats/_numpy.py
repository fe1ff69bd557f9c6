"""``.npy`` (one numpy array) and ``.npz`` (a dict of named arrays).

Both refuse object arrays: those hold Python objects that only pickle can write, and
loading them would need ``allow_pickle=True``, which runs code from the file. ``.npz``
is written uncompressed (like ``numpy.savez``), with fixed zip timestamps so equal
arrays give equal bytes.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from typing import Any, BinaryIO, ClassVar

from tasuki.errors import FormatError
from tasuki.formats._stream import FormatBase, describe_file, seekable_file
from tasuki.formats._values import a_type, cannot_hold, is_ndarray, type_name

__all__ = ["NpyFormat", "NpzFormat"]

_EPOCH = (1980, 1, 1, 0, 0, 0)  # earliest zip timestamp; fixed for reproducible bytes


class _StreamOnly:
    """Hides ``seek``/``tell`` so zipfile writes the same bytes to any sink.

    zipfile writes a different layout (data descriptors) to unseekable sinks; always
    taking that path keeps the bytes, and so the content hash, independent of the store.
    """

    def __init__(self, file: BinaryIO) -> None:
        self._file = file

    def write(self, data: bytes) -> int:
        return self._file.write(data)

    def flush(self) -> None:
        self._file.flush()


class NpyFormat(FormatBase):
    """One numpy ndarray (not of object dtype), in numpy's ``.npy`` format."""

    name: ClassVar[str] = "npy"
    extensions: ClassVar[tuple[str, ...]] = (".npy",)
    accepts: ClassVar[str] = "a numpy ndarray (not of object dtype)"

    def check(self, obj: Any) -> None:
        """Accept an ndarray whose dtype holds no Python objects."""
        if not is_ndarray(obj):
            raise cannot_hold(obj, self.extension, self.accepts)
        if obj.dtype.hasobject:
            raise cannot_hold(
                obj,
                self.extension,
                self.accepts,
                detail=f"its dtype {obj.dtype} holds Python objects",
            )

    def write(self, obj: Any, file: BinaryIO) -> None:
        """Write the array header and data."""
        import numpy as np

        np.save(file, obj, allow_pickle=False)

    def read(self, file: BinaryIO) -> Any:
        """Read the array back."""
        import numpy as np

        try:
            return np.load(seekable_file(file), allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise FormatError(
                f"cannot read {describe_file(file)} as {self.extension}: {exc}",
                extension=self.extension,
            ) from exc


class NpzFormat(FormatBase):
    """A dict of str -> numpy ndarray, as an uncompressed ``.npz`` zip archive."""

    name: ClassVar[str] = "npz"
    extensions: ClassVar[tuple[str, ...]] = (".npz",)
    accepts: ClassVar[str] = "a dict of str -> numpy ndarray (not of object dtype)"

    def check(self, obj: Any) -> None:
        """Accept a mapping of str keys to non-object ndarrays."""
        if not isinstance(obj, Mapping):
            raise cannot_hold(obj, self.extension, self.accepts)
        for key, value in obj.items():
            if not isinstance(key, str):
                raise cannot_hold(
                    obj,
                    self.extension,
                    self.accepts,
                    detail=f"the key {key!r} is {a_type(key)}, not a str",
                )
            if not is_ndarray(value):
                raise cannot_hold(
                    obj,
                    self.extension,
                    self.accepts,
                    detail=f"value[{key!r}] is {a_type(value)}; wrap it with numpy.asarray() first",
                )
            if value.dtype.hasobject:
                raise cannot_hold(
                    obj,
                    self.extension,
                    self.accepts,
                    detail=f"value[{key!r}] has dtype {value.dtype}, which holds Python objects",
                )

    def write(self, obj: Any, file: BinaryIO) -> None:
        """Write each array as ``<key>.npy`` inside a stored (uncompressed) zip."""
        import numpy as np

        # Written by hand rather than np.savez(file, **obj): a key named "file" or
        # "allow_pickle" would collide with savez's own parameters.
        sink: Any = _StreamOnly(file)
        with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_STORED) as archive:
            for key, array in obj.items():
                info = zipfile.ZipInfo(f"{key}.npy", date_time=_EPOCH)
                info.compress_type = zipfile.ZIP_STORED
                with archive.open(info, mode="w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)

    def read(self, file: BinaryIO) -> dict[str, Any]:
        """Read every array into a dict (the archive is closed before returning)."""
        import numpy as np

        try:
            loaded = np.load(seekable_file(file), allow_pickle=False)
            if not isinstance(loaded, np.lib.npyio.NpzFile):
                raise ValueError(f"it holds a single {type_name(loaded)}, not an npz archive")
            with loaded as archive:
                return {key: archive[key] for key in archive.files}
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise FormatError(
                f"cannot read {describe_file(file)} as {self.extension}: {exc}",
                extension=self.extension,
            ) from exc
