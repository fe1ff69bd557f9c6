"""The background side of tracking: jobs run off the caller's thread, the first failure
stops the rest with one report, and the end of a build waits within its bound."""

from __future__ import annotations

import threading
import time

from tasuki.tracking._session import Session


def test_jobs_run_on_background_threads_in_submission_order_per_thread() -> None:
    session = Session("test", "b1", threads=1)
    seen: list[tuple[int, str]] = []
    caller = threading.current_thread().name
    for i in range(5):
        session.submit(lambda i=i: seen.append((i, threading.current_thread().name)))
    assert session.drain(5)
    assert [i for i, _ in seen] == [0, 1, 2, 3, 4]
    assert all(name != caller and name.startswith("tasuki-tracking") for _, name in seen)
    assert session.stats.jobs_done == 5 and session.stats.failure is None
    assert session.stats.mlflow_s >= 0


def test_submit_does_not_wait_for_a_slow_job() -> None:
    session = Session("test", "b2", threads=1)
    release = threading.Event()
    session.submit(release.wait)
    t0 = time.perf_counter()
    for _ in range(100):
        session.submit(lambda: None)
    queued_s = time.perf_counter() - t0
    release.set()
    assert session.drain(5)
    assert queued_s < 0.1, queued_s  # 100 jobs queued behind a blocked one


def test_the_first_failure_is_reported_once_and_stops_the_rest() -> None:
    reports: list[str] = []
    session = Session("test", "b3", threads=1, on_failure=reports.append)
    ran: list[int] = []

    def boom() -> None:
        raise ConnectionError("refused at http://user:pw@host:5000")

    session.submit(boom)
    session.submit(boom)
    for i in range(3):
        session.submit(ran.append, i)
    session.drain(5)
    assert len(reports) == 1
    assert reports[0].startswith("ConnectionError: refused")
    assert "pw" not in reports[0]  # redacted
    assert ran == []
    assert session.failed and session.stats.jobs_skipped == 4


def test_drain_is_bounded_and_drops_what_is_left() -> None:
    reports: list[str] = []
    session = Session("test", "b4", threads=1, on_failure=reports.append)
    release = threading.Event()
    ran: list[int] = []
    session.submit(release.wait)
    session.submit(ran.append, 1)
    t0 = time.perf_counter()
    assert not session.drain(0.3)
    assert 0.25 < time.perf_counter() - t0 < 2.0
    assert reports == ["logging did not finish within 0.3 s (2 of 2 jobs left)"]
    release.set()
    time.sleep(0.1)
    assert ran == []  # the queued job was dropped, not run after the build


def test_jobs_failing_at_once_on_two_threads_report_once() -> None:
    reports: list[str] = []
    session = Session("test", "b5", threads=2, on_failure=reports.append)
    both_running = threading.Barrier(2, timeout=5)

    def boom(i: int) -> None:
        both_running.wait()
        raise TimeoutError(f"no answer {i}")

    session.submit(boom, 1)
    session.submit(boom, 2)
    session.drain(5)
    assert len(reports) == 1, reports
    assert session.stats.failure == reports[0]
