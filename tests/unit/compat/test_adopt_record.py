"""The run record's ``adopted`` field (the one core hook adoption needs)."""

from __future__ import annotations

import json

from tasuki.core.records import RunRecord


def _record(**extra: object) -> RunRecord:
    return RunRecord(
        unique_id="a" * 64,
        task="m:T",
        params={},
        significant=[],
        version=None,
        requires=[],
        outputs=[],
        code_fingerprint="c",
        status="done",
        started_at="2026-01-01T00:00:00.000+00:00",
        finished_at="2026-01-01T00:00:00.000+00:00",
        duration_s=0.0,
        **extra,  # type: ignore[arg-type]
    )


def test_adopted_survives_a_round_trip() -> None:
    src = {"from": "gokart", "gokart_unique_id": "0" * 32, "files": ["x_0.pkl"]}
    back = RunRecord.from_bytes(_record(adopted=src).to_bytes())
    assert back.adopted == src


def test_records_without_it_read_as_not_adopted() -> None:
    doc = json.loads(_record().to_bytes())
    del doc["adopted"]  # a record written before the field existed
    assert RunRecord.from_bytes(json.dumps(doc).encode()).adopted is None
    assert _record().adopted is None
