"""From gokart to typed tasuki tasks, end to end, offline.

1. The gokart pipeline in ``pipeline.py`` (its imports switched to ``tasuki.compat``) builds on
   tasuki with its ``param.ini``; a second build computes nothing.
2. ``tasuki why`` says what a changed parameter would rerun.
3. ``tasuki upgrade-gokart --write`` turns a copy of it into native typed tasks (same module
   name, same unique ids), ``--keep-outputs`` carries the records over, and the converted
   pipeline builds with nothing to run.

    python -m examples.from_gokart.run --folder /tmp/from-gokart
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT_TASK = "examples.from_gokart.pipeline:Report"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default="from-gokart", help="where everything is written")
    folder = Path(parser.parse_args().folder).resolve()
    shutil.rmtree(folder, ignore_errors=True)
    workspace = folder / "resources"

    import tasuki
    import tasuki.compat.gokart as gokart
    import tasuki.compat.luigi as luigi
    from examples.from_gokart import pipeline

    gokart.add_config(HERE / "param.ini")
    luigi.configuration.get_config().set("TaskOnKart", "workspace_directory", str(workspace))
    print("1. gokart code on tasuki:", gokart.build(pipeline.Report()))
    again = tasuki.run_build(pipeline.Report(), workspace=str(workspace), progress="off")
    print(f"   again: {_ran(again)} ran")

    why = _tasuki(["why", ROOT_TASK, "--max-depth", "5", "-w", str(workspace)], cwd=Path.cwd())
    print("2. tasuki why with --max-depth 5:\n   " + "\n   ".join(why.splitlines()[:3]))

    native = folder / "native"
    target = native / "examples" / "from_gokart"
    target.mkdir(parents=True)
    for package in (native / "examples", target):
        (package / "__init__.py").write_text("")
    shutil.copy(HERE / "pipeline.py", target / "pipeline.py")
    _tasuki(
        ["upgrade-gokart", str(target / "pipeline.py"), "--root", str(native), "--write",
         "--ini", str(HERE / "param.ini")],
        cwd=native,
    )  # fmt: skip
    converted = (target / "pipeline.py").read_text()
    start = converted.index("class TrainModel")
    print("3. upgraded:\n   " + "\n   ".join(converted[start:].splitlines()[:8]))
    print("   tasuki.toml:", " ".join((native / "tasuki.toml").read_text().split()))
    # The converted classes' code differs, so their outputs would be rebuilt; keep them.
    keep = {"task": ROOT_TASK, "params": {"max_depth": 4}}
    _tasuki(
        ["upgrade-gokart", "--keep-outputs", _json(keep), "-w", str(workspace), "--write"],
        cwd=native,
    )
    code = (
        "import tasuki; from examples.from_gokart.pipeline import Report, __file__ as f; "
        f"r = tasuki.run_build(Report(max_depth=4), workspace={str(workspace)!r}, "
        "progress='off'); print(f, sum(1 for x in r.results.values() if x.status == 'ran'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=native, capture_output=True, text=True, check=True
    ).stdout.split()
    print(f"   the typed pipeline ({Path(out[0]).relative_to(folder)}): {out[1]} ran")


def _ran(result: object) -> int:
    return sum(1 for r in result.results.values() if r.status == "ran")  # type: ignore[attr-defined]


def _json(value: object) -> str:
    import json

    return json.dumps(value)


def _tasuki(words: list[str], cwd: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "tasuki", *words], cwd=cwd, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(f"tasuki {' '.join(words)} failed:\n{out.stdout}{out.stderr}")
    return out.stdout


if __name__ == "__main__":
    main()
