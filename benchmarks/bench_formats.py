"""Dump / load speed of tasuki's formats against raw pyarrow, raw pickle and gokart 1.12.2.

Run it::

    .venv/bin/python benchmarks/bench_formats.py                # 1,000,000 rows, 3 repeats
    .venv/bin/python benchmarks/bench_formats.py --rows 100000 --repeat 5 --no-gokart
    .venv/bin/python benchmarks/bench_formats.py --gzip-levels  # also compare gzip levels

or from Python: ``run(rows=1_000_000, repeat=3) -> list[dict]``.

The frame is 1 M x 10 with a named index: two int64 columns, three float64, two strings,
a naive datetime, a categorical and a bool. Every case writes a real file in a temporary
folder and reads it back into pandas; the median of ``repeat`` rounds is reported, with the
cases interleaved inside each round so that machine noise spreads over all of them. After
the first round each loaded value is compared with the original: "index kept" and
"dtypes kept" say what survived.

Baselines: ``pq.write_table(pa.Table.from_pandas(df))`` (pyarrow's default, snappy) and
``pq.read_table().to_pandas()``; ``pyarrow.feather`` write/read; ``pickle`` protocol 5;
``pyarrow.csv`` for CSV (it drops the index); ``np.savez`` for npz. gokart runs in its own
virtualenv (``benchmarks/setup_gokart.sh``) through a subprocess, with
``gokart.target.make_target(path).dump()/.load()`` on the same frame (built by the same
code, same seed).
"""

from __future__ import annotations

import argparse
import inspect
import io
import json
import os
import pickle
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _host import cpu_model

HERE = Path(__file__).resolve().parent


def build_frame(rows: int) -> Any:
    """The benchmark frame: rows x 10 mixed dtypes with a named index (seeded)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(20240601)
    return pd.DataFrame(
        {
            "user": rng.integers(0, 100_000, rows),
            "count": rng.integers(-(10**9), 10**9, rows),
            "score": rng.random(rows),
            "noise": rng.normal(size=rows),
            "ratio": rng.random(rows) * 100,
            "name": pd.array([f"user_{i}" for i in rng.integers(0, 50_000, rows)], dtype="str"),
            "item": pd.array([f"item-{i:08d}" for i in rng.integers(0, 10**7, rows)], dtype="str"),
            "at": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 86_400 * 365, rows), unit="s"),
            "colour": pd.Categorical(rng.choice(["red", "green", "blue", "black"], rows)),
            "flag": rng.random(rows) > 0.5,
        },
        index=pd.Index(np.arange(rows, dtype="int64") * 3, name="event_id"),
    )


def compare(original: Any, loaded: Any) -> dict[str, Any]:
    """What survived a round trip: index (values and names) and per-column dtypes."""
    import pandas as pd

    if not isinstance(loaded, pd.DataFrame):
        return {"index_kept": None, "dtypes_kept": None, "dtype_changes": ""}
    index_kept = bool(
        len(loaded) == len(original)
        and list(loaded.index.names) == list(original.index.names)
        and loaded.index.equals(original.index)
    )
    changes = [
        f"{col}:{original[col].dtype}->{loaded[col].dtype}"
        for col in original.columns
        if col in loaded.columns and str(loaded[col].dtype) != str(original[col].dtype)
    ]
    missing = [col for col in original.columns if col not in loaded.columns]
    changes += [f"{col}:missing" for col in missing]
    return {
        "index_kept": index_kept,
        "dtypes_kept": not changes,
        "dtype_changes": ", ".join(changes),
    }


# ------------------------------------------------------------------------------- cases


def _tasuki_case(ext: str) -> tuple[Callable[..., None], Callable[[str], Any]]:
    """Dump and load the way a task does: through a FileTarget in a workspace, hashing the
    bytes on the way out and verifying size and xxh3 against the record on the way in."""
    from tasuki.core.targets import Expected, FileTarget
    from tasuki.formats import format_for
    from tasuki.storage import open_store

    fmt = format_for("x" + ext)
    written: dict[str, Any] = {}

    def dump(value: Any, path: str) -> None:
        folder, name = os.path.split(path)
        info = FileTarget(name, fmt).dump(
            open_store(folder), value, fail_on_empty=False, where="bench"
        )
        written[path] = Expected("0" * 64, "bench:Dump", info.size, info.xxh3)

    def load(path: str) -> Any:
        folder, name = os.path.split(path)
        return FileTarget(name, fmt).load(open_store(folder), expected=written[path])

    return dump, load


def _raw_cases() -> dict[str, tuple[str, Callable[..., None], Callable[[str], Any]]]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.feather as feather
    import pyarrow.parquet as pq

    def pickle_dump(value: Any, path: str) -> None:
        with open(path, "wb") as f:
            pickle.dump(value, f, protocol=5)

    def pickle_load(path: str) -> Any:
        with open(path, "rb") as f:
            return pickle.load(f)

    def npz_load(path: str) -> Any:
        with np.load(path) as archive:
            return {k: archive[k] for k in archive.files}

    return {
        "raw pickle": (".pkl", pickle_dump, pickle_load),
        "raw pyarrow parquet": (
            ".parquet",
            lambda df, p: pq.write_table(pa.Table.from_pandas(df), p),
            lambda p: pq.read_table(p).to_pandas(),
        ),
        "raw pyarrow feather": (
            ".feather",
            lambda df, p: feather.write_feather(df, p),
            lambda p: feather.read_feather(p),
        ),
        "raw pyarrow csv": (
            ".csv",
            lambda df, p: pacsv.write_csv(pa.Table.from_pandas(df, preserve_index=False), p),
            lambda p: pacsv.read_csv(p).to_pandas(),
        ),
        "raw np.savez": (".npz", lambda d, p: np.savez(p, **d), npz_load),
    }


# Which baseline each of our formats is compared with.
BASELINE = {
    "pkl": "raw pickle",
    "pkl.gz": "raw pickle",
    "parquet": "raw pyarrow parquet",
    "feather": "raw pyarrow feather",
    "arrow": "raw pyarrow feather",
    "csv": "raw pyarrow csv",
    "csv.gz": "raw pyarrow csv",
    "npz": "raw np.savez",
    "gokart pkl": "raw pickle",
    "gokart parquet": "raw pyarrow parquet",
    "gokart feather": "raw pyarrow feather",
    "gokart csv": "raw pyarrow csv",
}


def _numeric_arrays(df: Any) -> dict[str, Any]:
    """npz holds arrays, not frames: the meaningful comparison is the numeric columns."""
    arrays = {c: df[c].to_numpy() for c in ("user", "count", "score", "noise", "ratio", "flag")}
    arrays["event_id"] = df.index.to_numpy()
    return arrays


def _time(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _measure(
    cases: dict[str, tuple[str, Callable[..., None], Callable[[str], Any], Any]],
    repeat: int,
    folder: Path,
    original: Any,
) -> list[dict[str, Any]]:
    dumps: dict[str, list[float]] = {name: [] for name in cases}
    loads: dict[str, list[float]] = {name: [] for name in cases}
    facts: dict[str, dict[str, Any]] = {}
    for round_ in range(repeat):
        for name, (ext, dump, load, value) in cases.items():
            path = str(folder / (name.replace(" ", "_") + ext))
            seconds, _ = _time(lambda: dump(value, path))  # noqa: B023 - called at once
            dumps[name].append(seconds)
            seconds, loaded = _time(lambda: load(path))  # noqa: B023
            loads[name].append(seconds)
            if round_ == 0:
                facts[name] = {"bytes": os.path.getsize(path)}
                if value is original:
                    facts[name].update(compare(original, loaded))
                else:
                    facts[name].update(index_kept=None, dtypes_kept=None, dtype_changes="arrays")
            del loaded
            os.remove(path)
    return [
        {
            "case": name,
            "dump_s": statistics.median(dumps[name]),
            "load_s": statistics.median(loads[name]),
            "dump_all_s": dumps[name],
            "load_all_s": loads[name],
            **facts[name],
        }
        for name in cases
    ]


# ------------------------------------------------------------------------------ gokart

_GOKART_SIDE = r"""
import importlib.metadata, json, os, statistics, sys, tempfile, time
import pandas as pd
from gokart.target import make_target

rows, repeat = int(sys.argv[1]), int(sys.argv[2])
df = build_frame(rows)
results = []
times = {ext: ([], []) for ext in ("pkl", "parquet", "feather", "csv")}
facts = {}
with tempfile.TemporaryDirectory(prefix="bench-gokart-") as tmp:
    for round_ in range(repeat):
        for ext, (dumps, loads) in times.items():
            path = os.path.join(tmp, "x." + ext)
            target = make_target(path)
            start = time.perf_counter()
            target.dump(df)
            dumps.append(time.perf_counter() - start)
            start = time.perf_counter()
            loaded = target.load()
            loads.append(time.perf_counter() - start)
            if round_ == 0:
                facts[ext] = {"bytes": os.path.getsize(path), **compare(df, loaded)}
            del loaded
            os.remove(path)
for ext, (dumps, loads) in times.items():
    results.append({
        "case": "gokart " + ext,
        "dump_s": statistics.median(dumps),
        "load_s": statistics.median(loads),
        "dump_all_s": dumps,
        "load_all_s": loads,
        **facts[ext],
    })
versions = {"gokart": importlib.metadata.version("gokart"), "pandas": pd.__version__}
print(json.dumps({**versions, "results": results}))
"""


def gokart_python() -> str | None:
    """The gokart virtualenv's python, creating it on first use; None when that fails."""
    try:
        out = subprocess.run(
            ["bash", str(HERE / "setup_gokart.sh")], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"gokart environment unavailable: {exc}", file=sys.stderr)
        return None
    python = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    return python if python and os.path.exists(python) else None


def run_gokart(rows: int, repeat: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """gokart's own targets on the same frame, in gokart's interpreter."""
    python = gokart_python()
    if python is None:
        return {}, []
    script = "\n".join(
        [
            "from typing import Any",
            inspect.getsource(build_frame),
            inspect.getsource(compare),
            _GOKART_SIDE,
        ]
    )
    out = subprocess.run(
        [python, "-c", script, str(rows), str(repeat)],
        capture_output=True,
        text=True,
        check=True,
        timeout=3600,
    )
    payload = json.loads(out.stdout.strip().splitlines()[-1])
    return {"gokart": payload["gokart"], "gokart_pandas": payload["pandas"]}, payload["results"]


# --------------------------------------------------------------------------------- run


def machine() -> dict[str, Any]:
    """CPU model, cores and library versions."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    cpu = cpu_model()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "pandas": pd.__version__,
        "pyarrow": pa.__version__,
        "numpy": np.__version__,
    }


def run(
    rows: int = 1_000_000,
    repeat: int = 3,
    *,
    gokart: bool = True,
    info: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Measure every case; returns one dict per case (medians in seconds, ratios to raw).

    Args:
        rows: Rows of the benchmark frame.
        repeat: Rounds; medians are reported.
        gokart: Also run gokart's targets (needs ``setup_gokart.sh`` to work).
        info: If given, filled with machine and version facts.
    """
    original = build_frame(rows)
    arrays = _numeric_arrays(original)
    cases: dict[str, tuple[str, Callable[..., None], Callable[[str], Any], Any]] = {}
    for ext in ("pkl", "pkl.gz", "parquet", "feather", "arrow", "csv", "csv.gz"):
        cases[ext] = ("." + ext, *_tasuki_case("." + ext), original)
    cases["npz"] = (".npz", *_tasuki_case(".npz"), arrays)
    for name, (ext, dump, load) in _raw_cases().items():
        cases[name] = (ext, dump, load, arrays if ext == ".npz" else original)
    with tempfile.TemporaryDirectory(prefix="bench-formats-") as tmp:
        results = _measure(cases, repeat, Path(tmp), original)
    del original, arrays
    if info is not None:
        info.update(machine(), rows=rows, repeat=repeat)
    if gokart:
        versions, gokart_results = run_gokart(rows, repeat)
        results += gokart_results
        if info is not None:
            info.update(versions)
    by_name = {r["case"]: r for r in results}
    for r in results:
        base = by_name.get(BASELINE.get(r["case"], ""))
        r["total_s"] = r["dump_s"] + r["load_s"]
        r["baseline"] = base["case"] if base else ""
        r["ratio"] = r["total_s"] / (base["dump_s"] + base["load_s"]) if base else None
    return results


def gzip_levels(rows: int, repeat: int) -> list[dict[str, Any]]:
    """csv.gz and pkl.gz at gzip levels 1 (tasuki's choice) and 6 (gzip's default)."""
    import tasuki.formats._stream as stream
    from tasuki.formats import format_for

    df = build_frame(rows)
    out = []
    saved = stream.GZIP_LEVEL
    try:
        for ext in (".csv.gz", ".pkl.gz"):
            fmt = format_for("x" + ext)
            for level in (1, 6):
                stream.GZIP_LEVEL = level
                times, size = [], 0
                for _ in range(repeat):
                    buf = io.BytesIO()
                    seconds, _ = _time(lambda: fmt.dump(df, buf))  # noqa: B023
                    times.append(seconds)
                    size = len(buf.getvalue())
                out.append(
                    {
                        "case": f"{ext} level {level}",
                        "dump_s": statistics.median(times),
                        "bytes": size,
                    }
                )
    finally:
        stream.GZIP_LEVEL = saved
    return out


def _fmt(value: Any, spec: str = ".3f") -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return format(value, spec)


def print_report(
    results: list[dict[str, Any]], info: dict[str, Any], levels: list[dict[str, Any]]
) -> None:
    """A plain-text table (rich when available)."""
    header = [
        "case",
        "dump s",
        "load s",
        "total s",
        "x raw",
        "vs",
        "MB",
        "index",
        "dtypes",
        "changes",
    ]
    rows = [
        [
            r["case"],
            _fmt(r["dump_s"]),
            _fmt(r["load_s"]),
            _fmt(r["total_s"]),
            _fmt(r["ratio"], ".2f"),
            r["baseline"] if r["baseline"] != r["case"] else "",
            _fmt(r["bytes"] / 1e6, ".1f"),
            _fmt(r["index_kept"]),
            _fmt(r["dtypes_kept"]),
            r["dtype_changes"],
        ]
        for r in results
    ]
    facts = ", ".join(f"{k}={v}" for k, v in info.items())
    try:
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table
    except ImportError:
        print(facts)
        print(" | ".join(header))
        for row in rows:
            print(" | ".join(row))
    else:
        table = Table(title=escape(f"formats benchmark: {facts}"))
        for column in header:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(escape(cell) for cell in row))  # "[us]" is not markup
        Console(width=200).print(table)
    by_name = {r["case"]: r for r in results}
    for ours in ("parquet", "feather"):
        if ours in by_name and by_name[ours]["ratio"] is not None:
            r = by_name[ours]
            verdict = (
                "OK" if r["ratio"] <= 1.3 and r["index_kept"] and r["dtypes_kept"] else "MISSED"
            )
            print(
                f"target {ours}: dump+load {r['total_s']:.3f}s = {r['ratio']:.2f}x {r['baseline']} "
                f"(<= 1.3x with index and dtypes kept): {verdict}"
            )
    for level in levels:
        print(f"gzip {level['case']}: dump {level['dump_s']:.3f}s, {level['bytes'] / 1e6:.1f} MB")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: run and print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-gokart", action="store_true", help="skip gokart's targets")
    parser.add_argument(
        "--gzip-levels", action="store_true", help="also compare gzip levels 1 and 6"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    info: dict[str, Any] = {}
    results = run(args.rows, args.repeat, gokart=not args.no_gokart, info=info)
    levels = gzip_levels(args.rows, args.repeat) if args.gzip_levels else []
    print_report(results, info, levels)
    if args.json:
        args.json.write_text(
            json.dumps({"info": info, "results": results, "gzip": levels}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent / "src"))
    raise SystemExit(main())
