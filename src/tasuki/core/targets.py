"""Targets: where a task's outputs live in the workspace, and how they are read and written.

A target is a small value holding a key (a path relative to the workspace) and the way to
turn Python objects into bytes there. Targets never hold a store: the runner passes the
workspace in, so the same task value can be built against a laptop folder or S3.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import xxhash

from tasuki.errors import CorruptOutputError, EmptyOutputError, FormatError, TaskError
from tasuki.formats._stream import HashingWriter

if TYPE_CHECKING:
    from tasuki.formats.base import Format
    from tasuki.storage.base import Store

__all__ = [
    "DirectoryTarget",
    "Expected",
    "FileTarget",
    "ModelTarget",
    "OutputInfo",
    "Target",
    "folder_hash",
    "object_hash",
    "targets_of",
]


@dataclass(frozen=True, slots=True)
class OutputInfo:
    """What the run record says about one written output."""

    key: str
    size: int
    xxh3: str | None
    kind: str = "file"
    """``file`` or ``folder`` (in the workspace), or ``table`` (a warehouse table, outside
    it)."""
    stamp: str | None = None
    """What the store said of the output once written (:meth:`Store.stat`): a later stamp
    that differs means it was rewritten since, and the cache check hashes it again."""

    def stamped(self, store: Store) -> OutputInfo:
        """This info with the store's stamp of the output as it is now (once written)."""
        return OutputInfo(self.key, self.size, self.xxh3, self.kind, store.stat(self.key)[1])

    def to_json(self) -> dict[str, Any]:
        """The record form."""
        doc: dict[str, Any] = {"key": self.key, "size": self.size, "xxh3": self.xxh3}
        if self.kind != "file":
            doc["kind"] = self.kind
        if self.stamp is not None:
            doc["stamp"] = self.stamp
        return doc


#: Outputs up to this size are read whole and verified before decoding; larger ones are
#: hashed as the format streams them.
_IN_MEMORY = 8 << 20


class _VerifyingReader(io.RawIOBase):
    """Reads through ``raw`` and hashes the bytes as a format reads them in order.

    Formats that read front to back (pickle, CSV, JSON...) are verified in the same pass.
    One that seeks (Parquet reads its footer first) leaves a gap, which :meth:`verify` fills
    with one more read of the file (from the page cache, at memory speed, when local).
    """

    def __init__(self, raw: Any, hasher: Any = None) -> None:
        super().__init__()
        self._raw = raw
        self._pos = 0
        self.hasher = xxhash.xxh3_64() if hasher is None else hasher
        self.hashed = 0  # bytes from the start hashed in order

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return bool(self._raw.seekable())

    def readinto(self, b: Any) -> int:
        n: int = self._raw.readinto(b)
        if n and self._pos == self.hashed:
            self.hasher.update(memoryview(b)[:n])
            self.hashed += n
        self._pos += n or 0
        return n

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._raw.read(size)
        if data and self._pos == self.hashed:
            self.hasher.update(data)
            self.hashed += len(data)
        self._pos += len(data)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        self._pos = self._raw.seek(offset, whence)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def finish(self) -> tuple[int, str]:
        """Hash what the format skipped; the size and digest of the whole file."""
        if self._raw.seekable():
            self._raw.seek(self.hashed)
            while chunk := self._raw.read(1 << 20):
                self.hasher.update(chunk)
                self.hashed += len(chunk)
        return self.hashed, self.hasher.hexdigest()

    def verify(self, expected: Expected, key: str) -> None:
        """Hash what the format skipped, then compare size and xxh3 with ``expected``."""
        expected.check(key, *self.finish())


def _damaged(key: str, expected: Expected, found: str) -> CorruptOutputError:
    want = f"{expected.size} bytes, xxh3 {expected.xxh3}"
    # A key without the unique id (an output() that names a fixed path) is shared by every
    # parameter value of the task: the last one built wrote it.
    cause = (
        "It was changed or truncated outside tasuki"
        if expected.uid in key
        else "Its key does not hold the task's unique id, so another run of the task (other "
        "parameters) may have written it since, or it was changed outside tasuki; use "
        "self.make_target(name) in output() to give each run its own file"
    )
    return CorruptOutputError(
        f"output {key} of {expected.task} [{expected.uid[:12]}] is damaged: its run record "
        f"says {want}, the file has {found}. {cause}; a "
        f"build reruns {expected.task}, or run `tasuki verify` to check a whole graph.",
        key=key,
        uid=expected.uid,
        task=expected.task,
        expected=want,
        found=found,
    )


@dataclass(frozen=True, slots=True)
class Expected:
    """What the producer's run record says about an output: checked when it is loaded."""

    uid: str
    task: str
    size: int | None
    xxh3: str | None
    stamp: str | None = None
    """The output's stamp at its run (:meth:`Store.stat`), where the record keeps one."""

    def check_size(self, key: str, size: int) -> None:
        """Raise CorruptOutputError when ``size`` is not the recorded size."""
        if self.size is not None and size != self.size:
            raise _damaged(key, self, f"{size} bytes")

    def check(self, key: str, size: int, digest: str | None) -> None:
        """Raise CorruptOutputError when size or hash differ from the record."""
        self.check_size(key, size)
        if self.xxh3 is not None and digest is not None and digest != self.xxh3:
            raise _damaged(key, self, f"{size} bytes, xxh3 {digest}")


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

    def recorded_code_key(self, store: Store) -> str | None:
        """The code key an output outside the workspace was written with, when it keeps one
        (a table's lineage row does); None when unknown or not to be compared."""
        return None

    def claim(self) -> str | None:
        """What this output holds alone, which no other task of a build may write too: its
        workspace key, for a file; None for what several tasks may share (an outside
        output such as a table appended to)."""
        return self.key if self.in_store else None

    def touches(self) -> str | None:
        """What this output writes outside the workspace, named as the tasks that read it
        name it (``_reads_outside()``, a query task's tables), so a build can refuse to run
        a reader and a writer of one table in no order; None for a file."""
        return None

    def touches_any_schema(self) -> str | None:
        """:meth:`touches` for a table named without a schema where the writer's search
        path decides which schema it is in: the name in any schema (``*.name in <db>``), so
        a reader of it in any schema is refused in no order too; None otherwise."""
        return None

    def dump(self, store: Store, obj: Any, *, fail_on_empty: bool, where: str) -> OutputInfo:
        """Write ``obj`` atomically; returns what the run record keeps."""
        raise FormatError(f"{where}: {type(self).__name__} cannot be dumped to")

    def load(self, store: Store, *, expected: Expected | None = None) -> Any:
        """Read the output back (checked against ``expected`` when given)."""
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
            writer = HashingWriter(raw)
            self.format.dump(obj, writer)  # type: ignore[arg-type]
        return OutputInfo(self.key, writer.size, writer.hasher.hexdigest())

    def load(self, store: Store, *, expected: Expected | None = None) -> Any:
        """Read and decode the file, verifying size and hash against ``expected``."""
        if expected is None:
            with store.open_read(self.key) as f:
                return self.format.load(f)
        with store.open_read(self.key) as f:
            if expected.size is not None and expected.size <= _IN_MEMORY:
                # Small files (most task outputs): one read, one xxh3 over the bytes (C), then
                # the format decodes from memory. Damage is found before the decoder runs.
                data = f.read()
                expected.check(self.key, len(data), xxhash.xxh3_64_hexdigest(data))
                buffer = io.BytesIO(data)
                buffer.name = getattr(f, "name", self.key)  # for the format's error messages
                return self.format.load(buffer)
            reader = _VerifyingReader(f)
            try:
                value = self.format.load(reader)  # type: ignore[arg-type]
            except Exception as exc:
                # Damaged bytes often fail the decoder first (pyarrow: "Corrupt snappy
                # compressed data"): say that the file is damaged, not that it is unreadable.
                try:
                    reader.verify(expected, self.key)
                except CorruptOutputError as damaged:
                    raise damaged from exc
                raise
            reader.verify(expected, self.key)
        return value


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
        import tempfile  # with zipfile, ~2 ms of `import tasuki` that only models need
        import zipfile

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
                writer = HashingWriter(raw)
                with zipfile.ZipFile(writer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                    for path in files:
                        zf.write(path, path.relative_to(folder).as_posix())
        return OutputInfo(self.key, writer.size, writer.hasher.hexdigest())

    def load(self, store: Store, *, expected: Expected | None = None) -> Any:
        """Unzip into a temporary folder and call ``load_function`` on it."""
        import tempfile
        import zipfile

        data = store.read_bytes(self.key)
        if expected is not None:
            expected.check(self.key, len(data), xxhash.xxh3_64_hexdigest(data))
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
        """Write the parts into a temporary folder that replaces the target on success,
        hashing each part as it is written (the folder's xxh3 is of their names, sizes and
        hashes: :func:`folder_hash`)."""
        from tasuki import formats
        from tasuki.formats._dataset import folder_digest

        hashes: list[tuple[str, int, str]] = []
        with store.directory_atomic(self.key) as location:
            fs, path = _fs_and_path(store, location)
            formats.write_dataset(obj, path, fs, rows_per_file=self.rows_per_file, hashes=hashes)
        size = sum(size for _, size, _ in hashes)
        if fail_on_empty and size == 0:
            raise EmptyOutputError(f"{where}: the dataset written to {self.key} is empty")
        return OutputInfo(self.key, size, folder_digest(hashes), kind="folder")

    def load(self, store: Store, *, expected: Expected | None = None) -> Any:
        """Read every part back as one table, checked against ``expected``: on this
        machine the parts' bytes are hashed; in an object store (where a second read would
        download the folder twice) their sizes and ETags are compared with the run's, from
        the one listing the size needed anyway, and the bytes are read to check only when
        an ETag moved."""
        from tasuki import formats

        if expected is not None:
            if expected.xxh3 is not None and _is_local(store):
                expected.check(self.key, *folder_hash(store, self.key))
            else:
                size, stamp = store.stat(self.key)
                expected.check_size(self.key, size)
                if None not in (expected.xxh3, expected.stamp, stamp) and stamp != expected.stamp:
                    expected.check(self.key, *folder_hash(store, self.key))
        fs, path = _fs_and_path(store, store.full_path(self.key))
        return formats.read_dataset(path, fs, as_=self.as_)  # type: ignore[arg-type]

    def remove(self, store: Store) -> None:
        """Delete the folder and its parts."""
        store.remove(self.key)


def object_hash(store: Store, key: str) -> tuple[int, str]:
    """Size and xxh3 of one object of ``store``, read through once."""
    hasher = xxhash.xxh3_64()
    size = 0
    with store.open_read(key) as f:
        while chunk := f.read(1 << 20):
            hasher.update(chunk)
            size += len(chunk)
    return size, hasher.hexdigest()


def folder_hash(store: Store, key: str) -> tuple[int, str]:
    """Size and xxh3 of the folder ``key`` as :meth:`DirectoryTarget.dump` records them:
    every file under it hashed, by its name relative to the folder."""
    from tasuki.formats._dataset import folder_digest

    folder = key.rstrip("/")
    parts = [(name[len(folder) + 1 :], *object_hash(store, name)) for name in store.list(folder)]
    if not parts and not store.exists(key):
        raise FileNotFoundError(f"no folder {key} in {store.url}")
    return sum(size for _, size, _ in parts), folder_digest(parts)


def _is_local(store: Store) -> bool:
    from tasuki.storage._local import LocalStore

    return isinstance(store, LocalStore)


def targets_of(outputs: Any) -> list[Target]:
    """The targets in an ``output()`` structure (single, list, tuple, dict)."""
    if outputs is None:
        return []
    if isinstance(outputs, Target):
        return [outputs]
    if isinstance(outputs, dict):
        return [t for v in outputs.values() for t in targets_of(v)]
    if isinstance(outputs, list | tuple):
        return [t for v in outputs for t in targets_of(v)]
    hint = (
        f": self.make_target({str(outputs)!r}) makes one" if isinstance(outputs, str | Path) else ""
    )
    raise TaskError(
        f"output() returned a {type(outputs).__name__} ({outputs!r}); it may return a target "
        f"from make_target(), None, or a list / tuple / dict of targets{hint}",
    )


def _fs_and_path(store: Store, location: str) -> tuple[Any, str]:
    if store.is_local:
        return None, location
    fs = getattr(store, "fs", None)
    if fs is not None:  # keep the store's own credentials and options
        return fs, fs._strip_protocol(location)
    import fsspec.core

    fs, path = fsspec.core.url_to_fs(location)
    return fs, path
