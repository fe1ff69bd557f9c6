"""A run reads only what its task requires, and ``rerun=`` names tasks of the build.

What a run read decides whether its output is still good: the runner builds a task's
requirements first and runs it again when one of their outputs changes. ``self.load(task)``
of a task that is not a requirement escaped both (the output was made from whatever the
workspace held, and kept after it changed), so it is refused, naming both tasks and the fix.
``rerun=`` that names no task of the build (a typo, a class object, a bare string) used to
rerun nothing, silently, and hand back the cached output as if it were new.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import tasuki
from tasuki.errors import TaskError, TaskFailedError


class Note(tasuki.Task):
    """What a file says when it runs."""

    path: str

    def output(self):
        return self.make_target("note.pkl")

    def run(self):
        self.dump(Path(self.path).read_text())


class ReadsWithoutRequiring(tasuki.Task):
    path: str

    def output(self):
        return self.make_target("unrequired.pkl")

    def run(self):
        self.dump(self.load(Note(path=self.path)).upper())


class ReadsItsRequirement(tasuki.Task):
    """gokart's ``self.load(TaskA())``: a new value equal to a requirement."""

    path: str

    def requires(self):
        return {"note": Note(path=self.path)}

    def output(self):
        return self.make_target("required.pkl")

    def run(self):
        self.dump(self.load(Note(path=self.path)).upper())


class ReadsAParameter(tasuki.Task):
    note: Note
    required: bool = True

    def requires(self):
        return [self.note] if self.required else None

    def output(self):
        return self.make_target("param.pkl")

    def run(self):
        self.dump(self.load(self.note) + "!")


class ReadsTwoDeep(tasuki.Task):
    """Loads its requirement's requirement: a change there may leave the middle's bytes
    alone (an early cut-off), so what it read would go unchecked."""

    path: str

    def requires(self):
        return ReadsItsRequirement(path=self.path)

    def output(self):
        return self.make_target("two_deep.pkl")

    def run(self):
        self.dump(self.load(Note(path=self.path)))


class ReadsThroughTheNotebookApi(tasuki.Task):
    """``tasuki.load`` / ``tasuki.load_output`` inside ``run()``: the same rule."""

    path: str
    by_id: bool = False
    required: bool = False

    def requires(self):
        return Note(path=self.path) if self.required else None

    def output(self):
        return self.make_target("notebook_api.pkl")

    def run(self):
        note = Note(path=self.path)
        value = tasuki.load_output(note.unique_id) if self.by_id else tasuki.load(note)
        self.dump(value.upper())


class Shout(tasuki.Task):
    path: str

    def requires(self):
        return Note(path=self.path)

    def output(self):
        return self.make_target("shout.pkl")

    def run(self):
        self.dump(self.load().upper())


class ReadsThroughAnotherTask(tasuki.Task):
    """``Shout(...).load()`` inside its run(): reads Shout's requirement, Note."""

    path: str
    require_note: bool = False

    def requires(self):
        shout = Shout(path=self.path)
        return [shout, Note(path=self.path)] if self.require_note else shout

    def output(self):
        return self.make_target("through.pkl")

    def run(self):
        self.dump(Shout(path=self.path).load() + "?")


@pytest.fixture
def note(tmp_path):
    path = tmp_path / "note.txt"
    path.write_text("first")
    return path


def _build(task, ws, **kw):
    kw.setdefault("executor", "inline")
    return tasuki.build(task, workspace=str(ws), progress="off", **kw)


@pytest.mark.parametrize("executor", ["inline", "local"])
def test_loading_a_task_that_is_not_required_is_refused_and_names_both(tmp_path, note, executor):
    ws = tmp_path / "ws"
    _build(Note(path=str(note)), ws)  # there to be read: still refused
    with pytest.raises(TaskFailedError) as err:
        _build(ReadsWithoutRequiring(path=str(note)), ws, executor=executor)
    message = str(err.value)
    assert "ReadsWithoutRequiring.load(" in message
    assert "Note[" in message and "requires()" in message
    assert tasuki.load(Note(path=str(note)), workspace=str(ws)) == "first"
    with pytest.raises(FileNotFoundError):  # nothing half-done was kept
        tasuki.load(ReadsWithoutRequiring(path=str(note)), workspace=str(ws))


def test_a_requirement_or_a_required_parameter_loads_and_follows_changes(tmp_path, note):
    ws = tmp_path / "ws"
    assert _build(ReadsItsRequirement(path=str(note)), ws) == "FIRST"
    assert _build(ReadsAParameter(note=Note(path=str(note))), ws) == "first!"
    note.write_text("second")
    _build(Note(path=str(note)), ws, rerun=[Note])
    assert _build(ReadsItsRequirement(path=str(note)), ws) == "SECOND"
    assert _build(ReadsAParameter(note=Note(path=str(note))), ws) == "second!"


def test_a_parameter_task_that_is_not_required_is_refused(tmp_path, note):
    ws = tmp_path / "ws"
    _build(Note(path=str(note)), ws)
    with pytest.raises(TaskFailedError, match=r"ReadsAParameter\.load\(.*Note\["):
        _build(ReadsAParameter(note=Note(path=str(note)), required=False), ws)


def test_a_requirement_of_a_requirement_is_not_this_tasks_to_read(tmp_path, note):
    ws = tmp_path / "ws"
    with pytest.raises(TaskFailedError, match=r"ReadsTwoDeep\.load\(.*Note\["):
        _build(ReadsTwoDeep(path=str(note)), ws)


@pytest.mark.parametrize("by_id", [False, True], ids=["load", "load_output"])
def test_the_notebook_functions_inside_a_run_follow_the_same_rule(tmp_path, note, by_id):
    ws = tmp_path / "ws"
    _build(Note(path=str(note)), ws)
    with pytest.raises(TaskFailedError, match=r"ReadsThroughTheNotebookApi\.load\(.*Note\["):
        _build(ReadsThroughTheNotebookApi(path=str(note), by_id=by_id), ws)
    task = ReadsThroughTheNotebookApi(path=str(note), by_id=by_id, required=True)
    assert _build(task, ws, executor="local") == "FIRST"  # in a worker process too


@pytest.mark.parametrize(
    "how",
    ["class name", "module:Class", "unique id", "class", "task value", "one string"],
)
def test_rerun_names_a_task_every_way(tmp_path, note, how):
    ws = tmp_path / "ws"
    task = ReadsItsRequirement(path=str(note))
    assert _build(task, ws) == "FIRST"
    note.write_text("second")
    named = {
        "class name": ["Note"],
        "module:Class": [Note.task_name()],
        "unique id": [Note(path=str(note)).unique_id],
        "class": [Note],
        "task value": [Note(path=str(note))],
        "one string": "Note",
    }[how]
    result = _build(task, ws, rerun=named, return_value=False)
    assert sorted(r.name.rpartition(":")[2] for r in result.by_status("ran")) == [
        "Note",
        "ReadsItsRequirement",
    ]
    assert tasuki.load(task, workspace=str(ws)) == "SECOND"


@pytest.mark.parametrize("named", [["Nope"], ["note"], [ReadsTwoDeep], "Nope", [42], 7])
def test_rerun_that_names_no_task_of_the_build_fails_before_anything_runs(tmp_path, note, named):
    ws = tmp_path / "ws"
    task = ReadsItsRequirement(path=str(note))
    _build(task, ws)
    note.write_text("second")
    with pytest.raises(TaskError, match=r"rerun=") as err:
        _build(task, ws, rerun=named)
    first = named[0] if isinstance(named, list) else named
    if isinstance(first, str | type):
        assert "names no task of this build" in str(err.value)
        assert "Note" in str(err.value) and "ReadsItsRequirement" in str(err.value)
    assert tasuki.load(task, workspace=str(ws)) == "FIRST"  # nothing ran


def test_run_on_the_command_line_with_a_rerun_that_names_nothing_exits_2(tmp_path, note):
    from typer.testing import CliRunner

    from tasuki.cli import app

    ws = str(tmp_path / "ws")
    name = f"{__name__}:ReadsItsRequirement"
    args = ["--workspace", ws, "--path", str(note), "--progress", "off"]
    runner = CliRunner()
    assert runner.invoke(app, ["run", name, *args]).exit_code == 0
    note.write_text("second")
    typo = runner.invoke(app, ["run", name, *args, "--rerun", "Noet"])
    assert typo.exit_code == 2, typo.output
    assert "rerun='Noet' names no task of this build" in typo.output
    assert runner.invoke(app, ["run", name, *args, "--rerun", "Note"]).exit_code == 0
    assert tasuki.load(ReadsItsRequirement(path=str(note)), workspace=ws) == "SECOND"


class LoadsAList(tasuki.Task):
    path: str

    def requires(self):
        return {"note": Note(path=self.path)}

    def output(self):
        return self.make_target("a_list.pkl")

    def run(self):
        self.dump(self.load([Note(path=self.path)]))


def test_load_of_something_else_than_a_name_or_a_task_says_what_it_takes(tmp_path, note):
    with pytest.raises(TaskFailedError, match=r"LoadsAList\.load\(\[Note\(.*got a list"):
        _build(LoadsAList(path=str(note)), tmp_path / "ws")


def test_another_tasks_load_inside_a_run_reads_under_the_same_rule(tmp_path, note):
    ws = tmp_path / "ws"
    with pytest.raises(TaskFailedError, match=r"ReadsThroughAnotherTask\.load\(.*Note\["):
        _build(ReadsThroughAnotherTask(path=str(note)), ws)
    assert _build(ReadsThroughAnotherTask(path=str(note), require_note=True), ws) == "first?"


class LoadsWithoutRequirements(tasuki.Task):
    def output(self):
        return self.make_target("nothing.pkl")

    def run(self):
        self.dump(self.load())


def test_load_in_a_task_that_requires_nothing_says_so_instead_of_giving_none(tmp_path):
    # It used to hand back None, which was dumped and cached as the task's output.
    with pytest.raises(TaskFailedError, match=r"requires nothing.*return the task"):
        tasuki.build(LoadsWithoutRequirements(), workspace=tmp_path, progress="off")
