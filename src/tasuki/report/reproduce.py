"""Whether a rerun gave back the bytes of the run it replaced (``tasuki rerun``).

``tasuki rerun ID`` runs a finished task again from its record. What a user asks of it is
whether the task is reproducible: the same code on the same inputs should write the same
bytes. This module compares the outputs of the record before the rerun with those of the
record after it, by the content hashes every record keeps, and says why they may differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tasuki.core.records import RunRecord

__all__ = ["OutputComparison", "Reproduction", "compare_runs"]


@dataclass(frozen=True)
class OutputComparison:
    """One output of the task, before and after the rerun.

    ``status`` is ``same`` (equal size and content hash), ``different``, ``new`` (the
    earlier run did not write it), ``gone`` (the rerun did not), or ``unknown`` (a side has
    no content hash, such as a warehouse table).
    """

    key: str
    status: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@dataclass(frozen=True)
class Reproduction:
    """The outputs compared, and whether the code or the inputs moved between the runs."""

    outputs: list[OutputComparison]
    code_changed: bool
    inputs_changed: bool

    @property
    def reproduced(self) -> bool:
        """Every output has the bytes it had (an output without a hash does not count)."""
        return all(o.status in ("same", "unknown") for o in self.outputs)

    def lines(self) -> list[str]:
        """What ``tasuki rerun`` prints, one line per output, then the likely cause."""
        out = []
        for o in self.outputs:
            if o.status == "same":
                assert o.after is not None
                out.append(
                    f"  {o.key}: the same bytes as the run it replaces ({o.after.get('size')} "
                    f"bytes, xxh3 {o.after.get('xxh3')})"
                )
            elif o.status == "different":
                assert o.before is not None and o.after is not None
                out.append(
                    f"  {o.key}: different bytes from the run it replaces ("
                    f"{o.before.get('size')} -> {o.after.get('size')} bytes, xxh3 "
                    f"{o.before.get('xxh3')} -> {o.after.get('xxh3')})"
                )
            elif o.status == "new":
                out.append(f"  {o.key}: written now, not by the run it replaces")
            elif o.status == "gone":
                out.append(f"  {o.key}: written by the run it replaces, not now")
            else:
                out.append(f"  {o.key}: not compared (no content hash; a warehouse table?)")
        if not self.reproduced:
            if self.code_changed:
                out.append(
                    "  the code changed since the run it replaces (its code key moved): "
                    "`tasuki why` on the earlier code says what"
                )
            elif self.inputs_changed:
                out.append("  its inputs changed since the run it replaces (an upstream ran)")
            else:
                out.append(
                    "  same code, same inputs: run() is not deterministic (an unseeded random "
                    "draw, the time, a set's order, threads racing...); fix that to make the "
                    "output reproducible"
                )
        return out


def compare_runs(before: RunRecord, after: RunRecord) -> Reproduction:
    """Compare the outputs of ``before`` (the replaced run) with those of ``after``."""
    old = {str(o.get("key")): o for o in before.outputs}
    new = {str(o.get("key")): o for o in after.outputs}
    compared = []
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key), new.get(key)
        if a is None:
            status = "new"
        elif b is None:
            status = "gone"
        elif not a.get("xxh3") or not b.get("xxh3"):
            status = "unknown"
        elif (a.get("size"), a.get("xxh3")) == (b.get("size"), b.get("xxh3")):
            status = "same"
        else:
            status = "different"
        compared.append(OutputComparison(key, status, a, b))
    return Reproduction(
        compared,
        code_changed=before.code_key != after.code_key,
        inputs_changed=before.inputs != after.inputs,
    )
