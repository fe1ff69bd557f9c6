from __future__ import annotations

from tests._bench import load_benchmark


def test_bench_argo_quick_runs_and_computes_verdicts() -> None:
    bench = load_benchmark("bench_argo")
    rows = bench.run(quick=True, repeat=1)
    cases = [r["case"] for r in rows]
    assert "hera, one template per task, chain 1,000" in cases
    verdicts = [r for r in rows if r["case"].startswith("verdict")]
    assert len(verdicts) == 3 and all("verdict" in r for r in verdicts)
    largest = next(r for r in verdicts if "largest manifest" in r["case"])
    assert largest["verdict"].startswith("OK")  # the split keeps every manifest under 500 KB
