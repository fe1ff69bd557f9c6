"""luigi .ini defaults, --Task-param flags and gokart.run: values, precedence and bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import tasuki.compat.gokart as gokart
import tasuki.compat.luigi as luigi
from tasuki.compat._build import run
from tasuki.errors import ConfigError, ParameterError


class CfgTask(gokart.TaskOnKart):
    text = luigi.Parameter(default="class")
    n = luigi.IntParameter(default=1)
    day = luigi.DateParameter(default=None)

    def run(self) -> None:
        self.dump(f"{self.text}-{self.n}-{self.day}")


class CfgRoot(gokart.TaskOnKart):
    tag = luigi.Parameter(default="root")

    def requires(self) -> Any:
        return CfgTask()

    def run(self) -> None:
        self.dump(self.load() + "/" + self.tag)


def _ini(tmp_path: Path, text: str, name: str = "param.ini") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_ini_values_are_defaults_for_every_construction(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DAY", "2024-03-04")
    gokart.add_config(_ini(tmp_path, "[CfgTask]\ntext = ini\nn = 5\nday = ${DAY}\n"))
    task = CfgTask()
    assert (task.text, task.n, str(task.day)) == ("ini", 5, "2024-03-04")
    assert CfgTask(n=2).n == 2  # code beats the file
    assert gokart.build(CfgRoot()) == "ini-5-2024-03-04/root"  # made inside requires() too


def test_taskonkart_section_sets_gokart_parameters(tmp_path: Path) -> None:
    gokart.add_config(_ini(tmp_path, f"[TaskOnKart]\nworkspace_directory = {tmp_path}/ws\n"))
    assert CfgTask().workspace_directory == f"{tmp_path}/ws"
    gokart.build(CfgTask())
    assert list((tmp_path / "ws").rglob("CfgTask_*.pkl"))


def test_luigi_cfg_in_the_working_folder_and_get_config_set(tmp_path: Path) -> None:
    _ini(tmp_path, "[CfgTask]\nn = 9\n", name="luigi.cfg")
    luigi.configuration.LuigiConfigParser.reload()
    assert CfgTask().n == 9
    luigi.configuration.get_config().set("CfgTask", "n", "10")
    assert CfgTask().n == 10


def test_a_value_of_the_wrong_type_names_file_section_and_key(tmp_path: Path) -> None:
    path = _ini(tmp_path, "[CfgTask]\nn = five\n")
    gokart.add_config(path)
    with pytest.raises(ConfigError) as err:
        CfgTask()
    message = str(err.value)
    assert str(path) in message and "[CfgTask]" in message and "n = 'five'" in message
    assert "IntParameter" in message and err.value.key == "n"


def test_an_unknown_section_or_key_is_refused_at_build(tmp_path: Path) -> None:
    path = _ini(tmp_path, "[CfgTsk]\nn = 5\n")
    gokart.add_config(path)
    with pytest.raises(ConfigError) as err:
        gokart.build(CfgTask())
    assert str(path) in str(err.value) and "[CfgTsk]" in str(err.value)
    assert "did you mean [CfgTask]" in str(err.value)
    luigi.configuration.LuigiConfigParser.reload()
    gokart.add_config(_ini(tmp_path, "[CfgTask]\ncount = 5\n", name="b.ini"))
    with pytest.raises(ConfigError, match=r"\[CfgTask\] count: .*no parameter 'count'"):
        gokart.build(CfgTask())


def test_luigi_sections_are_not_tasks(tmp_path: Path) -> None:
    gokart.add_config(_ini(tmp_path, "[core]\nlogging_conf_file = x\n[CfgTask]\nn = 2\n"))
    assert gokart.build(CfgTask()) == "class-2-None"


def test_missing_and_toml_config_files_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        gokart.add_config(tmp_path / "nope.ini")
    with pytest.raises(ConfigError, match=r"tasuki\.toml \[tasks\]"):
        gokart.add_config(_ini(tmp_path, "[CfgTask]\nn = 1\n", name="p.toml"))


def test_run_takes_task_flags_and_family_flags(tmp_path: Path, capsys) -> None:
    gokart.add_config(_ini(tmp_path, "[CfgTask]\nn = 5\n"))
    with pytest.raises(SystemExit) as done:
        run(["CfgRoot", "--tag", "cli", "--CfgTask-n", "7", "--local-scheduler"])
    assert done.value.code == 0
    # The flags held for that run only (as luigi's, checked against gokart in
    # tests/integration/test_gokart_reference.py): the .ini's n = 5 applies again.
    assert gokart.build(CfgRoot(tag="cli")) == "class-5-None/cli"


def test_run_refuses_unknown_flags_and_tasks(capsys) -> None:
    with pytest.raises(ParameterError, match="unknown parameter --nn; did you mean --n"):
        run(["CfgTask", "--nn", "3"], set_retcode=False)
    with pytest.raises(ParameterError, match="no task family 'CfgTsk'; did you mean 'CfgTask'"):
        run(["CfgTsk"], set_retcode=False)
    # As a command (set_retcode): the message and luigi's argument-error status 2.
    with pytest.raises(SystemExit) as done:
        run(["CfgTask", "--nn", "3"])
    assert done.value.code == 2
    assert "unknown parameter --nn" in capsys.readouterr().err


def test_run_exits_with_gokarts_codes_when_a_task_fails(capsys) -> None:
    with pytest.raises(SystemExit) as done:
        run(["CfgTask", "--CfgTask-day", "2024-01-01", "--n", "1", "--workers", "1"])
    assert done.value.code == 0
    with pytest.raises(SystemExit) as failed:
        run(["BrokenTask"])
    assert failed.value.code == 40  # gokart.run's task_failed
    assert "ZeroDivisionError" in capsys.readouterr().err


def test_run_takes_the_failure_code_from_the_retcode_section(tmp_path: Path) -> None:
    gokart.add_config(_ini(tmp_path, "[retcode]\ntask_failed = 3\n"))
    with pytest.raises(SystemExit) as failed:
        run(["BrokenTask"])
    assert failed.value.code == 3


def test_run_prints_the_tree(capsys) -> None:
    run(["CfgRoot", "--tree-info-mode", "simple"])
    out = capsys.readouterr().out
    assert "(PENDING) CfgRoot[" in out and "(PENDING) CfgTask[" in out


class BrokenTask(gokart.TaskOnKart):
    def run(self) -> None:
        self.dump(1 / 0)
