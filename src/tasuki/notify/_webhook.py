"""A plain JSON POST to any HTTP endpoint, with the standard library only."""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any

from tasuki.notify._base import RETRY_STATUSES, DeliveryFailure, Notifier, parse_retry_after
from tasuki.notify._payload import webhook_payload

if TYPE_CHECKING:
    from tasuki.core.results import BuildResult

__all__ = ["WebhookNotifier"]

_BODY_SNIPPET = 200


@functools.cache
def _user_agent() -> str:
    import importlib.metadata  # ~15 ms: only when a notification is sent

    try:
        return f"tasuki/{importlib.metadata.version('tasuki')}"
    except importlib.metadata.PackageNotFoundError:  # running from a source tree
        return "tasuki"


def post_json(
    url: str, body: dict[str, Any], *, timeout: float, headers: dict[str, str] | None = None
) -> None:
    """POST ``body`` as JSON; return on 2xx.

    Proxies come from the usual ``HTTP(S)_PROXY`` / ``NO_PROXY`` environment variables.

    Raises:
        DeliveryFailure: connection refused, timeout, or a non-2xx answer (retryable or not
            according to the status).
    """
    # Imported here, when a notification is sent: urllib.request and http.client are ~20 ms,
    # which every `tasuki run` paid (the CLI asks tasuki.notify for its hooks) with no
    # notifier configured.
    import urllib.error
    import urllib.request

    data = json.dumps(body, default=str).encode("utf-8")
    request = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": _user_agent(),
            **(headers or {}),
        },
    )
    try:
        # The scheme was checked to be http(s) when the notifier was made.
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        try:
            text = exc.read(_BODY_SNIPPET).decode("utf-8", "replace")
        except OSError:
            text = ""
        finally:
            exc.close()
        raise DeliveryFailure(
            f"HTTP {exc.code} {exc.reason}" + (f": {text.strip()!r}" if text.strip() else ""),
            status=exc.code,
            retryable=exc.code in RETRY_STATUSES,
            retry_after=parse_retry_after(exc.headers.get("Retry-After")),
        ) from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryFailure(f"{type(exc).__name__}: {reason}") from exc
    if not 200 <= status < 300:
        # urllib raises for >= 400 and follows redirects; what is left (1xx/3xx) is not success
        raise DeliveryFailure(f"HTTP {status}", status=status, retryable=False)


class WebhookNotifier(Notifier):
    """POSTs the build document (see ``docs/notifications.md``) to ``notify.webhook_url``.

    Args:
        url: The endpoint; any server that accepts a JSON POST and answers 2xx.
        on: Outcomes to report: ``"success"``, ``"failure"`` or both.
        timeout: Seconds for each attempt.
        retries: Extra attempts after a connection error, timeout, 408, 429 or 5xx.
        backoff: Seconds before the first retry; doubles each time.
        headers: Extra request headers (an ``Authorization`` token, for instance).

    Example:
        >>> hook = WebhookNotifier("https://ci.example.com/hooks/tasuki", on=["failure"])
        >>> tasuki.run_build(task, hooks=[hook])  # doctest: +SKIP
    """

    setting = "webhook_url"

    def __init__(
        self,
        url: str,
        *,
        on: tuple[str, ...] | list[str] = ("failure",),
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.5,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(url, on=on, timeout=timeout, retries=retries, backoff=backoff)
        self.headers = dict(headers or {})

    def render(self, result: BuildResult) -> dict[str, Any]:
        """The build document for ``result``."""
        return webhook_payload(result)

    def post(self, body: dict[str, Any]) -> None:
        """One POST of ``body``.

        Raises:
            DeliveryFailure: on any failure.
        """
        post_json(self.url, body, timeout=self.timeout, headers=self.headers)
