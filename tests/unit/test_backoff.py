"""The one backoff schedule: the runner, the notifiers and the query client wait by it."""

from __future__ import annotations

import pytest

from tasuki._backoff import backoff_delay


def test_the_base_delay_doubles_after_each_failure() -> None:
    assert [backoff_delay(0.5, n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert [backoff_delay(0.2, n) for n in range(1, 4)] == [0.2 * 2**i for i in range(3)]


def test_a_zero_base_retries_at_once() -> None:
    assert [backoff_delay(0, n) for n in range(1, 5)] == [0, 0, 0, 0]


@pytest.mark.parametrize("attempt", [0, -3])
def test_an_attempt_below_one_waits_the_base_delay(attempt: int) -> None:
    # The query client's download restarts its count at 0 when a part made progress.
    assert backoff_delay(0.2, attempt) == 0.2


def test_the_cap_bounds_the_schedule() -> None:
    assert [backoff_delay(1.0, n, cap=5.0) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_a_server_given_delay_is_a_floor() -> None:
    assert backoff_delay(0.5, 1, server_delay=3.0) == 3.0  # Retry-After: longer wins
    assert backoff_delay(4.0, 2, server_delay=3.0) == 8.0  # the schedule's longer
    assert backoff_delay(0.5, 1, server_delay=None) == 0.5
    # A server's request is honoured even past the cap.
    assert backoff_delay(1.0, 10, cap=5.0, server_delay=30.0) == 30.0


def test_a_huge_attempt_count_does_not_overflow() -> None:
    assert backoff_delay(0.1, 10_000) == backoff_delay(0.1, 1001) > 1e300
    assert backoff_delay(0.1, 10_000, cap=60.0) == 60.0
