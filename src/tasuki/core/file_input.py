"""A file made outside the pipeline (a raw CSV, a vendor's dump, a folder of images) as a
task whose unique id follows its bytes.

A path given as a parameter (``Clean(path="data/raw.csv")``) says where the data is, not
what it is: the file replaced by a new export, the cached output made from the old one was
handed back. :class:`FileInput` hashes the file (xxh3-128) when the task value is made, and
that hash is its identity, as a published dataset version's content hash is
:class:`~tasuki.datasets.DatasetInput`'s. Everything built from it has a new id when the
file has other bytes, and its old id again (its cached outputs) when the old bytes are back.
The file is checked again when its task runs and when a task loads it, so bytes that changed
while a build ran are an error, never an output recorded under the other bytes' id.

Hashes are remembered while a file keeps its size, times and inode, in the process and (for
large files) on disk (:mod:`tasuki.core._file_hash`): a build that finds a raw file of
gigabytes unchanged does not read it again.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import xxhash

from tasuki.core._file_hash import file_digest
from tasuki.core.params import param
from tasuki.core.targets import FileTarget, _VerifyingReader
from tasuki.core.task import Task
from tasuki.errors import FormatError, TaskError

if TYPE_CHECKING:
    from tasuki.core.targets import Expected
    from tasuki.storage.base import Store

__all__ = ["FileInput", "FileInputTarget", "content_of"]

_KIND = "xxh3_128"
_IN_MEMORY = 8 << 20  # smaller files are read whole, hashed, then decoded from memory


def content_of(path: str) -> tuple[int, str] | None:
    """``(size, xxh3-128)`` of a file, or of a folder (its files' relative paths and hashes,
    sorted; size is their total; a tasuki workspace inside it left out); None when nothing
    is there."""
    if not os.path.isdir(path):
        return file_digest(path, _KIND)
    listing = xxhash.xxh3_128()
    total = 0
    for folder, dirs, files in os.walk(path):
        # A workspace inside the folder (the project template keeps one in data/) changes
        # with every build: hashing it would make every build a new input.
        dirs[:] = sorted(d for d in dirs if not _is_workspace(os.path.join(folder, d)))
        for name in sorted(files):
            full = os.path.join(folder, name)
            found = file_digest(full, _KIND)
            if found is None:
                continue  # a dangling link
            rel = os.path.relpath(full, path).replace(os.sep, "/")
            listing.update(f"{rel}\0{found[0]}\0{found[1]}\n".encode())
            total += found[0]
    return total, listing.hexdigest()


def _is_workspace(folder: str) -> bool:
    return os.path.basename(folder) == ".tasuki" or os.path.isdir(os.path.join(folder, ".tasuki"))


def _digest(found: tuple[int, str] | None) -> str | None:
    return None if found is None else found[1]


def _changed(where: str, path: str, planned: str, now: str | None) -> TaskError:
    found = "is not there" if now is None else f"has content {now[:16]}"
    return TaskError(
        f"{where}: {path} changed since the task was made: it had content {planned[:16]}, it "
        f"{found} now. What is built from it would be recorded under the old bytes' id, so "
        "it is not used: build again (the task is made anew and hashes the file again), and "
        "leave the file alone while a build reads it.",
        path=path,
        planned=planned,
        now=now,
    )


@dataclass(frozen=True, repr=False)
class FileInputTarget(FileTarget):
    """A small JSON file in the workspace naming the input file and its hash; loading it
    reads the input file itself (checked against that hash)."""

    path: str = ""
    content_hash: str = ""
    as_: str = "data"
    where: str = "FileInput"

    def load(self, store: Store, *, expected: Expected | None = None) -> Any:
        """The input file's data through the format its extension names, or its
        :class:`~pathlib.Path` (``as_="path"``), once its bytes are checked."""
        if self.as_ == "path":
            found = content_of(self.path)
            if found is None or found[1] != self.content_hash:
                raise _changed(self.where, self.path, self.content_hash, _digest(found))
            return Path(self.path)
        from tasuki.formats import format_for

        fmt = format_for(self.path)
        try:
            f = open(self.path, "rb")  # noqa: SIM115 - closed below, after the format read it
        except FileNotFoundError:
            raise _changed(self.where, self.path, self.content_hash, None) from None
        with f:
            size = os.fstat(f.fileno()).st_size
            if size <= _IN_MEMORY:
                data = f.read()
                digest = xxhash.xxh3_128_hexdigest(data)
                if digest != self.content_hash:
                    raise _changed(self.where, self.path, self.content_hash, digest)
                buffer = io.BytesIO(data)
                buffer.name = self.path
                return fmt.load(buffer)
            reader = _VerifyingReader(f, xxhash.xxh3_128())
            try:
                value = fmt.load(reader)  # type: ignore[arg-type]
            except Exception as exc:
                # Bytes changed since the task was made often fail the decoder first: say
                # that, not that the file is unreadable.
                digest = reader.finish()[1]
                if digest != self.content_hash:
                    raise _changed(self.where, self.path, self.content_hash, digest) from exc
                raise
            digest = reader.finish()[1]
            if digest != self.content_hash:
                raise _changed(self.where, self.path, self.content_hash, digest)
            return value


class FileInput(Task):
    """A file or folder made outside the pipeline, as a task whose identity is its bytes.

    Example:
        >>> class Clean(tasuki.Task):
        ...     def requires(self):
        ...         return tasuki.FileInput(path="data/raw.csv")  # doctest: +SKIP
        ...     def run(self):
        ...         frame = self.load()  # the CSV as a pandas DataFrame
        ...         self.dump(frame.dropna())

    ``load()`` gives the file's data through the format its extension names (``.csv``,
    ``.parquet``, ``.json``, ``.pkl``...); with ``as_="path"`` it gives the
    :class:`~pathlib.Path` instead (a folder, an extension without a format, a reader of
    your own). A new export of the file gives every task built from it a new unique id;
    the old bytes back give the old ids, and their cached outputs.
    """

    path: str | Path = param(
        significant=False,
        description="the file or folder, absolute or relative to the current folder",
    )
    as_: Literal["data", "path"] = param(
        default="data", description="what load() gives: the data (by extension) or the path"
    )
    suffix: str = param(
        default="", description="the extension that picks the format (filled in when made)"
    )
    content_hash: str = param(
        default="", description="xxh3-128 of the bytes (filled in when made): the identity"
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.path, str):  # a Path: kept as text, as the command line gives it
            object.__setattr__(self, "path", os.fspath(self.path))
        where = f"FileInput(path={self._given!r})"
        if self.content_hash:
            return  # rebuilt from a definition: keep what the planner hashed
        if self.suffix:
            raise TaskError(
                f"{where}: suffix and content_hash are filled in when the task is made; "
                "pass neither",
                task=type(self).task_name(),
            )
        if "://" in self._given:
            raise TaskError(
                f"{where}: only files on this machine's file systems are read by FileInput. "
                "Download the file with a task of its own (its output is then cached and "
                "hashed like any other), or publish it as a dataset version "
                "(tasuki.datasets).",
                task=type(self).task_name(),
                path=self._given,
            )
        full = os.path.abspath(self._given)
        found = content_of(full)
        if found is None:
            raise TaskError(
                f"{where}: there is no such file or folder (looked for {full}). A relative "
                "path is read from the current folder; make it absolute "
                "(Path(__file__).parent / 'data' / ...) to run from anywhere.",
                task=type(self).task_name(),
                path=self._given,
            )
        folder = os.path.isdir(full)
        suffix = "/" if folder else "".join(Path(full).suffixes[-2:])
        if self.as_ == "data":
            self._check_format(where, full, folder)
        object.__setattr__(self, "suffix", suffix)
        object.__setattr__(self, "content_hash", found[1])

    @property
    def _given(self) -> str:
        """The path as given (text; a Path is turned into text when the task is made)."""
        return os.fspath(self.path)

    def _check_format(self, where: str, full: str, folder: bool) -> None:
        if folder:
            raise TaskError(
                f"{where} is a folder: pass as_='path' and read its files in the task that "
                "requires it",
                task=type(self).task_name(),
                path=self._given,
            )
        from tasuki.formats import format_for

        try:
            format_for(full)
        except FormatError as exc:
            raise TaskError(
                f"{where}: {exc}. Pass as_='path' to read the file yourself, or register a "
                "format for its extension (tasuki.formats.register)",
                task=type(self).task_name(),
                path=self._given,
            ) from exc

    def output(self) -> FileInputTarget:
        """A JSON file naming the input file and its hash; its load() reads the file."""
        marker = self.make_target("file_input.json")
        return FileInputTarget(
            key=marker.key,
            format=marker.format,
            path=os.path.abspath(self._given),
            content_hash=self.content_hash,
            as_=self.as_,
            where=f"FileInput(path={self._given!r})",
        )

    def run(self) -> None:
        """Check that the file still has the bytes this task was made for, and write the
        marker (the run record then names the file and its hash, for lineage)."""
        full = os.path.abspath(self._given)
        found = content_of(full)
        if found is None or found[1] != self.content_hash:
            where = f"FileInput(path={self._given!r})"
            raise _changed(where, full, self.content_hash, _digest(found))
        self.task_log["bytes"] = found[0]
        self.task_log["path"] = full
        # The marker holds what the id says and nothing of where the file is, so a rerun
        # from another folder (a teammate's checkout) writes the same bytes and nothing
        # downstream reads it as changed.
        self.dump({"content_hash": self.content_hash, "suffix": self.suffix, "bytes": found[0]})
