"""Run every gokart reference example on this side and write what each gave.

    python -m tests.reference.gokart._run OUT_DIR WORK_DIR [NAME ...]

Run by the peer interpreter it uses the real gokart; by tasuki's, ``tasuki.compat`` (see
``_imports``). Each example runs in its own folder ``WORK_DIR/<name>`` (gokart's relative
``./resources`` lands there) with the luigi configuration and command-line flags reset, the
way the docs run it: importing its module runs its module-level code (``gokart.build`` in a
notebook cell, ``gokart.run()`` with ``sys.argv``), then the steps below load what it made.

``OUT_DIR/<name>.pkl`` holds the observations (a dict: build results, exit statuses, the
names of the errors raised; plain values and DataFrames only, so the other interpreter can
unpickle them); ``OUT_DIR/results.json`` has, per example, whether it ran, the error that
stopped it, and on tasuki the status counts of every build (``ran``, ``cached``...), which
the test reads to check that a second run computes nothing.

Running the same WORK_DIR again reuses the workspaces: that is the cached rerun.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import pickle
import sys
import time
import traceback
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.reference.gokart._imports import SIDE, gokart, luigi

HERE = Path(__file__).resolve().parent
PKG = __package__ or "tests.reference.gokart"

#: What the example's own code handed to gokart.build, in order (the spy below).
BUILDS: list[Any] = []
#: On tasuki: the status counts of each build (tasuki.compat._build.run_build's results).
COUNTS: list[dict[str, int]] = []

# docs/setting_task_parameters.rst, "Set parameter at config file" (both texts verbatim).
CONFIG_INI = """[sample.SomeTask]
param = Hello
"""
ENV_CONFIG_INI = """[sample.SomeTask]
param=${PARAMS}

[TaskOnKart]
workspace_directory=${WORKSPACE_DIRECTORY}
"""
# The values "Inherit parameter from other task" reads (the doc does not show them).
MASTER_CONFIG_INI = """[MasterConfig]
param = from the master config
param2 = second value
"""


def _install_spies() -> None:
    real_build = gokart.build

    def build(*args: Any, **kwargs: Any) -> Any:
        value = real_build(*args, **kwargs)
        BUILDS.append(value)
        return value

    gokart.build = build
    if SIDE != "gokart":
        from tasuki.compat import _build

        real_run_build = _build.run_build

        def run_build(*args: Any, **kwargs: Any) -> Any:
            result = real_run_build(*args, **kwargs)
            COUNTS.append(dict(result.counts()))
            return result

        _build.run_build = run_build  # type: ignore[assignment]


_CONFIG_PATHS = list(luigi.configuration.LuigiConfigParser._config_paths)


def _reset_configuration() -> None:
    parser = luigi.configuration.LuigiConfigParser
    parser._config_paths = list(_CONFIG_PATHS)
    parser._instance = None
    if SIDE != "gokart":
        from tasuki.compat._ini import CommandLine

        CommandLine.set({})


def _module(name: str) -> Any:
    return importlib.import_module(f"{PKG}.{name}")


def _outcome(fn: Callable[[], Any]) -> Any:
    """The value of ``fn()``, or ``('raised', <exception type name>)``."""
    try:
        return fn()
    except Exception as exc:
        return ("raised", type(exc).__name__)


def _gokart_run(words: list[str]) -> Any:
    """``gokart.run(words)``: its exit status (it always exits), or the error it raised.
    ``--no-lock``: luigi refuses a second run in one process (its pid lock), the docs run
    each command in a process of its own."""
    try:
        gokart.run([*words, "--no-lock"])
    except SystemExit as exc:
        return ("exit", exc.code)
    except Exception as exc:
        return ("raised", type(exc).__name__)
    return ("returned", None)


def _import_with_argv(name: str, argv: list[str]) -> tuple[Any, Any]:
    """Import a module whose last line is ``gokart.run()`` with ``sys.argv`` set: the module
    (kept in sys.modules although its code ends in SystemExit) and how gokart.run ended."""
    import importlib.util

    spec = importlib.util.find_spec(f"{PKG}.{name}")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    before = sys.argv
    sys.argv = argv
    try:
        spec.loader.exec_module(module)
    except SystemExit as exc:
        return module, ("exit", exc.code)
    finally:
        sys.argv = before
    return module, ("returned", None)


def _gokart_id(task: Any) -> str:
    """gokart's unique id of ``task`` (tasuki.compat computes it for adopting outputs)."""
    if SIDE == "gokart":
        return str(task.make_unique_id())
    from tasuki.compat._gokart_id import gokart_unique_id

    return gokart_unique_id(task)


# --------------------------------------------------------------------------- the examples


def notebook() -> dict[str, Any]:
    gokart.add_config("param.ini")
    _module("notebook")
    workspace = Path("resource")  # param.ini's [TaskOnKart] workspace_directory
    return {"builds": list(BUILDS), "workspace_used": workspace.is_dir()}


def readme_minimal() -> dict[str, Any]:
    _module("readme_minimal")
    return {"builds": list(BUILDS)}


def readme_typed() -> dict[str, Any]:
    m = _module("readme_typed")
    return {
        "valid_task": _outcome(lambda: gokart.build(m.valid_task)),
        "invalid_task": _outcome(lambda: gokart.build(m.invalid_task)),
    }


def intro_quickstart() -> dict[str, Any]:
    _module("intro_quickstart")
    return {"builds": list(BUILDS)}


def intro_run() -> dict[str, Any]:
    argv = ["sample.py", "SampleTask", "--local-scheduler", "--param=hello", "--no-lock"]
    m, status = _import_with_argv("intro_run", argv)
    return {
        "run": status,
        "output": gokart.build(m.SampleTask(param="hello")),
        # The command line's --param held for that run only (luigi: MissingParameterException).
        "SampleTask() after the run raises": isinstance(_outcome(lambda: m.SampleTask()), tuple),
    }


def intro_build() -> dict[str, Any]:
    m = _module("intro_build")
    return {"builds": list(BUILDS), "output": gokart.build(m.SampleTask(param="hello"))}


def tutorial() -> dict[str, Any]:
    m = _module("tutorial")
    sample = _gokart_run(["gokart_example.Sample", "--local-scheduler"])
    main = _gokart_run(["gokart_example.Main", "--local-scheduler"])
    return {
        "run Sample": sample,
        "run Main": main,
        "StringToSplit": gokart.build(m.StringToSplit(task=m.Sample())),
        # The tutorial's file names: Sample_cdf55a3d..., StringToSplit_b8a0ce6c...
        "gokart ids": [_gokart_id(m.Sample()), _gokart_id(m.StringToSplit(task=m.Sample()))],
        "make_unique_id() is gokart's": m.Sample().make_unique_id() == _gokart_id(m.Sample()),
        "build Main": _outcome(lambda: gokart.build(m.Main())),
    }


def tutorial_rerun() -> dict[str, Any]:
    m = _module("tutorial_rerun")
    main = _outcome(lambda: gokart.build(m.Main()))
    return {
        "build Main": main,
        "StringToSplit": gokart.build(m.StringToSplit(task=m.Sample())),
        "Main.rerun": m.Main().rerun,
    }


def tutorial_version() -> dict[str, Any]:
    m = _module("tutorial_version")
    return {"StringToSplit": gokart.build(m.StringToSplit(task=m.Sample()))}


def task_on_kart_outline() -> dict[str, Any]:
    m = _module("task_on_kart_outline")
    # The doc's `if __name__ == '__main__':` line:
    built = _outcome(lambda: gokart.build([m.TaskB(param="Hello")]))
    return {"build [TaskB]": built, "build TaskB": gokart.build(m.TaskB(param="Hello"))}


def task_on_kart_snippets() -> dict[str, Any]:
    m = _module("task_on_kart_snippets")
    out = {}
    for name in ("LoadDict", "LoadByName", "LoadByInstance", "DumpTwo", "LoadGenerator"):
        out[name] = _outcome(lambda name=name: gokart.build(getattr(m, name)()))
    model = _outcome(lambda: gokart.build(m.TrainWord2Vec()))
    out["TrainWord2Vec"] = model.vectors if isinstance(model, m.Word2Vec) else model
    return out


def task_on_kart_formats() -> dict[str, Any]:
    m = _module("task_on_kart_formats")
    out = {}
    for ext in m.VALUES:
        got = _outcome(lambda ext=ext: gokart.build(m.DumpFormat(extension=ext)))
        if hasattr(got, "getroot"):  # an xml ElementTree: its text
            got = ET.tostring(got.getroot(), encoding="unicode")
        elif type(got).__module__ == "numpy":
            got = (type(got).__name__, got.tolist())
        out[ext] = got
    return out


def _outputs() -> dict[str, int]:
    """Output files under ./resources (gokart's logs and tasuki's records left out): mtimes."""
    return {
        str(p): p.stat().st_mtime_ns
        for p in Path("resources").rglob("*")
        if p.is_file() and "log" not in p.parts and ".tasuki" not in p.parts
    }


def _rewritten(before: dict[str, int]) -> list[str]:
    """The classes whose output files were written since ``before`` (by file name)."""
    time.sleep(0.01)  # file times are coarse on some file systems
    after = _outputs()
    return sorted(Path(p).name.split("_")[0] for p, t in after.items() if before.get(p) != t)


def task_settings_rerun() -> dict[str, Any]:
    m = _module("task_settings_rerun")
    # gokart.run before any gokart.build (a build clears luigi's task register).
    out: dict[str, Any] = {"run Task": _gokart_run(["Task", "--local-scheduler"])}
    before = _outputs()
    time.sleep(0.02)
    out["run Task --rerun"] = _gokart_run(["Task", "--local-scheduler", "--rerun"])
    out["rewritten by --rerun"] = _rewritten(before)
    out["build Task"] = gokart.build(m.Task())
    before = _outputs()
    out["build Task(rerun=True)"] = gokart.build(m.Task(rerun=True))
    out["rewritten by Task(rerun=True)"] = _rewritten(before)

    def chain(a: bool = False, b: bool = False, c: bool = False) -> Any:
        return m.TaskC(task=m.TaskB(task=m.TaskA(rerun=a), rerun=b), rerun=c)

    out["build TaskC"] = gokart.build(chain())
    for flag in ("a", "b", "c"):
        before = _outputs()
        time.sleep(0.02)
        out[f"build with Task{flag.upper()}(rerun=True)"] = gokart.build(chain(**{flag: True}))
        out[f"rewritten with Task{flag.upper()}(rerun=True)"] = _rewritten(before)
    out["TaskA parameter names"] = sorted(n for n, _ in m.TaskA.get_params() if "version" in n)
    return out


def task_settings_seed() -> dict[str, Any]:
    _module("task_settings_seed")
    return {"builds": list(BUILDS)}


def multi_workers() -> dict[str, Any]:
    m = _module("multi_workers")
    return {
        # gokart's lock is Redis's: without redis_host the task cannot be made.
        "SampleTask2": _outcome(lambda: gokart.build(m.SampleTask2())),
        "SampleTask1": gokart.build(m.SampleTask1()),
        "SampleTask1().complete_check_at_run": m.SampleTask1().complete_check_at_run,
    }


def task_information() -> dict[str, Any]:
    m = _module("task_information")  # prints the two trees (their ids are gokart's or tasuki's)
    return {"TaskD": gokart.build(m.task)}


def task_parameters() -> dict[str, Any]:
    m = _module("task_parameters")
    task = m.Task(param_a="a", param_c=[1, 2])
    return {
        "builds": list(BUILDS),
        "Task params": {
            "param_a": task.param_a,
            "param_c": task.param_c,
            "param_d": task.param_d,
        },
    }


def task_parameters_serializable() -> dict[str, Any]:
    m = _module("task_parameters_serializable")
    value = gokart.build(m.DummyTask(config=m.Config(foo=1, bar="b")))
    return {"DummyTask": dataclasses.asdict(value)}


def setting_task_parameters() -> dict[str, Any]:
    m = _module("setting_task_parameters")
    conf = Path("conf")
    conf.mkdir(exist_ok=True)
    (conf / "config.ini").write_text(CONFIG_INI)
    (conf / "env.ini").write_text(ENV_CONFIG_INI)
    out: dict[str, Any] = {}
    # "Set parameter from command line": the doc's exact words, then luigi's flag for a
    # namespaced family.
    out["run --SomeTask-param"] = _gokart_run(["sample.SomeTask", "--SomeTask-param=Hello"])
    out["run --sample.SomeTask-param"] = _gokart_run(
        ["sample.SomeTask", "--local-scheduler", "--sample.SomeTask-param=Hello"]
    )
    # "Set parameter at config file" (gokart.run before any gokart.build: a build clears
    # luigi's task register, and gokart.run finds tasks there)
    gokart.add_config("./conf/config.ini")
    out["run with config.ini"] = _gokart_run(["sample.SomeTask", "--local-scheduler"])
    out["SomeTask() with config.ini"] = m.SomeTask().param
    out["after the runs"] = gokart.build(m.SomeTask(param="Hello"))
    # ... with environment variables
    _reset_configuration()
    os.environ["PARAMS"] = "Hello from the environment"
    os.environ["WORKSPACE_DIRECTORY"] = "./env_workspace"
    try:
        gokart.add_config("./conf/env.ini")
        out["env build"] = gokart.build(m.SomeTask())
        out["env workspace used"] = Path("env_workspace").is_dir()
    finally:
        del os.environ["PARAMS"], os.environ["WORKSPACE_DIRECTORY"]
    _reset_configuration()
    # "Set parameter at upstream task"
    out["build UpstreamTask"] = _outcome(lambda: gokart.build(m.UpstreamTask()))
    out["SomeTask(param='Hello') after UpstreamTask"] = gokart.build(m.SomeTask(param="Hello"))
    return out


def _inherits(name: str) -> dict[str, Any]:
    Path("master.ini").write_text(MASTER_CONFIG_INI)
    gokart.add_config("master.ini")
    m = _module(name)
    return {"SomeTask": gokart.build(m.SomeTask())}


def setting_task_parameters_inherits() -> dict[str, Any]:
    return _inherits("setting_task_parameters_inherits")


def setting_task_parameters_alias() -> dict[str, Any]:
    return _inherits("setting_task_parameters_alias")


def for_pandas() -> dict[str, Any]:
    m = _module("for_pandas")
    # gokart.run before any gokart.build (a build clears luigi's task register).
    out = {
        "run EmptyTask --fail-on-empty-dump true": _gokart_run(
            ["EmptyTask", "--fail-on-empty-dump", "true", "--local-scheduler"]
        ),
        "run EmptyTask": _gokart_run(["EmptyTask", "--local-scheduler"]),
    }
    out["EmptyTask"] = gokart.build(m.EmptyTask())
    out["LoadDataFrameTask"] = gokart.build(m.LoadDataFrameTask())
    return out


def for_pandas_type_config() -> dict[str, Any]:
    m = _module("for_pandas_type_config")
    return {"SampleTask": _outcome(lambda: gokart.build(m.SampleTask()))}


#: Every example in the order it runs. PandasTypeConfig is first: gokart reads the config
#: classes once per process, at the first DataFrame dump (PandasTypeConfigMap is a luigi
#: Config, so luigi caches it); a config class defined after that is not checked. Those that
#: gokart.run() a task family come before another module defines the same family
#: (tasuki.compat keeps every class it has seen; gokart.build forgets luigi's register).
EXAMPLES: dict[str, Callable[[], dict[str, Any]]] = {
    f.__name__: f
    for f in (
        for_pandas_type_config,
        intro_run,
        tutorial,
        for_pandas,
        setting_task_parameters,
        notebook,
        readme_minimal,
        readme_typed,
        intro_quickstart,
        intro_build,
        tutorial_rerun,
        tutorial_version,
        task_on_kart_outline,
        task_on_kart_snippets,
        task_on_kart_formats,
        task_settings_rerun,
        task_settings_seed,
        task_information,
        multi_workers,
        task_parameters,
        task_parameters_serializable,
        setting_task_parameters_inherits,
        setting_task_parameters_alias,
    )
}

#: Examples tasuki.compat refuses, with the text its error contains (they run on gokart).
REFUSED_BY_COMPAT = {
    "tutorial_version": "version cannot be a parameter name; tasuki.Task uses it",
}

# Files the examples read, copied into their folders (examples/param.ini reads logging.ini).
FILES = {"notebook": ("param.ini", "logging.ini")}


def main(argv: list[str]) -> int:
    """Run the examples named in ``argv[2:]`` (all by default); see the module docstring."""
    out, work = Path(argv[0]).resolve(), Path(argv[1]).resolve()
    names = argv[2:] or list(EXAMPLES)
    out.mkdir(parents=True, exist_ok=True)
    _install_spies()
    results = {}
    for name in names:
        folder = work / name
        folder.mkdir(parents=True, exist_ok=True)
        for file in FILES.get(name, ()):
            (folder / file).write_bytes((HERE / file).read_bytes())
        os.chdir(folder)
        _reset_configuration()
        BUILDS.clear()
        COUNTS.clear()
        t0 = time.perf_counter()
        record: dict[str, Any] = {"side": SIDE}
        try:
            value = EXAMPLES[name]()
            record["ok"] = True
        except Exception as exc:
            value = None
            record["ok"] = False
            record["error"] = f"{type(exc).__name__}: {exc}"
            record["traceback"] = traceback.format_exc()[-3000:]
        record["seconds"] = time.perf_counter() - t0
        record["counts"] = list(COUNTS)
        with open(out / f"{name}.pkl", "wb") as f:
            pickle.dump(value, f)
        results[name] = record
    (out / "results.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
