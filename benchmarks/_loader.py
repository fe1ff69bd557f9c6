"""Other processes that load the machine while a benchmark runs (``--load N``).

Issue 12 asks for figures "with a second process loading the machine": what another job on a
shared machine does, a CPU loop that also makes and removes small files (file creation is
what this machine's shared disk makes expensive). One definition, used by the pipeline,
warehouse and migration benchmarks, so that their loaded runs load the machine alike.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

LOADER = """
import os, sys, tempfile
folder = tempfile.mkdtemp(prefix="tasuki-bench-load-", dir=sys.argv[1] or None)
x = 0
while True:  # what another job on a shared machine does: CPU, and files made and removed
    for i in range(200):
        path = os.path.join(folder, str(i))
        with open(path, "wb") as f:
            f.write(b"x" * 1024)
        x = (x * 31 + i) % 1000003
    for i in range(200):
        os.remove(os.path.join(folder, str(i)))
"""


def start_loader(scratch: Path | None = None) -> subprocess.Popen[bytes]:
    """One process loading the machine until killed; its files go under ``scratch``
    (default: the system temp dir)."""
    return subprocess.Popen([sys.executable, "-c", LOADER, str(scratch or "")])


@contextlib.contextmanager
def loaded(count: int, scratch: Path | None = None) -> Iterator[None]:
    """Run ``count`` loading processes for the duration of the block (none for 0)."""
    procs = [start_loader(scratch) for _ in range(count)]
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def loaded_title(count: int) -> str:
    """The suffix a loaded run's docs section carries: ``, with 1 other process loading the
    machine`` (empty for 0)."""
    if not count:
        return ""
    return f", with {count} other process{'es' if count > 1 else ''} loading the machine"


def loaded_note(count: int) -> str:
    """The words a loaded run's section adds after its command (empty for 0)."""
    if not count:
        return ""
    return (
        f", with {count} other process(es) creating and deleting files in a CPU loop for the "
        "whole run"
    )


def write_section(docs: Path, section: str, title: str, base: str) -> None:
    """Replace the section called ``title`` of ``docs``; a loaded run's section that is not
    there yet goes right after its quiet twin ``base`` (else at the end)."""
    text = docs.read_text(encoding="utf-8") if docs.exists() else "# Benchmarks\n\n"
    section = section.rstrip("\n") + "\n\n"  # a blank line before the next section
    start = text.find(title + "\n")
    after = text.find(base + "\n")
    if start < 0 and after >= 0:
        end = text.find("\n## ", after + 1)
        text = text[: end + 1] + section + text[end + 1 :] if end >= 0 else text + section
    elif start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[end + 1 :] if end >= 0 else "")
    docs.write_text(text, encoding="utf-8")


def add_load_option(parser: argparse.ArgumentParser) -> None:
    """``--load N``, the same in every benchmark that has it."""
    parser.add_argument(
        "--load",
        type=int,
        default=0,
        help="run N other processes loading the machine (a CPU loop that makes and removes "
        "files) for the whole run; written to its own docs section",
    )
