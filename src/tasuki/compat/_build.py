"""``gokart.build``, ``gokart.run`` and ``luigi.build``: a compat task graph built by tasuki."""

from __future__ import annotations

import difflib
import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from tasuki.compat._ini import LUIGI_SECTIONS, CommandLine, LuigiConfigParser
from tasuki.compat._task import TaskOnKart, families
from tasuki.core.runner import run_build
from tasuki.core.task import Task
from tasuki.errors import ConfigError, ParameterError, TaskFailedError, UnsupportedError

__all__ = ["GokartBuildError", "build", "check_config", "luigi_build", "run"]


class GokartBuildError(TaskFailedError):
    """``gokart.build`` failed. ``raised_exceptions`` maps each failed task's unique id to
    the errors it raised (rebuilt as ``RuntimeError("<type>: <message>")``: tasks may run in
    other processes, and the record keeps their type, message and traceback)."""

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.raised_exceptions: dict[str, list[Exception]] = {
            uid: [RuntimeError(text)] for uid, text in fields.get("errors", {}).items()
        }


# luigi.build keyword arguments that mean something here, and those that are accepted and
# have no effect (their luigi meaning does not apply to a tasuki build).
_BUILD_KEYS = {"workers"}
_IGNORED_KEYS = {"detailed_summary", "local_scheduler", "log_level", "no_lock", "lock_pid_dir"}


def build(
    task: Task | Sequence[Task],
    return_value: bool = True,
    reset_register: bool = True,
    log_level: int = logging.ERROR,
    **env_params: Any,
) -> Any:
    """gokart's ``build``: run ``task`` and what it needs, return its output.

    The workspace is the root task's ``workspace_directory`` (``./resources/`` unless set in
    code or under ``[TaskOnKart]``). Tasks run through tasuki's configured executor; pass
    ``workers=N`` for N worker processes.

    Args:
        task: The task (or tasks) to build.
        return_value: Return the loaded output (gokart's default); otherwise ``None``.
        reset_register: As gokart: a later ``gokart.run()`` takes a task family that is
            defined again after this build to mean the newer class.
        log_level: The level of tasuki's loggers during the build (restored after).
        **env_params: ``workers`` and luigi's ``local_scheduler`` / ``detailed_summary``.

    Raises:
        GokartBuildError: a task failed (the message has tasuki's summary).
        UnsupportedError: ``local_scheduler=False`` (luigi's central scheduler).
        ConfigError: the luigi configuration names an unknown task or parameter, or a value
            that does not parse.
    """
    if reset_register:
        _reset_register()
    roots = [task] if isinstance(task, Task) else list(task)
    overrides = _overrides(env_params)
    check_config()
    workspace = _workspace_of(roots)
    with _level(log_level):
        result = run_build(roots, workspace=workspace, **overrides)
    if not result.ok:
        failed = result.by_status("failed")
        errors = {
            r.uid: f"{r.error.type}: {r.error.message}" if r.error else "failed" for r in failed
        }
        raise GokartBuildError(
            f"{len(failed)} task(s) failed\n{result.summary()}",
            failed=[r.uid for r in failed],
            errors=errors,
        )
    if not return_value:
        return None
    from tasuki.core.task import load_task_outputs
    from tasuki.storage import open_store

    store = open_store(result.workspace)
    values = [load_task_outputs(t, store) for t in result.roots]  # just built: code checked
    return values[0] if isinstance(task, Task) else values


def luigi_build(tasks: Sequence[Task], **env_params: Any) -> bool:
    """luigi's ``build``: True when every task succeeded (failures are in the summary)."""
    try:
        build(list(tasks), return_value=False, **env_params)
    except GokartBuildError as exc:
        print(exc, file=sys.stderr)
        return False
    return True


def _overrides(env_params: dict[str, Any]) -> dict[str, Any]:
    if env_params.get("local_scheduler") is False:
        raise UnsupportedError(
            "local_scheduler=False asks for luigi's central scheduler (luigid), which tasuki "
            "does not use: tasuki builds coordinate through the workspace's leases, so two "
            "builds on one workspace compute each task once. Drop local_scheduler=False; for "
            "several machines use executor='dask' or tasuki argo export.",
            construct="luigi central scheduler",
        )
    unknown = set(env_params) - _BUILD_KEYS - _IGNORED_KEYS
    if unknown:
        name = sorted(unknown)[0]
        hint = difflib.get_close_matches(name, sorted(_BUILD_KEYS | _IGNORED_KEYS), n=1)
        raise UnsupportedError(
            f"build(..., {name}=...): not a build option tasuki.compat knows. Options: "
            f"{', '.join(sorted(_BUILD_KEYS | _IGNORED_KEYS))}"
            + (f". Did you mean {hint[0]!r}?" if hint else ""),
            construct=f"build({name}=)",
        )
    return {k: v for k, v in env_params.items() if k in _BUILD_KEYS}


def _workspace_of(roots: list[Task]) -> str | None:
    dirs = {t.workspace_directory for t in roots if isinstance(t, TaskOnKart)}
    if len(dirs) > 1:
        raise ParameterError(
            f"the tasks given to build() have different workspace_directory values "
            f"{sorted(dirs)}; one build writes one workspace. Build them separately.",
            parameter="workspace_directory",
        )
    return next(iter(dirs)) if dirs else None


@contextmanager
def _level(level: int) -> Iterator[None]:
    # The caller asked for this level; it is tasuki's logger only, and restored after.
    logger = logging.getLogger("tasuki")
    before = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(before)


def check_config() -> None:
    """Refuse configuration that names no known task or parameter (luigi ignores it)."""
    config = LuigiConfigParser.instance()
    known = families()
    for section in config.sections():
        if section in LUIGI_SECTIONS:
            if section == "TaskOnKart":
                _check_keys(config, section, None)
            continue
        classes = known.get(section)
        if not classes:
            hint = difflib.get_close_matches(section, list(known) + sorted(LUIGI_SECTIONS), n=1)
            where = next(
                (config.where(section, k) for k in config.options(section)),
                "<luigi configuration>",
            )
            raise ConfigError(
                f"{where}: section [{section}] names no task (no TaskOnKart subclass of that "
                "name is imported)"
                + (f"; did you mean [{hint[0]}]?" if hint else "")
                + ". Fix the section name, import the module that defines the task, or "
                "remove the section.",
                path=where,
                section=section,
            )
        _check_keys(config, section, classes[-1])


def _check_keys(config: LuigiConfigParser, section: str, cls: type[TaskOnKart] | None) -> None:
    from tasuki.compat._task import _BASE

    names = set(cls.__luigi_params__ if cls is not None else _BASE)
    if cls is None:
        # [TaskOnKart] may also set parameters the task classes declare themselves.
        for classes in families().values():
            names.update(classes[-1].__luigi_params__)
    shown = sorted(n for n in names if cls is None or n not in _BASE)
    for key in config.options(section):
        if key in config.defaults() or key.replace("-", "_") in names:
            continue
        hint = difflib.get_close_matches(key, sorted(names), n=1)
        raise ConfigError(
            f"{config.where(section, key)}: [{section}] {key}: "
            + (
                f"{cls.task_name()} has no parameter {key!r}"
                if cls
                else f"no task has a parameter {key!r}"
            )
            + (f"; did you mean {hint[0]!r}?" if hint else "")
            + f". Parameters: {', '.join(shown) or 'none'}.",
            path=config.where(section, key),
            section=section,
            key=key,
        )


def run(cmdline_args: Sequence[str] | None = None, set_retcode: bool = True) -> None:
    """gokart's ``run``: ``python main.py TaskName --TaskName-param v --param v2``.

    The first word names the task family; ``--param`` sets the named task's own parameters,
    ``--Family-param`` any task's (as luigi's command line). ``--local-scheduler`` and
    ``--workers N`` are accepted; ``--tree-info-mode`` prints the tree instead of running.
    With ``set_retcode`` it exits as gokart's does: 0 on success, 40 when a task failed (or
    the ``[retcode] task_failed`` configured), 2 with the message for a command line that
    names an unknown task or parameter (luigi's argument parser's status). Without it, those
    raise.
    """
    try:
        cls, values, options = _command(cmdline_args)
    except (ParameterError, ConfigError) as exc:
        if not set_retcode:
            raise
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    CommandLine.set(values)
    try:
        ok = _run_family(cls, options)
    finally:
        # The flags hold for this run only (as luigi's): a task made later gets none.
        CommandLine.set({})
    if ok is not None and set_retcode:
        raise SystemExit(0 if ok else _task_failed_code())


def _task_failed_code() -> int:
    config = LuigiConfigParser.instance()
    if config.has_option("retcode", "task_failed"):
        return int(config.get("retcode", "task_failed"))
    return 40  # gokart.run sets luigi's task_failed retcode to 40


def _command(
    cmdline_args: Sequence[str] | None,
) -> tuple[type[TaskOnKart], dict[tuple[str, str], str], dict[str, str]]:
    words = list(sys.argv[1:] if cmdline_args is None else cmdline_args)
    family, flags, options = _parse_command_line(words)
    cls = _family(family)
    values: dict[tuple[str, str], str] = {}
    known = families()
    for (fam, name), text in flags.items():
        target = cls if fam is None else (known.get(fam) or [None])[-1]  # type: ignore[list-item]
        if target is None:
            raise ParameterError(
                f"--{fam}-{name.replace('_', '-')}: no task family {fam!r}; known: "
                f"{', '.join(sorted(known))}",
                parameter=name,
            )
        if name not in target.__luigi_params__:
            params = [n.replace("_", "-") for n in target.__luigi_params__]
            hint = difflib.get_close_matches(name.replace("_", "-"), params, n=1)
            raise ParameterError(
                f"{target.get_task_family()}: unknown parameter --{name.replace('_', '-')}"
                + (f"; did you mean --{hint[0]}?" if hint else "")
                + f". Parameters: {', '.join('--' + p for p in params)}",
                task=target.task_name(),
                parameter=name,
            )
        values[(target.get_task_family(), name)] = text
    return cls, values, options


def _run_family(cls: type[TaskOnKart], options: dict[str, str]) -> bool | None:
    """Build ``cls()``: True when it succeeded; None when only its tree was asked for."""
    task = cls()
    if options.get("tree_info_mode"):
        from tasuki.compat._tree import make_tree_info

        print(make_tree_info(task, details=options["tree_info_mode"] == "all"))
        return None
    workers = options.get("workers")
    env: dict[str, Any] = {"workers": int(workers)} if workers else {}
    try:
        build(task, return_value=False, **env)
    except GokartBuildError as exc:
        print(exc, file=sys.stderr)
        return False
    return True


_FLAG_OPTIONS = {"workers", "module", "log-level", "tree-info-mode", "tree-info-output-path"}
_SWITCHES = {"local-scheduler", "no-lock", "help"}


def _parse_command_line(
    words: list[str],
) -> tuple[str, dict[tuple[str | None, str], str], dict[str, str]]:
    family = ""
    flags: dict[tuple[str | None, str], str] = {}
    options: dict[str, str] = {}
    known = families()
    i = 0
    while i < len(words):
        word = words[i]
        if not word.startswith("--"):
            if family:
                raise ParameterError(f"unexpected word {word!r} after task {family!r}")
            family = word
            i += 1
            continue
        name, eq, value = word[2:].partition("=")
        if name in _SWITCHES:
            if name == "help":
                raise SystemExit(_usage(family))
            i += 1
            continue
        if not eq:
            if i + 1 < len(words) and not words[i + 1].startswith("--"):
                i += 1
                value = words[i]
            else:
                value = "true"  # a bool flag given alone
        i += 1
        if name in _FLAG_OPTIONS:
            options[name.replace("-", "_")] = value
            continue
        fam, param = _split_flag(name, known)
        flags[(fam, param.replace("-", "_"))] = value
    if not family:
        raise ParameterError(
            "no task given: run it as `python main.py TaskName --param value`; tasks: "
            + ", ".join(sorted(known))
        )
    return family, flags, options


def _split_flag(name: str, known: Any) -> tuple[str | None, str]:
    # --TaskFamily-param-name: the longest known family that prefixes the flag wins.
    for fam in sorted(known, key=len, reverse=True):
        if name.startswith(fam + "-"):
            return fam, name[len(fam) + 1 :]
    return None, name


#: How many classes each family had at the last ``build(reset_register=True)``.
_REGISTER_RESET: dict[str, int] = {}


def _reset_register() -> None:
    # gokart.build empties luigi's register: a family gokart.run() looks up afterwards is
    # the class defined since (a notebook redefining a task), not an ambiguous name.
    _REGISTER_RESET.clear()
    _REGISTER_RESET.update({family: len(classes) for family, classes in families().items()})


def _family(family: str) -> type[TaskOnKart]:
    classes = families().get(family)
    newer = (classes or [])[_REGISTER_RESET.get(family, 0) :]
    if classes and len(classes) > 1 and len(newer) == 1:
        return newer[0]
    if not classes:
        hint = difflib.get_close_matches(family, list(families()), n=1)
        raise ParameterError(
            f"no task family {family!r}"
            + (f"; did you mean {hint[0]!r}?" if hint else "")
            + ". Import the module that defines it before gokart.run() (or pass --module).",
            value=family,
        )
    if len(classes) > 1:
        names = ", ".join(c.task_name() for c in classes)
        raise ParameterError(
            f"task family {family!r} is ambiguous: {names}. Set task_namespace on one of them.",
            value=family,
        )
    return classes[0]


def _usage(family: str) -> str:
    cls = families().get(family, [None])[-1] if family else None
    if cls is None:
        return "usage: python main.py TaskName [--param value ...]\ntasks: " + ", ".join(
            sorted(families())
        )
    lines = [f"usage: python main.py {family} [--param value ...]"]
    for name, p in cls.__luigi_params__.items():
        lines.append(f"  --{name.replace('_', '-')}  {type(p).__name__}  {p.description or ''}")
    return "\n".join(lines)
