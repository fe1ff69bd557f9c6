"""Several processes pushing and moving aliases at once: no number given twice, no move lost."""

from __future__ import annotations

import multiprocessing
from typing import Any

from tasuki.zoo import Zoo

CTX = multiprocessing.get_context("fork")
PER_PROCESS = 6
CLAIMS = 60


def _push_many(registry: str, worker: int, barrier: Any, out: Any) -> None:
    zoo = Zoo(registry, tracking_uri="")
    barrier.wait()
    for i in range(PER_PROCESS):
        v = zoo.push("shared", {"worker": worker, "i": i})
        out.put((worker, i, v.version, v.content_hash))


def _claim_many(registry: str, worker: int, barrier: Any, out: Any) -> None:
    zoo = Zoo(registry, tracking_uri="")
    barrier.wait()
    out.put([zoo._claim("raced") for _ in range(CLAIMS)])


def _move_many(registry: str, worker: int, barrier: Any) -> None:
    zoo = Zoo(registry, tracking_uri="")
    barrier.wait()
    for i in range(PER_PROCESS):
        zoo.alias("shared", "champion", 1 + (worker + i) % 2, reason=f"w{worker} move {i}")


def _run(target: Any, registry: str, n: int, *extra: Any) -> None:
    barrier = CTX.Barrier(n)
    procs = [CTX.Process(target=target, args=(registry, w, barrier, *extra)) for w in range(n)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0


def test_two_processes_pushing_at_once_never_share_a_number(registry: str) -> None:
    out = CTX.Queue()
    _run(_push_many, registry, 2, out)
    got = [out.get(timeout=5) for _ in range(2 * PER_PROCESS)]
    numbers = sorted(n for _, _, n, _ in got)
    assert numbers == list(range(1, 2 * PER_PROCESS + 1))
    zoo = Zoo(registry, tracking_uri="")
    for worker, i, number, content_hash in got:
        version = zoo.resolve(f"shared/{number}")
        assert version.content_hash == content_hash
        assert zoo.load(version.ref) == {"worker": worker, "i": i}


def test_number_claims_racing_in_two_processes_are_all_distinct(registry: str) -> None:
    # The claim alone, in a tight loop: the race a push's few milliseconds of work hides.
    out = CTX.Queue()
    _run(_claim_many, registry, 2, out)
    numbers = out.get(timeout=5) + out.get(timeout=5)
    assert sorted(numbers) == list(range(1, 2 * CLAIMS + 1))


def test_two_processes_moving_an_alias_at_once_lose_no_move(registry: str) -> None:
    zoo = Zoo(registry, tracking_uri="")
    zoo.push("shared", [1])
    zoo.push("shared", [2])
    _run(_move_many, registry, 2)
    moves = zoo.history("shared", "champion")
    assert [m.seq for m in moves] == list(range(1, 2 * PER_PROCESS + 1))
    assert sorted(m.reason for m in moves) == sorted(
        f"w{w} move {i}" for w in range(2) for i in range(PER_PROCESS)
    )
    previous = None
    for move in moves:  # each move starts where the one before it ended
        assert move.from_version == previous
        previous = move.to_version
    assert zoo.aliases("shared") == {"champion": previous}
