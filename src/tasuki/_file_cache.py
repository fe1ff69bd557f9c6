"""Facts read from files, kept between processes: where they live and when one is trusted.

Some facts are costly to derive from a file and cheap to check: the normalised code a
fingerprint reads from a source file (:mod:`tasuki.core._source`), the content hash of a
large raw file (:mod:`tasuki.core._file_hash`), a parsed settings file
(:mod:`tasuki.config`). Each is kept in one small file of the cache folder, keyed by the
file's :func:`stamp` (size, modification and change times in nanoseconds, inode): a
rewrite, a ``touch``, a restored modification time (the change time moves) or a file put in
its place all change it.

A file written less than :data:`RACY_S` seconds before its fact would be saved is not
cached (its next write could keep the same times: git's "racily clean" problem). The folder
is ``$TASUKI_CODE_CACHE``, else ``$XDG_CACHE_HOME/tasuki/code``, else
``~/.cache/tasuki/code``; ``TASUKI_CODE_CACHE=off`` turns the cache off. A cache that cannot
be read or written is ignored (a debug log line), never an error.
"""

from __future__ import annotations

import contextlib
import logging
import os

__all__ = ["RACY_S", "cache_dir", "read_entry", "stamp", "trusted", "user_cache", "write_entry"]

logger = logging.getLogger(__name__)

#: Seconds a file must be older than the moment a fact of it is saved.
RACY_S = 2.0

Stamp = tuple[int, int, int, int]


def user_cache(variable: str, name: str) -> str | None:
    """A cache folder of tasuki's: ``$<variable>`` if set (None when it says ``off``), else
    ``$XDG_CACHE_HOME/tasuki/<name>``, else ``~/.cache/tasuki/<name>``."""
    chosen = os.environ.get(variable)
    if chosen is not None:
        return None if chosen.strip().lower() in {"", "off", "0", "false", "no"} else chosen
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "tasuki", name)


def cache_dir() -> str | None:
    """Where cached facts live; None when ``TASUKI_CODE_CACHE=off``."""
    return user_cache("TASUKI_CODE_CACHE", "code")


def stamp(path: str) -> Stamp | None:
    """``(size, mtime_ns, ctime_ns, inode)`` of ``path``; None when it cannot be read."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def trusted(file_stamp: tuple[int, ...], now_ns: int) -> bool:
    """Whether a fact of a file with ``file_stamp`` (a :func:`stamp`, or longer) may be
    saved at ``now_ns``: its last change is at least :data:`RACY_S` old."""
    return now_ns - max(file_stamp[1], file_stamp[2]) >= RACY_S * 1e9


def read_entry(name: str) -> bytes | None:
    """The bytes of cache entry ``name`` (a file name, or ``folder/name``); None when there
    is none (or no cache)."""
    folder = cache_dir()
    if folder is None:
        return None
    try:
        with open(os.path.join(folder, name), "rb") as f:
            return f.read()
    except OSError:
        return None


def write_entry(name: str, text: str) -> None:
    """Write cache entry ``name`` whole or not at all (readers in other processes see the old
    entry or the new one); a failure is a debug line."""
    folder = cache_dir()
    if folder is None:
        return
    target = os.path.join(folder, name)
    temp = f"{target}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(temp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(temp, target)
    except OSError:
        logger.debug("could not write the cache entry %s", target, exc_info=True)
        with contextlib.suppress(OSError):
            os.unlink(temp)
