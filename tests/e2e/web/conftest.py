"""The browser harness of these tests lives in tests/_web.py (shared with other web tests):
``browser`` (Debian's headless Chromium through Playwright; skipped with the reason when
missing, failing under CI) and ``screenshots``."""

from __future__ import annotations

from tests._web import browser, screenshots  # noqa: F401  (fixtures)
