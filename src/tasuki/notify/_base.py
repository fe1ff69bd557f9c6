"""The Notifier role: decide whether a build is worth a message, then deliver it with retries.

Delivery problems never fail a build: after the last attempt :class:`Notifier.on_build_end`
raises :class:`~tasuki.errors.NotificationError`, which the runner's hook caller logs and
swallows.
"""

from __future__ import annotations

import abc
import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tasuki._backoff import backoff_delay
from tasuki._redact import redact
from tasuki.errors import ConfigError, NotificationError

if TYPE_CHECKING:
    from collections.abc import Collection

    from tasuki.core.results import BuildResult

__all__ = ["DeliveryFailure", "Notifier", "redact_url"]

logger = logging.getLogger(__name__)

#: Outcomes a notifier can be asked to report (``settings.notify.on``).
OUTCOMES = ("success", "failure")

#: HTTP statuses worth another attempt; any other non-2xx is final (a 404 or 403 means a
#: wrong or revoked URL, which no amount of retrying repairs).
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})

#: Longest ``Retry-After`` we honour, in seconds: a notification must not hold the build.
MAX_RETRY_AFTER = 30.0


class DeliveryFailure(Exception):
    """One failed attempt, as the transport saw it (internal; becomes NotificationError)."""

    def __init__(
        self,
        reason: str,
        *,
        status: int | None = None,
        retryable: bool = True,
        retry_after: float | None = None,
    ) -> None:
        reason = redact(reason)  # a transport's text may quote a URL with credentials
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after


def redact_url(url: str) -> str:
    """A webhook URL safe to log: scheme, host and first path segment only.

    Slack webhook URLs (and many others) carry their secret in the path or query, so logs
    and error messages show ``https://hooks.slack.com/services/***`` instead. Stricter than
    :func:`tasuki._redact.redact`, which every other message uses: a webhook's path is its secret.

    Args:
        url: The configured URL.

    Returns:
        The redacted form.
    """
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        # not a URL at all (``hooks.slack.com/...``): its first characters are enough to spot it
        return url[:12] + "***" if len(url) > 12 else "***"
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    segments = [s for s in parts.path.split("/") if s]
    path = f"/{segments[0]}/***" if len(segments) > 1 else ("/***" if segments else "")
    return f"{parts.scheme}://{host}{path}"


def check_url(url: str, key: str) -> None:
    """Refuse anything but an absolute http(s) URL (urllib would also open ``file://``).

    Raises:
        ConfigError: naming the settings key and the redacted value.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"notify.{key} = {redact_url(url)!r} is not an http(s) URL. Set it to the full "
            "webhook address, e.g. https://hooks.slack.com/services/T.../B.../... "
            f"(tasuki.toml [notify] {key}, or TASUKI_NOTIFY__{key.upper()}).",
            key=f"notify.{key}",
        )


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header in its delta-seconds form, else ``None``."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None  # the HTTP-date form: fall back to our own backoff
    return max(0.0, min(seconds, MAX_RETRY_AFTER))


class Notifier(abc.ABC):
    """Base of the build notifiers: filtering by outcome, retries with backoff, error reporting.

    Subclasses implement :meth:`render` (the request body for a build) and :meth:`post`
    (one delivery attempt, raising :class:`DeliveryFailure`).

    Args:
        url: Where to POST; checked to be http(s).
        on: Outcomes to report: ``"success"``, ``"failure"`` or both.
        timeout: Seconds for each HTTP attempt (connect and read).
        retries: Extra attempts after a failed delivery.
        backoff: Seconds before the first retry; doubles each time.

    Raises:
        ConfigError: a bad URL, outcome, timeout or retry count.
    """

    #: The settings key the URL came from, for messages.
    setting: str = "webhook_url"

    def __init__(
        self,
        url: str,
        *,
        on: Collection[str] = ("failure",),
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.5,
    ) -> None:
        check_url(url, self.setting)
        unknown = sorted(set(on) - set(OUTCOMES))
        if unknown:
            raise ConfigError(
                f"notify.on has unknown outcome(s) {unknown}; allowed: {list(OUTCOMES)}.",
                key="notify.on",
            )
        if timeout <= 0 or retries < 0 or backoff < 0:
            raise ConfigError(
                f"{type(self).__name__}: timeout={timeout!r} must be > 0, retries={retries!r} "
                f"and backoff={backoff!r} must be >= 0.",
                key="notify",
            )
        self.url = url
        self.on = frozenset(on)
        self.timeout = float(timeout)
        self.retries = retries
        self.backoff = float(backoff)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({redact_url(self.url)!r}, on={sorted(self.on)})"

    def wants(self, result: BuildResult) -> bool:
        """Whether this build's outcome is one the notifier reports."""
        return ("success" if result.ok else "failure") in self.on

    @abc.abstractmethod
    def render(self, result: BuildResult) -> dict[str, Any]:
        """The JSON body describing ``result``."""
        ...

    @abc.abstractmethod
    def post(self, body: dict[str, Any]) -> None:
        """Make one delivery attempt.

        Raises:
            DeliveryFailure: the endpoint could not be reached or answered non-2xx.
        """
        ...

    def on_build_end(self, result: BuildResult, **event: Any) -> None:
        """Send the build's outcome if :attr:`on` asks for it (the ``on_build_end`` hook).

        Args:
            result: The finished build (its ``build_id`` is in the message).
            **event: The event's other arguments (``build_id``, ``store``), unused: all
                of it is in ``result``. ``result`` stays positional-or-keyword so that
                ``notifier.on_build_end(result)`` also sends a build's outcome by hand.

        Raises:
            NotificationError: every attempt failed (the hook caller logs it; the build's
                own outcome is unaffected).
        """
        if not self.wants(result):
            logger.debug("%r: %s build not reported", self, "successful" if result.ok else "failed")
            return
        self.send(self.render(result))

    def send(self, body: dict[str, Any]) -> None:
        """Deliver ``body``, retrying transient failures with exponential backoff.

        Args:
            body: The JSON document to POST.

        Raises:
            NotificationError: the last attempt failed, or a failure no retry can fix.
        """
        attempts = self.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                self.post(body)
            except DeliveryFailure as failure:
                if not failure.retryable or attempt == attempts:
                    raise self._error(failure, attempt) from failure
                delay = backoff_delay(self.backoff, attempt, server_delay=failure.retry_after)
                logger.warning(
                    "notification to %s failed (attempt %d of %d): %s; retrying in %.1fs",
                    redact_url(self.url),
                    attempt,
                    attempts,
                    failure.reason,
                    delay,
                )
                time.sleep(delay)
            else:
                logger.debug("notification delivered to %s", redact_url(self.url))
                return

    def _error(self, failure: DeliveryFailure, attempt: int) -> NotificationError:
        shown = redact_url(self.url)
        if failure.retryable:
            hint = (
                "Check that the endpoint is up and reachable from this machine; "
                f"notify.timeout ({self.timeout:g}s) bounds each attempt."
            )
        else:
            hint = f"Check notify.{self.setting}: the endpoint rejected the request."
        return NotificationError(
            f"{type(self).__name__} could not deliver to {shown} after {attempt} attempt(s): "
            f"{failure.reason}. {hint} The build itself is unaffected.",
            url=shown,
            attempts=attempt,
            status=failure.status,
            reason=failure.reason,
        )
