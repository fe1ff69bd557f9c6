"""Fixtures of the web unit tests: the session browser of tests/_web.py (skipped with the
reason without Chromium, failed instead under CI)."""

from __future__ import annotations

from tests._web import browser  # noqa: F401  (fixture)
