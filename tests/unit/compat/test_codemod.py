"""The gokart codemod on source text: parameters, methods, imports, what it leaves alone."""

from __future__ import annotations

import importlib
import sys
import textwrap

import pytest

pytest.importorskip("libcst", reason="the codemod needs libcst (pip install tasuki[gokart])")

from tasuki.compat._codemod import COMMENT, upgrade_source
from tasuki.errors import ConfigError

HEAD = "import gokart\nimport luigi\n\n\n"


def convert(body: str, head: str = HEAD) -> str:
    return upgrade_source(head + textwrap.dedent(body), "m.py").code


def class_body(code: str, name: str) -> str:
    """The lines of class ``name`` (up to the next top-level statement)."""
    lines = code.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith(f"class {name}("))
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i] and not lines[i][0].isspace()),
        len(lines),
    )
    return "\n".join(lines[start:end]).rstrip()


@pytest.mark.parametrize(
    ("declared", "field"),
    [
        ('x = luigi.Parameter(default="a")', 'x: str = "a"'),
        ("x = luigi.Parameter(default=None)", "x: str | None = None"),
        ("x = luigi.Parameter(default=-2)", "x: int = -2"),
        ("x = luigi.Parameter(default=0.5)", "x: float = 0.5"),
        ("x = luigi.Parameter(default=[1])", "x: list[Any] = [1]"),
        ("x = luigi.Parameter(default=DEFAULT)", "x: Any = DEFAULT"),
        ("x = luigi.IntParameter(default=None)", "x: int | None = None"),
        ("x = luigi.OptionalIntParameter(default=None)", "x: int | None = None"),
        ("x = luigi.Parameter()", "x: str"),
        ("x = luigi.IntParameter(3)", "x: int = 3"),
        ("x = luigi.FloatParameter(default=0.5)", "x: float = 0.5"),
        ("x = luigi.BoolParameter()", "x: bool = False"),
        ("x = gokart.ExplicitBoolParameter(default=True)", "x: bool = True"),
        (
            "x = luigi.BoolParameter(parsing=luigi.BoolParameter.EXPLICIT_PARSING)",
            "x: bool = False",
        ),
        ("x = luigi.DateParameter()", "x: datetime.date"),
        ("x = luigi.MonthParameter()", "x: datetime.date"),
        ("x = luigi.DateSecondParameter()", "x: datetime.datetime"),
        ("x = gokart.ZonedDateSecondParameter()", "x: datetime.datetime"),
        ("x = luigi.TimeDeltaParameter()", "x: datetime.timedelta"),
        ("x = luigi.PathParameter()", "x: pathlib.Path"),
        ("x = luigi.ListParameter(default=[1, 2])", "x: tuple[Any, ...] = (1, 2)"),
        ("x = luigi.ListParameter(default=[1])", "x: tuple[Any, ...] = (1,)"),
        ("x = luigi.ListParameter(default=[])", "x: tuple[Any, ...] = ()"),
        ("x = luigi.TupleParameter(default=COLS)", "x: tuple[Any, ...] = tuple(COLS)"),
        ("x = luigi.DictParameter(default={})", "x: dict[str, Any] = {}"),
        ("x = luigi.EnumParameter(enum=Color)", "x: Color"),
        (
            "x = luigi.EnumListParameter(enum=Color, default=[Color.RED])",
            "x: tuple[Color, ...] = (Color.RED,)",
        ),
        ('x = luigi.ChoiceParameter(choices=["a", "b"], default="a")', 'x: str = "a"'),
        ("x = luigi.ChoiceParameter(choices=[1, 2], var_type=int)", "x: int"),
        ("x = luigi.NumericalParameter(var_type=float, min_value=0, max_value=1)", "x: float"),
        ("x = luigi.OptionalParameter()", "x: str | None = None"),
        ('x = luigi.OptionalStrParameter(default="a")', 'x: str | None = "a"'),
        ("x = luigi.OptionalIntParameter()", "x: int | None = None"),
        ("x = luigi.OptionalListParameter(default=[1])", "x: tuple[Any, ...] | None = (1,)"),
        ("x = gokart.TaskInstanceParameter()", "x: tasuki.Task"),
        ("x = gokart.TaskInstanceParameter(expected_type=Up)", "x: Up"),
        ("x = gokart.TaskInstanceParameter(Up)", "x: Up"),
        ("x = gokart.ListTaskInstanceParameter()", "x: tuple[tasuki.Task, ...]"),
        (
            "x = gokart.ListTaskInstanceParameter(expected_elements_type=Up)",
            "x: tuple[Up, ...]",
        ),
        (
            "x = luigi.IntParameter(default=3, significant=False)",
            "x: int = tasuki.param(default=3, significant=False)",
        ),
        ("x = luigi.IntParameter(significant=True)", "x: int"),
        (
            'x = luigi.IntParameter(description="n", positional=False)',
            'x: int = tasuki.param(description="n")',
        ),
        ("x = luigi.IntParameter(default=1, description=None)", "x: int = 1"),
        ("x: int = luigi.IntParameter(default=1)", "x: int = 1"),
        ("x: luigi.IntParameter = luigi.IntParameter(default=1)", "x: int = 1"),
        ("x: gokart.TaskOnKart[int] = gokart.TaskInstanceParameter()", "x: tasuki.Task"),
    ],
)
def test_parameters_become_annotated_fields(declared: str, field: str) -> None:
    head = "import datetime\nimport pathlib\nfrom typing import Any\n" + HEAD
    code = convert(
        f"""
        class Up(gokart.TaskOnKart):
            pass


        class A(gokart.TaskOnKart):
            {declared}
        """,
        head,
    )
    assert f"    {field}\n" in code, code
    assert COMMENT not in code


def test_multi_line_options_keep_their_layout_and_comments() -> None:
    code = convert(
        """
        class A(gokart.TaskOnKart):
            \"\"\"Doc.\"\"\"

            # how fast it learns
            lr = luigi.FloatParameter(
                default=0.1,
                description="learning rate",  # per step
            )  # trailing
            n = luigi.IntParameter(default=2,   significant=False)

            def run(self) -> None:
                x  =  1  # odd spacing stays
                self.dump(x)
        """
    )
    assert class_body(code, "A") == textwrap.dedent(
        """\
        class A(tasuki.Task):
            \"\"\"Doc.\"\"\"

            # how fast it learns
            lr: float = tasuki.param(
                default=0.1,
                description="learning rate",  # per step
            )  # trailing
            n: int = tasuki.param(default=2,   significant=False)

            def output(self) -> tasuki.FileTarget:
                return self.make_target(f"{type(self).__name__}.pkl")

            def run(self) -> None:
                x  =  1  # odd spacing stays
                self.dump(x)"""
    )


@pytest.mark.parametrize(
    ("head", "base"),
    [
        ("import gokart\n", "gokart.TaskOnKart"),
        ("import gokart\n", "gokart.TaskOnKart[int]"),
        ("from gokart import TaskOnKart\n", "TaskOnKart"),
        ("from gokart import TaskOnKart as Kart\n", "Kart"),
        ("from gokart.task import TaskOnKart\n", "TaskOnKart"),
        ("import tasuki.compat.gokart as gokart\n", "gokart.TaskOnKart"),
        ("import tasuki.compat.gokart as gk\n", "gk.TaskOnKart"),
        ("from tasuki.compat.gokart import TaskOnKart\n", "TaskOnKart"),
        ("from tasuki.compat import gokart\n", "gokart.TaskOnKart"),
    ],
)
def test_every_import_form_of_taskonkart_is_found_and_its_import_removed(
    head: str, base: str
) -> None:
    code = upgrade_source(f"{head}\n\nclass A({base}):\n    pass\n", "m.py").code
    assert "class A(tasuki.Task):\n    pass\n" in code
    assert "TaskOnKart" not in code
    assert code.startswith("import tasuki\n")


def test_subclasses_in_the_module_are_converted_and_inherit_output() -> None:
    code = convert(
        """
        class Base(gokart.TaskOnKart):
            a = luigi.IntParameter(default=1)


        class Child(Base):
            b = luigi.Parameter()
        """
    )
    assert class_body(code, "Child") == "class Child(Base):\n    b: str"
    assert code.count("def output") == 1


def test_requires_is_added_for_task_parameters_as_compat_defines_it() -> None:
    code = convert(
        """
        class Up(gokart.TaskOnKart):
            pass


        class A(gokart.TaskOnKart):
            up = gokart.TaskInstanceParameter(expected_type=Up)
            many = gokart.ListTaskInstanceParameter()


        class B(A):
            more = gokart.TaskInstanceParameter()


        class C(B):
            n = luigi.IntParameter(default=1)


        class D(gokart.TaskOnKart):
            up = gokart.TaskInstanceParameter()

            def requires(self):
                return self.up


        class E(gokart.TaskOnKart):
            up = gokart.TaskInstanceParameter()
        """
    )
    # compat leaves out empty task lists and returns None when nothing is left
    assert (
        "    def requires(self) -> dict[str, Any] | None:\n"
        '        tasks = {"up": self.up, "many": self.many}\n'
        "        return {k: v for k, v in tasks.items() if v != ()} or None\n"
    ) in class_body(code, "A")
    assert 'tasks = {"up": self.up, "many": self.many, "more": self.more}' in class_body(code, "B")
    assert (
        '    def requires(self) -> dict[str, Any]:\n        return {"up": self.up}'
        in class_body(code, "E")
    )
    assert "def requires" not in class_body(code, "C")  # B's covers every task parameter
    assert class_body(code, "D").count("def requires") == 1  # the user's own
    assert "from typing import Any" in code


def test_a_forward_task_type_is_quoted_without_future_annotations() -> None:
    code = convert(
        """
        class A(gokart.TaskOnKart):
            up = gokart.TaskInstanceParameter(expected_type=Later)


        class Later(gokart.TaskOnKart):
            pass
        """
    )
    assert "    up: 'Later'\n" in code
    future = convert(
        """
        class A(gokart.TaskOnKart):
            up = gokart.TaskInstanceParameter(expected_type=Later)


        class Later(gokart.TaskOnKart):
            pass
        """,
        "from __future__ import annotations\n" + HEAD,
    )
    assert "    up: Later\n" in future


def test_gokart_calls_become_their_tasuki_form() -> None:
    code = convert(
        """
        class A(gokart.TaskOnKart[int]):
            def output(self) -> gokart.TargetOnKart:
                return self.make_target(relative_file_path="a/b.pkl", use_unique_id=True)

            def run(self) -> None:
                df = self.load_data_frame("x", {"a", "b"}, drop_columns=True)
                cols = {"c"}
                self.load_data_frame(required_columns=cols)
                self.dump(df, target="out")


        class B(gokart.TaskOnKart):
            def output(self):
                return {"m": self.make_target(), "n": self.make_target("n.csv")}
        """
    )
    body = class_body(code, "A")
    assert "def output(self) -> tasuki.Target:" in body
    assert 'return self.make_target("a/b.pkl")' in body
    assert 'self.load_data_frame("x", required_columns=["a", "b"], drop_columns=True)' in body
    assert "self.load_data_frame(required_columns=list(cols))" in body
    assert 'self.dump(df, "out")' in body
    assert (
        'return {"m": self.make_target(f"{type(self).__name__}.pkl"), '
        '"n": self.make_target("n.csv")}' in class_body(code, "B")
    )


@pytest.mark.parametrize(
    ("snippet", "reason"),
    [
        (
            "def output(self):\n    return self.make_target('a.pkl', use_unique_id=False)",
            "use_unique_id=False",
        ),
        ("def output(self):\n    return self.make_target('a.pkl', processor=P())", "processor="),
        (
            "def output(self):\n    return self.make_large_data_frame_target('a')",
            "make_large_data_frame_target",
        ),
        ("def run(self):\n    self.dump(self.load(self.input()))", "self.input"),
        ("def run(self):\n    print(self.output().path())", "path() on a target"),
        ("def __init__(self, *a, **k):\n    super().__init__(*a, **k)", "__init__ override"),
        (
            "x = luigi.DateIntervalParameter()",
            "unknown Parameter class luigi.DateIntervalParameter",
        ),
        ("x = MyParameter(default=1)", "unknown Parameter class MyParameter"),
        ("x = luigi.IntParameter(config_path=dict(section='s', name='n'))", "config_path="),
        ("x = luigi.PathParameter(exists=True)", "exists="),
        ("def run(self):\n    yield Other()\n    self.dump(1)", "run() yields"),
        ("workspace_directory = './w'", "sets workspace_directory"),
        (
            "def run(self):\n    luigi.configuration.get_config()",
            "uses luigi.configuration.get_config",
        ),
        ("def run(self):\n    self.dump(1, custom_labels={'a': 1})", "custom_labels"),
        ("version = luigi.IntParameter(default=1)", "'version': tasuki.Task uses this name"),
        ("rerun = luigi.BoolParameter(default=True)", "'rerun': tasuki.Task uses this name"),
        ("redis_host = luigi.Parameter(default='h')", "'redis_host' redeclares a gokart setting"),
    ],
)
def test_what_cannot_convert_is_left_untouched_with_a_comment(snippet: str, reason: str) -> None:
    body = textwrap.indent(snippet, "    ")
    source = f"{HEAD}class A(gokart.TaskOnKart):\n{body}\n"
    result = upgrade_source(source, "m.py")
    assert (
        result.code
        == f"{HEAD}{COMMENT} {result.notes[0].reason}\nclass A(gokart.TaskOnKart):\n{body}\n"
    )
    assert reason in result.notes[0].reason
    assert (result.notes[0].path, result.notes[0].line, result.notes[0].cls) == ("m.py", 5, "A")


def test_luigi_tasks_and_subclasses_of_untouched_classes_are_left_with_a_comment() -> None:
    result = upgrade_source(
        HEAD
        + "class L(luigi.Task):\n    pass\n\n\n"
        + "class A(gokart.TaskOnKart):\n    def __init__(self):\n        pass\n\n\n"
        + "class B(A):\n    pass\n",
        "m.py",
    )
    reasons = {n.cls: n.reason for n in result.notes}
    assert "base luigi.Task has no tasuki form" in reasons["L"]
    assert "its base A is not converted" in reasons["B"]
    assert "import gokart\nimport luigi\n" in result.code
    assert not result.code.count("tasuki.Task")


def test_imports_added_once_and_foreign_ones_kept_only_when_used() -> None:
    code = convert(
        """
        class A(gokart.TaskOnKart):
            d = luigi.DateParameter(default=date(2020, 1, 1))
            t = luigi.TimeDeltaParameter()


        class B(gokart.TaskOnKart):
            pass


        if __name__ == "__main__":
            gokart.build(A())
        """,
        '"""Doc."""\n\n# imports\nfrom datetime import date\n\n' + HEAD,
    )
    assert code.startswith(
        '"""Doc."""\n\n# imports\nfrom datetime import date\nimport datetime\n\nimport gokart\n'
        "import tasuki\n\n\n"
    )
    assert "    d: date = date(2020, 1, 1)\n    t: datetime.timedelta\n" in code
    assert "import luigi" not in code  # nothing uses it any more


def test_an_existing_datetime_class_import_is_used_not_shadowed() -> None:
    code = convert(
        "class A(gokart.TaskOnKart):\n    d = luigi.DateParameter()\n"
        "    s = luigi.DateSecondParameter()\n",
        "from datetime import datetime\n" + HEAD,
    )
    assert "import datetime as datetime_" in code
    assert "    d: datetime_.date\n    s: datetime\n" in code


def test_converting_twice_changes_nothing_more() -> None:
    source = HEAD + textwrap.dedent(
        """\
        class A(gokart.TaskOnKart):
            a = luigi.IntParameter(default=1)
            up = gokart.TaskInstanceParameter()


        class Bad(gokart.TaskOnKart):
            def __init__(self):
                pass
        """
    )
    once = upgrade_source(source, "m.py").code
    twice = upgrade_source(once, "m.py")
    assert twice.code == once
    assert once.count(COMMENT) == 1


def test_nothing_to_convert_leaves_the_text_as_is() -> None:
    source = "import os\n\n\nclass A:\n    x = 1\n"
    result = upgrade_source(source, "m.py")
    assert not result.changed
    assert result.classes == [] and result.notes == []


def test_a_file_that_does_not_parse_names_file_line_and_column() -> None:
    with pytest.raises(ConfigError) as err:
        upgrade_source("import gokart\n\nx = = 1\n", "pkg/bad.py")
    assert str(err.value).startswith("pkg/bad.py:3:")
    assert "cannot parse:" in str(err.value)
    assert err.value.line == 3


def test_model_target_adapters_load_the_same_model(tmp_path, monkeypatch) -> None:
    """gokart's save/load functions take ``<tmp>/model.pkl``; the adapters give them that
    file inside tasuki's model folder, and the model comes back equal."""
    import tasuki

    source = textwrap.dedent(
        """\
        import pickle

        import gokart


        def save(model, path):
            assert path.endswith("/model.pkl"), path
            with open(path, "wb") as fh:
                pickle.dump(model, fh)


        def load(path):
            with open(path, "rb") as fh:
                return pickle.load(fh)


        class Fit(gokart.TaskOnKart):
            def output(self):
                return self.make_model_target("model.zip", save_function=save, load_function=load)

            def run(self):
                self.dump({"weights": [1.5, 2.5]})
        """
    )
    result = upgrade_source(source, "codemod_model.py")
    assert not result.notes, result.notes
    (tmp_path / "codemod_model.py").write_text(result.code)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        module = importlib.import_module("codemod_model")
        got = tasuki.build(module.Fit(), workspace=str(tmp_path / "ws"), executor="inline")
    finally:
        sys.modules.pop("codemod_model", None)
    assert got == {"weights": [1.5, 2.5]}


def test_an_extension_gokart_reads_otherwise_converts_with_a_note_above_the_class() -> None:
    result = upgrade_source(
        HEAD + "class A(gokart.TaskOnKart):\n    def output(self):\n"
        '        return {"t": self.make_target("a/b.csv"), "p": self.make_target("c.pkl")}\n',
        "m.py",
    )
    assert result.code.count("# tasuki upgrade-gokart: note: make_target(....csv)") == 1
    assert "class A(tasuki.Task):" in result.code
    assert [(n.cls, n.converted) for n in result.notes] == [("A", True)]
    assert str(result.notes[0]).startswith("m.py:5: A converted; check: make_target(....csv)")


def test_a_model_target_keeps_its_argument_layout() -> None:
    code = convert(
        """
        class A(gokart.TaskOnKart):
            def output(self):
                return self.make_model_target(
                    relative_file_path="m.zip",
                    save_function=Model.save,  # one
                    load_function=lambda p: Model.load(p),
                    use_unique_id=True,
                )
        """
    )
    assert class_body(code, "A").endswith(
        """\
        return self.make_model_target(
            name="m.zip",
            save_function=lambda obj, folder: Model.save(obj, str(folder / "model.pkl")),  # one
            load_function=lambda folder: (lambda p: Model.load(p))(str(folder / "model.pkl")),
        )"""
    )


def test_a_class_on_another_gokart_base_names_it() -> None:
    result = upgrade_source(HEAD + "class C(gokart.PandasTypeConfig):\n    pass\n", "m.py")
    assert result.notes[0].reason == (
        "base gokart.PandasTypeConfig has no tasuki form; convert by hand"
    )


def test_names_of_methods_parameters_and_keywords_are_not_uses_of_imports() -> None:
    code = convert(
        """
        class A(gokart.TaskOnKart):
            def requires(self):
                return B(inherits=1)

            def run(self, requires=None):
                self.dump(self.requires())


        @requires(A)
        class C(gokart.TaskOnKart):
            pass
        """,
        "from luigi.util import inherits, requires\n" + HEAD,
    )
    assert "class A(tasuki.Task):" in code
    assert f"{COMMENT} uses luigi.util.requires\n@requires(A)\nclass C(" in code
