"""Which disappearances and appearances a sync takes for renames (pure planning code)."""

from __future__ import annotations

from tasuki.catalog._introspect import ColumnMeta, TableMeta
from tasuki.catalog._sync_plan import Existing, desired_rows, find_renames


def table(schema: str, name: str, *columns: tuple[str, str]) -> TableMeta:
    return TableMeta(
        schema=schema,
        name=name,
        table_type="table",
        row_estimate=None,
        size_bytes=None,
        last_modified=None,
        comment=None,
        columns=tuple(
            ColumnMeta(name=c, position=i, data_type=ty, nullable=True, comment=None)
            for i, (c, ty) in enumerate(columns, 1)
        ),
    )


def state(tables: list[TableMeta]) -> dict[str, Existing]:
    """The catalog as a sync of ``tables`` leaves it."""
    return {
        path: Existing(
            id=i,
            path=path,
            kind=row["kind"],
            fingerprint=row["fingerprint"],
            gone_at=None,
            position=row["position"],
            data_type=row["data_type"],
            table_type=row["table_type"],
            comment=None,
        )
        for i, (path, row) in enumerate(desired_rows("wh", tables).items(), 1)
    }


def renames(before: list[TableMeta], after: list[TableMeta]) -> dict[str, str]:
    existing = state(before)
    desired = desired_rows("wh", after)
    new = [p for p in desired if p not in existing]
    missing = [p for p in existing if p not in desired]
    return find_renames(desired, existing, new, missing)


ORDERS = table("s", "orders", ("id", "int"), ("amount", "numeric"), ("note", "text"))


def test_a_table_moved_to_another_schema_takes_its_columns_along():
    moved = table("archive", "orders_2023", ("id", "int"), ("amount", "numeric"), ("note", "text"))
    assert renames([ORDERS], [moved]) == {
        "wh/archive/orders_2023": "wh/s/orders",
        "wh/archive/orders_2023/id": "wh/s/orders/id",
        "wh/archive/orders_2023/amount": "wh/s/orders/amount",
        "wh/archive/orders_2023/note": "wh/s/orders/note",
    }


def test_two_candidate_tables_with_the_same_columns_are_no_rename():
    a = table("s", "a", ("id", "int"))
    b = table("s", "b", ("id", "int"))
    c = table("s", "c", ("id", "int"))
    assert renames([a, b], [c]) == {}
    # ... nor are tables whose columns differ in name or type.
    assert renames([a], [table("s", "d", ("id", "bigint"))]) == {}


def test_columns_renamed_in_place_pair_by_position_and_type():
    after = table("s", "orders", ("order_id", "int"), ("amount", "numeric"), ("memo", "text"))
    assert renames([ORDERS], [after]) == {
        "wh/s/orders/order_id": "wh/s/orders/id",
        "wh/s/orders/memo": "wh/s/orders/note",
    }


def test_one_gone_and_one_new_column_of_the_same_type_pair_anywhere():
    after = table("s", "orders", ("id", "int"), ("remark", "text"), ("amount", "numeric"))
    assert renames([ORDERS], [after]) == {"wh/s/orders/remark": "wh/s/orders/note"}


def test_a_changed_type_or_two_candidates_is_no_column_rename():
    other_type = table("s", "orders", ("id", "int"), ("amount", "numeric"), ("memo", "jsonb"))
    assert renames([ORDERS], [other_type]) == {}
    two = table("s", "orders", ("id", "int"), ("amount", "numeric"), ("a", "int"), ("b", "text"))
    # `b` is text like `note` was, but `a` appeared too and `note`'s position went to `a`.
    assert renames([ORDERS], [two]) == {}
