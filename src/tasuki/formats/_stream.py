"""The shared shape of the built-in formats, and the gzip wrapper their ``.gz`` twins use."""

from __future__ import annotations

import abc
import gzip
import io
import os
import stat
import zlib
from typing import Any, BinaryIO, ClassVar, cast

import xxhash

from tasuki.errors import FormatError
from tasuki.formats._values import is_empty

__all__ = [
    "GZIP_LEVEL",
    "FormatBase",
    "GzipMixin",
    "HashingWriter",
    "describe_file",
    "local_path_of",
    "seekable_file",
]

# Level 1, not gzip's default 6: measured on the 1 M x 10 benchmark frame
# (benchmarks/bench_formats.py --gzip-levels, 2 shared cores), level 1 wrote csv.gz in
# 11.9 s vs 31.2 s at level 6 for 65.0 MB vs 58.8 MB (+11%), and pkl.gz in 7.0 s vs 21.3 s
# for 51.1 MB vs 48.9 MB (+4%). Any gzip reader reads either level; pipeline outputs are
# written far more often than they are archived, so the 3x faster write wins.
GZIP_LEVEL = 1


class HashingWriter(io.RawIOBase):
    """Passes writes through to ``raw`` while hashing (xxh3-64) and counting them, so an
    output's hash costs no second read. ``owns_raw``: closing this closes ``raw`` too (a
    Parquet part, whose writer closes its sink)."""

    def __init__(self, raw: Any, *, owns_raw: bool = False) -> None:
        super().__init__()
        self._raw = raw
        self._owns_raw = owns_raw
        self.hasher = xxhash.xxh3_64()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        view = memoryview(b)
        self.hasher.update(view)
        self._raw.write(view)
        self.size += view.nbytes
        return view.nbytes

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        if not self.closed:  # pyarrow flushes once more after closing its sink
            self._raw.flush()

    def close(self) -> None:
        if not self.closed:
            super().close()
            if self._owns_raw:
                self._raw.close()


def describe_file(file: Any) -> str:
    """A short description of a file object for error messages (its name when it has one)."""
    name = getattr(file, "name", None)
    if isinstance(name, str | bytes) and name:
        return repr(name if isinstance(name, str) else name.decode(errors="replace"))
    return "the file"


def seekable_file(file: BinaryIO) -> BinaryIO:
    """``file`` itself when it can seek, else its bytes in memory.

    Parquet, Arrow IPC, npy and zip readers jump around the file; plain streams (a pipe,
    some object-store readers) cannot, so they are read into memory first.
    """
    seekable = getattr(file, "seekable", None)
    if seekable is not None and seekable():
        return file
    return io.BytesIO(file.read())


def local_path_of(file: Any) -> str | None:
    """The path of ``file`` when it is a local regular file read from its start, else None.

    pyarrow reads a path with its own threads and no GIL; through a Python file object every
    read is a Python call. On the 1 M x 10 benchmark frame that cost about 25% of a Feather
    load. The path is used only when it names the very file that is open (same device and
    inode) and nothing has been read yet, so the result cannot differ.
    """
    name = getattr(file, "name", None)
    fileno = getattr(file, "fileno", None)
    if not isinstance(name, str) or fileno is None:
        return None
    try:
        if file.tell() != 0:
            return None
        opened = os.fstat(fileno())
        named = os.stat(name)
    except (OSError, ValueError, AttributeError):
        return None
    same = (opened.st_dev, opened.st_ino) == (named.st_dev, named.st_ino)
    return name if same and stat.S_ISREG(opened.st_mode) else None


class FormatBase(abc.ABC):
    """Common behaviour of the built-in formats.

    Subclasses set ``name``, ``extensions`` and ``accepts`` (a phrase naming the values
    the format holds, used in error messages) and implement ``check``, ``write`` and
    ``read``. ``dump`` checks the value before writing a byte, so a value the format
    cannot hold never leaves a half-written file behind.
    """

    name: ClassVar[str]
    extensions: ClassVar[tuple[str, ...]]
    accepts: ClassVar[str]

    @property
    def extension(self) -> str:
        """The main extension, used in messages."""
        return self.extensions[0]

    def dump(self, obj: Any, file: BinaryIO) -> None:
        """Write ``obj`` to the binary file object.

        Raises:
            FormatError: the format cannot hold ``obj``.
        """
        self.check(obj)
        self.write(obj, file)

    def load(self, file: BinaryIO) -> Any:
        """Read a value back from the binary file object.

        Raises:
            FormatError: the bytes are not in this format.
        """
        return self.read(file)

    def is_empty(self, obj: Any) -> bool:
        """Whether ``obj`` counts as empty (see :func:`tasuki.formats.is_empty`)."""
        return is_empty(obj)

    @abc.abstractmethod
    def check(self, obj: Any) -> None:
        """Raise FormatError when this format cannot hold ``obj``."""
        ...

    @abc.abstractmethod
    def write(self, obj: Any, file: BinaryIO) -> None:
        """Write an already checked value."""
        ...

    @abc.abstractmethod
    def read(self, file: BinaryIO) -> Any:
        """Read a value."""
        ...

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class GzipMixin(FormatBase):
    """Wraps a format's bytes in gzip. Put it first in the bases: ``(GzipMixin, CsvFormat)``.

    ``mtime=0`` keeps the gzip header free of the current time, so equal values give equal
    bytes and equal content hashes in run records.
    """

    def dump(self, obj: Any, file: BinaryIO) -> None:
        """Write ``obj`` gzip-compressed (level :data:`GZIP_LEVEL`)."""
        self.check(obj)
        with gzip.GzipFile(fileobj=file, mode="wb", compresslevel=GZIP_LEVEL, mtime=0) as gz:
            self.write(obj, cast("BinaryIO", gz))

    def load(self, file: BinaryIO) -> Any:
        """Read a gzip-compressed value."""
        try:
            with gzip.GzipFile(fileobj=file, mode="rb") as gz:
                return self.read(cast("BinaryIO", gz))
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise FormatError(
                f"cannot read {describe_file(file)} as {self.extension}: it is not valid gzip "
                f"({exc}); was it written with another extension?",
                extension=self.extension,
            ) from exc
