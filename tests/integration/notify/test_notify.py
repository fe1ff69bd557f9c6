"""Notifications end to end: real builds, real HTTP POSTs to a recording server on loopback."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import tasuki
from tasuki.errors import ConfigError, NotificationError
from tasuki.notify import (
    SlackNotifier,
    WebhookNotifier,
    hooks_from_settings,
    slack_message,
    webhook_payload,
)

from .conftest import Recorder

logger = logging.getLogger(__name__)


# --- test tasks (module level so their names resolve) ---------------------------------------


class Prices(tasuki.Task):
    shop: str

    def output(self):
        return self.make_target("prices.pkl")

    def run(self):
        self.dump([120, -3, 80, -7])


class CheckPrices(tasuki.Task):
    """Fails: the branch whose error, log tail and traceback must reach the notification."""

    shop: str

    def requires(self):
        return Prices(shop=self.shop)

    def output(self):
        return self.make_target("checked.pkl")

    def run(self):
        prices = self.load()
        logger.warning("checking %d prices for shop %s", len(prices), self.shop)
        bad = [p for p in prices if p < 0]
        logger.error("found %d negative prices", len(bad))
        raise ValueError(f"shop {self.shop}: {len(bad)} negative prices {bad}")


class Totals(tasuki.Task):
    """Succeeds beside the failing branch."""

    shop: str

    def requires(self):
        return Prices(shop=self.shop)

    def output(self):
        return self.make_target("totals.json")

    def run(self):
        self.dump({"total": sum(self.load())})


class Report(tasuki.Task):
    shop: str

    def requires(self):
        return {"checked": CheckPrices(shop=self.shop), "totals": Totals(shop=self.shop)}

    def output(self):
        return self.make_target("report.txt")

    def run(self):
        self.dump(f"{self.load('checked')} {self.load('totals')}")


class Leaf(tasuki.Task):
    i: int

    def output(self):
        return self.make_target("leaf.pkl")

    def run(self):
        if self.i % 5 == 0:
            for n in range(60):
                logger.warning("leaf %d line %d %s", self.i, n, "x" * 250)
            raise RuntimeError(f"leaf {self.i} broke: " + "y" * 4000)
        self.dump(self.i)


class Gather(tasuki.Task):
    n: int

    def requires(self):
        return [Leaf(i=i) for i in range(self.n)]

    def output(self):
        return self.make_target("gather.pkl")

    def run(self):
        self.dump(sum(self.load()))


# --- helpers ----------------------------------------------------------------------------------


def _settings(tmp_path: Path, **notify: Any) -> tasuki.Settings:
    return tasuki.load_settings(
        {"workspace": str(tmp_path / "ws"), "progress": "off", "notify": notify}
    )


def _build(task: tasuki.Task, settings: tasuki.Settings, **kw: Any) -> tasuki.BuildResult:
    hooks = hooks_from_settings(settings, backoff=kw.pop("backoff", 0.01), **kw)
    return tasuki.run_build(task, settings=settings, hooks=hooks)


def _slack_text(body: dict[str, Any]) -> str:
    """Every piece of text in a Slack message, joined."""
    parts = [body["text"]]
    for block in body["blocks"]:
        if "text" in block:
            parts.append(block["text"]["text"])
        parts.extend(f["text"] for f in block.get("fields", []))
        parts.extend(e["text"] for e in block.get("elements", []))
    return "\n".join(parts)


def _notify_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.levelno >= logging.ERROR
        and r.exc_info
        and isinstance(r.exc_info[1], NotificationError)
    ]


# --- failure events ---------------------------------------------------------------------------


def test_webhook_failure_event_has_error_log_tree_and_resume(tmp_path, recorder: Recorder):
    settings = _settings(tmp_path, webhook_url=recorder.url)
    result = _build(Report(shop="tokyo"), settings)
    assert not result.ok

    (request,) = recorder.requests
    assert request.path == "/services/T000/B000/secret-token"
    assert request.headers["Content-Type"].startswith("application/json")
    assert request.headers["User-Agent"].startswith("tasuki")
    body = request.body
    assert body["event"] == "build_failed"
    assert body["ok"] is False
    assert body["schema_version"] == 2
    assert body["counts"] == {
        "scheduled": 4,
        "ran": 2,
        "cached": 0,
        "failed": 1,
        "upstream_failed": 1,
        "not_needed": 0,
        "interrupted": 0,
    }
    assert body["workspace"] == result.workspace
    assert body["duration_s"] == pytest.approx(result.duration_s)
    assert [r["unique_id"] for r in body["roots"]] == [Report(shop="tokyo").unique_id]
    assert body["roots"][0]["task"].endswith(":Report")

    (failed,) = body["failed"]
    check = CheckPrices(shop="tokyo")
    assert failed["task"] == CheckPrices.task_name()
    assert failed["unique_id"] == check.unique_id
    assert failed["params"] == {"shop": "tokyo"}  # JSON values, not reprs (schema 2)
    assert failed["error"]["type"] == "ValueError"
    assert failed["error"]["message"] == "shop tokyo: 2 negative prices [-3, -7]"
    assert 'raise ValueError(f"shop' in failed["error"]["traceback"]
    assert any("checking 4 prices for shop tokyo" in line for line in failed["log_tail"])
    assert "found 2 negative prices" in failed["log_tail"][-1]
    assert [r["unique_id"] for r in body["upstream_failed"]] == [Report(shop="tokyo").unique_id]
    assert {r["task"].rpartition(":")[2] for r in body["ran"]} == {"Prices", "Totals"}

    tree = body["tree"]
    assert tree["roots"] == [Report(shop="tokyo").unique_id]
    statuses = {n["task"].rpartition(":")[2]: n["status"] for n in tree["nodes"]}
    assert statuses == {
        "Prices": "ran",
        "CheckPrices": "failed",
        "Totals": "ran",
        "Report": "upstream_failed",
    }
    node = next(n for n in tree["nodes"] if n["unique_id"] == check.unique_id)
    assert node["requires"] == [Prices(shop="tokyo").unique_id]
    assert node["params"] == {"shop": "tokyo"}
    assert node["error"].startswith("ValueError: shop tokyo")

    assert body["resume_command"] == result.resume_command()
    assert "Report(shop='tokyo')" in body["resume_command"]
    assert body["summary"] == result.summary()


def test_slack_failure_message(tmp_path, recorder: Recorder):
    settings = _settings(tmp_path, slack_webhook_url=recorder.url)
    result = _build(Report(shop="osaka"), settings)
    assert not result.ok

    (request,) = recorder.requests
    body = request.body
    assert set(body) == {"text", "blocks"}
    header = body["blocks"][0]
    assert header["type"] == "header"
    assert header["text"]["text"].startswith(":x: tasuki build failed: Report[")
    text = _slack_text(body)
    check_id = CheckPrices(shop="osaka").unique_id
    # counts
    fields = next(b["fields"] for b in body["blocks"] if "fields" in b)
    assert [f["text"] for f in fields] == [
        "*Scheduled*\n4",
        "*Ran*\n2",
        "*Cached*\n0",
        "*Failed*\n1",
        "*Upstream failed*\n1",
    ]
    # failed and succeeded tasks with ids
    assert check_id in text
    assert Totals(shop="osaka").unique_id[:16] in text
    assert "*Succeeded (ran):*" in text
    # the error, the log tail, the traceback
    assert "*ValueError*: shop osaka: 2 negative prices [-3, -7]" in text
    assert "*Log tail*" in text
    assert "checking 4 prices for shop osaka" in text
    assert "*Traceback (last lines)*" in text
    assert "ValueError: shop osaka: 2 negative prices" in text
    # the tree, in a code block
    tree_block = next(t for t in text.split("\n*") if t.startswith("Dependency tree"))
    assert "```" in tree_block
    assert "(UPSTREAM_FAILED) Report[" in tree_block
    assert "(FAILED) CheckPrices[" in tree_block
    assert "(RAN) Prices[" in tree_block
    # the resume command, in the blocks and in the fallback text
    assert f"```{result.resume_command()}```" in text
    assert f"Resume with: {result.resume_command()}" in body["text"]


def test_failure_not_sent_when_only_success_is_asked(tmp_path, recorder: Recorder):
    settings = _settings(tmp_path, webhook_url=recorder.url, on=["success"])
    result = _build(Report(shop="kobe"), settings)
    assert not result.ok
    assert recorder.requests == []


# --- success events ---------------------------------------------------------------------------


def test_success_sent_to_both_when_on_includes_success(tmp_path, recorder: Recorder):
    settings = _settings(
        tmp_path,
        webhook_url=recorder.url,
        slack_webhook_url=recorder.url + "/slack",
        on=["success", "failure"],
    )
    result = _build(Totals(shop="nara"), settings)
    assert result.ok

    bodies = recorder.bodies()
    assert len(bodies) == 2
    slack = next(b for b in bodies if "blocks" in b)
    generic = next(b for b in bodies if "event" in b)
    assert generic["event"] == "build_succeeded"
    assert generic["ok"] is True
    assert generic["failed"] == []
    assert generic["resume_command"] is None
    assert generic["counts"]["ran"] == 2
    assert {n["status"] for n in generic["tree"]["nodes"]} == {"ran"}

    assert slack["blocks"][0]["text"]["text"].startswith(
        ":white_check_mark: tasuki build succeeded"
    )
    text = _slack_text(slack)
    assert "Resume with" not in text
    assert "(RAN) Totals[" in text
    assert Totals(shop="nara").unique_id[:16] in text

    # cached on the second build, and reported as such
    again = _build(Totals(shop="nara"), settings)
    assert again.ok
    generic = next(b for b in recorder.bodies()[2:] if "event" in b)
    assert generic["counts"]["cached"] == 1
    assert generic["counts"]["ran"] == 0


def test_success_not_sent_by_default(tmp_path, recorder: Recorder):
    settings = _settings(tmp_path, webhook_url=recorder.url, slack_webhook_url=recorder.url)
    assert settings.notify.on == ["failure"]
    result = _build(Totals(shop="nara"), settings)
    assert result.ok
    assert recorder.requests == []


# --- delivery problems ------------------------------------------------------------------------

KINDS = ["webhook_url", "slack_webhook_url"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "answer",
    [(500, "boom", {}), (503, "busy", {}), (429, "rate_limited", {"Retry-After": "0"})],
    ids=["500", "503", "429"],
)
def test_transient_error_is_retried(tmp_path, recorder: Recorder, caplog, kind, answer):
    recorder.script.append(answer)
    settings = _settings(tmp_path, on=["success"], **{kind: recorder.url})
    result = _build(Totals(shop="kyoto"), settings)
    assert result.ok
    first, second = recorder.bodies()
    assert first == second
    assert _notify_errors(caplog) == []
    (warning,) = [r for r in caplog.records if r.name == "tasuki.notify._base"]
    assert warning.levelno == logging.WARNING
    assert f"HTTP {answer[0]}" in warning.getMessage()
    assert "attempt 1 of 3" in warning.getMessage()
    assert "secret-token" not in warning.getMessage()


@pytest.mark.parametrize("kind", KINDS)
def test_server_down_is_logged_and_build_succeeds(tmp_path, dead_url, caplog, kind):
    settings = _settings(tmp_path, on=["success"], **{kind: dead_url})
    result = _build(Totals(shop="nagoya"), settings)
    assert result.ok
    (record,) = _notify_errors(caplog)
    assert record.name == "tasuki.core.hooks"
    error = record.exc_info[1]
    assert error.attempts == 3
    assert error.status is None
    assert "Connection refused" in error.reason or "ConnectionRefused" in error.reason
    assert "hooks/***" in str(error)
    assert "secret-token" not in str(error)
    retries = [r for r in caplog.records if r.name == "tasuki.notify._base"]
    assert [r.levelno for r in retries] == [logging.WARNING, logging.WARNING]


@pytest.mark.parametrize("kind", KINDS)
def test_rejected_request_is_not_retried(tmp_path, recorder: Recorder, caplog, kind):
    recorder.script.append((404, "no_service", {}))
    settings = _settings(tmp_path, **{kind: recorder.url})
    result = _build(Report(shop="sendai"), settings)
    assert not result.ok
    assert len(recorder.requests) == 1
    (record,) = _notify_errors(caplog)
    error = record.exc_info[1]
    assert error.status == 404
    assert error.attempts == 1
    assert "no_service" in str(error)
    assert f"notify.{kind}" in str(error)


@pytest.mark.parametrize("kind", KINDS)
def test_timeout_is_honoured_then_retried(tmp_path, recorder: Recorder, caplog, kind):
    recorder.hold_next = True  # the first request never gets an answer
    settings = _settings(tmp_path, on=["success"], timeout=0.3, **{kind: recorder.url})
    result = _build(Totals(shop="fukuoka"), settings)
    assert result.ok
    assert len(recorder.requests) == 2
    assert _notify_errors(caplog) == []
    (warning,) = [r for r in caplog.records if r.name == "tasuki.notify._base"]
    assert "timed out" in warning.getMessage().lower()


def test_notifier_raises_notification_error_directly(dead_url, tmp_path):
    result = tasuki.run_build(Totals(shop="naha"), workspace=str(tmp_path / "ws"), progress="off")
    hook = WebhookNotifier(dead_url, on=["success"], retries=0)
    with pytest.raises(NotificationError) as info:
        hook.on_build_end(result)
    assert info.value.attempts == 1
    assert info.value.retryable


# --- size limits ------------------------------------------------------------------------------


def test_slack_message_stays_within_limits_for_large_failing_builds(tmp_path, recorder):
    settings = _settings(tmp_path, slack_webhook_url=recorder.url, webhook_url=recorder.url)
    result = _build(Gather(n=85), settings)
    assert result.counts()["failed"] == 17

    bodies = recorder.bodies()
    slack = next(b for b in bodies if "blocks" in b)
    generic = next(b for b in bodies if "event" in b)
    blocks = slack["blocks"]
    assert len(blocks) <= 50
    assert len(blocks[0]["text"]["text"]) <= 150
    assert len(slack["text"]) <= 3000
    for block in blocks:
        if "text" in block:
            assert len(block["text"]["text"]) <= 3000
    text = _slack_text(slack)
    assert "more line(s) not shown_" in text  # the tree was clipped, and says so
    assert "earlier line(s) not shown_" in text  # so was a long log tail
    assert "_12 more failed task(s)" in text
    assert "_… and 2 more_" in text  # 17 failed, 15 listed
    # the generic document is not clipped: every node and the whole error are there
    assert len(generic["tree"]["nodes"]) == 86
    assert len(generic["failed"]) == 17
    assert generic["failed"][0]["error"]["message"].endswith("y" * 4000)
    assert len(generic["failed"][0]["log_tail"]) == 50


def test_renderers_match_what_is_sent(tmp_path):
    result = tasuki.run_build(
        Report(shop="sapporo"), workspace=str(tmp_path / "ws"), progress="off"
    )
    payload = webhook_payload(result)
    assert payload["event"] == "build_failed"
    message = slack_message(result)
    assert message["blocks"][0]["type"] == "header"


# --- configuration ----------------------------------------------------------------------------


def test_no_urls_means_no_hooks(tmp_path):
    assert hooks_from_settings(_settings(tmp_path)) == []


def test_hooks_from_settings_builds_both(tmp_path, recorder):
    settings = _settings(
        tmp_path, slack_webhook_url=recorder.url, webhook_url=recorder.url, timeout=3
    )
    slack, generic = hooks_from_settings(settings)
    assert isinstance(slack, SlackNotifier)
    assert isinstance(generic, WebhookNotifier)
    assert slack.timeout == generic.timeout == 3.0
    assert slack.on == generic.on == frozenset({"failure"})
    assert "secret-token" not in repr(slack)


def test_settings_from_environment(tmp_path, recorder, monkeypatch):
    monkeypatch.setenv("TASUKI_NOTIFY__WEBHOOK_URL", recorder.url)
    monkeypatch.setenv("TASUKI_NOTIFY__ON", '["success"]')
    settings = tasuki.load_settings({"workspace": str(tmp_path / "ws"), "progress": "off"})
    result = _build(Totals(shop="kobe"), settings)
    assert result.ok
    assert recorder.bodies()[0]["event"] == "build_succeeded"


@pytest.mark.parametrize("url", ["file:///etc/passwd", "hooks.slack.com/services/x", "ftp://h/x"])
def test_bad_url_is_a_config_error(tmp_path, url):
    with pytest.raises(ConfigError, match=r"notify\.webhook_url .* is not an http\(s\) URL"):
        hooks_from_settings(_settings(tmp_path, webhook_url=url))
    with pytest.raises(ConfigError, match=r"notify\.slack_webhook_url"):
        hooks_from_settings(_settings(tmp_path, slack_webhook_url=url))


def test_missing_slack_sdk_is_a_config_error(tmp_path, monkeypatch):
    # A None entry in sys.modules makes the import fail as if the package were absent.
    monkeypatch.setitem(sys.modules, "slack_sdk.webhook", None)
    settings = _settings(tmp_path, slack_webhook_url="https://hooks.slack.com/services/T/B/X")
    with pytest.raises(ConfigError, match=r"pip install 'tasuki\[slack\]'") as info:
        hooks_from_settings(settings)
    assert info.value.key == "notify.slack_webhook_url"


def test_bad_outcome_and_timeout(recorder):
    with pytest.raises(ConfigError, match="unknown outcome"):
        WebhookNotifier(recorder.url, on=["sometimes"])
    with pytest.raises(ConfigError, match="timeout=0"):
        WebhookNotifier(recorder.url, timeout=0)


# --- through the CLI --------------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[3]


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASUKI_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [str(Path(sys.executable).parent / "tasuki"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_run_sends_failure_with_cli_resume_command(tmp_path, recorder: Recorder):
    (tmp_path / "tasuki.toml").write_text(
        f'workspace = "ws"\nprogress = "off"\n[notify]\nwebhook_url = "{recorder.url}"\n'
    )
    proc = _cli(tmp_path, "run", "tests.integration.notify.test_notify:Report", "--shop", "kyoto")
    assert proc.returncode == 1, proc.stderr
    (body,) = recorder.bodies()
    assert body["event"] == "build_failed"
    assert body["failed"][0]["error"]["message"] == "shop kyoto: 2 negative prices [-3, -7]"
    assert body["resume_command"] == (
        "tasuki run tests.integration.notify.test_notify:Report --shop kyoto"
    )


def test_cli_bad_notify_url_is_a_usage_error(tmp_path):
    (tmp_path / "tasuki.toml").write_text('[notify]\nslack_webhook_url = "hooks.slack.com/x/y"\n')
    proc = _cli(tmp_path, "run", "tests.integration.notify.test_notify:Totals", "--shop", "x")
    assert proc.returncode == 2, proc.stderr
    assert "notify.slack_webhook_url" in proc.stderr
    assert "is not an http(s) URL" in proc.stderr
