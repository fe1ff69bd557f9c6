"""Tasks for the lease integration tests: each run appends a line to a side-effect log.

Module level, so a build in another process finds them by name. ``log`` is the absolute
path of the side-effect file; it is a parameter, so both racing builds name the same ids.
"""

from __future__ import annotations

import os
import time

import tasuki


def note(log: str, line: str) -> None:
    """Append one line (O_APPEND: whole lines, whatever the writers)."""
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, f"{line}\n".encode())
    finally:
        os.close(fd)


class Step(tasuki.Task):
    """A leaf-to-root graph: ``width`` leaves per level, ``depth`` levels, one root."""

    log: str
    level: int
    i: int = 0
    width: int = 3
    pause: float = 0.3

    def requires(self):
        if self.level == 0:
            return []
        return [
            Step(log=self.log, level=self.level - 1, i=j, width=self.width, pause=self.pause)
            for j in range(self.width)
        ]

    def run(self):
        note(self.log, f"ran {self.level}-{self.i} pid {os.getpid()} at {time.time():.3f}")
        time.sleep(self.pause)  # widen the window two builds could both run in
        upstream = sum(self.load()) if self.level else 0
        self.dump(upstream + 1)


class Payload(tasuki.Task):
    """Writes 4 MiB after waiting for ``go`` to exist (the test kills it while it waits)."""

    log: str
    go: str

    def run(self):
        note(self.log, f"start pid {os.getpid()} at {time.time():.3f}")
        while not os.path.exists(self.go):
            time.sleep(0.02)
        data = bytes(range(256)) * (4 * 4096)
        self.dump(data)
        note(self.log, f"wrote pid {os.getpid()} at {time.time():.3f}")
