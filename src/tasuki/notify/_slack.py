"""Slack incoming-webhook messages (Block Kit), sent through slack_sdk's WebhookClient.

Slack rejects a message with more than 50 blocks, a section over 3,000 characters or a header
over 150, so every part here is clipped to a budget and says what it left out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tasuki.errors import ConfigError
from tasuki.notify._base import RETRY_STATUSES, DeliveryFailure, Notifier, parse_retry_after
from tasuki.notify._payload import build_counts
from tasuki.report.tree import tree_from_result

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable

    from tasuki.core.results import BuildResult, TaskResult
    from tasuki.report.tree import TreeView

__all__ = ["SlackNotifier", "slack_message"]

HEADER_LIMIT = 150
SECTION_LIMIT = 3000
MAX_BLOCKS = 50
#: Failed tasks given their own error / log / traceback sections; the rest are listed.
MAX_FAILURES_DETAILED = 5
#: Tasks listed by name per status.
MAX_LISTED = 15
LOG_LINES = 15
TRACEBACK_LINES = 12


def _escape(text: str) -> str:
    """Slack mrkdwn control characters (required in code blocks too)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _code(title: str, lines: list[str], *, keep: str, limit: int = SECTION_LIMIT) -> str:
    """``title`` and a fenced code block of ``lines`` that fits in ``limit`` characters.

    ``keep="head"`` keeps the first lines (trees), ``"tail"`` the last (logs, tracebacks);
    the note on what was dropped sits outside the fence, in italics.
    """
    escaped = [_escape(line).replace("```", "`\u200b``") for line in lines]
    # room for the title, the fences and a note such as "_… 12345 earlier lines not shown_"
    budget = limit - len(title) - 8 - 60
    ordered = escaped if keep == "head" else list(reversed(escaped))
    kept: list[str] = []
    used = 0
    for line in ordered:
        line = _clip(line, budget)
        if used + len(line) + 1 > budget:
            break
        kept.append(line)
        used += len(line) + 1
    dropped = len(escaped) - len(kept)
    if keep == "tail":
        kept.reverse()
    body = "\n".join(kept) if kept else " "
    text = f"{title}\n```{body}```"
    if dropped:
        where = "more" if keep == "head" else "earlier"
        text += f"\n_… {dropped} {where} line(s) not shown_"
    return text


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, SECTION_LIMIT)}}


def _task_lines(items: list[TaskResult], *, with_time: bool) -> list[str]:
    """One bullet per task, as many as fit in a section, then how many were left out."""
    lines: list[str] = []
    budget = SECTION_LIMIT - 100  # the section title and the "and N more" line
    for r in items[:MAX_LISTED]:
        name = r.name.rpartition(":")[2]
        extra = f" {r.duration_s:.2f}s" if with_time else ""
        if r.error is not None:
            extra += f" — {_escape(_clip(f'{r.error.type}: {r.error.message}', 120))}"
        line = f"• `{_escape(name)}` `{r.uid[:16]}`{extra}"
        budget -= len(line) + 1
        if budget < 0:
            break
        lines.append(line)
    if len(items) > len(lines):
        lines.append(f"_… and {len(items) - len(lines)} more_")
    return lines


def _verdict(result: BuildResult) -> tuple[str, str]:
    if result.ok:
        return ":white_check_mark:", "succeeded"
    if result.interrupted:
        return ":x:", "was interrupted"
    return ":x:", "failed"


def _failure_blocks(result: BuildResult, tree: TreeView) -> Iterable[dict[str, Any]]:
    failed = result.by_status("failed")
    for r in failed[:MAX_FAILURES_DETAILED]:
        task = result.graph.nodes[r.uid].task
        title = (
            f"*:x: {_escape(tree.nodes[r.uid].short)}* `{r.uid}`\n"
            f"`{_escape(_clip(repr(task), 500))}`"
        )
        if r.error is not None:
            message = _escape(_clip(r.error.message, 1500))
            title += f"\n*{_escape(r.error.type)}*: {message}"
            if r.attempts > 1:
                title += f" (after {r.attempts} attempts)"
        yield _section(title)
        if r.log_tail:
            yield _section(_code("*Log tail*", r.log_tail[-LOG_LINES:], keep="tail"))
        if r.error is not None and r.error.traceback.strip():
            tb = r.error.traceback.rstrip().splitlines()[-TRACEBACK_LINES:]
            yield _section(_code("*Traceback (last lines)*", tb, keep="tail"))
    if len(failed) > MAX_FAILURES_DETAILED:
        rest = failed[MAX_FAILURES_DETAILED:]
        names = ", ".join(f"`{_escape(tree.nodes[r.uid].short)}`" for r in rest[:20])
        more = f" and {len(rest) - 20} more" if len(rest) > 20 else ""
        yield _section(f"_{len(rest)} more failed task(s), details in the logs:_ {names}{more}")


def slack_message(result: BuildResult, tree: TreeView | None = None) -> dict[str, Any]:
    """The Slack message (``text`` fallback plus ``blocks``) describing a finished build.

    Args:
        result: The finished build.
        tree: The build's tree if already computed (``tree_from_result(result)``).

    Returns:
        A dict for ``WebhookClient.send_dict``: within Slack's size limits, long parts
        clipped with a note saying how much was left out.
    """
    tree = tree or tree_from_result(result)
    icon, verdict = _verdict(result)
    counts = build_counts(result)
    roots = [tree.nodes[uid] for uid in result.graph.roots]
    root_names = ", ".join(n.short for n in roots)
    count_text = ", ".join(
        f"{n} {status.replace('_', ' ')}"
        for status, n in counts.items()
        if n and status != "scheduled"
    )
    text = (
        f"{icon} tasuki build {verdict}: {root_names} "
        f"({counts['scheduled']} scheduled: {count_text})"
    )
    resume = None if result.ok else result.resume_command()
    if resume:
        text += f"\nResume with: {resume}"

    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": _clip(f"{icon} tasuki build {verdict}: {root_names}", HEADER_LIMIT),
                "emoji": True,
            },
        }
    ]
    overview = [
        "*Roots:* "
        + ", ".join(
            f"`{_escape(_clip(repr(result.graph.nodes[n.uid].task), 300))}`" for n in roots[:5]
        )
        + (f" and {len(roots) - 5} more" if len(roots) > 5 else ""),
        f"*Workspace:* `{_escape(result.workspace)}`",
        f"*Duration:* {result.duration_s:.2f}s (finished {_escape(result.finished_at)})",
    ]
    blocks.append(_section("\n".join(overview)))
    shown = ["scheduled", "ran", "cached", "failed"]
    shown += [s for s, n in counts.items() if n and s not in shown]
    blocks.append(
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*{s.replace('_', ' ').capitalize()}*\n{counts[s]}"}
                for s in shown[:10]
            ],
        }
    )
    ran = result.by_status("ran")
    if ran:
        lines = _task_lines(ran, with_time=True)
        blocks.append(_section("*Succeeded (ran):*\n" + "\n".join(lines)))
    failed = result.by_status("failed")
    if failed:
        lines = _task_lines(failed, with_time=False)
        blocks.append(_section("*Failed:*\n" + "\n".join(lines)))
    blocked = result.by_status("upstream_failed")
    if blocked:
        lines = _task_lines(blocked, with_time=False)
        blocks.append(_section("*Not run (upstream failed):*\n" + "\n".join(lines)))
    if failed:
        blocks.append({"type": "divider"})
        blocks.extend(_failure_blocks(result, tree))
    blocks.append(_section(_code("*Dependency tree*", tree.text().splitlines(), keep="head")))
    if resume:
        blocks.append(_section(_code("*Resume with:*", [resume], keep="head")))
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": _clip(
                        f"tasuki · build {result.build_id} · started {result.started_at}", 300
                    ),
                }
            ],
        }
    )
    if len(blocks) > MAX_BLOCKS:  # cannot happen with the caps above; keep Slack's rule anyway
        blocks = [*blocks[: MAX_BLOCKS - 1], blocks[-1]]
    return {"text": _clip(text, SECTION_LIMIT), "blocks": blocks}


class SlackNotifier(Notifier):
    """Posts a Block Kit summary of each build to a Slack incoming webhook.

    Args:
        url: The incoming-webhook URL (``https://hooks.slack.com/services/...``).
        on: Outcomes to report: ``"success"``, ``"failure"`` or both.
        timeout: Seconds for each attempt.
        retries: Extra attempts after a connection error, timeout, 408, 429 or 5xx.
        backoff: Seconds before the first retry; doubles each time.

    Raises:
        ConfigError: slack_sdk is not installed (``pip install 'tasuki[slack]'``), or the URL
            is not http(s).

    Example:
        >>> hook = SlackNotifier("https://hooks.slack.com/services/T/B/X", on=["failure"])
        >>> tasuki.run_build(task, hooks=[hook])  # doctest: +SKIP
    """

    setting = "slack_webhook_url"

    def __init__(
        self,
        url: str,
        *,
        on: Collection[str] = ("failure",),
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.5,
    ) -> None:
        super().__init__(url, on=on, timeout=timeout, retries=retries, backoff=backoff)
        try:
            from slack_sdk.webhook import WebhookClient
        except ImportError as exc:
            raise ConfigError(
                "notify.slack_webhook_url is set but slack_sdk is not installed. "
                "Install it with: pip install 'tasuki[slack]' (or unset "
                "notify.slack_webhook_url / TASUKI_NOTIFY__SLACK_WEBHOOK_URL).",
                key="notify.slack_webhook_url",
            ) from exc
        # Our own retry loop (with backoff and logging) replaces slack_sdk's; urlopen takes
        # float seconds although slack_sdk annotates the timeout as int.
        self._client = WebhookClient(
            url,
            timeout=self.timeout,  # type: ignore[arg-type]
            retry_handlers=[],
        )

    def render(self, result: BuildResult) -> dict[str, Any]:
        """The Slack message for ``result``."""
        return slack_message(result)

    def post(self, body: dict[str, Any]) -> None:
        """One POST of ``body`` through slack_sdk.

        Raises:
            DeliveryFailure: on any failure.
        """
        from slack_sdk.errors import SlackRequestError

        try:
            response = self._client.send_dict(body)
        except SlackRequestError as exc:
            raise DeliveryFailure(f"SlackRequestError: {exc}", retryable=False) from exc
        except OSError as exc:  # URLError, connection refused, timeouts
            reason = getattr(exc, "reason", exc)
            raise DeliveryFailure(f"{type(exc).__name__}: {reason}") from exc
        status = response.status_code
        if 200 <= status < 300:
            return
        headers = {k.lower(): v for k, v in (response.headers or {}).items()}
        answer = str(response.body or "").strip()[:200]
        raise DeliveryFailure(
            f"HTTP {status}" + (f": {answer!r}" if answer else ""),
            status=status,
            retryable=status in RETRY_STATUSES,
            retry_after=parse_retry_after(headers.get("retry-after")),
        )
