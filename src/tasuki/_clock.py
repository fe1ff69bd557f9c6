"""The one clock of tasuki's timestamps: the current time, timezone-aware, in UTC.

Warehouse manifests (``snapshot_at``, ``finished_at``) and the query service's jobs read it.
It imports nothing from tasuki, so every layer may use it.
"""

from __future__ import annotations

import datetime as dt

__all__ = ["utcnow"]


def utcnow() -> dt.datetime:
    """The current time in UTC (an aware datetime; never the naive ``datetime.utcnow()``)."""
    return dt.datetime.now(dt.UTC)
