"""The CLI's log lines go through tasuki._redact.redact, tracebacks included."""

from __future__ import annotations

import logging

from tasuki.cli._app import _RedactingFormatter


def test_log_lines_and_tracebacks_are_redacted() -> None:
    formatter = _RedactingFormatter("%(levelname)s %(message)s")
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "connecting to %s", ("redis://:hunter2@h:6379",), None
    )
    assert formatter.format(record) == "INFO connecting to redis://:***@h:6379"
    try:
        raise ValueError("postgresql://r@db/x?password=hunter2")
    except ValueError:
        import sys

        failed = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", None, sys.exc_info())
    text = formatter.format(failed)
    assert "hunter2" not in text
    assert "postgresql://r@db/x?password=***" in text
