"""Whether an output in the workspace is still the one its run record lists.

A stat per output, as ``make`` and DVC do: a different size means the output was changed
(truncated, replaced); a different stamp (the file's modification and change times and
inode, or an object's ETag) at the same size means it was rewritten, and only then is it read and
hashed, so a file damaged in place at the same size is found before a build calls it
cached. A rewrite that made the same bytes (``touch``, a copied workspace) is still the
output: its record takes the new stamp (where the records database can be written), so the
next check reads nothing.

Not caught without reading every byte: a change that keeps both size and stamp (a rewrite
in place within one tick of the file system's clock after the run stamped the output; bit
rot). ``tasuki verify`` hashes every output for that.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from tasuki.core.records import amend_record
from tasuki.core.targets import folder_hash, object_hash

if TYPE_CHECKING:
    from tasuki.core.records import RunRecord
    from tasuki.storage.base import Store

__all__ = ["output_change", "record_stamps"]

logger = logging.getLogger(__name__)


def output_change(
    store: Store, key: str, entry: dict[str, Any], restamp: dict[str, str]
) -> str | None:
    """Why the output ``key`` is not the one the record ``entry`` lists, or None.

    Adds ``key -> stamp`` to ``restamp`` when the output was rewritten with the same bytes
    (its record should take the new stamp).

    Raises:
        FileNotFoundError: the output is not there.
    """
    size, stamp = store.stat(key)
    expected = entry.get("size")
    if expected is not None and size != expected:
        return (
            f"its output {key} has {size} bytes where its record says {expected}: "
            "changed or truncated outside tasuki"
        )
    recorded = entry.get("stamp")
    if recorded is None or stamp is None or stamp == recorded:
        return None
    digest = entry.get("xxh3")
    if digest is None:
        return (
            f"its output {key} was rewritten since its run, and its record has no hash to "
            "tell whether its bytes changed"
        )
    logger.debug(
        "%s has another stamp than at its run (%s, was %s: written, touched or copied): hashing it",
        key,
        stamp,
        recorded,
    )
    found = (folder_hash if entry.get("kind") == "folder" else object_hash)(store, key)[1]
    if found != digest:
        return (
            f"its output {key} was rewritten outside tasuki: same size ({size} bytes), other "
            f"bytes (xxh3 {found} where its record says {digest})"
        )
    restamp[key] = stamp
    return None


def record_stamps(store: Store, record: RunRecord, stamps: dict[str, str]) -> None:
    """Give ``record`` the outputs' new ``stamps`` (their bytes were found unchanged), so the
    next check need not hash them again; only where the records database can be written,
    and only if no build rewrote the record since it was read."""
    outputs = [
        {**out, "stamp": stamps[out["key"]]} if out.get("key") in stamps else out
        for out in record.outputs
    ]
    if not amend_record(store, record, outputs=outputs):
        logger.debug("the record of %s was not given its outputs' new stamps", record.unique_id)
