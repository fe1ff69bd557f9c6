"""``find``: which model versions were trained on a dataset, by a task, above a metric.

Every version's ``version.json`` is immutable, so their summaries can be kept in one file,
``models/_index.json``, that only ever grows: ``find`` lists which versions exist (one
``scandir`` per model on a local registry, one listing on an object store), reads the
``version.json`` of any version the index lacks, rewrites the index when it added some,
and answers from memory. The index is a cache: losing it, or two writers racing on it (the
last one wins and may drop the other's additions), costs one more rebuild, never a wrong
answer, because each ``find`` checks it against the listing first.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tasuki.errors import ConfigError

if TYPE_CHECKING:
    from tasuki.zoo._store import RegistryStore
    from tasuki.zoo._version import ModelVersion

__all__ = ["INDEX_KEY", "Query", "scan"]

INDEX_KEY = "models/_index.json"
_INDEX_FORMAT = "tasuki-zoo-index/1"

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


class Query:
    """The filters of one ``find`` call, checked once."""

    def __init__(
        self,
        *,
        dataset: str | None,
        task: str | None,
        metric: tuple[str, str, float] | None,
        name: str | None,
        owner: str | None,
    ) -> None:
        self.dataset = dataset
        self.task = task
        self.name = name
        self.owner = owner
        self.metric = metric
        self.op: Callable[[Any, Any], bool] | None = None
        if metric is not None:
            if not (isinstance(metric, tuple | list) and len(metric) == 3):
                raise ConfigError(
                    f"find(metric={metric!r}): give a (name, operator, value) tuple such as "
                    "('ndcg', '>', 0.4)",
                    metric=repr(metric),
                )
            op = _OPS.get(str(metric[1]))
            if op is None:
                raise ConfigError(
                    f"find(metric={metric!r}): operator {metric[1]!r} is not one of {list(_OPS)}",
                    metric=repr(metric),
                )
            self.op = op

    def matches(self, doc: dict[str, Any]) -> bool:
        """Whether one summary passes every filter."""
        if self.name is not None and doc.get("name") != self.name:
            return False
        if self.owner is not None and doc.get("owner") != self.owner:
            return False
        if self.dataset is not None and not any(
            _dataset_matches(self.dataset, d) for d in doc.get("datasets", ())
        ):
            return False
        if self.task is not None:
            task = doc.get("task") or {}
            family = str(task.get("name", ""))
            uid = str(task.get("unique_id", ""))
            short = family.rsplit(":", 1)[-1]
            if self.task not in (family, short) and not (
                len(self.task) >= 6 and uid.startswith(self.task)
            ):
                return False
        if self.metric is not None and self.op is not None:
            value = (doc.get("metrics") or {}).get(self.metric[0])
            if value is None or not self.op(value, self.metric[2]):
                return False
        return True


def _split_dataset(text: str) -> tuple[str, str | None, str | None, str]:
    """``(name, config, version, content hash)`` of ``name[#config][:version][@hash]``."""
    ref, _, content = text.partition("@")
    head, _, version = ref.partition(":")
    name, _, config = head.partition("#")
    return name, config or None, version or None, content


def _dataset_matches(query: str, recorded: str) -> bool:
    """Whether a recorded dataset version (``product_a/clicks#default:1.2.0@<hash>``)
    answers ``query``: ``product_a/clicks`` (any version), ``product_a/clicks:1.2.0``,
    ``product_a/clicks:1.*`` (a wildcard), ``product_a/clicks#jp:1.2.0`` (a config), or the
    version's content hash."""
    name, config, version, content = _split_dataset(recorded)
    if content and query == content:
        return True
    q_name, q_config, q_version, q_content = _split_dataset(query)
    if q_name != name or (q_content and q_content != content):
        return False
    if q_config is not None and q_config != (config or "default"):
        return False
    if q_version is None:
        return True
    if version is None:
        return False
    if q_version.endswith("*"):
        return version.startswith(q_version[:-1])
    return version == q_version


def _summary(version: ModelVersion) -> dict[str, Any]:
    doc = version.to_json()
    doc["files"] = []  # the index answers queries; a file list belongs to show/load
    return doc


def _listed_versions(reg: RegistryStore, known: dict[str, Any]) -> list[tuple[str, str]]:
    """``(model, number)`` of every complete version in the registry (local: one scandir
    per model, and one stat per number the index does not know yet)."""
    out: list[tuple[str, str]] = []
    if reg.is_local:
        for model in reg.children("models"):
            if model.startswith("_"):
                continue
            for number in reg.children(f"models/{model}/versions"):
                key = f"{model}/{number}"
                if key in known or reg.exists(f"models/{model}/versions/{number}/version.json"):
                    out.append((model, number))
        return out
    for key in reg.list("models"):
        parts = key.split("/")
        if len(parts) == 5 and parts[2] == "versions" and parts[4] == "version.json":
            out.append((parts[1], parts[3]))
    return out


_MEMO: dict[str, tuple[bytes, dict[str, Any]]] = {}


def _read_index(reg: RegistryStore) -> dict[str, Any]:
    data = reg.read(INDEX_KEY)
    if data is None:
        return {}
    memo = _MEMO.get(reg.url)
    if memo is not None and memo[0] == data:
        return memo[1]
    try:
        doc = json.loads(data)
    except ValueError:
        return {}  # a damaged cache: rebuilt below
    if not isinstance(doc, dict) or doc.get("format") != _INDEX_FORMAT:
        return {}
    entries = doc.get("versions")
    if not isinstance(entries, dict):
        return {}
    _MEMO[reg.url] = (data, entries)
    return entries


def scan(
    reg: RegistryStore, read_version: Callable[[str, int], ModelVersion | None]
) -> list[dict[str, Any]]:
    """Every version's summary, the index brought up to date first."""
    entries = _read_index(reg)
    listed = _listed_versions(reg, entries)
    missing = [(m, n) for m, n in listed if f"{m}/{n}" not in entries]
    if missing:
        entries = dict(entries)
        for model, number in missing:
            if not number.isdigit():
                continue
            version = read_version(model, int(number))
            if version is not None:
                entries[f"{model}/{number}"] = _summary(version)
        body = json.dumps(
            {"format": _INDEX_FORMAT, "versions": entries},
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode()
        reg.write(INDEX_KEY, body)
        _MEMO[reg.url] = (body, entries)
    wanted = {f"{m}/{n}" for m, n in listed}
    return [doc for key, doc in entries.items() if key in wanted]
