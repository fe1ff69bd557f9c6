"""The ranking comparison page on real recommender tasks: lists, overlap, moves, metadata."""

from __future__ import annotations

import importlib
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

import tasuki
from tasuki.config import Settings
from tasuki.web._app import create_app
from tasuki.web._ranking_data import compare

# user 1: A ranks a b c d e f, B ranks c a f b g h; user 2 differs; "<x>" tests escaping.
_LISTS = {
    "pop": {1: ["a", "b", "c", "d", "e", "f"], 2: ["a", "b", "c", "d", "e", "f"]},
    "als": {1: ["c", "a", "f", "b", "g", "h"], 2: ["<x>", "a", "b"]},
}


class Recommender(tasuki.Task):
    algo: str
    k: int = 6

    def output(self) -> Any:
        return self.make_target("recs.pkl")

    def run(self) -> None:
        rows = [
            {"user": user, "item": item, "score": 1.0 - rank / 10, "rank": rank}
            for user, items in _LISTS[self.algo].items()
            for rank, item in enumerate(items[: self.k], start=1)
        ]
        self.dump(pd.DataFrame(rows))


class ScoredOnly(tasuki.Task):
    """A ranking with scores and no rank column (rank from the score)."""

    def output(self) -> Any:
        return self.make_target("scored.pkl")

    def run(self) -> None:
        self.dump(pa.table({"user": [1, 1, 1], "item": ["b", "c", "a"], "score": [0.5, 0.1, 0.9]}))


class ItemInfo(tasuki.Task):
    def output(self) -> Any:
        return self.make_target("items.pkl")

    def run(self) -> None:
        items = ["a", "b", "c", "d", "e", "f", "g", "h"]
        self.dump(
            pd.DataFrame(
                {"item": items, "title": [f"Title {i.upper()}" for i in items], "genre": "drama"}
            )
        )


class NotARanking(tasuki.Task):
    def output(self) -> Any:
        return self.make_target("plain.pkl")

    def run(self) -> None:
        self.dump([1, 2, 3])


@pytest.fixture
def site(tmp_path: Path) -> tuple[TestClient, Settings]:
    import duckdb

    wh = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(wh))
    con.execute("CREATE SCHEMA shop")
    con.execute("CREATE TABLE shop.items (item VARCHAR, title VARCHAR, price INTEGER)")
    con.execute(
        "INSERT INTO shop.items VALUES ('c', 'Warehouse C', 300), ('a', 'Warehouse A', 100)"
    )
    con.close()
    settings = Settings(
        workspace=str(tmp_path / "ws"),
        catalog=f"sqlite:///{tmp_path / 'catalog.db'}",
        executor="inline",
        progress="off",
        warehouses={"dwh": f"duckdb:///{wh}"},
    )
    tasuki.run_build(
        [Recommender(algo="pop"), Recommender(algo="als"), ItemInfo(), NotARanking(), ScoredOnly()],
        settings=settings,
    )
    return TestClient(create_app(settings, insecure_local=True)), settings


def _list(html: str, side: str) -> list[str]:
    table = html[html.index(f'class="ranking ranking-{side}"') :]
    table = table[: table.index("</table>")]
    return re.findall(r"<td><code>([^<]*)</code></td>", table)


def _ask(client: TestClient, **params: Any) -> Any:
    return client.get("/compare", params=params)


def test_two_top_n_lists_side_by_side_with_overlap_and_moves(
    site: tuple[TestClient, Settings],
) -> None:
    client, _ = site
    page = _ask(
        client,
        a=Recommender(algo="pop").unique_id[:12],
        b=Recommender(algo="als").unique_id,
        by="user",
        value="1",
        n=5,
    )
    assert page.status_code == 200, page.text
    html = page.text
    assert _list(html, "a") == ["a", "b", "c", "d", "e"]
    assert _list(html, "b") == ["c", "a", "f", "b", "g"]
    # Shared a, b, c of 7 distinct: Jaccard 3/7.
    assert "Overlap 3</strong> of 5" in html and "Jaccard 0.429" in html
    side_b = html[html.index('class="ranking ranking-b"') :]
    assert 'aria-label="up 2"' in side_b  # c: 3rd in A, 1st in B
    assert 'aria-label="down 1"' in side_b and 'aria-label="down 2"' in side_b  # a, b
    assert side_b.count(">new</span>") == 2  # f, g
    side_a = html[html.index('class="ranking ranking-a"') : html.index('class="ranking ranking-b"')]
    assert side_a.count(">not in B</span>") == 2  # d, e


def test_pick_by_family_and_parameters_and_say_what_is_ambiguous(
    site: tuple[TestClient, Settings],
) -> None:
    client, _ = site
    page = _ask(
        client, a="Recommender algo=pop", b=f"{__name__}:Recommender algo=als k=6", value="1", n=3
    )
    assert page.status_code == 200, page.text
    assert _list(page.text, "b") == ["c", "a", "f"]
    vague = _ask(client, a="Recommender", b="Recommender algo=als", value="1")
    assert vague.status_code == 400
    assert "matches 2 runs" in vague.text and "algo=pop" in vague.text and "algo=als" in vague.text
    unknown = _ask(client, a="Nope", b="Recommender algo=als", value="1")
    assert unknown.status_code == 400 and "no run record of a task" in unknown.text
    bad = _ask(client, a="Recommender algo", b="Recommender algo=als", value="1")
    assert bad.status_code == 400 and "write name=value" in bad.text


def test_compare_by_item_lists_users(site: tuple[TestClient, Settings]) -> None:
    client, _ = site
    page = _ask(client, a="Recommender algo=pop", b="Recommender algo=als", by="item", value="c")
    assert _list(page.text, "a") == ["1", "2"]  # 3rd for both users in A
    assert _list(page.text, "b") == ["1"]


def test_item_metadata_from_a_task_and_from_a_warehouse_table(
    site: tuple[TestClient, Settings],
) -> None:
    client, _ = site
    base = {"a": "Recommender algo=pop", "b": "Recommender algo=als", "value": "1", "n": 3}
    page = _ask(client, **base, meta="ItemInfo").text
    assert '<th scope="col">title</th>' in page and "Title C" in page and "drama" in page
    page = _ask(client, **base, meta_table="dwh:shop.items").text
    assert "Warehouse C" in page and "Warehouse A" in page and "<td>300</td>" in page
    wrong = _ask(client, **base, meta_table="nowhere:shop.items")
    assert wrong.status_code == 400 and "dwh" in wrong.text
    sneaky = _ask(client, **base, meta_table="dwh:shop.items; DROP TABLE x")
    assert sneaky.status_code == 400 and "plain names" in sneaky.text


def test_labels_are_escaped_and_a_score_alone_ranks(site: tuple[TestClient, Settings]) -> None:
    client, _ = site
    page = _ask(client, a="Recommender algo=pop", b="Recommender algo=als", value="2").text
    assert "<x>" not in page and "&lt;x&gt;" in page
    scored = _ask(client, a="ScoredOnly", b="Recommender algo=pop", value="1", n=3).text
    assert _list(scored, "a") == ["a", "b", "c"]  # by score, highest first


def test_bad_picks_are_explained(site: tuple[TestClient, Settings]) -> None:
    client, _ = site
    plain = _ask(client, a="NotARanking", b="Recommender algo=pop", value="1")
    assert plain.status_code == 400 and "no output table with the columns user, item" in plain.text
    typed = _ask(client, a="Recommender algo=pop", b="Recommender algo=als", value="alice")
    assert typed.status_code == 400 and "is not a value of the user column (int64)" in typed.text
    nobody = _ask(client, a="Recommender algo=pop", b="Recommender algo=als", value="99").text
    assert nobody.count("No rows for user") == 2
    assert _ask(client, a="x", b="y", value="1", n=0).status_code == 422
    form = _ask(client)
    assert form.status_code == 200 and 'name="a"' in form.text and "Overlap" not in form.text


def test_a_parquet_ranking_is_read_without_the_task_code_and_checked(
    site: tuple[TestClient, Settings], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, settings = site
    package = tmp_path / "code"
    package.mkdir()
    (package / "w3_gone_recs.py").write_text(
        textwrap.dedent(
            """
            import pandas as pd
            import tasuki

            class Gone(tasuki.Task):
                def output(self):
                    return self.make_target("recs.parquet")

                def run(self):
                    self.dump(pd.DataFrame({"user": [1, 1], "item": ["f", "a"], "rank": [1, 2]}))
            """
        )
    )
    monkeypatch.syspath_prepend(str(package))
    module = importlib.import_module("w3_gone_recs")
    task = module.Gone()
    tasuki.run_build(task, settings=settings)
    monkeypatch.delitem(sys.modules, "w3_gone_recs")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(package)])
    (package / "w3_gone_recs.py").unlink()
    page = _ask(client, a=task.unique_id, b="Recommender algo=pop", value="1", n=2)
    assert page.status_code == 200, page.text
    assert _list(page.text, "a") == ["f", "a"]
    # Bytes changed behind the record's back: refused, not shown.
    record = tasuki.RunRecord.read(client.app.state.store, task.unique_id)  # type: ignore[attr-defined]
    path = Path(settings.workspace) / record.outputs[0]["key"]
    path.write_bytes(path.read_bytes()[:-1] + b"\x00")
    from tasuki.web import _ranking_data

    _ranking_data._CACHE.clear()
    broken = _ask(client, a=task.unique_id, b="Recommender algo=pop", value="1", n=2)
    assert broken.status_code == 400 and "differs from its run record" in broken.text


def test_compare_counts_and_jaccard() -> None:
    a = pa.table({"user": ["u"] * 4, "item": ["p", "q", "r", "s"], "rank": [1, 2, 3, 4]})
    b = pa.table({"user": ["u"] * 4, "item": ["s", "r", "x", "p"], "rank": [1, 2, 3, 4]})
    result = compare(a, b, by="user", value="u", top_n=4)
    assert result.overlap == 3 and result.jaccard == pytest.approx(3 / 5)
    assert [(e.key, e.change, e.other_rank) for e in result.b] == [
        ("s", "up", 4),
        ("r", "up", 3),
        ("x", "new", None),
        ("p", "down", 1),
    ]
    assert result.dropped == ["q"]
    empty = compare(a, b, by="user", value="nobody", top_n=4)
    assert empty.a == [] and empty.jaccard == 1.0
