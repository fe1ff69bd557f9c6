"""What code fingerprints need from source files, and a cache of it that outlives the process.

Fingerprinting a task class parses its module (``ast.parse`` of the whole file) and
normalises the statements the task's code reaches (``ast.unparse`` without docstrings).
That is most of a small build's fixed cost in a fresh process (about 1.7 ms for a one-class
script, tens of milliseconds for a project's large modules), and every ``tasuki`` command
and every worker pays it again for files that have not changed.

:class:`SourceFacts` holds, per source file, what the fingerprint reads from it: the
normalised text and the global names of each definition and module-level assignment asked
for, and the module's normalised text. These are functions of the file's text alone (and of
the Python version, whose ``ast.unparse`` writes them), so they are kept on disk, one small
JSON file per source file, keyed like a ``.pyc``: the file's path, size, modification and
change times (nanoseconds) and inode, the Python version and this module's format. What the
walk does with the names (which objects they are bound to at run time, which package those
live in) is decided again in every process: a cached fact never stands for a name binding.

A file written less than :data:`~tasuki._file_cache.RACY_S` seconds before its facts would
be saved is not cached (its next write could keep the same times: git's "racily clean"
problem). Where the cache lives, and how to turn it off, is :mod:`tasuki._file_cache`'s.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import json
import linecache
import logging
import os
import sys
import textwrap
import time
import types
from typing import Any

from tasuki._file_cache import cache_dir, read_entry, trusted, write_entry
from tasuki._file_cache import stamp as _stamp
from tasuki.core._bindings import binding_index, import_origin

logger = logging.getLogger(__name__)

__all__ = [
    "SourceFacts",
    "also_of",
    "assignment",
    "definition",
    "definition_in",
    "facts_for",
    "forget_sources",
    "module_tree",
    "names_in",
    "normalise",
    "normalise_text",
    "save_facts",
]

#: Format of the cached facts; bump it when what a fact holds or how it is made changes.
#: 2: names hold imports made inside functions and dotted chains; ``also`` and ``origins``.
#: 3: names hold ``importlib.import_module("literal")`` calls as imports.
FORMAT = 3

# Parsed modules by file name: one parse per module however many classes it holds.
_TREES: dict[str, tuple[tuple[int, int], tuple[list[str], ast.Module] | None]] = {}


def module_tree(module: types.ModuleType | None) -> tuple[list[str], ast.Module] | None:
    """The source lines and parsed tree of ``module``'s file (parsed once per version of the
    file and process), or None when it has no readable Python source."""
    filename = getattr(module, "__file__", None)
    if not filename or module is None:
        return None
    try:  # a file edited (and maybe reloaded) since it was parsed is parsed again
        st = os.stat(filename)
        stamp = (st.st_mtime_ns, st.st_size)
    except OSError:
        stamp = (0, 0)
    cached = _TREES.get(filename)
    if cached is None or cached[0] != stamp:
        linecache.checkcache(filename)
        lines = linecache.getlines(filename, module.__dict__)
        try:
            parsed = (lines, ast.parse("".join(lines))) if lines else None
        except (SyntaxError, ValueError):
            parsed = None
        cached = _TREES[filename] = (stamp, parsed)
    return cached[1]


def definition(obj: Any) -> tuple[str, ast.stmt] | None:
    """Source text and parsed statement of a class or function, or None."""
    module = sys.modules.get(getattr(obj, "__module__", "") or "")
    parsed = module_tree(module)
    if parsed is None:
        return None
    lines, tree = parsed
    node = _find_def(tree, obj.__qualname__)
    if node is None:
        return None
    first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
    last = node.end_lineno or node.lineno
    return "".join(lines[first - 1 : last]), node


_DEFS = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def _find_def(tree: ast.Module, qualname: str) -> ast.ClassDef | ast.FunctionDef | None:
    """The last class or function statement whose qualified name is ``qualname``."""
    found: Any = None
    stack: list[tuple[ast.AST, str]] = [(tree, "")]
    while stack:
        node, prefix = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, _DEFS):
                name = prefix + child.name
                if name == qualname and (found is None or child.lineno > found.lineno):
                    found = child
                inner = name + (".<locals>." if not isinstance(child, ast.ClassDef) else ".")
                if qualname.startswith(inner):
                    stack.append((child, inner))
            elif not isinstance(child, ast.expr):
                stack.append((child, prefix))  # if/with/try blocks keep the same prefix
    return found  # type: ignore[no-any-return]


def assignment(tree: ast.Module, name: str) -> ast.stmt | None:
    """The last module-level statement that assigns ``name`` (a constant, a lambda...)."""
    found = None
    for stmt in tree.body:
        targets: list[ast.expr] = []
        if isinstance(stmt, ast.Assign):
            targets = stmt.targets
        elif isinstance(stmt, ast.AnnAssign | ast.AugAssign):
            targets = [stmt.target]
        for target in targets:
            names = target.elts if isinstance(target, ast.Tuple) else [target]
            if any(isinstance(n, ast.Name) and n.id == name for n in names):
                found = stmt
    return found


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]
    return tree


def normalise(node: ast.AST) -> str:
    """Canonical text of a statement: no comments, docstrings or formatting."""
    return ast.unparse(_strip_docstrings(copy.deepcopy(node)))


def normalise_text(source: str) -> str:
    try:
        return ast.unparse(_strip_docstrings(ast.parse(textwrap.dedent(source))))
    except SyntaxError:
        return source


def names_in(node: ast.AST) -> list[tuple[str, str | None]]:
    """Global names a piece of code reads, with the attribute read from each (``np.mean``).

    A chain of attributes is listed whole too (``("pkg", "util.clean")`` beside ``("pkg",
    "util")``), and imports inside the code as ``("<import>pkg.util", local name)`` and
    ``("<from>.util", "clean")`` (``"clean:alias"`` when renamed): what a function imports
    when it runs is code it uses as much as what its module imported.
    """
    found: set[tuple[str, str | None]] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute):
            chain = [sub.attr]
            value = sub.value
            while isinstance(value, ast.Attribute):
                chain.append(value.attr)
                value = value.value
            if isinstance(value, ast.Name):
                found.add((value.id, ".".join(reversed(chain))))
        elif isinstance(sub, ast.Name):
            found.add((sub.id, None))
        elif isinstance(sub, ast.Import):
            for alias in sub.names:
                found.add((f"<import>{alias.name}", alias.asname or alias.name.partition(".")[0]))
        elif isinstance(sub, ast.ImportFrom):
            source = "." * sub.level + (sub.module or "")
            for alias in sub.names:
                local = f":{alias.asname}" if alias.asname else ""
                found.add((f"<from>{source}", alias.name + local))
        elif isinstance(sub, ast.Call):
            written = _imported_by_call(sub)
            if written is not None:
                found.add((f"<import>{written}", written.lstrip(".").partition(".")[0]))
    return sorted(found, key=lambda x: (x[0], x[1] or ""))


def _imported_by_call(call: ast.Call) -> str | None:
    """The module an ``importlib.import_module("pkg.util")`` (or ``__import__``) call names
    when it is written as a literal: an import deferred that way is as much code the function
    uses as an ``import`` statement. A relative name counts with ``package=__package__``,
    the way such a call is written; a name computed at run time cannot be read here (the
    guide says to list such modules in ``code_dependencies``)."""
    func = call.func
    called = (
        func.attr
        if isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id == "importlib"
        else func.id
        if isinstance(func, ast.Name)
        else None
    )
    if called not in ("import_module", "__import__") or not call.args:
        return None
    first = call.args[0]
    if not isinstance(first, ast.Constant) or not isinstance(first.value, str) or not first.value:
        return None
    if not first.value.startswith("."):
        return first.value
    package = call.args[1] if len(call.args) > 1 and called == "import_module" else None
    for keyword in call.keywords:
        if keyword.arg == "package":
            package = keyword.value
    named = isinstance(package, ast.Name) and package.id == "__package__"
    return first.value if named else None


Names = tuple[tuple[str, str | None], ...]
Fact = tuple[str, Names] | None


class SourceFacts:
    """What fingerprints read from one source file (see the module doc).

    Each lookup answers from the facts loaded or found so far, and parses the file only for
    a fact not known yet; :func:`save_facts` then writes the file's facts to the cache.
    """

    def __init__(self, module: types.ModuleType, path: str, stamp: tuple[int, ...]) -> None:
        self.module = module
        self.path = path
        self.stamp = stamp
        self.defs: dict[str, Fact] = {}
        self.values: dict[str, Fact] = {}
        self.also_: dict[str, Fact] = {}
        self.origins_: dict[str, list[tuple[str, str]]] = {}
        self.module_text: str | None = None
        self.imports_: list[tuple[str, str]] | None = None
        self.dirty = False

    def definition(self, qualname: str) -> Fact:
        """Normalised text and global names of the class or function ``qualname``; None when
        the file has no such definition."""
        if qualname not in self.defs:
            found = definition_in(self.module, qualname)
            self.defs[qualname] = (
                None if found is None else (normalise_text(found[0]), tuple(names_in(found[1])))
            )
            self.dirty = True
        return self.defs[qualname]

    def assignment(self, name: str) -> Fact:
        """Normalised text and global names of the last module-level assignment of ``name``."""
        if name not in self.values:
            parsed = module_tree(self.module)
            stmt = assignment(parsed[1], name) if parsed else None
            self.values[name] = None if stmt is None else (normalise(stmt), tuple(names_in(stmt)))
            self.dirty = True
        return self.values[name]

    def also(self, name: str, primary: str) -> Fact:
        """Normalised text and global names of the other module-level statements that bind or
        change ``name`` (:mod:`tasuki.core._bindings`), beyond its last ``def`` / ``class``
        (``primary="def"``) or its last assignment (``"assign"``; ``"none"``: beyond
        nothing); None when there are none."""
        key = f"{primary}:{name}"
        if key not in self.also_:
            self.also_[key] = also_of(self.module, name, primary)
            self.dirty = True
        return self.also_[key]

    def origins(self, name: str) -> list[tuple[str, str]]:
        """Where module-level imports bind ``name`` from (:func:`import_origin`)."""
        if name not in self.origins_:
            parsed = module_tree(self.module)
            self.origins_[name] = import_origin(parsed[1], name) if parsed else []
            self.dirty = True
        return self.origins_[name]

    def whole(self) -> str:
        """The module's normalised text."""
        if self.module_text is None:
            parsed = module_tree(self.module)
            self.module_text = normalise(parsed[1]) if parsed else ""
            self.dirty = True
        return self.module_text

    def imports(self) -> list[tuple[str, str]]:
        """Every import in the module, as :func:`names_in` marks them (``("<from>.util",
        "clean")``), at module level and inside functions."""
        if self.imports_ is None:
            parsed = module_tree(self.module)
            found = names_in(parsed[1]) if parsed else []
            self.imports_ = [(n, a) for n, a in found if n.startswith("<") and a is not None]
            self.dirty = True
        return self.imports_

    # -- the cache file

    def _doc(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "python": sys.version,
            "path": self.path,
            "stamp": list(self.stamp),
            "defs": self.defs,
            "values": self.values,
            "also": self.also_,
            "origins": self.origins_,
            "imports": self.imports_,
            "module": self.module_text,
        }

    def _load(self, doc: dict[str, Any]) -> bool:
        if (
            doc.get("format") != FORMAT
            or doc.get("python") != sys.version
            or doc.get("path") != self.path
            or doc.get("stamp") != list(self.stamp)
        ):
            return False
        self.defs = {k: _fact(v) for k, v in doc["defs"].items()}
        self.values = {k: _fact(v) for k, v in doc["values"].items()}
        self.also_ = {k: _fact(v) for k, v in doc["also"].items()}
        self.origins_ = {k: [(str(m), str(n)) for m, n in v] for k, v in doc["origins"].items()}
        text = doc.get("module")
        self.module_text = text if isinstance(text, str) else None
        imports = doc.get("imports")
        self.imports_ = None if imports is None else [(str(m), str(a)) for m, a in imports]
        return True


def _fact(raw: Any) -> Fact:
    if raw is None:
        return None
    text, names = raw
    return (str(text), tuple((str(n), None if a is None else str(a)) for n, a in names))


def definition_in(module: types.ModuleType, qualname: str) -> tuple[str, ast.stmt] | None:
    """Source text and parsed statement of the definition ``qualname`` in ``module``."""
    parsed = module_tree(module)
    if parsed is None:
        return None
    lines, tree = parsed
    node = _find_def(tree, qualname)
    if node is None:
        return None
    first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
    last = node.end_lineno or node.lineno
    return "".join(lines[first - 1 : last]), node


_INDEXES: dict[int, tuple[ast.Module, dict[str, list[int]]]] = {}


def also_of(module: types.ModuleType, name: str, primary: str) -> Fact:
    """What :meth:`SourceFacts.also` answers, for a module without a file to cache it by."""
    parsed = module_tree(module)
    if parsed is None:
        return None
    tree = parsed[1]
    known = _INDEXES.get(id(tree))
    if known is None or known[0] is not tree:
        known = _INDEXES[id(tree)] = (tree, binding_index(tree, "".join(parsed[0])))
    positions = known[1].get(name, [])
    if not positions or (len(positions) == 1 and primary != "none"):
        return None  # no binding, or only the primary one (which is a binding too)
    skip = _position_of(tree, name, primary)
    stmts = [tree.body[p] for p in positions if p != skip]
    if not stmts:
        return None
    names: set[tuple[str, str | None]] = set()
    for stmt in stmts:
        names.update(names_in(stmt))
    text = "\n".join(normalise(stmt) for stmt in stmts)
    return text, tuple(sorted(names, key=lambda x: (x[0], x[1] or "")))


def _position_of(tree: ast.Module, name: str, primary: str) -> int | None:
    """Position in ``tree.body`` of the statement holding ``name``'s primary binding."""
    node: ast.stmt | None = None
    if primary == "def":
        node = _find_def(tree, name)
    elif primary == "assign":
        node = assignment(tree, name)
    if node is None:
        return None
    for position, stmt in enumerate(tree.body):
        if stmt.lineno <= node.lineno <= (stmt.end_lineno or stmt.lineno):
            return position
    return None


_FACTS: dict[str, SourceFacts] = {}


def _entry_name(path: str) -> str:
    return hashlib.sha256(f"{path}\0{sys.version}".encode()).hexdigest()[:32] + ".json"


def facts_for(module: types.ModuleType | None) -> SourceFacts | None:
    """The facts of ``module``'s source file (None when it has none), from this process's
    memory, else the cache when its key matches the file as it is now, else empty."""
    filename = getattr(module, "__file__", None)
    if not filename or module is None or not filename.endswith(".py"):
        return None
    path = os.path.abspath(filename)
    stamp = _stamp(path)
    if stamp is None:
        return None
    known = _FACTS.get(path)
    if known is not None and known.stamp == stamp and known.module is module:
        return known
    facts = SourceFacts(module, path, stamp)
    raw = read_entry(_entry_name(path))
    if raw is not None:
        try:
            facts._load(json.loads(raw))
        except (ValueError, TypeError, KeyError, AttributeError):
            logger.debug("ignoring an unreadable code cache entry for %s", path)
            facts = SourceFacts(module, path, stamp)
    _FACTS[path] = facts
    return facts


def save_facts() -> None:
    """Write the facts found since they were loaded to the cache (see the module doc)."""
    if cache_dir() is None:
        return
    now = time.time_ns()
    for facts in list(_FACTS.values()):
        if not facts.dirty:
            continue
        facts.dirty = False
        if not trusted(facts.stamp, now):
            continue
        if _stamp(facts.path) != facts.stamp:
            continue  # written to since it was read: its facts may be of the older text
        doc = json.dumps(facts._doc(), separators=(",", ":"))
        write_entry(_entry_name(facts.path), doc)


def forget_sources() -> None:
    """Drop what this process parsed and read from the cache (tests that rewrite modules)."""
    _FACTS.clear()
    _TREES.clear()
    _INDEXES.clear()
