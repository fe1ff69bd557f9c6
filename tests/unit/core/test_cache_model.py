"""A cached output is never wrong, checked against a model over random sequences of changes.

A small project on disk (a raw file as a ``FileInput``, a file in ``data_files``, a helper
module, a parameter, five tasks) goes through seeded random sequences of what happens to a
real project between builds: code edited (for real, or only comments), raw files replaced
(with other bytes, or the same bytes again), outputs deleted or changed in place, records
deleted, a parameter changed, ``rerun`` asked, builds killed, two builds at once (also two
builds of Report rerunning Clean, whose every run then gives other values: each Report must
be made from one run of Clean), ``tasuki gc`` between builds and during one. Each build runs
in a fresh process, as a user's ``tasuki run`` does, and is compared with a model that
computes every task's value from the project as it is now:

- the root's output is the model's value; every other task's output that loads is too (one
  that is missing or damaged may stay so while the root is complete, never wrong);
- ``tasuki why`` said beforehand exactly which tasks would run;
- a build right after a build runs nothing.

The unit tests beside it check each rule alone; this one checks that they hold together in
orders nobody wrote down.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

# Read at run time, not declared: only how long a run takes (for the killed builds).
SLOW = """
import time
from pathlib import Path


def pause():
    path = Path("data/slow.txt")
    if path.exists():
        time.sleep(float(path.read_text()))
"""

HELPER = "FACTOR = {factor}\n{comment}\n\ndef scale(x):\n    return x * FACTOR\n"

TASKS = """
import os
import random

import tasuki
from cmproj import helper, slow

OFFSET = {offset}
WEIGHT = {weight}


class Clean(tasuki.Task):
    drop: int = 0

    def requires(self):
        return tasuki.FileInput(path="data/raw.txt")

    def run(self):
        slow.pause()
        values = [int(v) for v in self.load().split()]
        with open("data/nonce.txt") as f:  # read, not declared: a run's own randomness
            nonce = int(f.read())
        if os.path.exists("data/jitter"):  # two builds rerunning it: each run its own value
            nonce += random.randrange(1, 10**9)
            with open("data/jitter-runs.txt", "a") as f:
                f.write(f"{{nonce}}\\n")
        self.dump([helper.scale(v) + nonce for v in values if v >= self.drop])


class Lookup(tasuki.Task):
    data_files = ("data/lookup.txt",)

    def run(self):
        slow.pause()
        with open("data/lookup.txt") as f:
            self.dump(int(f.read().strip()))


class Feature(tasuki.Task):
    drop: int = 0

    def requires(self):
        return Clean(drop=self.drop)

    def run(self):
        slow.pause()
        self.dump(sum(self.load()) + OFFSET)


class Count(tasuki.Task):
    drop: int = 0

    def requires(self):
        return {{"clean": Clean(drop=self.drop), "lookup": Lookup()}}

    def run(self):
        slow.pause()
        clean = self.load("clean")
        self.dump(len(clean) * self.load("lookup") * WEIGHT + max(clean))


class Report(tasuki.Task):
    drop: int = 0

    def requires(self):
        return {{"feature": Feature(drop=self.drop), "count": Count(drop=self.drop)}}

    def output(self):
        return self.make_target("report.txt")

    def run(self):
        slow.pause()
        self.dump(f"{{self.load('feature')}}/{{self.load('count')}}")
"""

# Run in a fresh interpreter per build: predict with `why`, build, then load every task.
DRIVER = """
import json, sys, logging
logging.disable(logging.WARNING)
import tasuki
from tasuki.core.graph import build_graph
from tasuki.errors import CorruptOutputError
from tasuki.report.why import explain_build
from tasuki.storage import open_store
from cmproj import tasks

name, drop, rerun, workers = sys.argv[1], int(sys.argv[2]), sys.argv[3] or None, int(sys.argv[4])
root = getattr(tasks, name)(drop=drop)
store = open_store("ws")
decisions = explain_build(root, store).decisions
names = {n.task.unique_id: type(n.task).__name__ for n in build_graph([root]).nodes.values()}
predicted = sorted(names[d.uid] for d in decisions if d.runs)
maybe = sorted(names[d.uid] for d in decisions if d.maybe)
result = tasuki.run_build([root], workspace="ws", progress="off", rerun=rerun,
                          executor="inline" if workers == 1 else "local", workers=workers)
ran = sorted(type(result.graph.nodes[u].task).__name__ for u, r in result.results.items()
             if r.status == "ran")
values, uids = {}, {}
for node in result.graph.nodes.values():
    name = type(node.task).__name__
    uids[name] = node.task.unique_id
    try:
        values[name] = tasuki.load(node.task, workspace="ws")
    except FileNotFoundError:
        values[name] = "<missing>"
    except CorruptOutputError:
        values[name] = "<damaged>"
errors = {type(result.graph.nodes[u].task).__name__: r.error.message
          for u, r in result.results.items() if r.error is not None}
print(json.dumps({"ok": result.ok, "predicted": predicted, "maybe": maybe, "ran": ran,
                  "values": values, "uids": uids, "errors": errors}))
"""


@dataclass
class Project:
    """The project on disk and what the model says every task's value is."""

    root: Path
    factor: int = 1
    comment: str = ""
    offset: int = 0
    weight: int = 1
    raw: list[int] = field(default_factory=lambda: [1, 2, 3])
    lookup: int = 1
    nonce: int = 0
    nonce_of: dict[str, int] = field(default_factory=dict)  # Clean's id -> nonce it ran with
    # Outputs changed in place, same size: a build's check sees it where it looks (the
    # output's stamp moved: it hashes it); below complete tasks it looks at nothing, and a
    # load finds it (its hash), and the build runs its task again then.
    damaged: dict[Path, bytes] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    def write(self) -> None:
        pkg = self.root / "cmproj"
        pkg.mkdir(exist_ok=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "helper.py").write_text(HELPER.format(factor=self.factor, comment=self.comment))
        (pkg / "slow.py").write_text(SLOW)
        (pkg / "tasks.py").write_text(TASKS.format(offset=self.offset, weight=self.weight))
        (self.root / "data").mkdir(exist_ok=True)
        (self.root / "data" / "raw.txt").write_text(" ".join(map(str, self.raw)) + "\n")
        (self.root / "data" / "lookup.txt").write_text(f"{self.lookup}\n")
        (self.root / "data" / "nonce.txt").write_text(f"{self.nonce}\n")

    def model(self, drop: int, nonce: int) -> dict[str, Any]:
        """Every task's value, given the nonce that the Clean in effect ran with."""
        clean = [v * self.factor + nonce for v in self.raw if v >= drop]
        feature = sum(clean) + self.offset
        count = len(clean) * self.lookup * self.weight + max(clean)
        return {
            "FileInput": " ".join(map(str, self.raw)) + "\n",
            "Clean": clean,
            "Lookup": self.lookup,
            "Feature": feature,
            "Count": count,
            "Report": f"{feature}/{count}",
        }

    def build(self, root: str, drop: int, rerun: str = "", workers: int = 1) -> dict[str, Any]:
        return self.finish(self.start(root, drop, rerun, workers))

    def start(self, root: str, drop: int, rerun: str = "", workers: int = 1) -> Any:
        """A build of ``root`` in a fresh interpreter, started (see :meth:`finish`)."""
        return subprocess.Popen(
            [sys.executable, "-c", DRIVER, root, str(drop), rerun, str(workers)],
            cwd=self.root,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # a kill reaches its worker processes too
        )

    def finish(self, proc: Any) -> dict[str, Any]:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, f"{self.log}\n{err[-3000:]}"
        got: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        return got

    def env(self) -> dict[str, str]:
        repo = Path(__file__).resolve().parents[3]
        return {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(self.root), str(repo / "src")]),
            "TASUKI_CODE_CACHE": str(self.root / "code-cache"),
        }

    def still_damaged(self) -> set[str]:
        """The tasks with an output that still holds the bytes a "damage" left, and every
        task below them (a damaged output found on load reruns its task, and that run
        needs what is below it)."""
        names = set()
        for path, data in self.damaged.items():
            if path.exists() and path.read_bytes() == data:
                stem = path.name.split("_")[0]
                names.add("Report" if stem == "report" else stem.capitalize())
        below = {"Report": {"Feature", "Count"}, "Feature": {"Clean"}, "Count": {"Clean", "Lookup"}}
        below["Clean"] = {"FileInput"}
        todo = list(names)
        while todo:
            for dep in below.get(todo.pop(), ()):
                if dep not in names:
                    names.add(dep)
                    todo.append(dep)
        return names

    def outputs(self, name: str) -> list[Path]:
        stem = "report" if name == "Report" else name.lower()
        return sorted((self.root / "ws").rglob(f"{stem}_*"))


def _change(project: Project, rng: random.Random) -> None:
    """One thing that happens to a project between builds."""
    kind = rng.choice(
        ["helper", "comment", "offset", "weight", "raw", "raw-same", "lookup", "nonce", "nonce"]
        + ["delete", "damage", "truncate", "record"] * 3
        + ["gc"]
    )
    name = rng.choice(["Clean", "Lookup", "Feature", "Count", "Report"])
    if kind == "helper":
        project.factor = rng.choice([1, 2, 3])
    elif kind == "comment":
        project.comment = f"# note {rng.randrange(1000)}"
    elif kind == "offset":
        project.offset = rng.choice([0, 10, 20])
    elif kind == "weight":
        project.weight = rng.choice([1, 3])
    elif kind == "raw":
        project.raw = rng.choice([[1, 2, 3], [3, 2, 1], [1, 2, 3, 4], [5]])
    elif kind == "lookup":
        project.lookup = rng.choice([1, 2, 7])
    elif kind == "nonce":
        project.nonce += 100
    outputs = ("delete", "damage", "truncate", "record")
    project.log.append(f"{kind} {name}" if kind in outputs else kind)
    project.write()  # the same files again for the others: a new modification time only
    paths = project.outputs(name)
    if kind == "delete" and paths:
        paths[-1].unlink()
    elif kind == "damage" and paths:
        data = bytearray(paths[-1].read_bytes())
        data[-1] ^= 0xFF  # same size, other bytes
        paths[-1].write_bytes(bytes(data))
        project.damaged[paths[-1]] = bytes(data)
    elif kind == "truncate" and paths:
        paths[-1].write_bytes(paths[-1].read_bytes()[:-1])
    elif kind == "record":
        _delete_a_record(project, name)
    elif kind == "gc":
        drop = rng.choice([0, 2])
        project.log[-1] = f"gc keeping Report drop={drop}"
        _collect_garbage(project, drop)


def _killed_build(project: Project, rng: random.Random, root: str, drop: int) -> None:
    """A build killed (SIGKILL, its workers too) at a random moment, then the model told
    what Clean holds now (a run with its own randomness that may have finished)."""
    (project.root / "data" / "slow.txt").write_text("0.1")
    proc = project.start(root, drop, "", rng.choice([1, 2]))
    time.sleep(rng.uniform(0.3, 1.2))
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # it had ended
    proc.communicate()
    (project.root / "data" / "slow.txt").unlink()
    code = textwrap.dedent(
        f"""
        import json
        import tasuki
        from tasuki.report.why import explain_build
        from tasuki.storage import open_store
        from cmproj.tasks import Clean
        clean = Clean(drop={drop})
        said = explain_build(clean, open_store("ws")).decisions[0]
        try:  # complete for the code as it is now, or it runs in the next build
            assert not said.runs and not said.maybe
            value = tasuki.load_output(clean.unique_id, workspace="ws")
        except Exception:
            value = None
        print(json.dumps([clean.unique_id, value]))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=project.root,
        env=project.env(),
        capture_output=True,
        text=True,
        check=True,
    )
    uid, value = json.loads(done.stdout.strip().splitlines()[-1])
    base = [v * project.factor for v in project.raw if v >= drop]
    if value and base:
        assert all(got - want == value[0] - base[0] for got, want in zip(value, base)), value
        project.nonce_of[uid] = value[0] - base[0]


def _two_reruns_at_once(project: Project, rng: random.Random, drop: int, where: str) -> list[int]:
    """Two builds of Report at once, one rerunning Clean, the other rerunning Clean, one of
    its readers or nothing, each run of Clean with its own value: the Report each leaves
    is made from one run of Clean, never from two (Feature of one, Count of the other).
    Returns the values Clean ran with."""
    data = project.root / "data"
    (data / "jitter").write_text("")
    (data / "jitter-runs.txt").write_text("")
    (data / "slow.txt").write_text(str(rng.choice([0.02, 0.05, 0.1])))  # runs overlap
    first = project.start("Report", drop, "Clean", rng.choice([1, 2]))
    time.sleep(rng.uniform(0, 0.4))
    other = rng.choice(["", "Clean", "Feature", "Count"])
    second = project.start("Report", drop, other, rng.choice([1, 2]))
    together = [project.finish(p) for p in (first, second)]
    (data / "jitter").unlink()
    (data / "slow.txt").unlink()
    runs = [int(n) for n in (data / "jitter-runs.txt").read_text().split()]
    clean = together[0]["uids"]["Clean"]
    known = runs + ([project.nonce_of[clean]] if clean in project.nonce_of else [])
    for one in together:
        assert one["ok"], f"{where}: {one['errors']}"
        report = one["values"]["Report"]
        if report == "<missing>":
            continue  # the other build was making it again when this one loaded it
        made = [n for n in known if project.model(drop, n)["Report"] == report]
        assert made, (
            f"{where} (second rerun={other}): Report {report} is made from no one run "
            f"of Clean {known}"
        )
    return known


def _learn_nonce(
    project: Project, got: dict[str, Any], root: str, drop: int, known: list[int], where: str
) -> None:
    """Which of the runs ``known`` the Clean in effect is: the one the root was made from."""
    made = [n for n in known if project.model(drop, n)[root] == got["values"][root]]
    assert made, f"{where}: {root} {got['values'][root]} made from no run of Clean {known}"
    project.nonce_of[got["uids"]["Clean"]] = made[-1]


def _gc_during_build(
    project: Project, rng: random.Random, root: str, drop: int, keep: int, where: str
) -> None:
    """``tasuki gc`` keeping one Report run while a build runs (outputs and records it
    reads, or has just written, removed under it): the build finishes, and what it left
    loads right or not at all; the build after it is checked against the model as any."""
    (project.root / "data" / "slow.txt").write_text("0.2")  # gc lands while tasks run
    proc = project.start(root, drop, "", rng.choice([1, 2]))
    time.sleep(rng.uniform(0.1, 0.9))
    _collect_garbage(project, keep)
    during = project.finish(proc)
    (project.root / "data" / "slow.txt").unlink()
    assert during["ok"], f"{where}: {during['errors']}"
    if "Clean" in during["ran"]:
        project.nonce_of[during["uids"]["Clean"]] = project.nonce
    clean = during["uids"]["Clean"]
    if clean in project.nonce_of:
        want = project.model(drop, project.nonce_of[clean])
        for name, value in during["values"].items():
            assert value in (want[name], "<missing>", "<damaged>"), f"{name}: {where}"


def _collect_garbage(project: Project, drop: int) -> None:
    """``tasuki gc`` keeping one Report (with what it needs), everything else deleted."""
    code = textwrap.dedent(
        f"""
        from tasuki.errors import RecordNotFoundError
        from tasuki.report.inventory import collect_garbage
        from tasuki.storage import open_store
        from cmproj.tasks import Report
        try:
            collect_garbage(open_store("ws"), [Report(drop={drop}).unique_id], delete=True,
                            keep_newer_than=0)
        except RecordNotFoundError:
            pass  # that Report was never built: nothing to keep it by
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=project.root, env=project.env(), capture_output=True
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]


def _delete_a_record(project: Project, name: str) -> None:
    code = textwrap.dedent(
        f"""
        from tasuki.core.records import delete_record, read_records
        from tasuki.storage import open_store
        store = open_store("ws")
        for r in list(read_records(store)):
            if r.task.endswith(":{name}"):
                delete_record(store, r.unique_id)
        """
    )
    repo = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": str(repo / "src")}
    subprocess.run([sys.executable, "-c", code], cwd=project.root, env=env, check=True)


# More sequences when exploring: CACHE_MODEL_SEEDS=200 (CI runs the first 4, and 2 more in
# a workspace that keeps its records as files: an object store's way, and a folder's made by
# an earlier version or on a network file system: no database transaction). Not a
# TASUKI_ variable: tasuki's settings refuse unknown TASUKI_* keys.
SEEDS = int(os.environ.get("CACHE_MODEL_SEEDS", "4"))


CASES = [(seed, "database") for seed in range(SEEDS)]
CASES += [(1000 + seed, "files") for seed in range(max(1, SEEDS // 2))]


@pytest.mark.parametrize(("seed", "records"), CASES)
def test_outputs_match_the_model_after_random_changes(
    tmp_path: Path, seed: int, records: str
) -> None:
    rng = random.Random(seed)
    project = Project(tmp_path)
    project.write()
    if records == "files":
        (tmp_path / "ws" / ".tasuki" / "records").mkdir(parents=True)
    drop = 0
    for step in range(12):
        for _ in range(rng.choice([1, 1, 2, 3])):
            _change(project, rng)
        root = rng.choice(["Report", "Report", "Feature", "Count"])
        drop = rng.choice([drop, drop, 0, 2])
        rerun = rng.choice(["", "", "", "Clean", "Count" if root != "Feature" else "Clean"])
        workers = rng.choice([1, 1, 2])
        project.log.append(f"build {root} drop={drop} rerun={rerun or '-'} workers={workers}")
        where = f"seed {seed}, step {step}: {project.log}"
        if rng.random() < 0.15:
            project.log[-1] = f"killed {project.log[-1]}, then " + project.log[-1]
            where = f"seed {seed}, step {step}: {project.log}"
            _killed_build(project, rng, root, drop)
        elif rng.random() < 0.12:
            keep = rng.choice([0, 2, 2 - drop])  # the other drop: all this build has goes
            build = project.log[-1]
            project.log[-1] = f"gc keeping Report drop={keep} during {build}, then {build}"
            where = f"seed {seed}, step {step}: {project.log}"
            _gc_during_build(project, rng, root, drop, keep, where)
        damaged_before = project.still_damaged()
        # Two builds at once (no rerun: a forced rerun beside a build that reads what it
        # reruns hands that build the outputs of before, consistent, then replaced)
        together_at = rng.random()
        if together_at < 0.2 and not rerun:
            other = "Count" if root == "Feature" else "Feature"
            project.log[-1] += f" with {other} at once"
            where = f"seed {seed}, step {step}: {project.log}"
            procs = [project.start(root, drop, rerun, workers), project.start(other, drop)]
            together = [project.finish(p) for p in procs]
            for one in together:  # (the same Clean: same drop, same project)
                assert one["ok"], f"{where}: {one['errors']}"
                if "Clean" in one["ran"]:
                    project.nonce_of[one["uids"]["Clean"]] = project.nonce
            # Each loaded what was there when it ended, maybe before the other ran a task
            # again: the workspace both left is what a build after them must find right.
            got = project.build(root, drop)
            rerun = ""  # `why` and the statuses: this last build's
        elif together_at < 0.3:
            project.log[-1] += " after two Report builds at once, rerunning Clean"
            where = f"seed {seed}, step {step}: {project.log}"
            known = _two_reruns_at_once(project, rng, drop, where)
            got = project.build(root, drop)
            rerun = ""
            if "Clean" not in got["ran"]:
                _learn_nonce(project, got, root, drop, known, where)
        else:
            got = project.build(root, drop, rerun, workers)
        assert got["ok"], f"{where}: {got['errors']}"
        clean = got["uids"]["Clean"]
        if "Clean" in got["ran"]:
            project.nonce_of[clean] = project.nonce
        assert clean in project.nonce_of, f"a Clean that never ran is used: {where}"
        want = project.model(drop, project.nonce_of[clean])
        # What the build was asked for is right; whatever else loads is right, or is
        # missing or damaged (left so while what needs it is complete), never wrong.
        assert got["values"][root] == want[root], where
        for name, value in got["values"].items():
            assert value in (want[name], "<missing>", "<damaged>"), f"{name}: {where}"
        if not rerun:  # what `why` said runs ran; what it said may run is all else that did
            assert set(got["predicted"]) <= set(got["ran"]), where
            repaired = set(got["ran"]) & damaged_before
            assert set(got["ran"]) - repaired <= set(got["predicted"] + got["maybe"]), where
        else:
            assert rerun in got["ran"], where
        if records == "files":  # and stay so, whatever was deleted
            assert not (tmp_path / "ws" / ".tasuki" / "records.db").exists(), where
        if step % 2:
            again = project.build(root, drop)
            assert again["ran"] == again["predicted"] == again["maybe"] == [], f"{where}, again"
