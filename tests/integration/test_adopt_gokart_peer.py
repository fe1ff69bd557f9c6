"""Side by side with the real gokart 1.12: a pipeline built by gokart (peer venv) is adopted
into tasuki, once through tasuki.compat (the same code, import lines changed) and once as
native tasks; a tasuki build then recomputes nothing and loads what gokart loads."""

from __future__ import annotations

import datetime
import importlib
import io
import json
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

import tasuki
from tasuki.compat._adopt import adopt_gokart
from tasuki.config import load_settings
from tasuki.core.graph import build_graph
from tasuki.core.records import RunRecord
from tasuki.formats import format_for
from tasuki.storage import open_store
from tests._gokart_peer import gokart_python, run_peer  # noqa: F401

GOKART = """
import pickle

import gokart
import luigi
import pandas as pd


def save_model(model, file_path):
    with open(file_path, "wb") as f:
        pickle.dump(model, f)


def load_model(file_path):
    with open(file_path, "rb") as f:
        return pickle.load(f)


class Load(gokart.TaskOnKart):
    n = luigi.IntParameter(default=5)

    def run(self):
        self.dump(pd.DataFrame({"a": list(range(self.n)), "b": [f"s{i}" for i in range(self.n)]}))


class Scale(gokart.TaskOnKart):
    data = gokart.TaskInstanceParameter()
    factor = luigi.FloatParameter(default=2.5)
    batch = luigi.IntParameter(default=100, significant=False)

    def output(self):
        return self.make_target("features/scaled.csv")

    def run(self):
        df = self.load("data")
        self.dump(df.assign(c=df["a"] * self.factor))


class Fit(gokart.TaskOnKart):
    features = gokart.TaskInstanceParameter()

    def output(self):
        return self.make_model_target(
            "model/fit.zip", save_function=save_model, load_function=load_model
        )

    def run(self):
        df = self.load("features")
        self.dump({"mean": float(df["c"].mean()), "rows": len(df)})


class Report(gokart.TaskOnKart):
    day = luigi.DateParameter()
    tags = luigi.ListParameter(default=("x", "y"))

    def requires(self):
        scaled = Scale(data=Load())
        return {"model": Fit(features=scaled), "scaled": scaled, "raw": Load(n=3)}

    def output(self):
        return {
            "summary": self.make_target("report/summary.txt"),
            "table": self.make_target("report/table.parquet"),
            "meta": self.make_target("report/meta.pkl"),
            "fast": self.make_target("report/fast.feather"),
        }

    def run(self):
        model = self.load("model")
        scaled = self.load("scaled")
        raw = self.load("raw")
        self.dump(f"{self.day} mean={model['mean']}", "summary")
        self.dump(scaled, "table")
        self.dump({"tags": list(self.tags), "raw_rows": len(raw)}, "meta")
        self.dump(raw.set_index("b"), "fast")

class Big(gokart.TaskOnKart):
    rows = luigi.IntParameter(default=1000)

    def output(self):
        return self.make_large_data_frame_target("big/frame.zip", max_byte=2000)

    def run(self):
        rows = range(self.rows)
        self.dump(pd.DataFrame({"i": list(rows), "f": [i / 7 for i in rows]}))
"""

NATIVE = """
from __future__ import annotations

import datetime
import pickle
from pathlib import Path
from typing import Any

import tasuki


def save_model(model, file_path):
    with open(file_path, "wb") as f:
        pickle.dump(model, f)


def load_model(file_path):
    with open(file_path, "rb") as f:
        return pickle.load(f)


def _save(model: Any, folder: Path) -> None:
    save_model(model, str(folder / "model.pkl"))


def _load(folder: Path) -> Any:
    return load_model(str(folder / "model.pkl"))


class Load(tasuki.Task):
    n: int = 5

    def output(self):
        return self.make_target(f"{type(self).__name__}.pkl")

    def run(self):
        import pandas as pd

        self.dump(pd.DataFrame({"a": list(range(self.n)), "b": [f"s{i}" for i in range(self.n)]}))


class Scale(tasuki.Task):
    data: tasuki.Task
    factor: float = 2.5
    batch: int = tasuki.param(default=100, significant=False)

    def requires(self):
        return {"data": self.data}

    def output(self):
        return self.make_target("features/scaled.csv")

    def run(self):
        df = self.load("data")
        self.dump(df.assign(c=df["a"] * self.factor))


class Fit(tasuki.Task):
    features: tasuki.Task

    def requires(self):
        return {"features": self.features}

    def output(self):
        return self.make_model_target("model/fit.zip", save_function=_save, load_function=_load)

    def run(self):
        df = self.load("features")
        self.dump({"mean": float(df["c"].mean()), "rows": len(df)})


class Report(tasuki.Task):
    day: datetime.date
    tags: tuple[Any, ...] = ("x", "y")

    def requires(self):
        scaled = Scale(data=Load())
        return {"model": Fit(features=scaled), "scaled": scaled, "raw": Load(n=3)}

    def output(self):
        return {
            "summary": self.make_target("report/summary.txt"),
            "table": self.make_target("report/table.parquet"),
            "meta": self.make_target("report/meta.pkl"),
            "fast": self.make_target("report/fast.feather"),
        }

    def run(self):
        model = self.load("model")
        scaled = self.load("scaled")
        raw = self.load("raw")
        self.dump(f"{self.day} mean={model['mean']}", "summary")
        self.dump(scaled, "table")
        self.dump({"tags": list(self.tags), "raw_rows": len(raw)}, "meta")
        self.dump(raw.set_index("b"), "fast")

def _save_frame(frame: Any, folder: Path) -> None:
    frame.to_parquet(folder / "data.parquet")


def _load_frame(folder: Path) -> Any:
    import pandas as pd

    return pd.read_parquet(folder / "data.parquet")


class Big(tasuki.Task):
    rows: int = 1000

    def output(self):
        return self.make_model_target(
            "big/frame.zip", save_function=_save_frame, load_function=_load_frame
        )

    def run(self):
        import pandas as pd

        rows = range(self.rows)
        self.dump(pd.DataFrame({"i": list(rows), "f": [i / 7 for i in rows]}))
"""

# The tasks of the pipeline, built the same way in gokart's module and in tasuki's (``m``).
TASKS = """{
    "report": m.Report(day=datetime.date(2024, 5, 6)),
    "fit": m.Fit(features=m.Scale(data=m.Load())),
    "scaled": m.Scale(data=m.Load()),
    "load": m.Load(),
    "raw": m.Load(n=3),
}"""
BIG = "m.Big()"

NORMALISE = """
def norm(v):
    import pandas as pd
    if isinstance(v, pd.DataFrame):
        return {"frame": json.loads(v.to_json(orient="split")), "index": v.index.name,
                "dtypes": [str(t) for t in v.dtypes]}
    if isinstance(v, dict):
        return {k: norm(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [norm(x) for x in v]
    return v
"""

PEER = f"""
import datetime, importlib, json, logging, sys
import gokart, luigi
luigi.configuration.get_config().set("TaskOnKart", "workspace_directory", "./gokart-ws/")
{NORMALISE}
m = importlib.import_module("gk_pipe")
tasks = {TASKS}
gokart.build(tasks["report"], log_level=logging.ERROR)
big = {BIG}
gokart.build(big, log_level=logging.ERROR)
# gokart's text files, for the byte-for-byte claim of tasuki's .txt adoption
gokart.target.make_target("./text-proof/one.txt").dump("line 1\\nline 2 \\u3042")
gokart.target.make_target("./text-proof/lines.txt").dump(["a", "b c", ""])
print(json.dumps({{
    "ids": {{k: t.make_unique_id() for k, t in tasks.items()}},
    # gokart joins the chunks in glob order (the file system's); the frame it dumped is
    # the chunks in number order, which is what sorting the index gives back here.
    "big": [big.make_unique_id(), norm(big.output().load().sort_index())],
    "values": {{k: norm(t.output().load())
               if not isinstance(t.output(), dict)
               else {{n: norm(o.load()) for n, o in t.output().items()}}
               for k, t in tasks.items()}},
}}, default=str))
"""


@pytest.fixture(scope="module")
def gokart_run(gokart_python: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:  # noqa: F811
    """The pipeline built by the real gokart: its workspace, ids and loaded values."""
    folder = tmp_path_factory.mktemp("gokart-run")
    (folder / "gk_pipe.py").write_text(GOKART)
    result: dict[str, Any] = run_peer(gokart_python, PEER, cwd=folder)
    result["workspace"] = folder / "gokart-ws"
    result["folder"] = folder
    return result


def _norm(value: Any) -> Any:
    namespace: dict[str, Any] = {"json": json}
    exec(NORMALISE, namespace)
    return json.loads(json.dumps(namespace["norm"](value), default=str))


def _compat(source: str) -> str:
    """The gokart code with its import lines changed to tasuki.compat."""
    source = source.replace("import gokart\n", "import tasuki.compat.gokart as gokart\n")
    return source.replace("import luigi\n", "import tasuki.compat.luigi as luigi\n")


def _import(folder: Path, source: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    folder.mkdir()
    (folder / "gk_pipe.py").write_text(source)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, "gk_pipe", raising=False)
    importlib.invalidate_caches()
    module = importlib.import_module("gk_pipe")
    tasks: dict[str, Any] = eval(TASKS, {"m": module, "datetime": datetime})
    return tasks


def _side_by_side(gokart_run: dict[str, Any], tasks: dict[str, Any], tmp_path: Path) -> None:
    from tasuki.compat._gokart_id import GokartIds

    ids = GokartIds()
    assert {k: ids.unique_id(t) for k, t in tasks.items()} == gokart_run["ids"]
    settings = load_settings({"workspace": str(tmp_path / "tasuki-ws"), "progress": "off"})
    root = tasks["report"]
    report = adopt_gokart(root, gokart_run["workspace"], settings=settings)
    assert report.counts() == {"adopted": 5}, "\n".join(report.lines())
    # Outputs and gokart's per-task logs belong to their task; Big's are another pipeline's.
    big_id = gokart_run["big"][0]
    assert report.unmatched
    assert all(big_id in path for path in report.unmatched), report.unmatched
    result = tasuki.build(root, settings=settings, executor="inline", return_value=False)
    assert [r for r in result.results.values() if r.status == "ran"] == []
    assert result.results[root.unique_id].status == "cached"
    store = open_store(settings.workspace)
    for name, task in tasks.items():
        record = RunRecord.read(store, task.unique_id)
        assert record.adopted is not None
        assert record.adopted["gokart_unique_id"] == gokart_run["ids"][name]
        value = tasuki.load(task, store=store)
        if name == "report" and isinstance(value["summary"], str):
            # A native task's .txt loads as one str where gokart's reader (and compat's
            # target) gives the lines; the bytes are gokart's (test below).
            value = {**value, "summary": value["summary"].splitlines()}
        assert _norm(value) == gokart_run["values"][name], name
    # Text goes across byte for byte (tasuki's .txt and compat's gokart processors alike).
    record = RunRecord.read(store, root.unique_id)
    (summary,) = [f for f in record.adopted["files"] if f.startswith("report/summary_")]
    (key,) = [o["key"] for o in record.outputs if "/report/summary_" in o["key"]]
    assert store.read_bytes(key) == (gokart_run["workspace"] / summary).read_bytes()
    # Every task of the graph is complete now, not just the root.
    assert len(build_graph([root])) == 5


def test_compat_pipeline_adopts_gokarts_workspace(
    gokart_run: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("tasuki.compat.gokart", reason="the compat layer has not landed yet")
    tasks = _import(tmp_path / "compat", _compat(GOKART), monkeypatch)
    _side_by_side(gokart_run, tasks, tmp_path)


def test_native_pipeline_adopts_gokarts_workspace(
    gokart_run: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tasks = _import(tmp_path / "native", NATIVE, monkeypatch)
    _side_by_side(gokart_run, tasks, tmp_path)


def test_tasuki_text_format_writes_gokarts_bytes(gokart_run: dict[str, Any]) -> None:
    # Why .txt outputs are copied byte for byte: for a str and for a list of str, tasuki's
    # .txt format writes exactly the bytes gokart's TextFileProcessor wrote.
    proof = gokart_run["folder"] / "text-proof"
    fmt = format_for("x.txt")
    for name, value in (("one.txt", "line 1\nline 2 \u3042"), ("lines.txt", ["a", "b c", ""])):
        buffer = io.BytesIO()
        fmt.dump(value, buffer)
        assert buffer.getvalue() == (proof / name).read_bytes(), name


def test_gokart_workspace_on_s3(
    gokart_run: dict[str, Any],
    s3_workspace: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # gokart teams keep workspaces in object storage: the same files, read from s3://.
    bucket = open_store(s3_workspace)
    local: Path = gokart_run["workspace"]
    for path in local.rglob("*"):
        if path.is_file():
            bucket.write_bytes(path.relative_to(local).as_posix(), path.read_bytes())
    tasks = _import(tmp_path / "native-s3", NATIVE, monkeypatch)
    settings = load_settings({"workspace": str(tmp_path / "tasuki-ws"), "progress": "off"})
    report = adopt_gokart(tasks["report"], s3_workspace, settings=settings)
    assert report.counts() == {"adopted": 5}, "\n".join(report.lines())
    assert report.gokart_workspace == s3_workspace
    store = open_store(settings.workspace)
    assert _norm(tasuki.load(tasks["scaled"], store=store)) == gokart_run["values"]["scaled"]


@pytest.mark.parametrize("kind", ["compat", "native"])
def test_large_data_frame_target(
    kind: str, gokart_run: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # gokart keeps a large frame as pickled chunks in a zip; the tasuki target has its own
    # layout, so the chunks are joined in order and written through the target.
    if kind == "compat":
        pytest.importorskip("tasuki.compat.gokart", reason="the compat layer has not landed yet")
    _import(tmp_path / kind, _compat(GOKART) if kind == "compat" else NATIVE, monkeypatch)
    big = eval(BIG, {"m": sys.modules["gk_pipe"]})
    gid, value = gokart_run["big"]
    (archive,) = gokart_run["workspace"].rglob("frame_*.zip")
    assert gid in archive.name
    assert len(zipfile.ZipFile(archive).namelist()) > 2  # several chunks
    settings = load_settings({"workspace": str(tmp_path / "tasuki-ws"), "progress": "off"})
    report = adopt_gokart(big, gokart_run["workspace"], settings=settings)
    assert report.counts() == {"adopted": 1}, "\n".join(report.lines())
    assert _norm(tasuki.load(big, store=open_store(settings.workspace))) == value
