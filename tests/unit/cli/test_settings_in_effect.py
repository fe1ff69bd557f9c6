"""Every command reads its settings once and puts them in effect for what it runs."""

from __future__ import annotations

import pytest

import tasuki
from tasuki.config import active_settings

SEEN: list[object] = []


class Probe(tasuki.Task):
    """Its output() runs while a command plans or inspects a graph."""

    def output(self):
        settings = active_settings()
        SEEN.append(None if settings is None else settings.workspace)
        return self.make_target("probe.pkl")

    def run(self):
        self.dump(1)


M = __name__


@pytest.mark.parametrize("command", ["tree", "why", "verify", "run"])
def test_the_commands_settings_are_in_effect(cli, tmp_path, command):
    SEEN.clear()
    out = cli(command, f"{M}:Probe")
    assert out.exit_code == 0, out.output
    assert SEEN and all(seen == str(tmp_path / "ws") for seen in SEEN), SEEN
    # Left when the command ends: nothing leaks into the next caller in this process.
    assert active_settings() is None
