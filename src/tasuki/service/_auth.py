"""Client tokens: made once, shown once, stored only as sha256 digests.

The tokens file is JSON::

    {"format": "tasuki.service-clients", "version": 1,
     "clients": {"alice": {"sha256": "9f86d0...", "created_at": "2024-05-01T09:00:00+00:00"}}}

Tokens are 256 random bits, so a plain sha256 is enough (a slow password hash protects
guessable secrets; these are not). A presented token is hashed and compared with every
stored digest in constant time, and the comparison never stops early.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tasuki.errors import ConfigError

__all__ = ["TokenStore", "add_client", "hash_token"]

logger = logging.getLogger(__name__)

FORMAT = "tasuki.service-clients"
TOKEN_PREFIX = "tsk_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def hash_token(token: str) -> str:
    """The sha256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def add_client(tokens_file: str | os.PathLike[str], name: str, *, replace: bool = False) -> str:
    """Create a client and return its new token; only the token's hash is written.

    Print the token once and hand it to the client: it cannot be recovered later (make a
    new one with ``replace=True``).

    Args:
        tokens_file: The service's tokens file (created, with mode 0600, if missing).
        name: Client name: letters, digits, ``_``, ``.``, ``-``; at most 64 characters.
        replace: Give an existing client a new token (the old one stops working).

    Returns:
        The token, ``tsk_`` followed by 43 URL-safe characters.

    Raises:
        ConfigError: Bad name, the client exists and ``replace`` is false, or the file is
            not a tokens file.

    Example:
        >>> token = add_client("clients.json", "alice")  # doctest: +SKIP
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(
            f"client name {name!r} is not allowed; use 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit",
            name=name,
        )
    path = Path(tokens_file)
    clients = read_tokens_file(path) if path.exists() else {}
    if name in clients and not replace:
        raise ConfigError(
            f"client {name!r} already exists in {path}; pass replace=True to give it a new "
            "token (its old token stops working)",
            name=name,
            file=str(path),
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    doc: dict[str, Any] = (
        _load_doc(path) if path.exists() else {"format": FORMAT, "version": 1, "clients": {}}
    )
    doc["clients"][name] = {
        "sha256": hash_token(token),
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    _write_private(path, json.dumps(doc, indent=2, sort_keys=True) + "\n")
    logger.debug("client %s added to %s", name, path)
    return token


def read_tokens_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """Client name -> sha256 digest from a tokens file.

    Raises:
        ConfigError: The file cannot be read or is not a tokens file.
    """
    doc = _load_doc(Path(path))
    out: dict[str, str] = {}
    for name, entry in doc["clients"].items():
        digest = entry.get("sha256") if isinstance(entry, Mapping) else None
        if not isinstance(digest, str) or len(digest) != 64:
            raise ConfigError(
                f"{path}: client {name!r} has no valid 'sha256' digest; re-create it with "
                "add_client(..., replace=True)",
                file=str(path),
                client=name,
            )
        out[str(name)] = digest.lower()
    return out


class TokenStore:
    """Finds the client a bearer token belongs to.

    Args:
        clients: Fixed name -> sha256 digest entries.
        tokens_file: A tokens file, re-read whenever its modification time or size changes,
            so clients added while the service runs work at once.
    """

    def __init__(
        self, clients: Mapping[str, str] | None = None, tokens_file: str | None = None
    ) -> None:
        self._fixed = {name: digest.lower() for name, digest in (clients or {}).items()}
        self._file = Path(tokens_file) if tokens_file else None
        self._stamp: tuple[int, int] | None = None
        self._from_file: dict[str, str] = {}
        self._lock = threading.Lock()
        # The stamp of a tokens file that could not be read, and why: requests fail closed
        # (503) until the file changes, and the reason is logged once per damaged version.
        self._broken: tuple[tuple[int, int], ConfigError] | None = None
        if self._file is not None:
            # Fail closed at start: a mistyped path must not serve with no clients.
            try:
                info = self._file.stat()
            except FileNotFoundError:
                raise ConfigError(
                    f"tokens file {self._file} does not exist; check the path, or create it "
                    "with `tasuki add-client NAME --tokens-file PATH` "
                    "(tasuki.service.add_client)",
                    file=str(self._file),
                ) from None
            except OSError as exc:
                raise ConfigError(
                    f"cannot read tokens file {self._file}: {exc.strerror or exc}",
                    file=str(self._file),
                ) from exc
            self._from_file = read_tokens_file(self._file)
            self._stamp = (info.st_mtime_ns, info.st_size)

    def client_for(self, token: str) -> str | None:
        """The client name for ``token``, or None when no client has it.

        Raises:
            ConfigError: The tokens file is missing or damaged (and the token is not one of
                the fixed ``clients``): who holds which token cannot be told, so the caller
                must fail closed.
        """
        digest = hash_token(token).encode()
        try:
            entries = self._entries()
        except ConfigError:
            found = self._match(digest, self._fixed)
            if found is None:
                raise
            return found
        return self._match(digest, entries)

    @staticmethod
    def _match(digest: bytes, entries: Mapping[str, str]) -> str | None:
        found: str | None = None
        for name, stored in entries.items():
            # compare_digest on every entry, no early exit: timing says nothing about which
            # entry (or whether any) matched.
            if hmac.compare_digest(digest, stored.encode()) and found is None:
                found = name
        return found

    def names(self) -> list[str]:
        """Known client names."""
        return sorted(self._entries())

    def _entries(self) -> dict[str, str]:
        if self._file is not None:
            self._reload()
        return {**self._from_file, **self._fixed}

    def _reload(self) -> None:
        if self._file is None:
            return
        problem: ConfigError | None = None
        try:
            info = self._file.stat()
            stamp = (info.st_mtime_ns, info.st_size)
        except OSError as exc:
            stamp = (-1, -1)
            problem = ConfigError(
                f"cannot read tokens file {self._file}: {exc.strerror or exc}",
                file=str(self._file),
            )
        with self._lock:
            if stamp == self._stamp:
                return
            broken = self._broken
        if broken is not None and broken[0] == stamp:
            raise broken[1]  # already logged
        try:
            if problem is not None:
                raise problem
            entries = read_tokens_file(self._file)
        except ConfigError as exc:
            # Fail closed: no client from the file is accepted until it is repaired. The
            # path goes to the operator's log, never to the (unauthenticated) caller.
            with self._lock:
                self._from_file, self._stamp, self._broken = {}, None, (stamp, exc)
            logger.error(
                "refusing requests with tokens from %s until it is fixed: %s", self._file, exc
            )
            raise
        with self._lock:
            if self._broken is not None:
                logger.warning("tokens file %s is readable again", self._file)
            self._from_file, self._stamp, self._broken = entries, stamp, None
        logger.debug("read %d client(s) from %s", len(entries), self._file)


def _load_doc(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read tokens file {path}: {exc}", file=str(path)) from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"tokens file {path} is not JSON ({exc}); it is written by tasuki.service.add_client",
            file=str(path),
        ) from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ConfigError(
            f'{path} is not a tasuki tokens file (expected "format": {FORMAT!r}); create '
            "one with tasuki.service.add_client",
            file=str(path),
        )
    if not isinstance(doc.get("clients"), dict):
        raise ConfigError(f"tokens file {path} has no 'clients' object", file=str(path))
    return doc


def _write_private(path: Path, text: str) -> None:
    """Write atomically with mode 0600 (the digests are not secret, but are not public)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
