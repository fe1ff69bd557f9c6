"""Stopping a query on the warehouse server, by the warehouse URL's scheme.

The service runs each query in a worker process and kills that process to cancel it (on
``DELETE``, at the service's deadline, at shutdown), and the worker dies with the service.
Whether the work stops on the warehouse server too depends on the backend:

- **PostgreSQL** (``postgresql``, ``postgres``): no. The backend keeps running until it
  next writes to the closed socket. So every session a query opens is tagged with
  ``application_name = tasuki-q-<query id>`` (:func:`tag_url`), and :func:`stop_sessions`
  cancels, then terminates, the sessions with that tag.
- **Redshift**: the same, as far as Redshift allows (see
  :mod:`tasuki.warehouse.postgres._sessions`): it finds the sessions only for a superuser
  connecting through psycopg.
- **DuckDB**: nothing to do; the query runs inside the worker process and dies with it.
- **BigQuery**: nothing is done; the EXPORT job may run to its end. Its files are deleted
  and never served.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

__all__ = [
    "TAG_PREFIX",
    "Stopped",
    "session_tag",
    "stop_leftovers",
    "stop_sessions",
    "tag_url",
    "tagged_schemes",
]

logger = logging.getLogger(__name__)

TAG_PREFIX = "tasuki-q-"
"""Every server session of a service query has ``application_name`` = this + its id."""

_TAGGED = frozenset({"postgresql", "postgres", "redshift"})


@dataclass(frozen=True)
class Stopped:
    """The outcome of :func:`stop_sessions` for one query.

    Attributes:
        confirmed: Nothing of the query is left running on the server (or there is nothing
            to stop for this backend). False when the server could not be asked.
        found: Tagged sessions found.
        terminated: Sessions that had to be terminated after the grace.
    """

    confirmed: bool = True
    found: int = 0
    terminated: int = 0


def tagged_schemes() -> frozenset[str]:
    """URL schemes whose sessions are tagged and stopped on the server."""
    return _TAGGED


def _scheme(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def session_tag(job_id: str) -> str:
    """The ``application_name`` of the server sessions of query ``job_id``.

    ``tasuki-q-`` + the id (49 bytes for the service's ids); a longer or unusual id is
    shortened deterministically, so the worker and the service compute the same tag.
    """
    from tasuki.warehouse.postgres._sessions import fit_name

    return fit_name(TAG_PREFIX + job_id)


def tag_url(url: str, job_id: str | None) -> str:
    """``url`` with the query's ``application_name`` when its backend is stopped by tag;
    ``url`` itself for other backends or without an id."""
    if not job_id or _scheme(url) not in _TAGGED:
        return url
    from tasuki.warehouse.postgres._sessions import tag_url as set_application_name

    return set_application_name(url, session_tag(job_id))


def stop_sessions(url: str, job_id: str, *, grace: float = 2.0) -> Stopped:
    """Stop what query ``job_id`` still runs on the warehouse server at ``url``.

    Call it after the worker that ran the query was killed. Blocks for up to about
    ``grace`` + a few seconds (connect, terminate), and never raises.

    Args:
        url: The warehouse URL the service was given (untagged).
        job_id: The query's id.
        grace: Seconds between cancelling the sessions and terminating those left.
    """
    if _scheme(url) not in _TAGGED:
        return Stopped()  # DuckDB dies with the worker; BigQuery has nothing to stop
    from tasuki.warehouse.postgres._sessions import cancel_tagged

    done = cancel_tagged(url, session_tag(job_id), grace=grace)
    return Stopped(done.confirmed, done.found, done.terminated)


def stop_leftovers(url: str, job_ids: list[str], *, grace: float = 2.0) -> int:
    """Stop the server sessions that queries of a previous run left behind.

    For the service's recovery: the queries a stopped or killed service left ``queued`` or
    ``running``. Their workers exited (they cancel their own sessions when the service
    dies, but only for about 2 s), so a session still tagged with one of these ids is
    stopped here. Never raises.

    Returns:
        Sessions found (and cancelled or terminated).
    """
    if not job_ids or _scheme(url) not in _TAGGED:
        return 0
    from tasuki.warehouse.postgres._sessions import cancel_tagged

    # One connection and one look for all of them: recovery may find many.
    found = cancel_tagged(url, [session_tag(i) for i in job_ids], grace=grace).found
    if found:
        logger.warning("stopped %d server session(s) left by the previous run", found)
    return found
