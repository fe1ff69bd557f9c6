"""Commands of the ``tasuki`` CLI."""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import os
import sys
import textwrap
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import typer

from tasuki._redact import redact
from tasuki.cli._params import make_task, parse_param_args
from tasuki.config import Settings, load_settings, workspace_origin
from tasuki.core.graph import build_graph
from tasuki.core.records import find_record
from tasuki.core.results import task_traceback
from tasuki.core.runner import check_workspace, run_build
from tasuki.core.runner import open_workspace as _open_store
from tasuki.core.task import import_task
from tasuki.errors import TasukiError, WorkspaceUnreachableError
from tasuki.storage import open_store

if TYPE_CHECKING:
    from tasuki.storage.base import Store

__all__ = ["app"]

app = typer.Typer(
    help="tasuki: cached, reproducible ML pipelines. Docs: docs/ in the repository.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # Help texts are shown as written: rich markup would eat "[warehouses]" and "[--tree]".
    rich_markup_mode=None,
)
TASK_CONTEXT = {"allow_extra_args": True, "ignore_unknown_options": True}
F = TypeVar("F", bound=Callable[..., Any])

Workspace = Annotated[
    str | None, typer.Option("--workspace", "-w", help="Folder or URL of the workspace.")
]
ConfigFile = Annotated[
    str | None, typer.Option("--config", help="Settings file instead of tasuki.toml search.")
]
LogLevel = Annotated[str, typer.Option("--log-level", help="DEBUG, INFO, WARNING, ERROR.")]


def _errors_exit_2(fn: F) -> F:
    """Turn tasuki's usage and configuration errors into a message and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            # A context of its own: the settings a command puts in effect end with it.
            return contextvars.copy_context().run(fn, *args, **kwargs)
        except TasukiError as exc:
            typer.echo(f"error: {redact(exc)}", err=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


class _RedactingFormatter(logging.Formatter):
    """Log lines through :func:`redact`: a driver's message or traceback may quote a URL."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def _setup_logging(level: str) -> None:
    from tasuki.core.execute import TaskLogHandler

    root = logging.getLogger()
    if not root.handlers:  # what logging.basicConfig does, with a redacting formatter
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(
            _RedactingFormatter("%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
        )
        root.addHandler(handler)
        root.setLevel(level.upper())
    # The command owns logging: it keeps each task's last log lines for its run record.
    if not any(isinstance(h, TaskLogHandler) for h in root.handlers):
        root.addHandler(TaskLogHandler())


def _settings(config: str | None, **overrides: Any) -> Settings:
    """The command's settings, read once and in effect until the command ends.

    A command is an edge: what it runs (``output()`` of a ``QueryTask`` naming a warehouse,
    say) finds these settings through :func:`tasuki.config.active_settings` instead of
    reading the files again, for ``tree``, ``why`` and ``verify`` as for ``run``.
    """
    from tasuki.config import _IN_EFFECT

    settings = load_settings(overrides, config_file=config)
    # Each command runs in a copy of the caller's context (see _errors_exit_2), so this
    # ends with the command and never leaks into a program that invoked the CLI in-process.
    _IN_EFFECT.set(settings)
    return settings


def open_workspace(
    settings: Settings,
    *,
    absent: Literal["create", "refuse", "empty"] = "create",
    writes: bool = True,
) -> Store:
    """Open the workspace and say on stderr, once, where it is and which setting chose it.

    stderr, so that ``--format json`` / ``--json`` output on stdout stays parseable.

    ``absent`` says what a command does with a local folder that holds no workspace yet:
    ``"create"`` makes it (a build); ``"refuse"`` stops with an error naming the folder and
    the setting that chose it (``ls``, ``show``, ``verify``, ``gc``: a typo in
    ``--workspace`` would read as an empty workspace, and leave a folder behind);
    ``"empty"`` answers as for an empty workspace and makes nothing (``tree``, ``why``:
    everything would run).

    ``writes=False`` (a command that only reads) takes a local workspace this user may read
    but not write: a teammate's results on a read-only mount can be listed and checked.
    """
    origin = workspace_origin(settings)
    store = _open_store(settings, check=False)
    root = getattr(store, "root", None)  # a local folder's; remote stores make no folders
    missing = isinstance(root, str) and not os.path.isdir(os.path.join(root, ".tasuki"))
    if missing and absent == "refuse":
        raise WorkspaceUnreachableError(
            f"no tasuki workspace at {root} (from {origin}): nothing was built there "
            "(it has no .tasuki folder). Check --workspace, TASUKI_WORKSPACE or "
            "tasuki.toml; `tasuki run` makes a workspace.",
            url=root,
            cause="no workspace",
        )
    if missing and absent == "empty":
        import uuid

        typer.echo(f"workspace: {root} (from {origin}; not made yet: empty)", err=True)
        return open_store(f"memory://tasuki-absent-{uuid.uuid4().hex}")
    check_workspace(store, writes=writes)
    typer.echo(f"workspace: {redact(store.url)} (from {origin})", err=True)
    return store


def _hooks(settings: Settings) -> list[Any]:
    try:
        from tasuki.notify import hooks_from_settings
    except ImportError:
        return []
    return hooks_from_settings(settings)


@app.command(context_settings=TASK_CONTEXT)
@_errors_exit_2
def run(
    ctx: typer.Context,
    task: Annotated[str, typer.Argument(help="module.path:TaskClass, then --param value ...")],
    workspace: Workspace = None,
    workers: Annotated[int | None, typer.Option(help="Local worker processes.")] = None,
    executor: Annotated[
        str | None,
        typer.Option(
            help="What runs the tasks: local (worker processes), inline (this process), dask "
            "(a Dask cluster), or an executor registered in the tasuki.executors entry-point "
            "group."
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="Dask scheduler address (tcp://host:8786); implies --executor dask. Without "
            "it --executor dask starts a LocalCluster of --workers processes for the build."
        ),
    ] = None,
    rerun: Annotated[
        list[str] | None, typer.Option(help="Rerun this task class (repeatable).")
    ] = None,
    rerun_all: Annotated[bool, typer.Option("--rerun-all", help="Rerun every task.")] = False,
    fail_fast: Annotated[bool | None, typer.Option("--fail-fast/--keep-going")] = None,
    progress: Annotated[str | None, typer.Option(help="auto, rich, plain or off.")] = None,
    tree: Annotated[bool, typer.Option("--tree", help="Print the dependency tree after.")] = False,
    config: ConfigFile = None,
    log_level: LogLevel = "INFO",
) -> None:
    """Build a task and everything it needs; cached outputs are reused."""
    _setup_logging(log_level)
    if scheduler is not None:  # a scheduler address means the dask executor
        if executor not in (None, "dask"):
            from tasuki.errors import ConfigError

            raise ConfigError(
                f"--scheduler {scheduler} is for --executor dask, not --executor {executor}; "
                "drop one of them",
                scheduler=scheduler,
                executor=executor,
            )
        executor = "dask"
    settings = _settings(
        config,
        workspace=workspace,
        workers=workers,
        executor=executor,
        dask_scheduler=scheduler,
        fail_fast=fail_fast,
        progress=progress,
    )
    task_cls = import_task(task)
    store = open_workspace(settings)
    value = make_task(task_cls, parse_param_args(task_cls, ctx.args), settings, store=store)
    result = run_build(
        value,
        settings=settings,
        rerun=True if rerun_all else (rerun or None),
        hooks=_hooks(settings),
        store=store,
    )
    if tree:
        from tasuki.report import tree_from_result

        typer.echo(tree_from_result(result).text())
    for root in result.roots:
        typer.echo(f"{type(root).task_name()} {root.unique_id}")
    if not result.ok:
        raise typer.Exit(1)


@app.command(context_settings=TASK_CONTEXT)
@_errors_exit_2
def tree(
    ctx: typer.Context,
    task: Annotated[str, typer.Argument(help="module.path:TaskClass, then --param value ...")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="text, json, mermaid, dot.")] = "text",
    output: Annotated[str | None, typer.Option("--output", "-o", help="Write to a file.")] = None,
    workspace: Workspace = None,
    config: ConfigFile = None,
) -> None:
    """Show the dependency tree with each task's status, id, parameters and outputs."""
    from tasuki.report import tree_from_store

    settings = _settings(config, workspace=workspace)
    task_cls = import_task(task)
    store = open_workspace(settings, absent="empty", writes=False)
    value = make_task(task_cls, parse_param_args(task_cls, ctx.args), settings, store=store)
    text = tree_from_store(build_graph([value]), store).render(fmt)
    if output:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    else:
        typer.echo(text)


@app.command(context_settings=TASK_CONTEXT)
@_errors_exit_2
def why(
    ctx: typer.Context,
    task: Annotated[str, typer.Argument(help="module.path:TaskClass, then --param value ...")],
    workspace: Workspace = None,
    config: ConfigFile = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="text or json.")] = "text",
) -> None:
    """Explain what a build of a task would run, and the cause of each decision."""
    from tasuki.report.why import explain_build

    if fmt not in ("text", "json"):
        raise typer.BadParameter(f"{fmt!r}; choose text or json", param_hint="--format")
    settings = _settings(config, workspace=workspace)
    task_cls = import_task(task)
    store = open_workspace(settings, absent="empty", writes=False)
    value = make_task(task_cls, parse_param_args(task_cls, ctx.args), settings, store=store)
    explanation = explain_build(value, store, on_code_change=settings.on_code_change)
    if fmt == "json":
        typer.echo(json.dumps(explanation.to_json(), indent=2, ensure_ascii=False))
        return
    for line in explanation.lines():
        typer.echo(line)


@app.command(context_settings=TASK_CONTEXT)
@_errors_exit_2
def verify(
    ctx: typer.Context,
    task: Annotated[
        str | None,
        typer.Argument(
            help="module.path:TaskClass (then --param value ...); default: every record."
        ),
    ] = None,
    workspace: Workspace = None,
    config: ConfigFile = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="text or json.")] = "text",
) -> None:
    """Check outputs byte for byte against their run records (size and xxh3).

    Exit code 1 when an output is missing, truncated or changed.
    """
    from tasuki.report.verify import OutputCheck, verify_graph, verify_records

    if fmt not in ("text", "json"):
        raise typer.BadParameter(f"{fmt!r}; choose text or json", param_hint="--format")
    settings = _settings(config, workspace=workspace)
    store = open_workspace(settings, absent="refuse" if task is None else "empty", writes=False)
    ticker = _Ticker("verify", "outputs checked")

    def seen(check: OutputCheck) -> None:
        ticker.tick()
        if fmt == "text" and check.bad:
            typer.echo(
                f"{check.status.upper()}: {check.key} of {check.task} [{check.unique_id[:12]}]"
                + (f": record says {check.expected}" if check.expected else "")
                + (f", found {check.found}" if check.found else "")
            )

    if task is None:
        checks = verify_records(store, on_output=seen)
    else:
        task_cls = import_task(task)
        value = make_task(task_cls, parse_param_args(task_cls, ctx.args), settings, store=store)
        checks = verify_graph(build_graph([value]), store, on_output=seen)
    ticker.done()
    bad = [c for c in checks if c.bad]
    if fmt == "json":
        typer.echo(
            json.dumps(
                {"ok": not bad, "checks": [c.to_json() for c in checks]},
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        counts: dict[str, int] = {}
        for check in checks:
            counts[check.status] = counts.get(check.status, 0) + 1
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        typer.echo(f"checked {len(checks)} output(s): {summary or 'nothing to check'}")
        if bad:
            typer.echo(
                "Damaged outputs are rebuilt by the next build that needs them; to rebuild "
                "now: tasuki run TASK --rerun ID",
                err=True,
            )
    if bad:
        raise typer.Exit(1)


class _Ticker:
    """Progress for a long command: a rich counter on a terminal, else a line on stderr
    every two seconds."""

    def __init__(self, verb: str, what: str) -> None:
        import time

        self._clock = time.monotonic
        self._verb, self._what = verb, what
        self._n = 0
        self._last = self._clock()
        self._bar: Any = None
        if sys.stderr.isatty():
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn()
            )
            self._id = self._bar.add_task(f"tasuki {verb}: 0 {what}")
            self._bar.start()

    def tick(self) -> None:
        """One more item done."""
        self._n += 1
        if self._bar is not None:
            self._bar.update(self._id, description=f"tasuki {self._verb}: {self._n} {self._what}")
            return
        now = self._clock()
        if now - self._last >= 2.0:
            self._last = now
            typer.echo(f"tasuki {self._verb}: {self._n} {self._what}", err=True)

    def done(self) -> None:
        """The work is over: stop the display."""
        if self._bar is not None:
            self._bar.stop()


@app.command()
@_errors_exit_2
def show(
    unique_id: Annotated[str, typer.Argument(help="A unique id or an unambiguous prefix.")],
    workspace: Workspace = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="text or json (the record; task parameters with their class, outputs by kind).",
        ),
    ] = "text",
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    config: ConfigFile = None,
) -> None:
    """Show a finished task: parameters, dependencies, outputs, timings and its log."""
    from tasuki.report._values import describe_output, describe_value, output_json, value_json

    if fmt not in ("text", "json"):
        raise typer.BadParameter(f"{fmt!r}; choose text or json", param_hint="--format")
    settings = _settings(config, workspace=workspace)
    store = open_workspace(settings, absent="refuse", writes=False)
    record = find_record(store, unique_id)
    if as_json or fmt == "json":
        doc = json.loads(record.to_bytes())
        doc["params"] = {k: value_json(v, store) for k, v in record.params.items()}
        doc["outputs"] = [output_json(out, store) for out in record.outputs]
        typer.echo(json.dumps(doc, ensure_ascii=False))
        return
    typer.echo(f"task:        {record.task}")
    typer.echo(f"unique id:   {record.unique_id}")
    typer.echo(f"status:      {record.status}  ({record.duration_s:.3f}s, {record.finished_at})")
    if record.adopted:  # outputs taken over from another tool (tasuki adopt-gokart), not run
        src = record.adopted
        typer.echo(
            f"adopted:     from {src.get('from')} {src.get('gokart_workspace')} "
            f"(gokart id {src.get('gokart_unique_id')}): {', '.join(src.get('files', []))}"
        )
    if record.error:  # a failed run: what went wrong, before everything else
        typer.echo(f"error:       {record.error.get('type')}: {record.error.get('message')}")
        trace = task_traceback(str(record.error.get("traceback") or ""))
        if trace:
            typer.echo(textwrap.indent(trace, "  "))
    typer.echo(f"version:     {record.version}    code: {record.code_fingerprint}")
    typer.echo("parameters:")
    for name, value in record.params.items():
        flag = "" if name in record.significant else "  (not significant)"
        typer.echo(f"  {name} = {describe_value(value, store)}{flag}")
    typer.echo("requires:")
    for uid in record.requires:
        try:
            dep = find_record(store, uid)
            read = record.inputs.get(uid) if record.inputs is not None else dep.state
            changed = "  (ran again since this run read it)" if read != dep.state else ""
            typer.echo(f"  {dep.task} {uid}{changed}")
        except TasukiError:
            typer.echo(f"  {uid} (record missing)")
    typer.echo("outputs:")
    for out in record.outputs:
        typer.echo(f"  {describe_output(out, store)}")
    if record.task_log:
        typer.echo("task log:")
        for key, value in record.task_log.items():
            typer.echo(f"  {key}: {json.dumps(value, default=str)}")
    if record.metrics:  # self.log_metric(): the last value per key, and how many were logged
        typer.echo("metrics:")
        last: dict[str, tuple[Any, Any, int]] = {}
        for m in record.metrics:
            count = last.get(m["key"], (None, None, 0))[2] + 1
            last[m["key"]] = (m["value"], m["step"], count)
        for key, (value, step, count) in last.items():
            at = f" (step {step}; {count} values)" if count > 1 else ""
            typer.echo(f"  {key} = {value}{at}")
    env = record.environment
    typer.echo(
        f"environment: python {env.get('python')} on {env.get('host')}, git {env.get('git_commit')}"
    )
    if record.log_tail:
        typer.echo("log:")
        for line in record.log_tail:
            typer.echo(f"  {line}")


@app.command(name="rerun")
@_errors_exit_2
def rerun_cmd(
    unique_id: Annotated[str, typer.Argument(help="A unique id or an unambiguous prefix.")],
    workspace: Workspace = None,
    workers: Annotated[int | None, typer.Option(help="Local worker processes.")] = None,
    executor: Annotated[
        str | None,
        typer.Option(help="What runs the tasks: local, inline, dask, or a registered executor."),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Exit 1 when an output's bytes differ from the run it replaces."
        ),
    ] = False,
    config: ConfigFile = None,
    log_level: LogLevel = "INFO",
) -> None:
    """Reproduce a finished task from its id: rebuild it from its record, run it again, and
    say whether each output has the bytes it had (--check: exit 1 when one differs)."""
    from tasuki.core.loading import task_from_record
    from tasuki.core.records import RunRecord
    from tasuki.report.reproduce import compare_runs

    _setup_logging(log_level)
    settings = _settings(config, workspace=workspace, workers=workers, executor=executor)
    store = open_workspace(settings, absent="refuse")
    before = find_record(store, unique_id)
    task = task_from_record(before, store)
    result = run_build(
        task, settings=settings, rerun=[task.unique_id], store=store, hooks=_hooks(settings)
    )
    typer.echo(f"{type(task).task_name()} {task.unique_id}")
    if not result.ok:
        raise typer.Exit(1)
    reproduction = compare_runs(before, RunRecord.read(store, task.unique_id))
    for line in reproduction.lines():
        typer.echo(line)
    if check and not reproduction.reproduced:
        raise typer.Exit(1)


@app.command(name="ls")
@_errors_exit_2
def ls_cmd(
    workspace: Workspace = None,
    task: Annotated[str | None, typer.Option(help="Only this task class (substring).")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="text or json.")] = "text",
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    config: ConfigFile = None,
) -> None:
    """List the outputs in the workspace with the tasks that made them.

    On a terminal: a table with short ids. Otherwise: tab-separated lines, nothing cut.
    """
    from tasuki.report.inventory import read_inventory

    if fmt not in ("text", "json"):
        raise typer.BadParameter(f"{fmt!r}; choose text or json", param_hint="--format")
    settings = _settings(config, workspace=workspace)
    inv = read_inventory(open_workspace(settings, absent="refuse", writes=False))
    rows = [r for r in inv.rows() if not task or task in r["task"]]
    if as_json or fmt == "json":
        body = {"outputs": rows, "stray": inv.stray, "other_files": inv.other_files}
        typer.echo(json.dumps(body, indent=2))
        return
    cells = [
        (
            r["task"],
            r["unique_id"],
            f"table {r['key']}" if r["kind"] == "table" else r["key"],
            "" if r["size"] is None else str(r["size"]),
            r["finished_at"],
        )
        for r in rows
    ]
    stray = " ".join(
        [
            f"{len(inv.stray)} files belong to no record (see `tasuki gc`)." if inv.stray else "",
            f"{len(inv.other_files)} files tasuki did not write are here too (gc leaves them)."
            if inv.other_files
            else "",
        ]
    ).strip()
    if not sys.stdout.isatty():
        # Off a terminal (a pipe, a file, CI logs) nothing is cut: scripts get whole names.
        for line in [("task", "id", "output", "size", "finished"), *cells]:
            typer.echo("\t".join(line))
        if stray:
            typer.echo(stray, err=True)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("task", "id", "output", "size", "finished")
    for column in (table.columns[0], table.columns[2]):
        column.overflow = "fold"  # a narrow terminal wraps long names, never cuts them
    for name, uid, output, size, finished in cells:
        table.add_row(name, uid[:12], output, size, finished)
    console = Console()
    console.print(table)
    if stray:
        console.print(stray)


@app.command(name="gc")
@_errors_exit_2
def gc_cmd(
    roots: Annotated[list[str], typer.Argument(help="Unique ids of the runs to keep.")],
    workspace: Workspace = None,
    delete: Annotated[
        bool, typer.Option("--delete", help="Really delete (default: dry run).")
    ] = False,
    keep_newer_than: Annotated[
        str,
        typer.Option(
            "--keep-newer-than",
            help="Keep runs and files written within this time, as a build still running "
            "may need them ('1h', '30 minutes', '2d'; '0' for none).",
        ),
    ] = "1h",
    config: ConfigFile = None,
) -> None:
    """Remove workspace outputs and records that none of the given roots reaches (dry run
    by default). Runs and files from the last hour are kept (--keep-newer-than), and so
    is what they depend on. Warehouse tables are listed as kept, never dropped."""
    import datetime as dt

    from tasuki.core.params import coerce
    from tasuki.errors import ParameterError
    from tasuki.report.inventory import collect_garbage

    try:
        grace = coerce(keep_newer_than, dt.timedelta, name="--keep-newer-than").total_seconds()
    except ParameterError:
        grace = -1.0
    if grace < 0:
        raise typer.BadParameter(
            f"{keep_newer_than!r} is not a duration of 0 or more; write e.g. '1h', "
            "'30 minutes', '2d' or seconds as a number ('0': nothing is kept for being "
            "recent)",
            param_hint="--keep-newer-than",
        )
    settings = _settings(config, workspace=workspace)
    garbage = collect_garbage(
        open_workspace(settings, absent="refuse", writes=delete),
        roots,
        delete=delete,
        keep_newer_than=grace,
    )
    verb = "removed" if delete else "would remove"
    for key in garbage.removed:
        typer.echo(f"{verb} {key}")
    for kept in garbage.kept:
        typer.echo(
            f"kept {kept.key} (a warehouse table of {kept.task} {kept.unique_id[:12]}; gc "
            f"drops no tables. To drop it: {kept.drop_hint})"
        )
    if garbage.other_files:
        shown = ", ".join(garbage.other_files[:5])
        more = f" and {len(garbage.other_files) - 5} more" if len(garbage.other_files) > 5 else ""
        typer.echo(
            f"kept {len(garbage.other_files)} files tasuki did not write ({shown}{more}): they "
            "are not named as task outputs are, so they are someone's own; gc never removes them"
        )
    if garbage.recent_runs or garbage.recent_files:
        typer.echo(
            f"kept {garbage.recent_runs} runs and {garbage.recent_files} files written in "
            f"the last {keep_newer_than} (a build may still need them; --keep-newer-than 0 "
            "to remove them too)"
        )
    typer.echo(
        f"{verb} {len(garbage.removed)} files, {garbage.size} bytes"
        + (f"; kept {len(garbage.kept)} warehouse tables" if garbage.kept else "")
        + ("" if delete else " (dry run; add --delete)")
    )


@app.command()
@_errors_exit_2
def migrate(
    migrations: Annotated[
        str | None,
        typer.Option("--migrations", help="The migrations file (default: migrations.toml)."),
    ] = None,
    table: Annotated[
        list[str] | None, typer.Option("--table", help="Only this table (repeatable).")
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Tables copied at once.")] = None,
    workspace: Workspace = None,
    config: ConfigFile = None,
    log_level: LogLevel = "INFO",
) -> None:
    """Copy MySQL / MariaDB tables into the warehouse, one task per table."""
    from tasuki.migrate._config import is_migrations_file
    from tasuki.migrate._tasks import migration_tasks

    _setup_logging(log_level)
    if config is not None and migrations is None and is_migrations_file(config):
        typer.echo(
            f"note: --config {config} names a migrations file; that use of --config is "
            "deprecated (it is the settings file, as for every command): write "
            f"--migrations {config}",
            err=True,
        )
        migrations, config = config, None
    settings = _settings(config, workspace=workspace, workers=workers)
    root = migration_tasks(migrations or "migrations.toml", table)
    result = run_build(root, settings=settings, hooks=_hooks(settings))
    for uid in result.graph.order:
        task = result.graph.nodes[uid].task
        r = result.results[uid]
        if type(task).__name__ == "MigrateTable":
            detail = f"{r.error.type}: {r.error.message}" if r.error else f"{r.duration_s:.2f}s"
            typer.echo(f"{r.status:>15}  {task.table}  {detail}")  # type: ignore[attr-defined]
    if not result.ok:
        raise typer.Exit(1)


@app.command()
@_errors_exit_2
def query(
    sql: Annotated[str, typer.Argument(help="One read-only SELECT / WITH statement.")],
    warehouse: Annotated[
        str | None, typer.Option("--warehouse", help="URL or a name from [warehouses].")
    ] = None,
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="Write .parquet or .csv instead.")
    ] = None,
    service: Annotated[
        str | None, typer.Option("--service", help="Query service URL (else direct).")
    ] = None,
    token: Annotated[
        str | None, typer.Option("--token", envvar="TASUKI_QUERY_TOKEN", help="Service token.")
    ] = None,
    limit: Annotated[int, typer.Option(help="Rows shown in the preview.")] = 20,
    config: ConfigFile = None,
) -> None:
    """Run a query on the warehouse (or through the query service): preview or write a file."""
    from tasuki.service import run_query_command

    settings = _settings(config)
    url = warehouse
    if url is not None and "://" not in url and url in settings.warehouses:
        url = settings.warehouses[url]
    if url is None and len(settings.warehouses) == 1:
        url = next(iter(settings.warehouses.values()))
    code = run_query_command(
        sql, warehouse=url, service_url=service, token=token, output=output, limit_preview=limit
    )
    if code:
        raise typer.Exit(code)


def service_catalog(settings: Settings, option: str | None) -> str | None:
    """The catalog ``tasuki serve`` records read-by lineage in: ``--catalog`` when given
    (``''``: none), else the ``catalog`` setting only when settings set it (the default URL
    names no team catalog, and lineage is not worth a surprise SQLite file)."""
    if option is not None:
        return option or None
    return settings.catalog if "catalog" in settings.source else None


@app.command()
@_errors_exit_2
def serve(
    warehouse: Annotated[str, typer.Option(help="Warehouse URL or a name from [warehouses].")],
    results_dir: Annotated[str, typer.Option(help="Folder or URL for result parts.")],
    tokens_file: Annotated[
        str | None, typer.Option(help="Client tokens (hashed), from `tasuki add-client`.")
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Queries run at once.")] = 4,
    per_client: Annotated[int, typer.Option(help="Running queries per client.")] = 2,
    ttl: Annotated[float, typer.Option(help="Seconds results are kept.")] = 24 * 3600.0,
    catalog: Annotated[
        str | None,
        typer.Option(
            help="Catalog to record the tables each query reads in (default: the `catalog` "
            "setting when a settings file sets it; '' for none)."
        ),
    ] = None,
    config: ConfigFile = None,
    log_level: LogLevel = "INFO",
) -> None:
    """Serve the HTTP query API (POST /v1/queries, GET parts as Parquet)."""
    from tasuki.service import ServiceConfig
    from tasuki.service import serve as run_server

    _setup_logging(log_level)
    settings = _settings(config)
    run_server(
        ServiceConfig(
            warehouse=warehouse,
            results_dir=results_dir,
            tokens_file=tokens_file,
            warehouses=settings.warehouses,
            workers=workers,
            max_concurrent_per_client=per_client,
            result_ttl=ttl,
            catalog=service_catalog(settings, catalog),
        ),
        host=host,
        port=port,
    )


@app.command(name="add-client")
@_errors_exit_2
def add_client_cmd(
    name: Annotated[str, typer.Argument(help="Client name.")],
    tokens_file: Annotated[str, typer.Option(help="Tokens file (created if missing).")],
    replace: Annotated[bool, typer.Option(help="Replace an existing client's token.")] = False,
) -> None:
    """Create a query-service client and print its token once (it is stored hashed)."""
    from tasuki.service import add_client

    typer.echo(add_client(tokens_file, name, replace=replace))


warehouse_app = typer.Typer(
    help="Warehouse administration.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(warehouse_app, name="warehouse")


@warehouse_app.command(name="reader-role")
@_errors_exit_2
def reader_role_cmd(
    name: Annotated[str, typer.Argument(help="The login role to create or bring up to date.")],
    database: Annotated[str, typer.Option(help="The database it may connect to.")],
    schema: Annotated[
        list[str] | None,
        typer.Option(help="A schema it may read (repeatable); default: every table."),
    ] = None,
    statement_timeout: Annotated[str, typer.Option(help="Limit per statement.")] = "15min",
    idle_timeout: Annotated[str, typer.Option(help="Limit on an idle transaction.")] = "1min",
    connection_limit: Annotated[int, typer.Option(help="Concurrent sessions.")] = 16,
    password_env: Annotated[
        str | None, typer.Option(help="Environment variable holding its password.")
    ] = None,
    apply: Annotated[
        bool, typer.Option("--apply", help="Run the SQL on --url instead of printing it.")
    ] = False,
    url: Annotated[
        str | None, typer.Option(help="PostgreSQL URL of a role that may create roles.")
    ] = None,
) -> None:
    """Print (or run with --apply) the SQL for a least-privilege PostgreSQL reader role.

    The role reads (every table through pg_read_all_data, or the named schemas), every
    transaction is read-only by default, and statement and idle-transaction timeouts are
    enforced by the server. The password is read from --password-env and never printed.
    """
    import os

    from tasuki.errors import ConfigError
    from tasuki.warehouse.postgres._roles import ReaderRole, apply_reader_role, reader_role_sql

    role = ReaderRole(
        name, database, tuple(schema or ()), statement_timeout, idle_timeout, connection_limit
    )
    password = None
    if password_env:
        password = os.environ.get(password_env)
        if not password:
            raise ConfigError(
                f"--password-env {password_env}: the variable is not set or empty",
                variable=password_env,
            )
    if not apply:
        for sql in reader_role_sql(role, password="********" if password else None):
            typer.echo(f"{sql};")
        return
    if not url:
        raise ConfigError("--apply needs --url: the server to create the role on")
    apply_reader_role(url, role, password=password)
    typer.echo(f"reader role {name!r} is ready on database {database!r}", err=True)


# `tasuki argo ...` and `tasuki image` live in their own module; it reuses the helpers above.
from tasuki.cli._argo import register as _register_argo  # noqa: E402

_register_argo(app)
