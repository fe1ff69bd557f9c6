"""Targets: where a task's outputs live in the workspace, and how they are read and written.

A target is a small value holding a key (a path relative to the workspace) and the way to
turn Python objects into bytes there. Targets never hold a store: the runner passes the
workspace in, so the same task value can be built against a laptop folder or S3.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import xxhash

from tasuki.errors import EmptyOutputError, FormatError

if TYPE_CHECKING:
    from tasuki.formats.base import Format
    from tasuki.storage.base import Store

__all__ = ["DirectoryTarget", "FileTarget", "ModelTarget", "OutputInfo", "Target"]


@dataclass(frozen=True, slots=True)
class OutputInfo:
    """What the run record says about one written output."""

    key: str
    size: int
    xxh3: str | None

    def to_json(self) -> dict[str, Any]:
        """The record form."""
        return {"key": self.key, "size": self.size, "xxh3": self.xxh3}


class _HashingWriter(io.RawIOBase):
    """Passes writes through to ``raw`` while hashing and counting them."""

    def __init__(self, raw: Any) -> None:
        super().__init__()
        self._raw = raw
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
        self._raw.flush()


class Target:
    """Base of every target kind. ``key`` is relative to the workspace root.

    ``in_store`` is False for targets that live outside the workspace (a warehouse table):
    the runner then asks the target itself whether it exists instead of the store.
    """

    key: str
    in_store: ClassVar[bool] = True

    def info(self, store: Store) -> OutputInfo:
        """What the run record keeps about an output written outside ``dump``."""
        return OutputInfo(self.key, store.size(self.key), None)

    def exists(self, store: Store) -> bool:
        """Whether the output is present in ``store``."""
        return store.exists(self.key)

    def dump(self, store: Store, obj: Any, *, fail_on_empty: bool, where: str) -> OutputInfo:
        """Write ``obj`` atomically; returns what the run record keeps."""
        raise FormatError(f"{where}: {type(self).__name__} cannot be dumped to")

    def load(self, store: Store) -> Any:
        """Read the output back."""
        raise FormatError(f"{type(self).__name__} cannot be loaded")

    def remove(self, store: Store) -> None:
        """Delete the output (used by reruns and gc)."""
        store.remove(self.key)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.key!r})"


@dataclass(frozen=True, repr=False)
class FileTarget(Target):
    """One file whose format follows its extension (``.pkl``, ``.parquet``, ``.csv.gz``...)."""

    key: str
    format: Format = field(compare=False)

    def dump(self, store: Store, obj: Any, *, fail_on_empty: bool, where: str) -> OutputInfo:
        """Write ``obj`` through the format, hashing the bytes on the way."""
        if fail_on_empty and self.format.is_empty(obj):
            raise EmptyOutputError(
                f"{where}: refusing to dump an empty {type(obj).__name__} to {self.key} "
                "(fail_on_empty_dump is on). Check the upstream data, or turn the option off "
                "for this task with `fail_on_empty_dump = False`.",
                key=self.key,
                value_type=type(obj).__name__,
            )
        with store.open_atomic(self.key) as raw:
            writer = _HashingWriter(raw)
            self.format.dump(obj, writer)  # type: ignore[arg-type]
        return OutputInfo(self.key, writer.size, writer.hasher.hexdigest())

    def load(self, store: Store) -> Any:
        """Read and decode the file."""
        with store.open_read(self.key) as f:
            return self.format.load(f)


@dataclass(frozen=True, repr=False)
class ModelTarget(Target):
    """A model saved as several files, kept as one zip.

    ``save_function(model, directory)`` writes any files into ``directory``;
    ``load_function(directory)`` reads them back. The directory is removed after
    ``load_function`` returns, so it must read everything it needs.
    """

    key: str
    save_function: Callable[[Any, Path], Any] = field(compare=False)
    load_function: Callable[[Path], Any] = field(compare=False)

    def dump(self, store: Store, obj: Any, *, fail_on_empty: bool, where: str) -> OutputInfo:
        """Save through ``save_function`` into a temporary folder, zip it, upload atomically."""
        with tempfile.TemporaryDirectory(prefix="tasuki-model-") as tmp:
            folder = Path(tmp) / "model"
            folder.mkdir()
            self.save_function(obj, folder)
            files = sorted(p for p in folder.rglob("*") if p.is_file())
            if not files:
                raise FormatError(
                    f"{where}: save_function {getattr(self.save_function, '__name__', '?')} "
                    f"wrote no file into the model folder for {self.key}; it must save the "
                    "model into the directory it is given",
                    key=self.key,
                )
            with store.open_atomic(self.key) as raw:
                writer = _HashingWriter(raw)
                with zipfile.ZipFile(writer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                    for path in files:
                        zf.write(path, path.relative_to(folder).as_posix())
        return OutputInfo(self.key, writer.size, writer.hasher.hexdigest())

    def load(self, store: Store) -> Any:
        """Unzip into a temporary folder and call ``load_function`` on it."""
        data = store.read_bytes(self.key)
        with tempfile.TemporaryDirectory(prefix="tasuki-model-") as tmp:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                zf.extractall(tmp)
            return self.load_function(Path(tmp))


@dataclass(frozen=True, repr=False)
class DirectoryTarget(Target):
    """A folder of Parquet parts, for data too large for one file.

    ``dump`` accepts a pandas or polars DataFrame, a pyarrow Table, or an iterable of
    record batches / data frames (streamed with bounded memory). ``load`` returns a pyarrow
    Table unless ``as_`` says ``"pandas"`` or ``"polars"``.
    """

    key: str
    rows_per_file: int = 1_000_000
    as_: str = "arrow"

    def dump(self, store: Store, obj: Any, *, fail_on_empty: bool, where: str) -> OutputInfo:
        """Write the parts into a temporary folder that replaces the target on success."""
        from tasuki import formats

        with store.directory_atomic(self.key) as location:
            fs, path = _fs_and_path(store, location)
            formats.write_dataset(obj, path, fs, rows_per_file=self.rows_per_file)
        size = store.size(self.key)
        if fail_on_empty and size == 0:
            raise EmptyOutputError(f"{where}: the dataset written to {self.key} is empty")
        return OutputInfo(self.key, size, None)

    def load(self, store: Store) -> Any:
        """Read every part back as one table."""
        from tasuki import formats

        fs, path = _fs_and_path(store, store.full_path(self.key))
        return formats.read_dataset(path, fs, as_=self.as_)  # type: ignore[arg-type]

    def remove(self, store: Store) -> None:
        """Delete the folder and its parts."""
        store.remove(self.key)


def _fs_and_path(store: Store, location: str) -> tuple[Any, str]:
    if store.is_local:
        return None, location
    fs = getattr(store, "fs", None)
    if fs is not None:  # keep the store's own credentials and options
        return fs, fs._strip_protocol(location)
    import fsspec.core

    fs, path = fsspec.core.url_to_fs(location)
    return fs, path
