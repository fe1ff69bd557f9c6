"""The FileInput benchmark still runs and reports its three cases (a 2 MiB file)."""

from __future__ import annotations

from tests._bench import load_benchmark


def test_the_three_cases_are_measured() -> None:
    rows = load_benchmark("bench_file_input").run(repeat=1, mib=2)
    assert [r["case"] for r in rows] == [
        "read the file",
        "FileInput, first time",
        "FileInput, hash kept on disk",
    ]
    assert all(r["runs"] == 3 and r["wall s (median)"] > 0 for r in rows)
