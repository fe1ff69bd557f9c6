"""Key checks and temporary names shared by every store.

A temporary is named ``.<name>.tmp-<pid>-<host><random>`` and sits beside its final key, so a
rename (or a copy within one bucket) publishes it. Listing skips every name of that shape and the
``.tasuki/locks`` folder, so a writer killed half-way never shows up as an object.
"""

from __future__ import annotations

import hashlib
import os
import time

from tasuki.errors import StorageError

__all__ = [
    "LOCKS_DIR",
    "check_key",
    "check_prefix",
    "holder_description",
    "host_name",
    "is_temp_name",
    "temp_name",
    "temp_owner",
]

LOCKS_DIR = ".tasuki/locks"
"""Folder (relative to the workspace root) that holds lock files and lease markers."""

TEMP_MARK = ".tmp-"

_host_tag: str | None = None


def host_name() -> str:
    """``socket.gethostname()``, through ``os.uname`` where there is one (importing socket
    costs ~4 ms of a cold one-task build)."""
    uname = getattr(os, "uname", None)
    if uname is not None:
        return str(uname().nodename)
    import socket

    return socket.gethostname()


def _host() -> str:
    """Six hex digits naming this machine, so a sweeper only judges its own host's pids."""
    global _host_tag
    if _host_tag is None:
        _host_tag = hashlib.sha1(host_name().encode()).hexdigest()[:6]
    return _host_tag


def temp_name(name: str) -> str:
    """A fresh temporary file or folder name for the final base name ``name``."""
    return f".{name}{TEMP_MARK}{os.getpid()}-{_host()}{os.urandom(4).hex()}"


def is_temp_name(name: str) -> bool:
    """Whether a base name is one of our temporaries (cheap enough for every listed file)."""
    return name[:1] == "." and TEMP_MARK in name


def temp_owner(name: str) -> tuple[int, bool] | None:
    """``(pid, made_on_this_host)`` of a temporary's writer, or None if the name is not ours."""
    _, sep, tail = name.rpartition(TEMP_MARK)
    pid_text, dash, rest = tail.partition("-")
    if not (sep and dash and pid_text.isdigit() and len(rest) >= 6):
        return None
    return int(pid_text), rest[:6] == _host()


def _bad_key(key: str, what: str) -> StorageError:
    return StorageError(
        f"invalid storage {what} {key!r}: keys are relative POSIX paths inside the workspace "
        "(like 'mypkg/tasks/task_a_3f2c.pkl'), without a leading '/', empty parts, '.' or '..', "
        "and no part may look like a temporary ('.<name>.tmp-...'); pass such a relative path",
        key=key,
    )


def check_key(key: str) -> str:
    """Return ``key`` if it is a valid object key, else raise StorageError.

    The common key (no leading dot, no ``//`` or ``/.``) passes with four string scans; only
    keys with dotted parts are split and checked part by part.
    """
    if key and key[0] != "/" and key[0] != "." and "//" not in key and "/." not in key:
        if key[-1] == "/":
            raise _bad_key(key, "key")
        return key
    if not key:
        raise _bad_key(key, "key")
    for part in key.split("/"):
        if part in ("", ".", "..") or is_temp_name(part):
            raise _bad_key(key, "key")
    return key


def check_prefix(prefix: str) -> str:
    """Normalise a listing prefix: ``""`` means the whole workspace; a trailing ``/`` is dropped."""
    prefix = prefix.rstrip("/")
    return check_key(prefix) if prefix else ""


def holder_description() -> str:
    """Who holds a lease: host, pid and UTC start time, for LockTimeoutError messages."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return f"host {host_name()} pid {os.getpid()} since {stamp}"
