"""Build notifications: Slack incoming webhooks and a generic JSON webhook, as runner hooks.

Configure them in settings (``tasuki.toml``)::

    [notify]
    slack_webhook_url = "https://hooks.slack.com/services/T.../B.../..."
    webhook_url = "https://ci.example.com/hooks/tasuki"
    on = ["success", "failure"]
    timeout = 10

and pass :func:`hooks_from_settings` to the build (the CLI does this for you)::

    settings = tasuki.load_settings()
    tasuki.run_build(task, settings=settings, hooks=hooks_from_settings(settings))

A notification that cannot be delivered is retried, then logged as an error; it never changes
the outcome of the build. The JSON document is described in ``docs/notifications.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tasuki.notify._base import Notifier
from tasuki.notify._payload import SCHEMA_VERSION, webhook_payload
from tasuki.notify._slack import SlackNotifier, slack_message
from tasuki.notify._webhook import WebhookNotifier

if TYPE_CHECKING:
    from tasuki.config import Settings

__all__ = [
    "SCHEMA_VERSION",
    "Notifier",
    "SlackNotifier",
    "WebhookNotifier",
    "hooks_from_settings",
    "slack_message",
    "webhook_payload",
]


def hooks_from_settings(
    settings: Settings, *, retries: int = 2, backoff: float = 0.5
) -> list[Notifier]:
    """The notifiers ``settings.notify`` asks for, ready to pass as ``hooks=`` to a build.

    Args:
        settings: Resolved settings; ``settings.notify`` supplies the URLs, the outcomes to
            report (``on``) and the per-attempt ``timeout``.
        retries: Extra delivery attempts after a transient failure.
        backoff: Seconds before the first retry; doubles each time.

    Returns:
        A :class:`SlackNotifier` if ``slack_webhook_url`` is set and a
        :class:`WebhookNotifier` if ``webhook_url`` is set; empty when neither is.

    Raises:
        ConfigError: a URL is not http(s), or slack_sdk is missing for a Slack URL.

    Example:
        >>> settings = tasuki.load_settings({"notify": {"webhook_url": "http://127.0.0.1:9/x"}})
        >>> hooks_from_settings(settings)
        [WebhookNotifier('http://127.0.0.1:9/***', on=['failure'])]
    """
    notify = settings.notify
    hooks: list[Notifier] = []
    on = tuple(notify.on)
    if notify.slack_webhook_url:
        hooks.append(
            SlackNotifier(
                notify.slack_webhook_url,
                on=on,
                timeout=notify.timeout,
                retries=retries,
                backoff=backoff,
            )
        )
    if notify.webhook_url:
        hooks.append(
            WebhookNotifier(
                notify.webhook_url, on=on, timeout=notify.timeout, retries=retries, backoff=backoff
            )
        )
    return hooks
