"""What a sync wants the catalog to hold, and which objects were renamed: pure functions.

:func:`desired_rows` turns a warehouse snapshot into ``catalog_objects`` rows (database,
schemas, tables, columns, outermost first) with a fingerprint each; :func:`find_renames`
pairs objects that disappeared with ones that appeared when the pairing is unambiguous, so
the renamed object keeps its row (and with it its description, owner, tags, edit history
and events).
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from tasuki.catalog._introspect import TableMeta

__all__ = ["SYNCED", "Existing", "desired_rows", "find_renames", "fingerprint", "parent_of"]

#: The columns of ``catalog_objects`` a sync writes (and hashes into ``fingerprint``).
SYNCED = (
    "kind",
    "schema_name",
    "table_name",
    "column_name",
    "position",
    "table_type",
    "data_type",
    "nullable",
    "row_estimate",
    "size_bytes",
    "last_modified",
    "comment",
)


class Existing(NamedTuple):
    """What the catalog holds for one object, as much as the merge needs (a tuple: a
    re-sync builds one per object, 100,000 and more)."""

    id: int
    path: str
    kind: str
    fingerprint: str | None
    gone_at: Any
    position: int | None
    data_type: str | None
    table_type: str | None
    comment: str | None

    @property
    def gone(self) -> bool:
        """The object was gone before this sync."""
        return self.gone_at is not None


_synced = operator.itemgetter(*SYNCED)


def parent_of(path: str) -> str | None:
    """``wh/s/t/c`` -> ``wh/s/t``; a database (``wh``) has none."""
    head, sep, _ = path.rpartition("/")
    return head if sep else None


def fingerprint(row: Mapping[str, Any]) -> str:
    """Hash of the synced attributes (``row`` holds every name in SYNCED): equal
    fingerprints, nothing to write."""
    # repr of a tuple of str/int/bool/None/datetime is exact and stable, and several
    # times cheaper than JSON at 100,000 objects.
    text = repr(_synced(row))
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _row(warehouse: str, path: str, kind: str, **attrs: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(SYNCED)
    row.update(attrs, kind=kind, path=path, warehouse=warehouse)
    row["fingerprint"] = fingerprint(row)
    return row


def desired_rows(warehouse: str, tables: Iterable[TableMeta]) -> dict[str, dict[str, Any]]:
    """path -> the row the catalog should hold, outermost level first (a parent always
    comes before its children)."""
    database = {warehouse: _row(warehouse, warehouse, "database")}
    schemas: dict[str, dict[str, Any]] = {}
    rows: dict[str, dict[str, Any]] = {}
    for table in tables:
        schema_path = f"{warehouse}/{table.schema}"
        if schema_path not in schemas:
            schemas[schema_path] = _row(warehouse, schema_path, "schema", schema_name=table.schema)
        table_path = f"{schema_path}/{table.name}"
        rows[table_path] = _row(
            warehouse,
            table_path,
            "table",
            schema_name=table.schema,
            table_name=table.name,
            table_type=table.table_type,
            row_estimate=table.row_estimate,
            size_bytes=table.size_bytes,
            last_modified=table.last_modified,
            comment=table.comment,
        )
    columns: dict[str, dict[str, Any]] = {}
    for table in tables:
        for column in table.columns:
            path = f"{warehouse}/{table.schema}/{table.name}/{column.name}"
            columns[path] = _row(
                warehouse,
                path,
                "column",
                schema_name=table.schema,
                table_name=table.name,
                column_name=column.name,
                position=column.position,
                data_type=column.data_type,
                nullable=column.nullable,
                comment=column.comment,
            )
    return {**database, **schemas, **rows, **columns}


def _group(paths: Iterable[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for path in paths:
        groups.setdefault(parent_of(path) or "", []).append(path)
    return groups


def find_renames(
    desired: Mapping[str, Mapping[str, Any]],
    existing: Mapping[str, Existing],
    new: Sequence[str],
    missing: Iterable[str],
) -> dict[str, str]:
    """new path -> old path for every rename the metadata shows unambiguously.

    A table is renamed (or moved to another schema) when exactly one table that is gone and
    exactly one that appeared have the same column names and types in the same order; its
    columns follow it. A column is renamed, within a table present before and after, when
    it is the only gone column with the same position and type as an appeared one (an
    ``ALTER TABLE ... RENAME COLUMN`` keeps PostgreSQL's position), or else when the
    table lost exactly one column and gained exactly one, of the same type.
    """
    renames: dict[str, str] = {}
    missing = list(missing)
    new_cols = _group(p for p in new if desired[p]["kind"] == "column")
    old_cols = _group(p for p in missing if existing[p].kind == "column")

    def signature_new(table: str) -> tuple[tuple[str, str], ...]:
        paths = sorted(new_cols.get(table, ()), key=lambda p: desired[p]["position"])
        return tuple((p.rsplit("/", 1)[1], str(desired[p]["data_type"])) for p in paths)

    def signature_old(table: str) -> tuple[tuple[str, str], ...]:
        paths = sorted(old_cols.get(table, ()), key=lambda p: existing[p].position or 0)
        return tuple((p.rsplit("/", 1)[1], str(existing[p].data_type)) for p in paths)

    by_signature: dict[tuple[Any, ...], tuple[list[str], list[str]]] = {}
    for path in new:
        if desired[path]["kind"] == "table":
            by_signature.setdefault(signature_new(path), ([], []))[0].append(path)
    for path in missing:
        if existing[path].kind == "table":
            by_signature.setdefault(signature_old(path), ([], []))[1].append(path)
    for signature, (appeared, gone) in by_signature.items():
        if signature and len(appeared) == 1 and len(gone) == 1:
            renames[appeared[0]] = gone[0]
            for name, _ in signature:
                renames[f"{appeared[0]}/{name}"] = f"{gone[0]}/{name}"

    for table, appeared in new_cols.items():
        gone = old_cols.get(table, [])
        if not gone or table not in existing or table not in desired:
            continue
        renames.update(_column_renames(appeared, gone, desired, existing))
    return renames


def _column_renames(
    appeared: list[str],
    gone: list[str],
    desired: Mapping[str, Mapping[str, Any]],
    existing: Mapping[str, Existing],
) -> dict[str, str]:
    pairs: dict[str, str] = {}

    def key_new(path: str) -> tuple[Any, str]:
        return desired[path]["position"], str(desired[path]["data_type"])

    def key_old(path: str) -> tuple[Any, str]:
        return existing[path].position, str(existing[path].data_type)

    for path in appeared:
        same = [g for g in gone if key_old(g) == key_new(path)]
        rivals = [a for a in appeared if key_new(a) == key_new(path)]
        if len(same) == 1 and len(rivals) == 1:
            pairs[path] = same[0]
    left_new = [p for p in appeared if p not in pairs]
    left_old = [g for g in gone if g not in pairs.values()]
    if (
        len(left_new) == 1
        and len(left_old) == 1
        and key_new(left_new[0])[1] == key_old(left_old[0])[1]
    ):
        pairs[left_new[0]] = left_old[0]
    return pairs
