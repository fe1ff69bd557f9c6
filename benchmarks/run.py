"""Run tasuki's benchmarks and print their tables: the one command.

    python benchmarks/run.py pipeline [--quick] [--repeat N] [--no-gokart] [--no-docs]
    python benchmarks/run.py formats|warehouse|migrate|service
    python benchmarks/run.py all [--quick]

Each benchmark is a module ``bench_<name>.py`` next to this file. A module with ``main(argv)``
gets the remaining arguments (``--quick`` and ``--repeat`` translated to the flags it has) and
prints (and documents) its own results; a module with only
``run(...)`` returning a list of dicts is called with the keyword arguments its signature
accepts (``quick``, ``repeat``, ``rows``) and its rows are printed here as a table.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
KNOWN = ("pipeline", "formats", "warehouse", "migrate")


def benchmarks() -> list[str]:
    """The known benchmarks in their order, then any other ``bench_*.py`` found here."""
    found = sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    return [*KNOWN, *(name for name in found if name not in KNOWN)]


QUICK_ROWS = 100_000  # the DataFrame size a --quick formats run uses


def _print_rows(title: str, data: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    columns: list[str] = []
    for row in data:
        columns += [k for k in row if k not in columns]
    for col in columns:
        table.add_column(col)
    for row in data:
        table.add_row(*(_fmt(row.get(c)) for c in columns))
    # A file or a pipe gets the whole table (rich would wrap it to 80 columns): logs of
    # benchmark runs are read later, and a cut verdict says nothing.
    console = Console() if sys.stdout.isatty() else Console(width=240)
    console.print(table)


_VERSIONED = ("tasuki", "dask", "distributed", "pyarrow", "pandas", "duckdb", "hera", "moto")


def _environment(load_before: float) -> str:
    """Machine, versions, load average before and after, file system of the scratch folder:
    printed under every table this module prints (a bare figure cannot be compared)."""
    import os
    import platform
    import tempfile
    from importlib.metadata import PackageNotFoundError, version

    from _host import cpu_model
    from bench_pipeline import _commit, _filesystem

    versions = [f"python {platform.python_version()}"]
    for name in _VERSIONED:
        if name in sys.modules:
            try:
                versions.append(f"{name} {version(name)}")
            except PackageNotFoundError:
                pass
    scratch = Path(tempfile.gettempdir()).resolve()
    return (
        f"machine: {cpu_model()}, {os.cpu_count()} cores, {platform.platform(terse=True)}; "
        f"{', '.join(versions)}; commit {_commit()}; load average {load_before:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after; scratch {scratch} ({_filesystem(scratch)})"
    )


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _common_flags(main: Any, args: argparse.Namespace) -> list[str]:
    """Translate --quick / --repeat into the flags this benchmark's main() understands."""
    try:
        source = inspect.getsource(main)
    except (OSError, TypeError):
        source = ""
    flags: list[str] = []
    if args.quick:
        if '"--quick"' in source:
            flags.append("--quick")
        else:  # no quick mode of its own: one repeat on a small data set if it takes --rows
            flags += ["--rows", str(QUICK_ROWS)] if '"--rows"' in source else []
            flags += ["--repeat", "1"] if '"--repeat"' in source else []
    if args.repeat is not None and '"--repeat"' in source and "--repeat" not in flags:
        flags += ["--repeat", str(args.repeat)]
    return flags


def run_one(name: str, args: argparse.Namespace, rest: list[str]) -> int:
    """Run ``bench_<name>`` and return its exit status (0 when it has no status)."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    try:
        module = importlib.import_module(f"bench_{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"bench_{name}":
            raise
        print(f"{name}: benchmarks/bench_{name}.py does not exist yet; skipped", file=sys.stderr)
        return 0
    t0 = time.perf_counter()
    if hasattr(module, "main"):
        takes_argv = bool(inspect.signature(module.main).parameters)
        argv = list(rest) + _common_flags(module.main, args)
        status = module.main(argv) if takes_argv else module.main()
    elif hasattr(module, "run"):
        accepted = inspect.signature(module.run).parameters
        kwargs: dict[str, Any] = {}
        if "quick" in accepted:
            kwargs["quick"] = args.quick
        if "repeat" in accepted:
            kwargs["repeat"] = args.repeat if args.repeat is not None else (1 if args.quick else 3)
        if "rows" in accepted and args.quick:
            kwargs["rows"] = QUICK_ROWS
        import os

        load_before = os.getloadavg()[0]
        _print_rows(f"{name} benchmark", module.run(**kwargs))
        print(_environment(load_before))
        status = 0
    else:
        print(f"{name}: bench_{name}.py has neither main() nor run(); skipped", file=sys.stderr)
        return 0
    print(f"{name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return int(status or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the chosen benchmark(s)."""
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py",
        description="Run tasuki benchmarks and print their tables.",
        epilog="Other options go to the benchmark's own main() "
        "(pipeline: --no-gokart, --no-docs, --json PATH).",
    )
    names = benchmarks()
    parser.add_argument("which", choices=[*names, "all"], nargs="?", default="all")
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    parser.add_argument("--repeat", type=int, default=None, help="repeats per measurement")
    args, rest = parser.parse_known_args(argv)
    names = names if args.which == "all" else [args.which]
    status = 0
    for name in names:
        try:
            code = run_one(name, args, rest if args.which != "all" else [])
        except Exception:  # one broken benchmark must not hide the others' tables
            if args.which != "all":
                raise
            traceback.print_exc()
            code = 1
        status = max(status, code)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
