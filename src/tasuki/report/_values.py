"""Parameter values and outputs as run records hold them, rendered for people and for JSON.

Records keep parameters in their JSON form (``tasuki.core.params.to_jsonable``): a task held
by a parameter is only ``{"$task": "<64 hex>"}``. These helpers put its class back, read from
that task's own record, so every report shows the same thing:

- text: ``TrainSVD(3d5b7a50a2)``; other values as JSON (``"world"``, ``64``, ``true``);
- JSON: ``{"task": "pkg.models:TrainSVD", "unique_id": "<64 hex>"}``; other values keep their
  JSON types (ints stay ints, lists stay lists).

Live values (a ``Task``, a ``date``, an ``Enum``...) are accepted too and shown the same way,
which is what the dependency tree needs before anything has run.

Recorded outputs are files in the workspace, or tables that a write-back task wrote
outside it (``postgresql:recs``, recorded with size 0 and no hash): ``describe_output`` and
``output_json`` say which.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from tasuki.core.params import to_jsonable
from tasuki.core.records import RunRecord

if TYPE_CHECKING:
    from tasuki.storage.base import Store

__all__ = [
    "ID_PREFIX",
    "describe_output",
    "describe_value",
    "output_json",
    "output_kind",
    "task_reference",
    "value_json",
]

ID_PREFIX = 10
"""Characters of a unique id shown in text (as ``tasuki show 3d5b7a50a2`` takes them)."""


def task_reference(value: Any) -> str | None:
    """The unique id in a recorded task reference ``{"$task": uid}``, else None."""
    if isinstance(value, dict) and len(value) == 1:
        uid = value.get("$task")
        if isinstance(uid, str):
            return uid
    return None


def describe_value(value: Any, store: Store | None = None) -> str:
    """One line of text for a parameter value, recorded or live.

    Args:
        value: A value from ``RunRecord.params`` (or a live parameter value).
        store: The workspace whose records name the tasks that ``value`` refers to; without
            it (or without the record) a task reference is shown by its id alone.

    Returns:
        Task references as ``ClassName(<id prefix>)``, anything else as compact JSON.

    Example:
        >>> describe_value({"model": {"$task": "3d5b7a50a2" + "0" * 54}, "k": 16}, store)
        '{"model": TrainSVD(3d5b7a50a2), "k": 16}'
    """
    return _Renderer(store).text(value)


def value_json(value: Any, store: Store | None = None) -> Any:
    """A parameter value, recorded or live, as JSON that keeps its types and full ids.

    Task references become ``{"task": "module:Class", "unique_id": "<64 hex>"}``
    (``"task"`` is None when no record names the class).

    Example:
        >>> value_json([{"$task": uid}, 64], store)
        [{'task': 'pkg.models:TrainSVD', 'unique_id': '3d5b...'}, 64]
    """
    return _Renderer(store).json(value)


def output_kind(output: dict[str, Any]) -> str:
    """``"table"`` for a recorded output outside the workspace, else ``"file"``.

    Write-back targets record ``<backend>:<table>`` as their key (no ``/``, which every
    workspace key made by ``make_target`` has) with no size of their own.
    """
    kind = output.get("kind")
    if isinstance(kind, str):
        return kind
    if output.get("in_store") is False:
        return "table"
    key = str(output.get("key", ""))
    head, sep, _ = key.partition(":")
    if sep and head and "/" not in key and not output.get("xxh3"):
        return "table"
    return "file"


def describe_output(output: dict[str, Any], store: Store) -> str:
    """``/abs/path/x.pkl  24 bytes`` for a file, ``table postgresql:recs`` for a table."""
    if output_kind(output) == "table":
        return f"table {output['key']}"
    return f"{store.full_path(output['key'])}  {output.get('size')} bytes"


def output_json(output: dict[str, Any], store: Store | None = None) -> dict[str, Any]:
    """A recorded output with its ``kind``; a file gains its ``path``, a table loses ``size``."""
    kind = output_kind(output)
    doc = {**output, "kind": kind}
    if kind == "table":
        doc["size"] = None
    elif store is not None:
        doc["path"] = store.full_path(output["key"])
    return doc


class _Renderer:
    """Renders one value; remembers the task names it read (a list of tasks reads each once)."""

    def __init__(self, store: Store | None) -> None:
        self.store = store
        self.names: dict[str, str | None] = {}

    def name(self, uid: str) -> str | None:
        if uid not in self.names:
            name = None
            if self.store is not None:
                try:
                    name = RunRecord.read(self.store, uid).task
                except (FileNotFoundError, ValueError, TypeError):
                    name = None
            self.names[uid] = name
        return self.names[uid]

    def plain(self, value: Any) -> Any:
        """``value`` in record form, tasks as ``(uid, name)`` so live names are not lost."""
        from tasuki.core.task import Task

        if isinstance(value, Task):
            self.names[value.unique_id] = type(value).task_name()
            return {"$task": value.unique_id}
        if isinstance(value, list | tuple):
            return [self.plain(v) for v in value]
        if isinstance(value, dict) and task_reference(value) is None:
            return {str(k): self.plain(v) for k, v in value.items()}
        return to_jsonable(value)

    def json(self, value: Any) -> Any:
        value = self.plain(value)
        return self._json(value)

    def _json(self, value: Any) -> Any:
        uid = task_reference(value)
        if uid is not None:
            return {"task": self.name(uid), "unique_id": uid}
        if isinstance(value, list):
            return [self._json(v) for v in value]
        if isinstance(value, dict):
            return {k: self._json(v) for k, v in value.items()}
        return value

    def text(self, value: Any) -> str:
        return self._text(self.plain(value))

    def _text(self, value: Any) -> str:
        uid = task_reference(value)
        if uid is not None:
            name = self.name(uid)
            if name is None:
                return f"task {uid[:ID_PREFIX]} (no record)"
            return f"{name.rpartition(':')[2]}({uid[:ID_PREFIX]})"
        if isinstance(value, list):
            return "[" + ", ".join(self._text(v) for v in value) + "]"
        if isinstance(value, dict):
            items = (
                f"{json.dumps(k, ensure_ascii=False)}: {self._text(v)}" for k, v in value.items()
            )
            return "{" + ", ".join(items) + "}"
        return json.dumps(value, ensure_ascii=False, default=str)
