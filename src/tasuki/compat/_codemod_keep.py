"""``tasuki upgrade-gokart --keep-outputs TASK``: keep the outputs built before the upgrade.

A converted task has the unique id and output keys of its compat version, but its code
changed (that is what the codemod does), and tasuki reruns a task whose code changed since
its output was made (``on_code_change = "rerun"``). Right after converting, the user vouches
that the new code computes what the old one did: this re-keys the run records of the tasks
of the named graphs whose output is there and only their code differs, so the next build
uses them. Each re-keyed record keeps the code key it had, under
``task_log["upgrade_gokart"]``, and ``tasuki why`` can still show the old code.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tasuki.core.code import code_keys, code_of
from tasuki.core.execute import Completeness
from tasuki.core.graph import build_graph
from tasuki.core.records import RunRecord, save_code
from tasuki.core.runner import open_workspace

if TYPE_CHECKING:
    from tasuki.config import Settings
    from tasuki.core.task import Task

__all__ = ["KeptOutput", "keep_outputs"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeptOutput:
    """One task of the graphs: ``status`` is ``rekeyed`` (or ``would_rekey``), ``current``
    (its record matches the code already), ``not_built`` (no complete output to keep) or
    ``format_changed`` (an output gokart's processor wrote, which tasuki's format for that
    extension reads as another value: it is rebuilt); ``reason`` says why."""

    task: str
    unique_id: str
    status: str
    reason: str = ""


def keep_outputs(
    roots: Sequence[Task], settings: Settings, *, write: bool = False
) -> list[KeptOutput]:
    """Re-key the records of the tasks of ``roots``' graphs to their current code.

    Args:
        roots: The converted pipeline's root tasks.
        settings: Where the workspace is.
        write: Re-key (otherwise say what would be re-keyed).

    Returns:
        One entry per task of the graphs, dependencies first.
    """
    store = open_workspace(settings)
    graph = build_graph(list(roots))
    keys = code_keys(graph)
    # Complete but for the code: the outputs the records list are there, whole.
    any_code = Completeness(store, "ignore", keys)
    this_code = Completeness(store, "rerun", keys)
    out: list[KeptOutput] = []
    for uid in graph.order:
        node = graph.nodes[uid]
        name = type(node.task).task_name()
        missing = any_code.verdict(node)
        if missing is not None:
            out.append(KeptOutput(name, uid, "not_built", missing))
            continue
        if this_code.verdict(node) is None:
            out.append(KeptOutput(name, uid, "current"))
            continue
        changed = _format_changed(node.outputs)
        if changed:
            out.append(KeptOutput(name, uid, "format_changed", changed))
            continue
        if not write:
            out.append(KeptOutput(name, uid, "would_rekey"))
            continue
        record = RunRecord.read(store, uid)
        code = code_of(type(node.task))
        record.task_log["upgrade_gokart"] = {
            "previous_code_key": record.code_key,
            "previous_code_fingerprint": record.code_fingerprint,
        }
        record.code_key = keys[uid]
        record.code_fingerprint = code.digest
        save_code(store, code.digest, code.text)
        record.write(store)
        logger.info("%s: record re-keyed to the converted code", name, extra={"key": uid})
        out.append(KeptOutput(name, uid, "rekeyed"))
    return out


def _format_changed(outputs: Any) -> str:
    """Why an output written through compat's gokart processor cannot be kept for the converted
    task (its extension means another value to tasuki's format: ``.txt`` is one string, not a
    list of lines, ``.json`` any JSON, not a data frame...); empty when none."""
    from tasuki.compat._formats import gokart_format_for
    from tasuki.core.targets import FileTarget, targets_of

    for target in targets_of(outputs):
        gokart_format = gokart_format_for(target.key)
        if (
            isinstance(target, FileTarget)
            and gokart_format is not None
            and type(target.format) is not type(gokart_format)
        ):
            return (
                f"{target.key}: written by gokart's {gokart_format.extensions[0]} processor, "
                "which tasuki's format for that extension reads as another value; rebuilt"
            )
    return ""
