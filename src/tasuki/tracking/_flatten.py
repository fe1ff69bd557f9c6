"""What a run record becomes in a tracker: flat parameters, tags and metric values within
MLflow's limits (the limits of most trackers), and the batches they travel in.

Pure functions of JSON values, so they are tested without a server and cost nothing on the
build's thread (the tracker calls them on its background thread).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tasuki._redact import MASK, redact

__all__ = [
    "MAX_KEY",
    "MAX_PARAM_VALUE",
    "MAX_TAG_VALUE",
    "Batch",
    "batches",
    "clip",
    "flatten_params",
    "metric_value",
    "safe_key",
]

#: MLflow's limits (mlflow.utils.validation): key length, parameter and tag value lengths,
#: and what one log_batch request may carry.
MAX_KEY = 250
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_METRICS_PER_BATCH = 1000
MAX_ENTITIES_PER_BATCH = 1000

_ELLIPSIS = "..."
_BAD_KEY_CHARS = re.compile(r"[^A-Za-z0-9_\-. /]")


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in ``...`` when cut."""
    if len(text) <= limit:
        return text
    return text[: limit - len(_ELLIPSIS)] + _ELLIPSIS


def safe_key(key: str) -> str:
    """A key MLflow accepts: characters it refuses become ``_``, at most 250 characters."""
    key = _BAD_KEY_CHARS.sub("_", key) or "_"
    if len(key) > MAX_KEY:
        # Keep the end distinct too: two long keys that differ at their ends stay two keys.
        tail = hashlib.sha1(key.encode()).hexdigest()[:8]
        key = key[: MAX_KEY - 9] + "~" + tail
    return key


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, bool | int | float):
        return json.dumps(value)
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=repr)


def _secret_name(dotted: str) -> bool:
    """Whether a parameter's name says its value is a secret (``api_password``, ``token``):
    the one judge of that is tasuki._redact, asked about ``name=value``."""
    leaf = dotted.rsplit(".", 1)[-1]
    probe = f"{leaf}=value"
    return redact(probe) != probe


def flatten_params(
    params: Mapping[str, Any], significant: Sequence[str] | None = None
) -> list[tuple[str, str]]:
    """``(key, value)`` pairs for a tracker: the significant parameters (all of them when
    ``significant`` is None), nested mappings flattened to dotted keys (``model.lr``), an
    upstream task (``{"$task": id}``) shown as its unique id, lists as JSON text, every key
    made safe (:func:`safe_key`) and every value clipped to MLflow's 6,000 characters.
    Values pass through :func:`tasuki._redact.redact`, and a parameter whose name says it is
    a secret (``password``, ``token``...) is logged as ``***``.

    Two keys that become the same after cleaning keep the first value (MLflow parameters
    cannot be logged twice with different values).

    Example:
        >>> flatten_params({"model": {"lr": 0.1, "layers": [64, 32]}, "up": {"$task": "ab"}})
        [('model.layers', '[64, 32]'), ('model.lr', '0.1'), ('up', 'ab')]
    """
    wanted = set(significant) if significant is not None else None
    out: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping) and set(value) == {"$task"}:
            value = value["$task"]
        if isinstance(value, Mapping) and value:
            for k in sorted(value, key=str):
                walk(f"{prefix}.{k}", value[k])
            return
        key = safe_key(prefix)
        if key not in out:
            text = MASK if _secret_name(prefix) else redact(_text(value))
            out[key] = clip(text, MAX_PARAM_VALUE)

    for name in sorted(params):
        if wanted is None or name in wanted:
            walk(name, params[name])
    return sorted(out.items())


def metric_value(value: Any) -> float:
    """A record's metric value as a float (``"NaN"``, ``"Infinity"`` and ``"-Infinity"``
    are how records keep the numbers JSON has not)."""
    return float(value)


@dataclass
class Batch:
    """What one ``log_batch`` request carries: ``(key, value)`` params and tags, and
    ``(key, value, timestamp ms, step)`` metrics."""

    params: list[tuple[str, str]] = field(default_factory=list)
    tags: list[tuple[str, str]] = field(default_factory=list)
    metrics: list[tuple[str, float, int, int]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.params) + len(self.tags) + len(self.metrics)


def batches(
    params: Sequence[tuple[str, str]],
    tags: Sequence[tuple[str, str]],
    metrics: Sequence[tuple[str, float, int, int]],
) -> Iterator[Batch]:
    """Split params, tags and metrics into as few requests as MLflow's limits allow: at
    most 100 params and tags together, 1,000 metrics and 1,000 entities per request.
    Metrics keep their order.

    Example:
        >>> [len(b) for b in batches([("p", "1")] * 150, [], [("m", 1.0, 0, 0)] * 10)]
        [110, 50]
    """
    out: list[Batch] = []
    for kind, pairs in (("params", params), ("tags", tags)):
        for pair in pairs:
            if not out or len(out[-1]) >= MAX_PARAMS_TAGS_PER_BATCH:
                out.append(Batch())
            (out[-1].params if kind == "params" else out[-1].tags).append(pair)
    # Metrics fill the room left in those requests first, then requests of their own.
    rest = list(metrics)
    for batch in out:
        room = min(MAX_METRICS_PER_BATCH, MAX_ENTITIES_PER_BATCH - len(batch))
        batch.metrics, rest = rest[:room], rest[room:]
    while rest:
        out.append(Batch(metrics=rest[:MAX_METRICS_PER_BATCH]))
        rest = rest[MAX_METRICS_PER_BATCH:]
    yield from out
