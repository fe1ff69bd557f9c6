"""One redaction function for every message, log line, record and CLI line that can hold a URL.

Every layer imports :func:`redact` from here (it sits below ``tasuki.errors``), so there is one
place that knows where secrets hide in connection strings:

- a URL's user info: ``postgresql://user:pw@host`` and ``redis://:pw@host``;
- a URL's query string: ``?password=``, ``?sslpassword=``, ``&aws_secret_access_key=``,
  ``X-Amz-Signature``, ``token``, ``key``, ``auth``... (any name with a secret-like part);
- libpq key-value DSNs: ``host=db password=pw`` and ``password='p w'``;
- keyword and mapping forms in reprs: ``secret='...'``, ``{'key': '...', 'secret': '...'}``.

It works on whole texts, not only on bare URLs, so a driver's message that quotes the
connection string is masked as well. Masking too much is harmless; masking too little is not.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["MASK", "redact", "redact_json"]

MASK = "***"

# Names whose values are secret when they appear as key=value in free text (DSNs, kwargs).
# Bare ``key`` is left out here (``key=("id",)`` is a merge key in our own messages) and only
# masked in URL query strings and when its value is a quoted string.
_SECRET_WORDS = (
    "password",
    "passwd",
    "secret",
    "token",
    "credential",
    "signature",
    "apikey",
    "api_key",
    "access_key",
    "accesskey",
    "private_key",
    "privatekey",
    "session_key",
)
_SECRET_PARTS = frozenset({"pass", "pwd", "pw", "key", "auth", "sig", "secret", "token"})
_STRICT_PARTS = frozenset({"pass", "pwd", "pw", "secret", "token"})

_NOT_SECRET_SUFFIXES = ("file", "path", "dir")
_NAME = r"[A-Za-z_][\w.\-]*"
# Only names that may be secret are matched as key=value: a harmless name must not swallow its
# value, which may quote a secret (``dsn="host=db password=pw"``).
_SECRETISH = r"(?=[\w.\-]*(?i:pass|pwd|pw|secret|token|key|auth|sig|credential))"
_QUOTED = r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""

# scheme://userinfo@host: userinfo runs to the last '@' before the end of the authority
# (urlsplit's rule), so a password holding a raw '@' is masked whole.
_USERINFO = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^\s/?#]*)@")
# user:pw@host without a scheme (a mistyped ``postgres//u:pw@h``, ``u:pw@h:5432/db``).
_BARE_USERINFO = re.compile(
    r"(?<![\w.%+\-~:])(?P<user>[\w.%+\-~]*):(?P<pw>[^\s/@'\"]+)@(?=[A-Za-z0-9\[])"
)
# ?name=value or &name=value (also ';' which some drivers accept as a separator).
_QUERY = re.compile(rf"(?P<head>[?&;](?P<name>{_NAME})=)(?P<value>[^&#\s'\"<>]*)")
# name=value and name = 'value' in libpq DSNs, kwargs reprs and env-style lines.
_KEYVALUE = re.compile(
    rf"(?P<head>(?<![\w.\-?&;]){_SECRETISH}(?P<name>{_NAME})\s*=\s*)"
    rf"(?P<value>{_QUOTED}|[^\s'\"]+?(?=[,;)}}\]]*(?:[\s'\"]|$)))"
)
# 'name': value in dict reprs and JSON.
_MAPPING = re.compile(
    rf"(?P<head>(?P<q>['\"]){_SECRETISH}(?P<name>{_NAME})(?P=q)\s*:\s*)(?P<value>{_QUOTED}|[^\s,}}\]]+)"
)


def _parts(name: str) -> list[str]:
    return [p for p in re.split(r"[_.\-]+", name.lower()) if p]


def _is_secret(name: str, *, strict: bool) -> bool:
    lowered = name.lower()
    if lowered.endswith(_NOT_SECRET_SUFFIXES):  # tokens_file=..., password_path=...
        return False
    if any(word in lowered for word in _SECRET_WORDS):
        return True
    parts = _parts(name)
    return any(p in (_STRICT_PARTS if strict else _SECRET_PARTS) for p in parts)


def _mask_userinfo(match: re.Match[str]) -> str:
    userinfo = match["userinfo"]
    if ":" not in userinfo:
        return match[0]
    user = userinfo.split(":", 1)[0]
    return f"{match['head']}{user}:{MASK}@"


def _mask_bare_userinfo(match: re.Match[str]) -> str:
    return f"{match['user']}:{MASK}@"


def _mask_query(match: re.Match[str]) -> str:
    if not match["value"] or not _is_secret(match["name"], strict=False):
        return match[0]
    return f"{match['head']}{MASK}"


def _mask_value(match: re.Match[str]) -> str:
    value = match["value"]
    quoted = value[:1] in ("'", '"')
    if value == MASK or value[1:-1] == MASK:
        return match[0]
    # A bare ``key`` is secret only with a quoted value (``key='AKIA...'``), see above.
    if not _is_secret(match["name"], strict=not quoted):
        return match[0]
    shown = f"{value[0]}{MASK}{value[0]}" if quoted else MASK
    return f"{match['head']}{shown}"


def redact(text: object) -> str:
    """``text`` (or ``str(text)``) with every secret it holds replaced by ``***``.

    Masks the password of URLs (``scheme://user:pw@host``, ``redis://:pw@host``), secret
    query parameters (``?password=``, ``?sslpassword=``, ``aws_secret_access_key``, ``token``,
    ``key``...), libpq key-value DSNs (``host=db password=pw``), and secret-named keyword or
    mapping entries (``secret='...'``, ``{'key': '...'}``). User names, hosts, ports and
    databases stay, so the message still says where the connection went.

    Args:
        text: a URL, a DSN, or any message that may contain them.

    Returns:
        The masked text; text without secrets comes back unchanged.

    Example:
        >>> redact("postgresql://reader@db/dwh?password=hunter2&sslmode=require")
        'postgresql://reader@db/dwh?password=***&sslmode=require'
        >>> redact("redis://:hunter2@cache:6379/0")
        'redis://:***@cache:6379/0'
    """
    out = text if isinstance(text, str) else str(text)
    if not out:
        return out
    out = _USERINFO.sub(_mask_userinfo, out)
    out = _BARE_USERINFO.sub(_mask_bare_userinfo, out)
    out = _QUERY.sub(_mask_query, out)
    out = _KEYVALUE.sub(_mask_value, out)
    return _MAPPING.sub(_mask_value, out)


def redact_json(value: Any) -> Any:
    """``value`` (JSON-like: str, list, dict, scalars) with :func:`redact` applied to its strings.

    For what records keep and show of parameters: a task given a warehouse URL with a password
    must not write that password into its run record.
    """
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list | tuple):
        return [redact_json(v) for v in value]
    if isinstance(value, dict):
        return {k: redact_json(v) for k, v in value.items()}
    return value
