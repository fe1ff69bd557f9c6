"""The gokart codemod over several files: a class based on a task class of another converted
module (``from .base import GokartTask``) converts with it.

Files are converted in import order (a module after the project modules it imports), each
with the facts of the gokart classes found so far, by dotted name.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tasuki.compat._codemod import ClassFacts, UpgradeResult, module_name, upgrade_source
from tasuki.errors import ConfigError

__all__ = ["ProjectUpgrade", "upgrade_files"]


@dataclass
class ProjectUpgrade:
    """What :func:`upgrade_files` found: per file (in the order given) its module name and
    result, and the files that do not parse (their messages)."""

    results: list[tuple[Path, str, UpgradeResult]]
    failed: list[str]


def _imports(source: str, module: str, is_package: bool) -> set[str]:
    """The absolute names of the modules ``source`` imports (and of their parents)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()  # libcst says what is wrong, with its position
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                parts = (
                    parts[: len(parts) - (node.level - 1)] if node.level - 1 <= len(parts) else []
                )
                base = ".".join(p for p in (*parts, base) if p)
            names = [base, *(f"{base}.{a.name}" for a in node.names)]
        for name in names:
            while name:
                found.add(name)
                name = name.rpartition(".")[0]
    return found


def upgrade_files(files: Sequence[Path], texts: Sequence[str], root: Path) -> ProjectUpgrade:
    """Convert ``files`` (with their ``texts``), modules named relative to ``root``.

    Returns:
        The results in the order of ``files``; files that do not parse are listed in
        ``failed`` (``FILE:LINE:COL: cannot parse: ...``) and have no result.
    """
    modules = [module_name(path, root) for path in files]
    index = {m: i for i, m in enumerate(modules)}
    deps = [
        sorted(
            index[m]
            for m in _imports(text, mod, path.stem == "__init__")
            if m in index and index[m] != i
        )
        for i, (path, text, mod) in enumerate(zip(files, texts, modules, strict=True))
    ]
    order: list[int] = []
    state = [0] * len(files)  # 0 new, 1 on the path (an import cycle: order as given), 2 done
    for start in range(len(files)):
        stack = [(start, iter(deps[start]))]
        if state[start]:
            continue
        state[start] = 1
        while stack:
            i, pending = stack[-1]
            nxt = next((d for d in pending if not state[d]), None)
            if nxt is None:
                state[i] = 2
                order.append(i)
                stack.pop()
            else:
                state[nxt] = 1
                stack.append((nxt, iter(deps[nxt])))
    known: dict[str, ClassFacts] = {}
    done: dict[int, UpgradeResult] = {}
    failed: dict[int, str] = {}
    for i in order:
        try:
            result = upgrade_source(texts[i], str(files[i]), module=modules[i], known=known)
        except ConfigError as exc:
            if "column" not in exc.fields:
                raise
            failed[i] = str(exc)
            continue
        done[i] = result
        for facts in result.classes:
            known[f"{modules[i]}.{facts.name}"] = facts
    return ProjectUpgrade(
        results=[(files[i], modules[i], done[i]) for i in range(len(files)) if i in done],
        failed=[failed[i] for i in range(len(files)) if i in failed],
    )
