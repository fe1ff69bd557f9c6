"""Hashes of files outside the workspace (``data_files``, :class:`tasuki.FileInput`),
remembered while the file stays as it was hashed.

A remembered hash is keyed by the file's size, modification and change times and inode: a
file rewritten with the same size and its old modification time restored (``tar x``,
``rsync -t``, ``cp -p``) has a new change time, which no tool can set back. A file changed
less than :data:`~tasuki._file_cache.RACY_S` seconds before it was hashed may be changed
again within the same clock tick without either time moving (git's "racily clean" entries),
so its hash is not remembered at all.

Hashes of large files (:data:`_DISK_FROM` bytes and more) are also kept on disk, beside the
code facts (``TASUKI_CODE_CACHE``), so that a new process does not read a raw file of
gigabytes again to find that it has not changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import time

import xxhash

from tasuki._file_cache import read_entry, trusted, write_entry

__all__ = ["file_digest", "forget_file_digests"]

_MEMORY: dict[tuple[str, str], tuple[tuple[int, ...], str]] = {}
_DISK_FROM = 16 << 20
_CHUNK = 1 << 20


def _stamp(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


def file_digest(path: str, kind: str = "xxh3_64") -> tuple[int, str] | None:
    """``(size, hex digest)`` of the file at ``path`` (``kind``: ``xxh3_64`` or
    ``xxh3_128``); None when there is no such file."""
    path = os.path.abspath(path)
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    stamp = _stamp(st)
    known = _MEMORY.get((path, kind))
    if known is not None and known[0] == stamp:
        return st.st_size, known[1]
    large = st.st_size >= _DISK_FROM
    digest = _from_disk(path, kind, stamp) if large else None
    if digest is not None:
        _MEMORY[(path, kind)] = (stamp, digest)
        return st.st_size, digest
    digest = ""
    for _ in range(3):
        digest = _hash(path, kind)
        after = os.stat(path)
        if _stamp(after) == stamp:
            break
        # Written to while it was read: the bytes hashed are no single version of it.
        st, stamp = after, _stamp(after)
    else:
        return st.st_size, digest  # still being written: not remembered
    if not trusted(stamp, time.time_ns()):
        return st.st_size, digest  # racy: not remembered (see the module doc)
    if large:
        _to_disk(path, kind, stamp, digest)
    _MEMORY[(path, kind)] = (stamp, digest)
    return st.st_size, digest


def _hash(path: str, kind: str) -> str:
    hasher = xxhash.xxh3_128() if kind == "xxh3_128" else xxhash.xxh3_64()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def forget_file_digests() -> None:
    """Drop the hashes remembered in this process (tests)."""
    _MEMORY.clear()


def _entry_name(path: str, kind: str) -> str:
    return "files/" + hashlib.sha256(f"{path}\0{kind}".encode()).hexdigest()[:32] + ".json"


def _from_disk(path: str, kind: str, stamp: tuple[int, ...]) -> str | None:
    raw = read_entry(_entry_name(path, kind))
    if raw is None:
        return None
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(doc, dict) or doc.get("path") != path or doc.get("stamp") != list(stamp):
        return None
    digest = doc.get("digest")
    return digest if isinstance(digest, str) else None


def _to_disk(path: str, kind: str, stamp: tuple[int, ...], digest: str) -> None:
    doc = {"path": path, "stamp": list(stamp), "digest": digest}
    write_entry(_entry_name(path, kind), json.dumps(doc))
