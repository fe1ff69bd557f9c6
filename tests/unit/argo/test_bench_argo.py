from __future__ import annotations

import importlib.util
import sys

from tests._bench import BENCHMARKS


def test_bench_argo_quick_runs_and_computes_verdicts(monkeypatch) -> None:
    # Registered in sys.modules as benchmarks/run.py imports it: its task classes are
    # dataclasses, which look their module up there.
    spec = importlib.util.spec_from_file_location("bench_argo", BENCHMARKS / "bench_argo.py")
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_argo", bench)
    spec.loader.exec_module(bench)
    rows = bench.run(quick=True, repeat=1)
    cases = [r["case"] for r in rows]
    assert "hera, one template per task, chain 1,000" in cases
    verdicts = [r for r in rows if r["case"].startswith("verdict")]
    assert len(verdicts) == 3 and all("verdict" in r for r in verdicts)
    largest = next(r for r in verdicts if "largest manifest" in r["case"])
    assert largest["verdict"].startswith("OK")  # the split keeps every manifest under 500 KB
