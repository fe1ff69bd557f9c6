"""Run a producer (source read + encode) one step ahead of the consumer (the COPY write).

Reading from MySQL and encoding happen in a background thread while the caller's thread
sends the previous buffer to the target; the hand-over queue holds at most ``depth`` items,
so memory stays bounded however slow either side is.
"""

from __future__ import annotations

import queue
import threading
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterable

__all__ = ["prefetch"]

T = TypeVar("T")
R = TypeVar("R")

_DONE = object()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def prefetch(
    items: Iterable[T], fn: Callable[[T], R], *, depth: int = 2
) -> Generator[R, None, None]:
    """Yield ``fn(item)`` for each item, computed in a background thread.

    Args:
        items: the input (iterated in the background thread).
        fn: the work done per item in the background thread.
        depth: how many results may wait for the consumer.

    Yields:
        Results in input order. An exception in the producer is re-raised here; closing
        the generator early stops the producer.
    """
    hand_over: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(value: object) -> bool:
        while not stop.is_set():
            try:
                hand_over.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        iterator = iter(items)
        try:
            for item in iterator:
                if not put(fn(item)):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(_Failure(exc))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="tasuki-migrate-read", daemon=True)
    worker.start()
    try:
        while True:
            value = hand_over.get()
            if value is _DONE:
                return
            if isinstance(value, _Failure):
                raise value.exc
            yield value  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()
