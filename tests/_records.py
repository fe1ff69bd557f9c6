"""Run records as stored, for tests that look at (or plant) the raw JSON of a record,
wherever the workspace keeps it (its records database, or one file per record)."""

from __future__ import annotations

import json
from typing import Any

from tasuki.core.records import record_key, records_db


def raw_record(store: Any, uid: str) -> dict[str, Any]:
    """The JSON document stored for ``uid``'s record."""
    db = records_db(store)
    body = db.get(uid) if db is not None else store.read_bytes(record_key(uid))
    assert body is not None, f"no record of {uid}"
    return json.loads(body)


def write_raw_record(store: Any, uid: str, doc: dict[str, Any]) -> None:
    """Store ``doc`` as ``uid``'s record as it is (for records of older versions)."""
    body = json.dumps(doc).encode()
    db = records_db(store)
    if db is not None:
        db.put(uid, body)
    else:
        store.write_bytes(record_key(uid), body)


def damage_unseen(store: Any, task: Any, *, at: int | None = None) -> str:
    """Flip the byte at ``at`` (the middle one by default) of ``task``'s (first) output, the
    size kept, as a change its record's stamp does not show (a rewrite in place within one
    clock tick of the run that stamped it): only a load, which hashes what it reads, can
    find it. Returns the key."""
    from tasuki.core._output_check import record_stamps
    from tasuki.core.records import RunRecord

    record = RunRecord.read(store, task.unique_id)
    key = str(record.outputs[0]["key"])
    data = bytearray(store.read_bytes(key))
    data[len(data) // 2 if at is None else at] ^= 0x01
    store.write_bytes(key, bytes(data))
    record_stamps(store, record, {key: store.stat(key)[1]})
    assert RunRecord.read(store, task.unique_id).outputs[0].get("stamp") == store.stat(key)[1]
    return key
