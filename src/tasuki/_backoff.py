"""The one exponential-backoff schedule behind every retry loop in tasuki.

The task runner (``core.execute``), the notifiers (``notify``) and the query-service client
(``warehouse._client``) each retry differently (which errors, how many times, what they log),
but wait the same way: the base delay after the first failure, doubling after each further
one, never less than a server asked for (``Retry-After``). This module imports nothing from
tasuki, so every layer may use it.
"""

from __future__ import annotations

__all__ = ["backoff_delay"]

_MAX_DOUBLINGS = 1000
"""Past this many doublings ``base * 2**n`` stops being a float: the schedule stays there
(any positive base is then longer than the age of the universe)."""


def backoff_delay(
    base: float,
    attempt: int,
    *,
    cap: float | None = None,
    server_delay: float | None = None,
) -> float:
    """Seconds to wait after failed attempt ``attempt`` before the next one.

    ``base`` after the first failure, then ``2 * base``, ``4 * base``...: ``base * 2 **
    (attempt - 1)``, capped at ``cap``, and never less than ``server_delay``.

    Args:
        base: Seconds after the first failure (0: retry at once).
        attempt: How many attempts have failed, 1 for the first; a value below 1 counts as 1
            (a loop that restarts its count after progress waits the base delay).
        cap: The longest wait the schedule gives (None: no cap). A server's request is
            honoured even past it.
        server_delay: Seconds the server asked for (``Retry-After``), or None; the delay is
            at least this long.

    Example:
        >>> [backoff_delay(0.5, n) for n in (1, 2, 3)]
        [0.5, 1.0, 2.0]
        >>> backoff_delay(0.5, 10, cap=30.0), backoff_delay(0.5, 1, server_delay=5.0)
        (30.0, 5.0)
    """
    delay = base * 2.0 ** min(max(attempt, 1) - 1, _MAX_DOUBLINGS)
    if cap is not None:
        delay = min(delay, cap)
    if server_delay is not None:
        delay = max(delay, server_delay)
    return delay
