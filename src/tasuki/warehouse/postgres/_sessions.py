"""Tag a client's server sessions with ``application_name``, and stop them by that tag.

Killing a client process does not stop its statements on a PostgreSQL server: the backend
notices the closed socket only at its next write (or ``client_connection_check_interval``),
so a ``pg_sleep`` or a long sort keeps running and keeps its connection slot. Whoever
killed the client can stop them instead: every connection the client opened carries the
same ``application_name`` (set in the URL, so the parallel unload's extra connections carry
it too), and :func:`cancel_tagged` finds those sessions in ``pg_stat_activity``, cancels
them, and terminates the ones still there after a grace period.

A role may cancel and terminate its own sessions without being a superuser, so the reader
role a service connects with is enough.

Redshift keeps ``application_name`` only in ``STL_CONNECTION_LOG``, which only superusers
see, and ``redshift_connector`` does not send URL parameters; there the same call is a best
effort that finds nothing for a plain user (see :func:`find_sql`).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tasuki._redact import redact

__all__ = ["MAX_NAME_BYTES", "Stopped", "cancel_tagged", "find_sql", "fit_name", "tag_url"]

logger = logging.getLogger(__name__)

MAX_NAME_BYTES = 63
"""PostgreSQL keeps the first NAMEDATALEN - 1 bytes of an ``application_name``."""

CANCELLER_NAME = "tasuki-cancel"
"""The ``application_name`` of the connection that does the cancelling."""

_POLL = 0.1  # seconds between looks at pg_stat_activity
_TERMINATE_WAIT = 2.0  # seconds for terminated backends to leave pg_stat_activity
_SAFE = re.compile(r"^[A-Za-z0-9_.:-]*$")


@dataclass(frozen=True)
class Stopped:
    """What :func:`cancel_tagged` did.

    Attributes:
        found: Sessions with the tag when it looked first.
        cancelled: Sessions sent ``pg_cancel_backend``.
        terminated: Sessions sent ``pg_terminate_backend`` (still there after the grace).
        remaining: Sessions still there when it gave up (0 when ``confirmed``).
        confirmed: The server answered and no tagged session remains. False when the
            server could not be asked (the caller cannot know what still runs there).
    """

    found: int = 0
    cancelled: int = 0
    terminated: int = 0
    remaining: int = 0
    confirmed: bool = False


def fit_name(name: str) -> str:
    """``name`` as an ``application_name`` the server keeps whole, deterministically.

    PostgreSQL truncates names past :data:`MAX_NAME_BYTES` and shows non-ASCII bytes as
    ``?``, so two long names could end up equal. A name that is short and plain is kept; any
    other keeps a plain prefix and ends with a hash of the whole name.
    """
    if len(name.encode()) <= MAX_NAME_BYTES and _SAFE.match(name):
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    plain = re.sub(r"[^A-Za-z0-9_.:-]", "_", name)
    return f"{plain[: MAX_NAME_BYTES - len(digest) - 1]}-{digest}"


def tag_url(url: str, name: str) -> str:
    """``url`` with its ``application_name`` query parameter set to ``name``.

    Only the query string changes, and only by removing earlier ``application_name``
    parameters and appending the new one: the other parameters keep their exact spelling
    (libpq reads ``+`` literally, so decoding and re-encoding them could change them), and
    the user info (a password) is not touched.
    """
    return _with_query(url, lambda key: key != "application_name", ("application_name", name))


def _with_query(url: str, keep: Callable[[str], bool], add: tuple[str, str]) -> str:
    # The query string starts at the first '?' after the user info: a password may hold a
    # raw '?' (libpq reads user info up to its '@'), and libpq has no '#fragment'.
    start = url.find("://") + 3 if "://" in url else 0
    slash = url.find("/", start)
    at = url.rfind("@", start, slash if slash >= 0 else len(url))
    mark = url.find("?", at + 1 if at >= 0 else start)
    head, query = (url, "") if mark < 0 else (url[:mark], url[mark + 1 :])
    kept = [
        piece
        for piece in query.split("&")
        if piece and keep(urllib.parse.unquote(piece.split("=", 1)[0]))
    ]
    kept.append(f"{add[0]}={urllib.parse.quote(add[1], safe='')}")
    return f"{head}?{'&'.join(kept)}"


def find_sql(scheme: str, tags: int = 1) -> str:
    """The query that lists the pids of the sessions tagged with one of ``tags`` names
    (``%s`` placeholders), the caller's own session excluded.

    PostgreSQL: ``pg_stat_activity``. Redshift's ``pg_stat_activity`` has no
    ``application_name``; its connection log does (blank-padded, visible to superusers
    only), so there a session counts as live when it was opened, not closed, and still
    appears in ``STV_SESSIONS``.
    """
    names = ", ".join(["%s"] * max(1, tags))
    if scheme == "redshift":
        return (
            "SELECT DISTINCT c.pid FROM stl_connection_log c "
            f"WHERE c.event = 'initiating session' AND btrim(c.application_name) IN ({names}) "
            "AND c.pid <> pg_backend_pid() "
            "AND c.pid IN (SELECT process FROM stv_sessions) "
            "AND c.pid NOT IN (SELECT pid FROM stl_connection_log "
            "WHERE event = 'disconnecting session')"
        )
    return (
        "SELECT pid FROM pg_stat_activity "
        f"WHERE application_name IN ({names}) AND pid <> pg_backend_pid()"
    )


def cancel_tagged(
    url: str,
    tag: str | Sequence[str],
    *,
    grace: float = 2.0,
    connect_timeout: float = 3.0,
) -> Stopped:
    """Cancel the server sessions tagged ``tag``; terminate those left after ``grace``.

    Connects with ``url`` (under its own ``application_name``), sends ``pg_cancel_backend``
    to every session whose ``application_name`` is ``tag`` (or one of them), waits up to
    ``grace`` seconds for them to end, sends ``pg_terminate_backend`` to the rest and waits
    a little for those too.
    A cancelled session whose client is gone ends at once; one whose client is still alive
    only stops its statement, and is terminated after the grace.

    Never raises: an unreachable server or a refused statement is logged (the URL redacted)
    and reported with ``confirmed=False``.

    Args:
        url: The warehouse URL (``postgresql://``, ``postgres://`` or ``redshift://``).
        tag: The ``application_name`` the sessions were opened with, or several.
        grace: Seconds between cancelling and terminating.
        connect_timeout: Seconds to wait for the connection.
    """
    tags = [tag] if isinstance(tag, str) else list(tag)
    if not tags:
        return Stopped(confirmed=True)
    label = tags[0] if len(tags) == 1 else f"{len(tags)} tags"
    scheme = url.split("://", 1)[0].lower()
    try:
        conn = _connect(url, scheme, connect_timeout)
    except Exception as exc:
        logger.warning(
            "could not connect to %s to stop the sessions of %s: %s",
            redact(url),
            label,
            redact(str(exc)),
        )
        return Stopped()
    try:
        return _stop(conn, find_sql(scheme, len(tags)), tags, label, grace)
    except Exception as exc:
        logger.warning(
            "stopping the sessions of %s on %s failed: %s", label, redact(url), redact(str(exc))
        )
        return Stopped()
    finally:
        try:
            conn.close()
        except Exception:
            logger.debug("closing the cancelling connection failed", exc_info=True)


def _stop(conn: Any, find: str, tags: list[str], label: str, grace: float) -> Stopped:
    pids = _pids(conn, find, tags)
    if not pids:
        return Stopped(confirmed=True)
    found = len(pids)
    cancelled = sum(_signal(conn, "pg_cancel_backend", pid) for pid in pids)
    deadline = time.monotonic() + max(0.0, grace)
    while pids and time.monotonic() < deadline:
        time.sleep(_POLL)
        pids = _pids(conn, find, tags)
    terminated = 0
    if pids:
        terminated = sum(_signal(conn, "pg_terminate_backend", pid) for pid in pids)
        deadline = time.monotonic() + _TERMINATE_WAIT
        while pids and time.monotonic() < deadline:
            time.sleep(_POLL)
            pids = _pids(conn, find, tags)
    result = Stopped(found, cancelled, terminated, len(pids), not pids)
    if pids:
        logger.warning(
            "%d server session(s) of %s still there after cancel and terminate", len(pids), label
        )
    else:
        logger.info(
            "stopped %d server session(s) of %s (%d terminated after %g s)",
            found,
            label,
            terminated,
            grace,
        )
    return result


def _pids(conn: Any, find: str, tags: list[str]) -> list[int]:
    with conn.cursor() as cur:
        cur.execute(find, tags)
        return [int(row[0]) for row in cur.fetchall()]


def _signal(conn: Any, function: str, pid: int) -> bool:
    with conn.cursor() as cur:
        cur.execute(f"SELECT {function}(%s)", (pid,))
        row = cur.fetchone()
    return bool(row and row[0])


def _connect(url: str, scheme: str, connect_timeout: float) -> Any:
    import psycopg
    from psycopg import pq

    # Only what libpq knows: the URL may carry tasuki's own options (the backend removes
    # them before connecting), which libpq would refuse. And not the tag: the canceller's
    # own session must not look like one of the query's.
    known = {o.keyword.decode() for o in pq.Conninfo.get_defaults()} - {"application_name"}
    conninfo = _with_query(url, known.__contains__, ("application_name", CANCELLER_NAME))
    if scheme == "redshift":
        parts = urllib.parse.urlsplit(conninfo)
        netloc = parts.netloc if parts.port else f"{parts.netloc}:5439"
        conninfo = urllib.parse.urlunsplit(parts._replace(scheme="postgresql", netloc=netloc))
    elif scheme == "postgres":
        conninfo = "postgresql" + conninfo[len(scheme) :]
    options: dict[str, Any] = {}
    if scheme != "redshift":
        # A wedged server must not hold the caller (it frees a slot once this returns).
        options["options"] = "-c statement_timeout=5000"
    return psycopg.connect(
        conninfo, autocommit=True, connect_timeout=max(1, round(connect_timeout)), **options
    )
