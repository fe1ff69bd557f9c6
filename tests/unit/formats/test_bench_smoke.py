"""The formats benchmark still runs (tiny frame, no gokart) and reports what it should."""

from __future__ import annotations

from tests._bench import load_benchmark


def test_run_small_frame_without_gokart() -> None:
    bench = load_benchmark("bench_formats")
    info: dict[str, object] = {}
    results = bench.run(rows=500, repeat=1, gokart=False, info=info)
    by_case = {r["case"]: r for r in results}
    assert {"parquet", "feather", "pkl", "csv", "raw pyarrow parquet", "raw pickle"} <= set(by_case)
    for ours in ("parquet", "feather", "arrow", "pkl", "pkl.gz"):
        assert by_case[ours]["index_kept"] is True
        assert by_case[ours]["dtypes_kept"] is True, by_case[ours]["dtype_changes"]
        assert by_case[ours]["ratio"] is not None and by_case[ours]["ratio"] > 0
    assert by_case["csv"]["index_kept"] is True
    assert by_case["raw pyarrow csv"]["index_kept"] is False
    assert info["rows"] == 500 and info["cores"]
