"""``tasuki datasets new NAME``: a builder module, its test and small sample data.

For ``product_a/clicks`` in ``DIR`` it writes::

    DIR/product_a_clicks.py               the builder and the task reading the sample
    DIR/product_a_clicks_data/sample.csv  20 rows of sample data
    DIR/tests/test_product_a_clicks.py    builds and publishes to a temporary registry

The generated test passes as it is (tasuki's own tests run it), so a team starts from green
and replaces the sample task with its ``QueryTask``.
"""

from __future__ import annotations

import os
from pathlib import Path

from tasuki.datasets._info import check_name
from tasuki.errors import ConfigError

__all__ = ["class_name", "dotted_module", "module_name", "scaffold"]

_BUILDER = '''"""The {name} dataset: {title}.

Build and publish it with ``tasuki datasets build {name}`` once the entry point below is in
your package's pyproject.toml (or call ``tasuki.datasets.build({cls})``)::

    [project.entry-points."tasuki.datasets"]
    "{entry}" = "{dotted}:{cls}"
"""

from __future__ import annotations

from pathlib import Path

import tasuki
from tasuki.datasets import DatasetBuilder

SAMPLE = Path(__file__).parent / "{module}_data" / "sample.csv"


class SampleRows(tasuki.Task):
    """Reads the sample CSV. Replace it with the task that pulls the real rows, such as
    ``QueryTask(sql="SELECT ... FROM ...", warehouse="dwh")``."""

    part: int
    parts: int = 2

    def requires(self):
        # A file as a task whose id is its bytes: an edited sample rebuilds, and a checkout
        # in another folder (the path is not part of the id) finds the rows cached.
        return tasuki.FileInput(path=str(SAMPLE), as_="path")

    def output(self):
        return self.make_target("rows.parquet")

    def run(self):
        import pyarrow as pa
        import pyarrow.csv

        table = pyarrow.csv.read_csv(self.load())
        # Partition ``part`` of ``parts`` by user: every row in exactly one partition.
        users = table["user_id"].to_pylist()
        self.dump(table.filter(pa.array([u % self.parts == self.part for u in users])))


class {cls}(DatasetBuilder):
    name = "{name}"
    VERSION = "1.0.0"
    RELEASE_NOTES = {{"1.0.0": "First release, from the sample data."}}
    description = """{title}.

Say here what one row is, where the rows come from, and what to watch out for."""
    columns = {{
        "user_id": "Who (an opaque id).",
        "item_id": "What they interacted with.",
        "score": "How much (0 to 1).",
        "label": "1 when the interaction converted, else 0.",
    }}

    def splits(self):
        parts = [SampleRows(part=p) for p in range(2)]
        return {{"train": parts[0], "test": parts[1]}}
'''

_TEST = '''"""Builds {name} from its sample data into a temporary registry."""

import json

import pyarrow.parquet as pq

import tasuki.datasets
from {dotted} import {cls}


def test_{func}_builds_and_publishes(tmp_path):
    registry = tmp_path / "registry"
    info = tasuki.datasets.build(
        {cls},
        registry=str(registry),
        workspace=str(tmp_path / "ws"),
        executor="inline",
        progress="off",
    )
    assert info.version == {cls}.VERSION
    assert sum(info.rows.values()) == 20
    assert set(info.rows) == {{"train", "test"}}
    assert list(info.columns) == ["user_id", "item_id", "score", "label"]
    assert all(column.doc for column in info.columns.values())
    published = registry / "datasets" / "{name}" / info.config / info.version
    assert json.loads((published / "dataset_info.json").read_text())["version"] == info.version
    shards = registry / "datasets" / "{name}" / info.config / "shards"
    rows = sum(
        pq.read_metadata(shards / s.hash[:2] / f"{{s.hash}}.parquet").num_rows
        for split in info.splits.values()
        for s in split.shards
    )
    assert rows == 20
    # The same content again publishes nothing new.
    again = tasuki.datasets.build(
        {cls}, registry=str(registry), workspace=str(tmp_path / "ws"), executor="inline",
        progress="off",
    )
    assert again.content_hash == info.content_hash
'''


def _sample() -> str:
    lines = ["user_id,item_id,score,label"]
    for i in range(20):
        lines.append(f"{i},{(i * 7) % 11},{(i * 37 % 100) / 100:.2f},{int(i % 3 == 0)}")
    return "\n".join(lines) + "\n"


def module_name(name: str) -> str:
    """The module a builder of dataset ``name`` is scaffolded as (``product_a_clicks``)."""
    return name.replace("/", "_")


def class_name(name: str) -> str:
    """The builder class scaffolded for dataset ``name`` (``ProductAClicks``)."""
    return "".join(part.capitalize() for part in module_name(name).split("_") if part) or (
        "Dataset"
    )


def dotted_module(name: str, path: str | os.PathLike[str]) -> str:
    """The import path of the builder module scaffolded into folder ``path``: inside a
    package (folders with ``__init__.py``), the package's dotted path, else the module
    alone (importable only with ``path`` on ``sys.path``)."""
    parts = [module_name(name)]
    folder = Path(path).resolve()
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts)


def scaffold(name: str, path: str | os.PathLike[str] = ".") -> list[Path]:
    """Write a builder module, its test and sample data for dataset ``name`` into ``path``.

    Returns:
        The files written.

    Raises:
        ConfigError: ``name`` is not a dataset name, or a file to write exists already
            (nothing is written then).
    """
    check_name(name)
    module, cls = module_name(name), class_name(name)
    root = Path(path)
    files = {
        root / f"{module}.py": _BUILDER,
        root / f"{module}_data" / "sample.csv": None,
        root / "tests" / f"test_{module}.py": _TEST,
    }
    existing = [str(p) for p in files if p.exists()]
    if existing:
        raise ConfigError(
            f"tasuki datasets new {name}: {', '.join(existing)} exist(s) already; choose "
            "another --path or remove them",
            dataset=name,
            existing=existing,
        )
    values = {
        "name": name,
        "module": module,
        "cls": cls,
        "func": module,
        "dotted": dotted_module(name, root),
        "entry": name.replace("/", "."),
        "title": name.replace("/", " ").replace("_", " ").capitalize(),
    }
    for file, template in files.items():
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(_sample() if template is None else template.format(**values))
    return list(files)
