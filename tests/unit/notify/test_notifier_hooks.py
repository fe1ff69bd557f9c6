"""Notifiers as build hooks: the keyword-only event reaches them under every executor, and
what they send carries the build id. No HTTP here: ``post`` is recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import tasuki
from tasuki.notify import Notifier, WebhookNotifier, slack_message, webhook_payload


class Good(tasuki.Task):
    def output(self):
        return self.make_target("good.pkl")

    def run(self):
        self.dump(1)


class Broken(tasuki.Task):
    def requires(self):
        return Good()

    def output(self):
        return self.make_target("broken.pkl")

    def run(self):
        raise RuntimeError("token=abc123 and it broke")


class Posted(WebhookNotifier):
    """The generic webhook, its body kept instead of sent."""

    def __init__(self, **kw: Any) -> None:
        super().__init__("http://127.0.0.1:9/hook", **kw)
        self.bodies: list[dict[str, Any]] = []

    def post(self, body: dict[str, Any]) -> None:
        self.bodies.append(body)


@pytest.mark.parametrize("executor", ["inline", "local"])
def test_a_failed_build_notifies_once_with_its_build_id(tmp_path: Path, executor):
    hook = Posted(on=["failure"])
    result = tasuki.run_build(
        Broken(),
        workspace=str(tmp_path / "ws"),
        hooks=[hook],
        executor=executor,
        workers=2,
        progress="off",
    )
    (body,) = hook.bodies
    assert body["build_id"] == result.build_id and body["event"] == "build_failed"
    (failed,) = body["failed"]
    assert failed["unique_id"] == Broken().unique_id
    assert failed["error"]["type"] == "RuntimeError"
    assert "abc123" not in failed["error"]["message"]
    assert body["resume_command"] == result.resume_command()


def test_a_successful_build_is_not_sent_when_only_failures_are_asked(tmp_path: Path):
    hook = Posted(on=["failure"])
    result = tasuki.run_build(Good(), workspace=str(tmp_path / "ws"), hooks=[hook], progress="off")
    assert result.ok and hook.bodies == []


def test_a_notifier_can_still_be_called_by_hand(tmp_path: Path):
    result = tasuki.run_build(Good(), workspace=str(tmp_path / "ws"), progress="off")
    hook = Posted(on=["success"])
    hook.on_build_end(result)
    assert hook.bodies[0]["build_id"] == result.build_id
    assert isinstance(hook, Notifier)


def test_the_slack_message_and_the_webhook_document_name_the_build(tmp_path: Path):
    result = tasuki.run_build(Broken(), workspace=str(tmp_path / "ws"), progress="off")
    assert webhook_payload(result)["build_id"] == result.build_id
    footer = slack_message(result)["blocks"][-1]["elements"][0]["text"]
    assert f"build {result.build_id}" in footer
