"""``tasuki upgrade-gokart PATH...``: rewrite gokart task classes into native tasuki tasks.

Shows a unified diff by default; ``--write`` writes the files (each atomically, and none
when any file does not parse). ``--ini FILE`` (repeatable) turns luigi ``.ini`` parameter
defaults of the converted classes into ``[tasks."module:Class"]`` tables of ``tasuki.toml``.
``--keep-outputs TASK`` (after ``--write``, alone) keeps the outputs that task's graph had
before the upgrade: same ids, but new code, which tasuki would otherwise rerun.
Exit codes: 0 done (also when nothing converts), 2 a file does not parse or a bad argument.
"""

from __future__ import annotations

import difflib
import json
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tasuki.cli._app import ConfigFile, Workspace, _errors_exit_2, _settings, app
from tasuki.errors import ConfigError

if TYPE_CHECKING:
    from tasuki.compat._codemod import UpgradeResult
    from tasuki.config import Settings

__all__ = ["upgrade_gokart_cmd"]

# Folders never searched for modules: environments, caches, build outputs.
_SKIP = frozenset({"__pycache__", "node_modules", "build", "dist", "site-packages"})


def _python_files(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for text in paths:
        path = Path(text)
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            for found in sorted(path.rglob("*.py")):
                parts = found.relative_to(path).parts[:-1]
                if not any(p.startswith(".") or p in _SKIP or "venv" in p for p in parts):
                    files.append(found)
        else:
            raise ConfigError(
                f"upgrade-gokart: {text} is neither a file nor a folder; pass the Python "
                "files or folders to convert",
                path=text,
            )
    return files


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename:
    an interrupted run leaves the old file, never half of the new one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _diff(old: str, new: str, path: Path) -> str:
    try:  # git's a/ b/ names for a file under the current folder, else the path itself
        name = path.resolve().relative_to(Path.cwd().resolve()).as_posix()
        before, after = f"a/{name}", f"b/{name}"
    except ValueError:
        before = after = path.as_posix()
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=before if old else "/dev/null",
        tofile=after,
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _show(diff: str) -> None:
    if not diff:
        return
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.syntax import Syntax

        Console().print(Syntax(diff, "diff", theme="ansi_dark", background_color="default"))
    else:
        typer.echo(diff, nl=False)


def _read(path: Path) -> str:
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"upgrade-gokart: cannot read {path}: {exc}", path=str(path)) from exc


@app.command(name="upgrade-gokart")
@_errors_exit_2
def upgrade_gokart_cmd(
    paths: Annotated[
        list[str] | None, typer.Argument(help="Python files or folders to convert.")
    ] = None,
    write: Annotated[
        bool, typer.Option("--write", help="Write the files (default: show a diff).")
    ] = False,
    ini: Annotated[
        list[str] | None,
        typer.Option(
            "--ini", help="luigi .ini file whose task sections go to tasuki.toml (repeatable)."
        ),
    ] = None,
    root: Annotated[
        str | None,
        typer.Option(help="Folder module names are relative to (default: the current one)."),
    ] = None,
    toml: Annotated[
        str | None, typer.Option(help="Settings file for --ini (default: ROOT/tasuki.toml).")
    ] = None,
    keep_outputs: Annotated[
        list[str] | None,
        typer.Option(
            "--keep-outputs",
            help="After --write: keep the outputs of this task's graph built before the "
            'upgrade (module:Task or a JSON {"task": ..., "params": {...}}; repeatable).',
        ),
    ] = None,
    workspace: Workspace = None,
    config: ConfigFile = None,
) -> None:
    """Rewrite gokart TaskOnKart classes into typed tasuki tasks (docs/gokart-upgrade.md)."""
    from tasuki.compat._codemod_project import upgrade_files

    if keep_outputs:
        if paths or ini:
            raise ConfigError(
                "upgrade-gokart: --keep-outputs runs on the converted code: convert with "
                "--write first, then run `tasuki upgrade-gokart --keep-outputs TASK` alone"
            )
        _keep(keep_outputs, _settings(config, workspace=workspace), write=write)
        return
    if not paths:
        raise ConfigError("upgrade-gokart: pass the Python files or folders to convert")
    base = Path(root) if root else Path.cwd()
    files = _python_files(paths)
    project = upgrade_files(files, [_read(path) for path in files], base)
    results = [(path, result) for path, _, result in project.results]
    if project.failed:
        for line in project.failed:
            typer.echo(line, err=True)
        typer.echo("nothing written: fix the files that do not parse first", err=True)
        raise typer.Exit(2)
    changed = [(p, r) for p, r in results if r.changed]
    for path, result in changed:
        _show(_diff(result.original, result.code, path))
    for _, result in results:
        for note in result.notes:
            typer.echo(str(note), err=True)
    toml_change = _ini_to_toml(ini or [], results, base, Path(toml) if toml else None)
    converted = sum(c.converted for _, r in results for c in r.classes)
    left = sum(not n.converted for _, r in results for n in r.notes)
    if not changed and toml_change is None:
        typer.echo(
            "nothing to convert: no gokart TaskOnKart class that can be converted in "
            f"{len(results)} file(s)"
            + (f"; {left} class(es) left untouched (see above)" if left else ""),
            err=True,
        )
        return
    if write:
        for path, result in changed:
            _write_atomic(path, result.code)
        if toml_change is not None:
            _write_atomic(*toml_change)
    verb = "converted" if write else "would convert (run with --write to write)"
    typer.echo(
        f"{verb}: {converted} class(es) in {len(changed)} file(s); {left} left untouched"
        + (f"; {toml_change[0]} updated" if toml_change and write else ""),
        err=True,
    )


def _ini_to_toml(
    ini: list[str], results: list[tuple[Path, UpgradeResult]], root: Path, toml: Path | None
) -> tuple[Path, str] | None:
    """Convert the ``.ini`` files, show the tasuki.toml diff, report problems; the new
    settings file text when it changes."""
    if not ini:
        return None
    from tasuki.compat._codemod import ClassFacts, module_name
    from tasuki.compat._codemod_ini import convert_ini, merge_toml

    families: dict[str, list[tuple[str, ClassFacts]]] = {}
    for path, result in results:
        module = module_name(path, root)
        for facts in result.classes:
            families.setdefault(facts.family, []).append((module, facts))
    for name in ini:
        if not Path(name).is_file():
            raise ConfigError(f"upgrade-gokart: --ini {name}: no such file", path=name)
    conversion = convert_ini([Path(n) for n in ini], families)
    target = toml or root / "tasuki.toml"
    existing = _read(target) if target.exists() else ""
    text = merge_toml(existing, conversion, str(target))
    for problem in conversion.problems:
        typer.echo(problem, err=True)
    if text == existing:
        return None
    _show(_diff(existing, text, target))
    return target, text


def _keep(tasks: list[str], settings: Settings, *, write: bool) -> None:
    """``--keep-outputs``: re-key the records of the converted tasks' graphs."""
    from tasuki.cli._params import make_task
    from tasuki.compat._codemod_keep import keep_outputs

    roots = []
    for text in tasks:
        if text.lstrip().startswith("{"):
            try:
                spec = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"--keep-outputs {text!r}: not JSON ({exc})") from exc
            if not isinstance(spec, dict) or not isinstance(spec.get("task"), str):
                raise ConfigError(
                    f'--keep-outputs {text!r}: write {{"task": "module:Task", "params": {{...}}}}'
                )
            roots.append(make_task(spec["task"], spec.get("params", {}), settings))
        else:
            roots.append(make_task(text, {}, settings))
    kept = keep_outputs(roots, settings, write=write)
    for entry in kept:
        reason = f" ({entry.reason})" if entry.reason else ""
        typer.echo(f"{entry.status:12} {entry.task} {entry.unique_id[:12]}{reason}")
    counts = Counter(entry.status for entry in kept)
    rekeyed = counts["rekeyed"] + counts["would_rekey"]
    typer.echo(
        f"{rekeyed} record(s) {'re-keyed' if write else 'to re-key (run with --write)'}, "
        f"{counts['current']} current, {counts['not_built']} without a complete output, "
        f"{counts['format_changed']} with a gokart-format output to rebuild",
        err=True,
    )
