"""``tasuki upgrade-gokart`` on a 200-class gokart module (issue 16: <= 5 s).

    .venv/bin/python benchmarks/run.py upgrade_gokart [--quick] [--repeat N]

The module is generated: 200 ``TaskOnKart`` classes in chains of 10 (each class takes the
previous one as a ``TaskInstanceParameter``), with int / float / str / bool / date / list /
dict / optional / insignificant parameters, ``requires()`` on some, ``output()`` with
``make_target`` on others, ``load_data_frame(required_columns={...})`` in ``run()``, and every
10th a subclass of the class before it. Each repeat converts the text (parse, rewrite,
imports, code generation: what the command does per file, without the diff and the disk),
timed in wall and CPU seconds. A check that every class converted comes with each repeat, and
once at the end the unique ids: the module as gokart code on ``tasuki.compat`` and the
converted module, each imported as ``generated`` in its own process, the 200 tasks made in a
chain; the verdict needs every id equal (so the caches carry over).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from tasuki.compat._codemod import upgrade_source  # noqa: E402

TARGET_S = 5.0
CLASSES = 200


def _task(i: int) -> str:
    """One class of the module; ``i % 10`` picks its shape."""
    shape = i % 10
    base = f"Task{i - 1}" if shape == 9 else "gokart.TaskOnKart"
    lines = [f"class Task{i}({base}):", f'    """Step {i} of the pipeline."""', ""]
    if shape == 9:  # a subclass: one more parameter, everything else inherited
        lines.append(f'    suffix = luigi.Parameter(default="s{i}")')
        return "\n".join(lines) + "\n"
    lines += [
        f"    size = luigi.IntParameter(default={i})",
        f'    name = luigi.Parameter(default="task-{i}", description="what step {i} is called")',
        "    rate = luigi.FloatParameter(default=0.5, significant=False)",
        "    day = luigi.DateParameter(default=datetime.date(2024, 1, 1))",
        '    columns = luigi.ListParameter(default=["a", "b", "c"])',
        '    options = luigi.DictParameter(default={"k": 1})',
        "    enabled = luigi.BoolParameter()",
        "    limit = luigi.OptionalIntParameter()",
    ]
    if shape:
        lines.append(f"    upstream = gokart.TaskInstanceParameter(expected_type=Task{i - 1})")
    lines.append("")
    if shape in (1, 3, 5):
        lines += ["    def requires(self):", "        return self.upstream", ""]
    if shape % 2:
        lines += [
            "    def output(self):",
            f'        return self.make_target("step{i}/out.pkl")',
            "",
        ]
    if shape:
        lines += [
            "    def run(self):",
            '        df = self.load_data_frame(required_columns={"a", "b"})',
            "        self.dump(df.assign(size=self.size))  # keep the size",
        ]
    else:
        lines += [
            "    def run(self):",
            "        self.dump(pd.DataFrame({c: [1, 2] for c in self.columns}))",
        ]
    return "\n".join(lines) + "\n"


def make_module(classes: int = CLASSES) -> str:
    """A gokart module of ``classes`` task classes."""
    head = '"""Generated gokart pipeline."""\n\nimport datetime\n\nimport gokart\nimport luigi\n'
    head += "import pandas as pd\n"
    return head + "".join(f"\n\n{_task(i)}" for i in range(classes))


_IDS = """
import json, generated
tasks = []
for i in range({classes}):
    cls = getattr(generated, f"Task{{i}}")
    spec = cls.param_specs().get("upstream")
    kw = {{}}
    if spec is not None:  # the latest task of the class it takes (a subclass takes the one before)
        kw["upstream"] = next(t for t in reversed(tasks) if type(t) is spec.annotation)
    tasks.append(cls(**kw))
print(json.dumps([t.unique_id for t in tasks]))
"""


def same_ids(source: str, converted: str) -> int:
    """How many of the module's tasks have the same unique id as gokart code on
    tasuki.compat and once converted (each module imported as ``generated``)."""
    compat = source.replace(
        "import gokart\nimport luigi\n",
        "import tasuki.compat.gokart as gokart\nimport tasuki.compat.luigi as luigi\n",
    )
    ids = []
    with tempfile.TemporaryDirectory() as scratch:
        for name, text in (("compat", compat), ("native", converted)):
            folder = Path(scratch) / name
            folder.mkdir()
            (folder / "generated.py").write_text(text)
            out = subprocess.run(
                [sys.executable, "-c", _IDS.format(classes=CLASSES)],
                cwd=folder,
                capture_output=True,
                text=True,
                check=True,
            )
            ids.append(json.loads(out.stdout))
    return sum(a == b for a, b in zip(*ids, strict=True))


def run(quick: bool = False, repeat: int = 3) -> list[dict[str, Any]]:
    """Rows per repeat, the median, then the verdict."""
    source = make_module()
    repeat = max(repeat, 1 if quick else 3)
    rows: list[dict[str, Any]] = []
    walls: list[float] = []
    cpus: list[float] = []
    for r in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = upgrade_source(source, "generated.py")
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        converted = sum(c.converted for c in result.classes)
        if converted != CLASSES or result.notes:
            raise RuntimeError(f"{converted}/{CLASSES} converted; notes: {result.notes[:3]}")
        walls.append(wall)
        cpus.append(cpu)
        rows.append(
            {
                "case": f"repeat {r + 1}",
                "classes": CLASSES,
                "lines in": source.count("\n"),
                "lines out": result.code.count("\n"),
                "wall s": wall,
                "CPU s": cpu,
            }
        )
    same = same_ids(source, result.code)
    median = statistics.median(walls)
    rows.append(
        {
            "case": "median",
            "classes": CLASSES,
            "wall s": median,
            "CPU s": statistics.median(cpus),
        }
    )
    ok = median <= TARGET_S and same == CLASSES
    rows.append(
        {
            "case": "verdict",
            "verdict": f"{CLASSES} classes converted in {median:.2f} s (median of {repeat}), "
            f"{same}/{CLASSES} unique ids the same as on tasuki.compat: "
            + ("met" if ok else "NOT met"),
        }
    )
    return rows


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
