"""Aliases and their audit log, kept in the registry.

Every move of an alias is a new object ``models/<name>/aliases/<alias>/<seq>.json``, made by
a conditional create at the next sequence number and never rewritten: concurrent moves are
ordered (the loser of a sequence number reads again and goes after the winner) and none is
lost. ``models/<name>/aliases/<alias>.json`` holds the latest sequence number and version as
a hint; the log is the truth, so a reader walks forward from the hint to the last entry
(a writer may have lost the race to update the hint).
"""

from __future__ import annotations

import getpass
import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from tasuki._clock import utcnow

if TYPE_CHECKING:
    from tasuki.zoo._store import RegistryStore

__all__ = ["AliasMove", "alias_names", "alias_state", "append_move", "now", "read_moves", "user"]


def now() -> str:
    """UTC now, ISO with microseconds and ``Z``."""
    return utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def user() -> str:
    """This user's name, or ``""`` where there is none (a bare container)."""
    try:
        return getpass.getuser()
    except Exception:
        return ""


@dataclass(frozen=True)
class AliasMove:
    """One entry of an alias's audit log: who moved it, when, from which version to which
    (``None``: unset), and why."""

    seq: int
    alias: str
    from_version: int | None
    to_version: int | None
    by: str
    at: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        """The stored form (numbers stay numbers)."""
        return asdict(self)


def _entry(name: str, alias: str, seq: int) -> str:
    return f"models/{name}/aliases/{alias}/{seq:08d}.json"


def alias_names(reg: RegistryStore, name: str) -> list[str]:
    """Every alias of ``name`` ever set (removed ones included)."""
    return sorted(e for e in reg.children(f"models/{name}/aliases") if not e.endswith(".json"))


def alias_state(reg: RegistryStore, name: str, alias: str) -> tuple[int, int | None]:
    """``(last sequence number, version)`` of an alias from its log (0, None: never set)."""
    hint = reg.read(f"models/{name}/aliases/{alias}.json")
    seq, number = 0, None
    if hint is not None:
        doc = json.loads(hint)
        seq, number = int(doc["seq"]), doc.get("version")
    while True:  # the log is the truth: a later move may not have updated the hint
        data = reg.read(_entry(name, alias, seq + 1))
        if data is None:
            return seq, number
        seq, number = seq + 1, json.loads(data).get("to_version")


def append_move(
    reg: RegistryStore, name: str, alias: str, version: int | None, *, reason: str, by: str | None
) -> AliasMove:
    """Point ``alias`` at ``version`` by appending a move to its log; the move."""
    while True:
        seq, current = alias_state(reg, name, alias)
        move = AliasMove(
            seq=seq + 1,
            alias=alias,
            from_version=current,
            to_version=version,
            by=user() if by is None else by,
            at=now(),
            reason=reason,
        )
        body = json.dumps(move.to_json(), ensure_ascii=False).encode()
        if reg.create(_entry(name, alias, move.seq), body):
            break  # else another move took this sequence number: read again, go after it
    reg.write(
        f"models/{name}/aliases/{alias}.json",
        json.dumps({"seq": move.seq, "version": version}).encode(),
    )
    return move


def read_moves(reg: RegistryStore, name: str, alias: str) -> list[AliasMove]:
    """Every move of ``alias``, oldest first (empty: never set)."""
    moves = []
    seq = 1
    while (data := reg.read(_entry(name, alias, seq))) is not None:
        moves.append(AliasMove(**json.loads(data)))
        seq += 1
    return moves
