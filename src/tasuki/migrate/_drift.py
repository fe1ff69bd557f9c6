"""Schema drift: the source table's columns versus an existing target table's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tasuki.errors import SchemaDriftError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from tasuki.migrate._types import ColumnPlan

__all__ = ["ColumnDiff", "diff_columns"]


@dataclass(frozen=True)
class ColumnDiff:
    """Columns added on the source, removed from it, or given another type.

    Attributes:
        added: ``(name, target type)`` of source columns the target lacks.
        removed: ``(name, target type)`` of target columns the source no longer has.
        changed: ``(name, target type now, type the source maps to)``.
    """

    added: tuple[tuple[str, str], ...] = ()
    removed: tuple[tuple[str, str], ...] = ()
    changed: tuple[tuple[str, str, str], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def describe(self) -> str:
        """The diff as readable lines: ``+ col type``, ``- col type``, ``~ col old -> new``."""
        lines = [f"  + {name} {typ}  (new on the source)" for name, typ in self.added]
        lines += [f"  - {name} {typ}  (gone from the source)" for name, typ in self.removed]
        lines += [
            f"  ~ {name} {old} -> {new}  (type changed on the source)"
            for name, old, new in self.changed
        ]
        return "\n".join(lines)

    def enforce(self, table: str, policy: str) -> None:
        """Raise SchemaDriftError unless the policy allows this diff.

        Args:
            table: target table, for the message.
            policy: ``"fail"`` (any difference fails) or ``"add_columns"`` (only additions
                are allowed; the caller adds them).

        Raises:
            SchemaDriftError: with ``added``, ``removed`` and ``changed`` as attributes.
        """
        if not self:
            return
        fields = {
            "table": table,
            "added": [a[0] for a in self.added],
            "removed": [r[0] for r in self.removed],
            "changed": [c[0] for c in self.changed],
        }
        if policy == "add_columns":
            if not (self.removed or self.changed):
                return
            raise SchemaDriftError(
                f"schema drift on {table}: on_schema_drift = 'add_columns' can add the new "
                "columns, but columns were also removed or changed type, which it cannot "
                f"apply:\n{self.describe()}\nFix: drop or migrate the target table by hand "
                "(or run this table once with mode 'full' and on_schema_drift cleared of "
                "the removed/changed columns).",
                **fields,
            )
        raise SchemaDriftError(
            f"schema drift on {table}: the source table's columns differ from the target's "
            f"(on_schema_drift = 'fail'):\n{self.describe()}\nFix: set on_schema_drift = "
            "'add_columns' to add new columns, or change the target table to match.",
            **fields,
        )


def diff_columns(existing: Mapping[str, str], plans: Sequence[ColumnPlan]) -> ColumnDiff:
    """Compare target columns (name -> ``format_type``) with the source column plans."""
    planned = {p.name: p.target_type for p in plans}
    added = tuple((n, t) for n, t in planned.items() if n not in existing)
    removed = tuple((n, t) for n, t in existing.items() if n not in planned)
    changed = tuple(
        (n, existing[n], t)
        for n, t in planned.items()
        if n in existing and _normal(existing[n]) != _normal(t)
    )
    return ColumnDiff(added, removed, changed)


def _normal(type_name: str) -> str:
    return " ".join(type_name.lower().split())
