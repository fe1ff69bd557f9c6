"""Build ``TaskB(param="world")`` twice through ``tasuki.build``; the second call runs nothing.

Run from the repository root with ``python -m examples.hello.run [--workspace W] [--param P]``
or ``python examples/hello/run.py``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if not __package__:
    # `python examples/hello/run.py`: make `examples.hello.tasks` importable under its real
    # module name, so the task ids match those of `tasuki run examples.hello.tasks:TaskB`.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import tasuki
from examples.hello.tasks import TaskB


def main(argv: list[str] | None = None) -> int:
    """Build the pipeline twice and print the value and what the second build did.

    Args:
        argv: Command-line words (default: ``sys.argv[1:]``).

    Returns:
        The process exit code.
    """
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workspace", default="./workspace", help="folder or URL for outputs")
    parser.add_argument("--param", default="world", help="who to greet")
    args = parser.parse_args(argv)

    task = TaskB(param=args.param)
    print(tasuki.build(task, workspace=args.workspace, progress="off"))
    again = tasuki.run_build(task, workspace=args.workspace, progress="off")
    counts = again.counts()
    # Completeness is checked from the root down: once TaskB is complete, TaskA needs no
    # look ("not needed"); its output is still there, so it counts as cached.
    cached = counts["cached"] + counts["not_needed"]
    print(f"second run: {cached} tasks cached, {counts['ran']} ran")
    return 0 if again.ok else 1


if __name__ == "__main__":
    sys.exit(main())
