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
