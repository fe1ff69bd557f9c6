"""The catalog store on SQLite (and PostgreSQL, marked services): migrations, reading,
edits with versions and history, search."""

from __future__ import annotations

import pickle
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tasuki.catalog import MAX_DESCRIPTION, Catalog
from tasuki.catalog._migrate import HEAD
from tasuki.config import Settings
from tasuki.errors import CatalogError, CatalogNotFoundError, ConfigError, EditConflictError
from tests._catalog import add_tables
from tests._services import postgres_url  # noqa: F401  (fixture)

TABLES = {
    "public.orders": [("order_id", "bigint"), ("amount", "numeric"), ("user_id", "bigint")],
    "public.users": [("user_id", "bigint"), ("email", "text")],
    "sales.daily_revenue": [("day", "date"), ("revenue", "numeric")],
}
DESCRIPTIONS = {
    "dwh/public/orders": "One row per order line. Refunds are negative amounts.",
    "dwh/sales/daily_revenue": "日次の売上金額（税抜）。返品は翌日に差し引く。",
    "dwh/public/users/email": "Login e-mail, lower-cased.",
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Catalog]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/catalog.db"
    else:
        pg = request.getfixturevalue("postgres_url")
        url = pg.replace("postgresql://", "postgresql+psycopg://", 1)
    with Catalog.open(url) as cat:
        add_tables(cat, "dwh", TABLES, descriptions=DESCRIPTIONS)
        yield cat


def test_open_creates_the_schema_at_head_and_reopens_without_migrating(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/sub/catalog.db"
    Catalog.open(url).close()
    with sqlite3.connect(tmp_path / "sub" / "catalog.db") as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(HEAD,)]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert {"catalog_objects", "catalog_edits", "catalog_search", "users"} <= tables
    with Catalog.open(url) as cat:
        assert cat.children(None) == []


def test_open_takes_the_catalog_setting(tmp_path: Path) -> None:
    settings = Settings(catalog=f"sqlite:///{tmp_path}/from-settings.db")
    Catalog.open(settings=settings).close()
    assert (tmp_path / "from-settings.db").exists()


@pytest.mark.parametrize(
    ("url", "said"),
    [("mysql+pymysql://root@127.0.0.1/x", "mysql is not supported"), ("nope", "not usable")],
)
def test_open_refuses_unsupported_urls(url: str, said: str) -> None:
    with pytest.raises(ConfigError, match=said):
        Catalog.open(url)


def test_get_and_children(catalog: Catalog) -> None:
    assert [o.path for o in catalog.children(None)] == ["dwh"]
    assert [o.name for o in catalog.children("dwh")] == ["public", "sales"]
    columns = catalog.children("dwh/public/orders")
    assert [c.name for c in columns] == ["order_id", "amount", "user_id"]  # table order
    orders = catalog.get("dwh/public/orders")
    assert orders.kind == "table" and orders.parent_path == "dwh/public"
    assert orders.description.startswith("One row per order line")
    assert orders.first_seen.tzinfo is not None
    with pytest.raises(CatalogNotFoundError, match="dwh/public/nope"):
        catalog.get("dwh/public/nope")


def test_edit_bumps_the_version_and_keeps_history(catalog: Catalog) -> None:
    before = catalog.get("dwh/public/orders")
    after = catalog.edit(
        before.path,
        author="ana@example.com",
        expected_version=before.version,
        description="Order lines.",
        tags=["finance", "pii", "finance"],
    )
    assert after.version == before.version + 1
    assert after.description == "Order lines." and after.tags == ["finance", "pii"]
    again = catalog.edit(
        after.path, author="bo@example.com", expected_version=after.version, owner="bo"
    )
    history = catalog.history(before.path)
    assert [(h.field, h.author, h.version) for h in history] == [
        ("owner", "bo@example.com", again.version),
        ("tags", "ana@example.com", after.version),
        ("description", "ana@example.com", after.version),
    ]
    assert history[2].before == before.description and history[2].after == "Order lines."
    assert history[1].before == "" and history[1].after == "finance, pii"


def test_an_edit_that_changes_nothing_writes_nothing(catalog: Catalog) -> None:
    obj = catalog.get("dwh/public/orders")
    same = catalog.edit(
        obj.path, author="a", expected_version=obj.version, description=obj.description
    )
    assert same.version == obj.version and catalog.history(obj.path) == []


def test_second_editor_on_a_stale_version_gets_a_conflict_and_nothing_is_lost(
    catalog: Catalog,
) -> None:
    start = catalog.get("dwh/public/users")
    catalog.edit(start.path, author="ana", expected_version=start.version, description="A's")
    with pytest.raises(EditConflictError) as info:
        catalog.edit(start.path, author="bo", expected_version=start.version, description="B's")
    err = info.value
    assert err.current_version == start.version + 1 and err.current.description == "A's"
    assert "version" in str(err) and "Nothing was written" in str(err)
    assert catalog.get(start.path).description == "A's"
    assert [h.author for h in catalog.history(start.path)] == ["ana"]
    assert pickle.loads(pickle.dumps(err)).current_version == err.current_version


def test_concurrent_edits_from_one_version_let_exactly_one_through(tmp_path: Path) -> None:
    with Catalog.open(f"sqlite:///{tmp_path}/c.db") as cat:
        add_tables(cat, "dwh", {"public.t": [("a", "int")]})
        start = cat.get("dwh/public/t").version
        outcomes: list[str] = []
        barrier = threading.Barrier(8)

        def edit(i: int) -> None:
            barrier.wait()
            try:
                cat.edit("dwh/public/t", author=f"u{i}", expected_version=start, description=str(i))
                outcomes.append("ok")
            except EditConflictError:
                outcomes.append("conflict")

        threads = [threading.Thread(target=edit, args=(i,)) for i in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert sorted(outcomes) == ["conflict"] * 7 + ["ok"]
        assert len(cat.history("dwh/public/t")) == 1


@pytest.mark.parametrize(
    ("kwargs", "said"),
    [
        ({"author": " "}, "needs an author"),
        ({"description": "x" * (MAX_DESCRIPTION + 1)}, "at most"),
        ({"tags": ["a,b"]}, "without commas"),
        ({"tags": [""]}, "1 to 64"),
    ],
)
def test_bad_edits_are_refused_with_the_reason(
    catalog: Catalog, kwargs: dict[str, object], said: str
) -> None:
    obj = catalog.get("dwh/public/orders")
    args: dict[str, object] = {"author": "ana", "expected_version": obj.version, **kwargs}
    with pytest.raises(CatalogError, match=said):
        catalog.edit(obj.path, **args)  # type: ignore[arg-type]
    assert catalog.get(obj.path).version == obj.version


def test_search_finds_names_and_descriptions_best_first(catalog: Catalog) -> None:
    hits = catalog.search("user")
    paths = [h.object.path for h in hits]
    # Objects named user... rank above those that only mention it in a path.
    assert paths[0] in {"dwh/public/users", "dwh/public/orders/user_id", "dwh/public/users/user_id"}
    assert "dwh/public/users" in paths and "dwh/public/orders/user_id" in paths
    assert hits == sorted(hits, key=lambda h: -h.score)
    refunds = catalog.search("refunds")
    assert [h.object.path for h in refunds] == ["dwh/public/orders"]
    assert "Refunds" in refunds[0].snippet


def test_search_finds_japanese_substrings(catalog: Catalog) -> None:
    # 売上金額 sits inside a run of kanji and kana: no word boundary around it.
    assert [h.object.path for h in catalog.search("売上金額")] == ["dwh/sales/daily_revenue"]
    assert [h.object.path for h in catalog.search("返品")] == ["dwh/sales/daily_revenue"]


def test_search_words_narrow_and_filters_apply(catalog: Catalog) -> None:
    assert [h.object.path for h in catalog.search("user email")] == ["dwh/public/users/email"]
    kinds = {h.object.kind for h in catalog.search("user", kind="table")}
    assert kinds == {"table"}
    assert catalog.search("user", warehouse="other") == []
    assert catalog.search("   ") == []
    with pytest.raises(CatalogError, match="not one of"):
        catalog.search("user", kind="row")


def test_search_follows_edits(catalog: Catalog) -> None:
    obj = catalog.get("dwh/public/users")
    assert catalog.search("zanzibar") == []
    catalog.edit(obj.path, author="a", expected_version=obj.version, description="zanzibar")
    assert [h.object.path for h in catalog.search("zanzibar")] == [obj.path]


def test_short_words_are_found_without_the_index(catalog: Catalog) -> None:
    assert catalog.search("id")[0].object.name in {"order_id", "user_id"}
    assert {h.object.path for h in catalog.search("税抜")} == {"dwh/sales/daily_revenue"}


def test_search_pages_through_hits_when_filters_leave_too_few(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tasuki.catalog import _search

    # Pages of two index hits: tables come first in the index, so the columns asked for
    # are found only on later pages.
    monkeypatch.setattr(_search, "_PAGE", 2)
    columns = catalog.search("user", kind="column", limit=5)
    assert {h.object.path for h in columns} == {
        "dwh/public/orders/user_id",
        "dwh/public/users/user_id",
        "dwh/public/users/email",
    }
    assert [h.object.path for h in catalog.search("user", limit=1)] == ["dwh/public/users"]


def test_an_object_named_exactly_as_typed_comes_first(catalog: Catalog) -> None:
    assert catalog.search("EMAIL")[0].object.path == "dwh/public/users/email"


def test_score_prefers_the_name_then_its_start_then_descriptions() -> None:
    from tasuki.catalog._search import score

    def row(name: str, kind: str = "column", description: str = "") -> tuple[object, ...]:
        return (1, f"dwh/s/t/{name}", kind, name, description, None)

    ranked = sorted(
        [
            row("total", description="sum of user spend"),
            row("the_user_key"),
            row("user_id"),
            row("user"),
        ],
        key=lambda r: -score(r, ["user"]),
    )
    assert [r[3] for r in ranked] == ["user", "user_id", "the_user_key", "total"]
    assert score(row("users", kind="table"), ["user"]) > score(row("users"), ["user"])
