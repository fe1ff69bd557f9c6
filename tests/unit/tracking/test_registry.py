"""Trackers are found by the ``tracking`` setting through the one registry shape."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import tasuki
from tasuki.config import Settings
from tasuki.core.hooks import trackers, with_tracker
from tasuki.errors import ConfigError
from tasuki.tracking import MlflowTracker, register_tracker


class RecordingTracker:
    """A tracker third parties could ship: it keeps what it saw."""

    seen: list[tuple[str, str]] = []

    @classmethod
    def from_settings(cls, settings: Settings) -> RecordingTracker:
        return cls()

    def on_task_end(self, *, uid: str, result: Any, record: Any, **kwargs: Any) -> None:
        metrics = [m["key"] for m in record.metrics] if record is not None else []
        self.seen.append((result.status, ",".join(metrics)))


class Scored(tasuki.Task):
    def run(self) -> None:
        self.log_metric("score", 1.0)
        self.dump(1)


def test_off_adds_nothing_and_imports_nothing() -> None:
    code = (
        "import sys, tasuki\n"
        "from tasuki.core.hooks import with_tracker\n"
        "assert with_tracker(tasuki.Settings(), ['h']) == ['h']\n"
        "import tasuki.tracking\n"
        "t = tasuki.tracking.MlflowTracker('http://127.0.0.1:1')\n"
        "assert 'mlflow' not in sys.modules, 'mlflow imported before a build logs'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_mlflow_is_built_in_by_dotted_path() -> None:
    assert trackers.known["mlflow"] == "tasuki.tracking.mlflow:MlflowTracker"
    assert trackers.origin("mlflow") == "built-in"
    made = with_tracker(Settings(tracking="mlflow", tracking_uri="http://127.0.0.1:1"), [])
    assert len(made) == 1 and isinstance(made[0], MlflowTracker)
    assert made[0].tracking_uri == "http://127.0.0.1:1"


def test_an_unknown_tracker_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown tracker 'mlfow'.*Did you mean 'mlflow'"):
        with_tracker(Settings(tracking="mlfow"), [])


def test_mlflow_without_a_uri_says_which_setting() -> None:
    with pytest.raises(ConfigError, match=r"needs tracking_uri.*TASUKI_TRACKING_URI"):
        with_tracker(Settings(tracking="mlflow"), [])


def test_a_hook_of_the_same_class_is_not_doubled() -> None:
    mine = MlflowTracker("http://127.0.0.1:1")
    settings = Settings(tracking="mlflow", tracking_uri="http://127.0.0.1:2")
    assert with_tracker(settings, [mine]) == [mine]


def test_bad_tracker_arguments() -> None:
    with pytest.raises(ConfigError, match="needs a tracking URI"):
        MlflowTracker("")
    with pytest.raises(ConfigError, match="threads=0 must be >= 1"):
        MlflowTracker("http://x", threads=0)


def test_a_registered_tracker_is_attached_by_the_runner(tmp_path: Path) -> None:
    register_tracker("recording", RecordingTracker)
    RecordingTracker.seen.clear()
    try:
        result = tasuki.run_build(
            Scored(),
            workspace=str(tmp_path / "ws"),
            executor="inline",
            progress="off",
            tracking="recording",
        )
    finally:
        trackers._registered.pop("recording", None)
    assert result.ok
    assert RecordingTracker.seen == [("ran", "score")]
    with pytest.raises(ConfigError, match="already registered"):
        register_tracker("mlflow", RecordingTracker)


def test_a_tracker_that_is_no_hook_is_refused() -> None:
    register_tracker("nothing", object)
    try:
        with pytest.raises(ConfigError, match="none of the hook methods"):
            with_tracker(Settings(tracking="nothing"), [])
    finally:
        trackers._registered.pop("nothing", None)


def test_public_names_are_pinned() -> None:
    import tasuki.tracking

    assert tasuki.tracking.__all__ == [
        "MlflowTracker",
        "TrackingStats",
        "register_tracker",
        "trackers",
    ]
    for name in tasuki.tracking.__all__:
        assert getattr(tasuki.tracking, name) is not None


def test_a_tracker_from_an_installed_distribution_entry_point(tmp_path: Path) -> None:
    """A package declaring ``[tasuki.trackers]`` makes ``tracking = "<name>"`` work."""
    site = tmp_path / "site"
    dist = site / "team_tracking-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: team-tracking\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[tasuki.trackers]\nteam = team_tracking:TeamTracker\n")
    (site / "team_tracking.py").write_text(
        "class TeamTracker:\n"
        "    def __init__(self, uri=None):\n"
        "        self.uri = uri\n"
        "    @classmethod\n"
        "    def from_settings(cls, settings):\n"
        "        return cls(settings.tracking_uri)\n"
        "    def on_build_end(self, **kwargs):\n"
        "        pass\n"
    )
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(site)!r})\n"
        "import tasuki\n"
        "from tasuki.core.hooks import trackers, with_tracker\n"
        "made = with_tracker(tasuki.Settings(tracking='team', tracking_uri='x://y'), [])\n"
        "assert type(made[0]).__name__ == 'TeamTracker' and made[0].uri == 'x://y', made\n"
        "assert 'team-tracking' in trackers.origin('team'), trackers.origin('team')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
