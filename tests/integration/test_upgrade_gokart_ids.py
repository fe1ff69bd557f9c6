"""The converted module's tasks have the unique ids (and output keys) of the same code run
through ``tasuki.compat.gokart``: caches built before the conversion carry over.

The sample module is written twice as the same module name, once with the compat imports
and once converted by ``tasuki upgrade-gokart``; each is imported in a process of its own,
which prints the ids of the same task instances.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("libcst", reason="the codemod needs libcst (pip install tasuki[gokart])")

from tasuki.compat._codemod import upgrade_source

SAMPLE = textwrap.dedent(
    '''\
    """Tasks with every kind of parameter the ids depend on."""

    import datetime
    import enum

    import tasuki.compat.gokart as gokart
    import tasuki.compat.luigi as luigi


    class Color(enum.Enum):
        RED = "red"
        BLUE = "blue"


    class Source(gokart.TaskOnKart):
        name = luigi.Parameter(default="src")
        day = luigi.DateParameter(default=datetime.date(2024, 1, 31))
        size = luigi.IntParameter(default=3)
        rate = luigi.FloatParameter(default=1)
        workers = luigi.IntParameter(default=2, significant=False, description="threads")
        tag = luigi.Parameter(default=None)
        count = luigi.Parameter(default=7)

        def run(self):
            self.dump(self.size)


    class Features(gokart.TaskOnKart):
        source = gokart.TaskInstanceParameter(expected_type=Source)
        columns = luigi.ListParameter(default=["a", "b"])
        options = luigi.DictParameter(default={"k": 1})
        when = luigi.DateSecondParameter(default=datetime.datetime(2024, 1, 1, 12, 30))
        month = luigi.MonthParameter(default=datetime.date(2024, 2, 1))
        wait = luigi.TimeDeltaParameter(default=datetime.timedelta(hours=1))
        color = luigi.EnumParameter(enum=Color, default=Color.RED)
        colors = luigi.EnumListParameter(enum=Color, default=[Color.BLUE])
        flag = luigi.BoolParameter()
        note = luigi.OptionalParameter()
        limit = luigi.OptionalIntParameter(default=5)
        pick = luigi.ChoiceParameter(choices=["x", "y"], default="x")

        def run(self):
            self.dump(self.load())


    class SubFeatures(Features):
        extra = luigi.Parameter(default="c")
        verbose = luigi.BoolParameter(significant=False)


    class Merge(gokart.TaskOnKart):
        inputs = gokart.ListTaskInstanceParameter()
        first = gokart.TaskInstanceParameter()

        def run(self):
            self.dump(self.load())


    class Report(gokart.TaskOnKart):
        size = luigi.IntParameter(default=4)

        def requires(self):
            return {"a": Source(), "b": [Source(size=self.size), Source(name="other")]}

        def output(self):
            return self.make_target("report/summary.pkl")

        def run(self):
            self.dump(self.load())


    class Namespaced(gokart.TaskOnKart):
        task_namespace = "ns"
        level = luigi.IntParameter(default=1)

        def output(self):
            return self.make_target()
    '''
)

PRINT_IDS = textwrap.dedent(
    """\
    import datetime
    import json
    import sys

    sys.path.insert(0, sys.argv[1])
    import idsample as m

    source = m.Source()
    cases = [
        source,
        m.Source(name="x", workers=9),
        m.Source(day=datetime.date(2020, 1, 1), rate=2.5, tag="t", count=8),
        m.Features(source=source),
        m.Features(
            source=m.Source(size=4),
            columns=("x",),
            options={"k": 2, "z": [1, 2]},
            when=datetime.datetime(2020, 5, 6, 7, 8, 9),
            wait=datetime.timedelta(days=2),
            color=m.Color.BLUE,
            colors=(m.Color.RED, m.Color.BLUE),
            flag=True,
            note="hello",
            limit=None,
            pick="y",
        ),
        m.SubFeatures(source=source),
        m.SubFeatures(source=source, extra="d", verbose=True),
        m.Merge(inputs=(source, m.Source(size=5)), first=source),
        m.Merge(inputs=(), first=m.Features(source=source)),
        m.Report(),
        m.Report(size=7),
        m.Namespaced(level=2),
    ]
    print(json.dumps([[type(t).__name__, t.unique_id, t.output().key] for t in cases]))
    """
)


def _ids(folder: Path, script: Path) -> list[list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TASUKI_", "LUIGI_"))}
    done = subprocess.run(
        [sys.executable, str(script), str(folder)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_converted_tasks_keep_the_compat_unique_ids(tmp_path: Path) -> None:
    converted = upgrade_source(SAMPLE, "idsample.py")
    assert not converted.notes, converted.notes
    assert "tasuki.compat" not in converted.code
    script = tmp_path / "print_ids.py"
    script.write_text(PRINT_IDS)
    for name, code in (("compat", SAMPLE), ("native", converted.code)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "idsample.py").write_text(code)
    compat = _ids(tmp_path / "compat", script)
    native = _ids(tmp_path / "native", script)
    assert len(compat) == 12
    assert len({uid for _, uid, _ in compat}) == 12  # the cases differ from each other
    assert native == compat


BUILD = textwrap.dedent(
    """\
    import sys

    sys.path.insert(0, sys.argv[1])
    import idsample as m
    import tasuki

    source = m.Source()
    roots = [
        m.Report(),
        m.Merge(inputs=(source, m.Source(size=5)), first=source),
        m.SubFeatures(source=m.Source(size=6), extra="z"),
    ]
    if sys.argv[3] == "keep":  # the converted module: its outputs were built by compat
        from tasuki.compat._codemod_keep import keep_outputs

        settings = tasuki.load_settings({"workspace": sys.argv[2]})
        before = sorted({k.status for k in keep_outputs(roots, settings)})
        after = sorted({k.status for k in keep_outputs(roots, settings, write=True)})
        print(repr((before, after)))
    built = tasuki.build(roots, workspace=sys.argv[2], executor="inline", return_value=False)
    statuses = sorted({r.status for r in built.results.values()})
    values = tasuki.build(roots, workspace=sys.argv[2], executor="inline")
    print(repr((statuses, len(built.results), values)))
    """
)


def test_outputs_built_through_compat_are_kept_for_the_converted_module(tmp_path: Path) -> None:
    """Build with the compat module, convert, keep the outputs (``--keep-outputs``: the ids
    are the same but the code changed), build with the converted module on the same
    workspace: nothing runs again, and the values are the same."""
    converted = upgrade_source(SAMPLE, "idsample.py").code
    script = tmp_path / "build.py"
    script.write_text(BUILD)
    workspace = tmp_path / "ws"
    outputs = []
    for name, code, mode in (("compat", SAMPLE, "build"), ("native", converted, "keep")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "idsample.py").write_text(code)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TASUKI_", "LUIGI_"))}
        done = subprocess.run(
            [sys.executable, str(script), str(tmp_path / name), str(workspace), mode],
            cwd=tmp_path / name,
            env={**env, "TASUKI_PROGRESS": "off"},
            capture_output=True,
            text=True,
            check=False,
            timeout=180,
        )
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout.strip().splitlines())
    (compat,), (kept, native) = outputs
    assert "'cached'" not in compat.split("]")[0]  # the compat build computed everything
    # Same ids and keys, other code: every record would be re-keyed, then all were.
    assert kept == "(['would_rekey'], ['rekeyed'])"
    # The converted build ran nothing: the roots were cached (so their upstream not needed).
    assert native.startswith("(['cached', 'not_needed'], 8, ")
    assert native.split(", 8, ", 1)[1] == compat.split(", 8, ", 1)[1]  # the same values
