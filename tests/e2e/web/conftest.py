"""The browser harness: Debian's headless Chromium driven by Playwright, screenshots kept.

Chromium is ``/usr/bin/chromium`` (never a browser Playwright downloads). Without it or the
``playwright`` package the tests are skipped with the reason, except when the ``CI``
environment variable is set: there a missing browser fails them.

Screenshots go to a folder under the test session's tmp path and, when
``TASUKI_TEST_ARTIFACTS`` is set, are copied to ``test-artifacts/screenshots/`` at the
repository root (what CI uploads).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[3]
ARTIFACTS = REPO / "test-artifacts" / "screenshots"
# Read once at collection: the autouse isolation fixture removes TASUKI_* from each test.
_COPY_ARTIFACTS = bool(os.environ.get("TASUKI_TEST_ARTIFACTS"))


def _missing_browser() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (pip install playwright; no browser download needed)"  # noqa: E501
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """A headless Chromium (``/usr/bin/chromium``) for the session."""
    reason = _missing_browser()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests cannot run: {reason} (CI is set, so this fails)")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Screenshots:
    """Where a test's screenshots go; ``take(page, name)`` saves the full page."""

    folder: Path
    copy_to: Path | None
    taken: list[Path] = field(default_factory=list)

    def take(self, page: Any, name: str) -> Path:
        """Save a full-page PNG of ``page`` as ``<name>.png`` (and copy it for CI)."""
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")
        path = self.folder / f"{len(self.taken) + 1:02d}-{safe}.png"
        page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        if self.copy_to is not None:
            self.copy_to.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, self.copy_to / path.name)
        return path


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Screenshots:
    """Screenshots of the module's pages (tmp folder; also test-artifacts/ when asked)."""
    return Screenshots(
        folder=tmp_path_factory.mktemp("screenshots"),
        copy_to=ARTIFACTS if _COPY_ARTIFACTS else None,
    )
