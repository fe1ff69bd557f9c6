"""Filling a catalog store for tests without a warehouse: rows written straight into the
catalog's tables, as a sync would leave them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from tasuki.catalog import Catalog
from tasuki.catalog import _schema as t

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def add_tables(
    catalog: Catalog,
    warehouse: str,
    tables: Mapping[str, Sequence[tuple[str, str]] | Mapping[str, object]],
    *,
    descriptions: Mapping[str, str] | None = None,
    comments: Mapping[str, str] | None = None,
) -> None:
    """Catalogue ``{"schema.table": [(column, type), ...]}`` under ``warehouse``.

    ``descriptions`` and ``comments`` map a path (``wh/schema/table[/column]``) to text.
    """
    descriptions = descriptions or {}
    comments = comments or {}
    with catalog.engine.begin() as conn:
        ids: dict[str, int] = {}

        def put(path: str, kind: str, parent: str | None, **cols: object) -> int:
            if path in ids:
                return ids[path]
            row = {
                "path": path,
                "kind": kind,
                "warehouse": warehouse,
                "parent_id": ids.get(parent) if parent else None,
                "description": descriptions.get(path, ""),
                "comment": comments.get(path),
                "first_seen": NOW,
                "last_seen": NOW,
                **cols,
            }
            ids[path] = conn.execute(t.objects.insert().values(**row)).inserted_primary_key[0]
            return ids[path]

        put(warehouse, "database", None)
        for qualified, columns in tables.items():
            schema, table = qualified.split(".", 1)
            put(f"{warehouse}/{schema}", "schema", warehouse, schema_name=schema)
            tpath = f"{warehouse}/{schema}/{table}"
            put(
                tpath,
                "table",
                f"{warehouse}/{schema}",
                schema_name=schema,
                table_name=table,
                table_type="table",
                row_estimate=100,
            )
            items = columns.items() if isinstance(columns, Mapping) else columns
            for position, (column, data_type) in enumerate(items, start=1):
                put(
                    f"{tpath}/{column}",
                    "column",
                    tpath,
                    schema_name=schema,
                    table_name=table,
                    column_name=column,
                    data_type=str(data_type),
                    nullable=True,
                    position=position,
                )
