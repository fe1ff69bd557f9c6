"""A recommender pipeline through the real ``tasuki`` command, as a team would use it.

Ratings are pulled from the warehouse by a ``QueryTask``, split, fed to one of two
interchangeable models (a task parameter), turned into recommendations that are evaluated and
appended to a warehouse table by a ``WriteTableTask``. The test builds it in two workspaces
sharing one warehouse, edits the code and the parameters, and checks after each step what ran
(the ``running`` log lines), what ``why`` said before, and the rows in the table: the
cached output is never wrong, and the append is never repeated.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests._services import postgres_url  # noqa: F401  (a fixture)

TASUKI = Path(sys.executable).parent / "tasuki"

TASKS = '''
"""Recommend items from ratings held in the warehouse."""
import tasuki
from tasuki.warehouse import QueryTask, WriteTableTask


class Split(tasuki.Task):
    warehouse: str
    test_ratio: float = 0.2

    def requires(self):
        return QueryTask(
            sql="SELECT user_id, item_id, rating FROM ratings",
            warehouse=self.warehouse,
            freshness=None,
            as_of="v1",
        )

    def output(self):
        return {
            "train": self.make_target("train.parquet"),
            "test": self.make_target("test.parquet"),
        }

    def run(self):
        df = self.load().to_pandas().sort_values(["user_id", "item_id"]).reset_index(drop=True)
        n_test = int(round(len(df) * self.test_ratio))
        self.dump(df.iloc[n_test:].reset_index(drop=True), "train")
        self.dump(df.iloc[:n_test].reset_index(drop=True), "test")


class Popular(tasuki.Task):
    split: Split

    def requires(self):
        return self.split

    def output(self):
        return self.make_target("ranking.pkl")

    def run(self):
        counts = self.load()["train"].groupby("item_id").size()
        self.dump(counts.sort_values(ascending=False, kind="stable").index.tolist())


class MeanRating(tasuki.Task):
    split: Split

    def requires(self):
        return self.split

    def output(self):
        return self.make_target("ranking.pkl")

    def run(self):
        means = self.load()["train"].groupby("item_id")["rating"].mean()
        self.dump(means.sort_values(ascending=False, kind="stable").index.tolist())


class Recommend(tasuki.Task):
    model: tasuki.Task
    split: Split
    top_k: int = 3

    def requires(self):
        return {"model": self.model, "split": self.split}

    def output(self):
        return self.make_target("recs.parquet")

    def run(self):
        import pandas as pd

        ranking = self.load("model")
        train = self.load("split")["train"]
        seen = train.groupby("user_id")["item_id"].apply(set).to_dict()
        rows = []
        for user in sorted(seen):
            picks = [i for i in ranking if i not in seen[user]][: self.top_k]
            rows += [(int(user), int(item), rank) for rank, item in enumerate(picks, 1)]
        self.dump(pd.DataFrame(rows, columns=["user_id", "item_id", "rank"]))


class Evaluate(tasuki.Task):
    recommend: Recommend

    def requires(self):
        return {"recs": self.recommend, "split": self.recommend.split}

    def output(self):
        return self.make_target("metrics.json")

    def run(self):
        recs = self.load("recs")
        test = self.load("split")["test"]
        hits = recs.merge(test, on=["user_id", "item_id"])
        self.dump({"hits": int(len(hits)), "recs": int(len(recs))})


class Report(tasuki.Task):
    warehouse: str
    model: str = "popular"
    test_ratio: float = 0.2
    top_k: int = 3

    def requires(self):
        split = Split(warehouse=self.warehouse, test_ratio=self.test_ratio)
        model = Popular(split=split) if self.model == "popular" else MeanRating(split=split)
        recs = Recommend(model=model, split=split, top_k=self.top_k)
        return {
            "metrics": Evaluate(recommend=recs),
            "published": WriteTableTask(
                data=recs, table="recs_log", warehouse=self.warehouse, mode="append"
            ),
        }

    def output(self):
        return self.make_target("report.json")

    def run(self):
        self.dump({"model": self.model, **self.load("metrics")})
'''

RATINGS = [
    (u, i, (u * 7 + i * 3) % 5 + 1) for u in range(1, 9) for i in range(1, 13) if (u + i) % 3
]

ALL_BUT_WRITE = {"QueryTask", "Split", "Popular", "Recommend", "Evaluate", "Report"}


PRIVILEGED = "?allow_privileged=true"


def _seed(url: str) -> None:
    rows = ", ".join(f"({u}, {i}, {r})" for u, i, r in RATINGS)
    ddl = "CREATE TABLE ratings (user_id INTEGER, item_id INTEGER, rating INTEGER)"
    if url.startswith("duckdb://"):
        import duckdb

        with duckdb.connect(url.removeprefix("duckdb://")) as con:
            con.execute(ddl)
            con.execute(f"INSERT INTO ratings VALUES {rows}")
    else:
        import psycopg

        with psycopg.connect(url, autocommit=True) as con:
            con.execute(ddl)
            con.execute(f"INSERT INTO ratings VALUES {rows}")


def _count(url: str, sql: str) -> int:
    if url.startswith("duckdb://"):
        import duckdb

        with duckdb.connect(url.removeprefix("duckdb://"), read_only=True) as con:
            return int(con.execute(sql).fetchone()[0])
    import psycopg

    # libpq does not know tasuki's allow_privileged parameter.
    with psycopg.connect(url.removesuffix(PRIVILEGED)) as con:
        return int(con.execute(sql).fetchone()[0])


@pytest.fixture(params=["duckdb", "postgresql"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "duckdb":
        url = f"duckdb://{tmp_path / 'dwh.duckdb'}"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    _seed(url)
    if url.startswith("postgresql://"):
        # One URL both reads (QueryTask) and writes (WriteTableTask) here, as the superuser
        # that made the database: the query path refuses it unless allowed explicitly.
        return url + PRIVILEGED
    return url


class Project:
    """The package on disk, and the command run from its folder."""

    def __init__(self, root: Path, warehouse: str) -> None:
        self.root = root
        self.warehouse = warehouse
        (root / "recpkg").mkdir()
        (root / "recpkg" / "__init__.py").write_text("")
        self.tasks = root / "recpkg" / "tasks.py"
        self.tasks.write_text(TASKS)

    def edit(self, old: str, new: str) -> None:
        text = self.tasks.read_text()
        assert old in text, old
        self.tasks.write_text(text.replace(old, new))

    def tasuki(self, *args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "PYTHONPATH": str(self.root),
            "PYTHONDONTWRITEBYTECODE": "1",  # edits land within a second
            "TASUKI_PROGRESS": "off",
        }
        proc = subprocess.run(
            [str(TASUKI), *args],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert proc.returncode in ok, (args, proc.returncode, proc.stdout, proc.stderr)
        return proc

    def run(self, ws: str, *params: str) -> set[str]:
        """Build the report in workspace ``ws``; the task classes that ran."""
        proc = self.tasuki(
            "run", "recpkg.tasks:Report", "--warehouse", self.warehouse, *params, "-w", ws
        )
        return set(re.findall(r"INFO running (\w+)\(", proc.stderr))

    def why(self, ws: str, *params: str) -> str:
        proc = self.tasuki(
            "why", "recpkg.tasks:Report", "--warehouse", self.warehouse, *params, "-w", ws
        )
        return proc.stdout

    def rows(self) -> int:
        return _count(self.warehouse, "SELECT count(*) FROM recs_log")


def test_the_pipeline_across_two_workspaces_code_and_parameter_changes(tmp_path, warehouse):
    project = Project(tmp_path, warehouse)
    a, b = str(tmp_path / "wsA"), str(tmp_path / "wsB")

    # 1. A cold build runs everything and appends the recommendations once.
    assert project.run(a) == ALL_BUT_WRITE | {"WriteTableTask"}
    rows = project.rows()
    assert rows > 10
    assert project.run(a) == set()

    # 2. A teammate's workspace: the table's lineage row makes the write complete there.
    said = project.why(b)
    cached = [line for line in said.splitlines() if line.startswith("Cached (complete):")]
    assert cached and "WriteTableTask[" in cached[0], said
    assert project.run(b) == ALL_BUT_WRITE
    assert project.rows() == rows  # not appended twice
    assert project.run(b) == set()

    # 3. The model's code changes: it and everything downstream of it rerun, nothing above.
    project.edit(
        'counts = self.load()["train"].groupby("item_id").size()',
        'counts = self.load()["train"].groupby("item_id")["rating"].sum()',
    )
    said = project.why(a)
    assert "the code of Popular changed" in said, said
    assert "['rating'].sum()" in said  # the diff of the normalised code (ast.unparse quotes)
    assert said.count("the code of Popular changed") == 1
    ran = project.run(a)
    assert ran == {"Popular", "Recommend", "Evaluate", "WriteTableTask", "Report"}
    assert project.rows() == rows  # the append for this id is not repeated
    assert project.run(a) == set()
    assert project.run(b) == {"Popular", "Recommend", "Evaluate", "Report"}

    # 4. Comments, docstrings and formatting only: nothing runs anywhere.
    project.edit(
        "    def run(self):\n        means",
        '    def run(self):\n        """Rank by mean rating."""  # the mean\n\n        means',
    )
    project.edit('"""Recommend items from ratings held in the warehouse."""', "# recommend")
    assert project.run(a) == set()
    assert project.run(b) == set()

    # 5. A parameter at the bottom: new ids from the split up, one cause in `why`, new rows.
    said = project.why(a, "--test-ratio", "0.3")
    assert said.count("'test_ratio'") == 1, said
    assert "0.2 -> 0.3" in said
    ran = project.run(a, "--test-ratio", "0.3")
    assert ran == ALL_BUT_WRITE - {"QueryTask"} | {"WriteTableTask"}
    second = project.rows()
    assert second > rows  # the new id's rows were appended

    # 6. Swap the model (a task parameter): the split is reused; the other model runs.
    ran = project.run(a, "--model", "mean")
    assert ran == {"MeanRating", "Recommend", "Evaluate", "WriteTableTask", "Report"}
    third = project.rows()
    assert third > second
    report = json.loads(
        project.tasuki(
            "show",
            project.tasuki(
                "run", "recpkg.tasks:Report", "--warehouse", warehouse, "--model", "mean", "-w", a
            ).stdout.split()[-1],
            "--json",
            "-w",
            a,
        ).stdout
    )
    assert report["params"]["model"] == "mean"

    # 7. Every output checks out byte for byte; damage is found, and a rerun repairs it.
    verify = project.tasuki("verify", "recpkg.tasks:Report", "--warehouse", warehouse, "-w", a)
    assert "WRONG" not in verify.stdout and "MISSING" not in verify.stdout
    for recs in Path(a).rglob("recs_*.parquet"):
        recs.write_bytes(recs.read_bytes()[:-10])
    broken = project.tasuki(
        "verify", "recpkg.tasks:Report", "--warehouse", warehouse, "-w", a, ok=(1,)
    )
    assert "WRONG SIZE" in broken.stdout and "Recommend" in broken.stdout
    ran = project.run(a, "--rerun", "Recommend")
    assert ran == {"Recommend", "Evaluate", "WriteTableTask", "Report"}
    assert project.rows() == third  # rebuilt, not appended again
    project.tasuki("verify", "recpkg.tasks:Report", "--warehouse", warehouse, "-w", a)
