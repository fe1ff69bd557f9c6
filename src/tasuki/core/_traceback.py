"""Tracebacks as a user reads them: from the project's code, not from tasuki's runner.

A failed task's traceback starts in the runner (the call of ``run()``), and an error of a
task's method raised while a build plans is reported in one line: both are cut to, or
located in, the frames of the project's own code.
"""

from __future__ import annotations

import os

__all__ = ["raised_at", "task_traceback"]

_TASUKI_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_FRAME = '  File "'


def raised_at(exc: BaseException) -> str:
    """Where ``exc`` was raised, in the project's code: `` (at FILE, line N, in FUNC:
    CODE)`` for the innermost frame outside tasuki (the innermost one when all are
    tasuki's); "" without a traceback."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    theirs = [f for f in frames if not f.filename.startswith(_TASUKI_DIR + os.sep)]
    frame = (theirs or frames)[-1]
    code = f": {frame.line.strip()}" if frame.line else ""
    return f" (at {frame.filename}, line {frame.lineno}, in {frame.name}{code})"


def task_traceback(text: str) -> str:
    """``text`` (a formatted traceback) without the runner's frames that lead into the task's
    code: each ``Traceback (most recent call last):`` block loses the frames in tasuki's own
    files before the first frame elsewhere (a block with no such frame, a failure inside
    tasuki, is kept whole)."""
    out: list[str] = []
    lines = text.rstrip("\n").split("\n")
    i = 0
    while i < len(lines):
        out.append(lines[i])
        if not lines[i].startswith("Traceback (most recent call last):"):
            i += 1
            continue
        frames: list[list[str]] = []
        i += 1
        while i < len(lines) and (lines[i].startswith(" ") or not lines[i]):
            if lines[i].startswith(_FRAME) or not frames:
                frames.append([])
            frames[-1].append(lines[i])
            i += 1
        ours = [f[0].startswith(_FRAME + _TASUKI_DIR + os.sep) for f in frames]
        first = ours.index(False) if False in ours else 0
        for frame in frames[first:]:
            out.extend(frame)
    return "\n".join(out)
