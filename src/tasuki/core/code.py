"""Code fingerprints: what the code of a task is, normalised so that only behaviour counts.

A task's output depends on its parameters (in the unique id) and on its code, which the id
leaves out so that ids stay stable across machines and edits that change nothing. The code
is covered here instead, and the runner compares it with the run record on every build.

What the fingerprint of a task class covers, as normalised text (``ast.unparse`` of the
parsed source with docstrings removed, so comments, docstrings, blank lines, quotes and line
wrapping never count):

- the class statement of the task and of each of its task base classes (tasuki's own classes
  excepted: they change with tasuki's version, like any library);
- every function, class or module-level constant the task's code names that is defined in
  the task's own package (the same top-level package as the task's module), followed
  transitively through what those name in turn; other task classes are left out (their code
  reaches the output through the upstream key, below);
- what the task declares in ``code_dependencies`` (functions, classes, modules, or their
  dotted names), ``library_versions`` (installed distributions' versions) and
  ``data_files`` (the bytes of files).

The *code key* of a task in a graph is the fingerprint of its own code combined with the
code keys of everything it requires (Merkle style): a change of code anywhere upstream moves
it, so the runner finds an out-of-date output by reading the root's record alone.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import inspect
import linecache
import logging
import os
import sys
import textwrap
import time
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import xxhash

from tasuki._registry import import_path
from tasuki.core._base import TaskBase
from tasuki.errors import TaskError

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    # This module sits below task.py and graph.py (it fingerprints what they describe), so
    # it names task classes by their base and graphs by the shape it reads.
    Task = TaskBase

__all__ = [
    "CodeFingerprint",
    "code_fingerprint",
    "code_key_of",
    "code_keys",
    "code_of",
    "combine_code_key",
]


@dataclass(frozen=True, slots=True)
class CodeFingerprint:
    """The normalised code of a task class and its short hash."""

    digest: str
    """16 hex characters of sha256 over ``text``."""
    text: str
    """What was hashed: one section per piece of code, library or file covered."""
    covers: tuple[str, ...]
    """The section headings (``class pkg.mod:Train``, ``function pkg.mod:helper``...)."""


_FINGERPRINTS: dict[type[Any], CodeFingerprint] = {}


def code_of(cls: type[Task]) -> CodeFingerprint:
    """The fingerprint of a task class (computed once per class and process)."""
    cached = _FINGERPRINTS.get(cls)
    if cached is None:
        cached = _Collector(cls).fingerprint()
        _FINGERPRINTS[cls] = cached
    return cached


def code_fingerprint(cls: type[Task]) -> str:
    """16 hex characters that change when the code of ``cls`` changes (see the module doc)."""
    return code_of(cls).digest


def combine_code_key(own: str, upstream: list[str]) -> str:
    """The code key of a task from its own fingerprint and its requirements' code keys."""
    if not upstream:
        return own
    return xxhash.xxh3_128_hexdigest("|".join((own, *upstream)).encode())


class _Node(Protocol):
    @property
    def task(self) -> TaskBase: ...
    @property
    def deps(self) -> Sequence[str]: ...


class _Graph(Protocol):
    @property
    def nodes(self) -> Mapping[str, _Node]: ...
    @property
    def order(self) -> Sequence[str]: ...


def code_keys(graph: _Graph) -> dict[str, str]:
    """The code key of every task in ``graph``, by unique id.

    One fingerprint per task class and one small hash per task: a 1,000-task chain costs well
    under a millisecond beyond the first parse of each module.
    """
    own: dict[type[Any], str] = {}
    keys: dict[str, str] = {}
    nodes = graph.nodes
    for uid in graph.order:  # dependencies first
        node = nodes[uid]
        cls = type(node.task)
        fp = own.get(cls)
        if fp is None:
            fp = own[cls] = code_of(cls).digest
        keys[uid] = combine_code_key(fp, [keys[d] for d in node.deps]) if node.deps else fp
    return keys


def code_key_of(task: Task) -> str:
    """The code key of ``task``: the running task's own while it runs, else computed from
    its graph."""
    from tasuki.core import context

    ctx = context._CURRENT.get()
    if ctx is not None and ctx.code_key is not None:
        return ctx.code_key
    # Upward import, allowed by name in the import-linter contract: warehouse tasks call
    # this from outside a run (their lineage rows), where only a graph knows upstream code.
    from tasuki.core.graph import build_graph

    # ``task`` is a tasuki.Task (the only TaskBase there is); this module names it by its base.
    return code_keys(build_graph([task]))[task.unique_id]  # type: ignore[list-item]


# ------------------------------------------------------------------------- source lookup

# Parsed modules by file name: one parse per module however many classes it holds.
_TREES: dict[str, tuple[tuple[int, int], tuple[list[str], ast.Module] | None]] = {}


def _module_tree(module: types.ModuleType | None) -> tuple[list[str], ast.Module] | None:
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


def _runs_its_source(obj: Any) -> bool:
    """Whether the functions of ``obj`` (a class, or a function) are what its module's file
    compiles to: False when the file changed after the module was imported and was not
    reloaded, so that the fingerprint follows the code that runs, not the code on disk.

    The whole file is compiled (a class alone compiles differently: calls on imported
    modules); bytecode, names and constants are compared, not line numbers.
    """
    module = sys.modules.get(getattr(obj, "__module__", "") or "")
    module_file = getattr(module, "__file__", None)
    if not module_file or _older_than_process(module_file):
        return True  # not edited since this process started: imported as it is now
    made = _module_codes(module)
    if made is None:
        return True  # nothing to compare with; the source is all there is
    qualname = obj.__qualname__
    if inspect.isfunction(obj):
        fn = inspect.unwrap(obj)
        live = {fn.__qualname__: fn.__code__}
    else:
        live = {}
        for name, value in vars(obj).items():
            fn = inspect.unwrap(getattr(value, "__func__", getattr(value, "fget", value)))
            code = getattr(fn, "__code__", None)
            if code is not None and code.co_name == name:
                live[f"{qualname}.{name}"] = code
    for name, code in live.items():
        if code.co_filename != module_file:
            continue  # generated (dataclass __init__, tasuki's wrapper): not in the source
        other = made.get(name)
        if other is None or not _same_code(code, other):
            return False
    return True


def _process_start_ns() -> int:
    """When this process started, a second early (Linux: boot time plus the start time in
    /proc/self/stat); elsewhere when tasuki was imported."""
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/stat", encoding="ascii") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith("btime "))
        started = boot + ticks / os.sysconf("SC_CLK_TCK")
        return int((started - 1.0) * 1e9)
    except (OSError, ValueError, IndexError, StopIteration):
        return _IMPORTED_NS


_IMPORTED_NS = time.time_ns()
_STARTED_NS: list[int] = []


def _older_than_process(filename: str) -> bool:
    """Whether ``filename`` was last written before this process started, so that any
    module imported from it holds what it holds now (the compile check can be skipped)."""
    if not _STARTED_NS:
        _STARTED_NS.append(_process_start_ns())
    try:
        return os.stat(filename).st_mtime_ns < _STARTED_NS[0]
    except OSError:
        return False


_CODES: dict[str, tuple[tuple[int, int], dict[str, types.CodeType] | None]] = {}


def _module_codes(module: types.ModuleType | None) -> dict[str, types.CodeType] | None:
    """Every function and class body the module's file compiles to now, by qualified name."""
    if _module_tree(module) is None or module is None:
        return None
    filename = str(module.__file__)
    stamp, parsed = _TREES[filename]
    cached = _CODES.get(filename)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    found: dict[str, types.CodeType] | None
    try:
        top = compile("".join(parsed[0]) if parsed else "", filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        found = None
    else:
        found = {}
        stack = _codes(top)
        while stack:
            code = stack.pop(0)
            found[code.co_qualname] = code  # later definitions of a name win, as at import
            stack.extend(_codes(code))
    _CODES[filename] = (stamp, found)
    return found


def _codes(code: types.CodeType) -> list[types.CodeType]:
    return [c for c in code.co_consts if isinstance(c, types.CodeType)]


def _same_code(a: types.CodeType, b: types.CodeType) -> bool:
    if a.co_code != b.co_code or a.co_names != b.co_names:
        return False
    plain_a = [c for c in a.co_consts if not isinstance(c, types.CodeType)]
    plain_b = [c for c in b.co_consts if not isinstance(c, types.CodeType)]
    if plain_a != plain_b:
        return False
    inner_a, inner_b = _codes(a), _codes(b)
    return len(inner_a) == len(inner_b) and all(
        _same_code(x, y) for x, y in zip(inner_a, inner_b, strict=True)
    )


def _class_source(klass: type[Any]) -> str | None:
    """The source lines of ``klass`` (decorators included), or None when not available.

    The same text as ``inspect.getsource`` for a class, found through ``ast`` line numbers
    instead of ``inspect``'s tokenizer pass, whose first use costs a build several
    milliseconds of regular-expression compilation.
    """
    found = _definition(klass)
    return None if found is None else found[0]


def _definition(obj: Any) -> tuple[str, ast.stmt] | None:
    """Source text and parsed statement of a class or function, or None."""
    module = sys.modules.get(getattr(obj, "__module__", "") or "")
    parsed = _module_tree(module)
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


def _assignment(tree: ast.Module, name: str) -> ast.stmt | None:
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


# ------------------------------------------------------------------------- normalising


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


def _normalise_text(source: str) -> str:
    try:
        return ast.unparse(_strip_docstrings(ast.parse(textwrap.dedent(source))))
    except SyntaxError:
        return source


def _names(node: ast.AST) -> list[tuple[str, str | None]]:
    """Global names a piece of code reads, with the attribute read from each (``np.mean``)."""
    found: set[tuple[str, str | None]] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name):
            found.add((sub.value.id, sub.attr))
        elif isinstance(sub, ast.Name):
            found.add((sub.id, None))
    return sorted(found, key=lambda x: (x[0], x[1] or ""))


# ------------------------------------------------------------------------- collecting


def _is_task_class(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, TaskBase)


def _top(module_name: str) -> str:
    return module_name.partition(".")[0]


def _bytecode(obj: Any) -> str:
    """A stand-in for code that has no source file (a REPL, ``exec``), or whose file no longer
    holds what runs: the bytecode, names and constants of its functions."""
    parts = []
    holders = vars(obj).items() if isinstance(obj, type) else [("", obj)]
    for attr, value in sorted(holders, key=lambda kv: kv[0]):
        fn = inspect.unwrap(getattr(value, "__func__", getattr(value, "fget", value)))
        code = getattr(fn, "__code__", None)
        if code is not None:
            parts.append(f"{attr} {_describe_code(code)}")
    return "\n".join(parts)


def _describe_code(code: types.CodeType) -> str:
    # Nested code objects (comprehensions, inner functions) by their own content: their repr
    # holds a memory address, which would differ in every process.
    consts = [
        _describe_code(c) if isinstance(c, types.CodeType) else repr(c) for c in code.co_consts
    ]
    return f"{code.co_code.hex()} {code.co_names!r} [{', '.join(consts)}]"


class _Collector:
    """Walks from a task class to the code it depends on, writing one section per piece."""

    def __init__(self, cls: type[Task]) -> None:
        self.cls = cls
        self.package = _top(cls.__module__)
        self.sections: list[tuple[str, str]] = []
        self.seen: set[tuple[str, str]] = set()

    def fingerprint(self) -> CodeFingerprint:
        for klass in self.cls.__mro__:
            if klass.__module__.startswith("tasuki.core.") or not _is_task_class(klass):
                continue
            if klass is not self.cls and klass.__module__.startswith("tasuki."):
                continue
            self._add_object(klass)
        for item in _declared(self.cls, "code_dependencies"):
            self._add_declared(item)
        for dist in _declared(self.cls, "library_versions"):
            self._add_library(dist)
        for path in _declared(self.cls, "data_files"):
            self._add_file(path)
        text = "".join(f"# {head}\n{body}\n" for head, body in self.sections)
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        return CodeFingerprint(digest, text, tuple(head for head, _ in self.sections))

    # -- pieces

    def _add_object(self, obj: Any) -> None:
        module_name = getattr(obj, "__module__", None) or ""
        key = (module_name, getattr(obj, "__qualname__", repr(obj)))
        if key in self.seen:
            return
        self.seen.add(key)
        kind = "class" if isinstance(obj, type) else "function"
        head = f"{kind} {module_name}:{key[1]}"
        found = _definition(obj)
        if found is None:
            self.sections.append((head, _bytecode(obj)))
            return
        source, node = found
        if not _runs_its_source(obj):
            logger.warning(
                "the source of %s changed after it was imported; its fingerprint follows the "
                "code that runs. Reload the module (or restart) to run the code on disk.",
                key[1],
            )
            self.sections.append((f"{head} (running code, not the file)", _bytecode(obj)))
            return
        self.sections.append((head, _normalise_text(source)))
        self._follow(node, sys.modules.get(module_name))

    def _add_module(self, module: types.ModuleType) -> None:
        key = (module.__name__, "")
        if key in self.seen:
            return
        self.seen.add(key)
        parsed = _module_tree(module)
        body = normalise(parsed[1]) if parsed else ""
        self.sections.append((f"module {module.__name__}", body))

    def _add_constant(self, module: types.ModuleType, name: str) -> bool:
        key = (module.__name__, name)
        if key in self.seen:
            return True
        parsed = _module_tree(module)
        stmt = _assignment(parsed[1], name) if parsed else None
        if stmt is None:
            return False
        self.seen.add(key)
        self.sections.append((f"value {module.__name__}:{name}", normalise(stmt)))
        self._follow(stmt, module)
        return True

    def _follow(self, node: ast.AST, module: types.ModuleType | None) -> None:
        """Add what ``node`` names that lives in the task's package."""
        if module is None:
            return
        namespace = vars(module)
        for name, attr in _names(node):
            if name not in namespace:
                continue
            value = namespace[name]
            if isinstance(value, types.ModuleType):
                if attr is not None and _top(value.__name__) == self.package:
                    self._resolve(value, attr)
                continue
            self._resolve(module, name)

    def _resolve(self, module: types.ModuleType, name: str) -> None:
        value = vars(module).get(name)
        if _is_task_class(value):
            return
        if inspect.isfunction(value) or inspect.isclass(value):
            home = getattr(value, "__module__", "") or ""
            if _top(home) != self.package:
                return  # a library's code: declare its version in library_versions
            if home == module.__name__ and value.__name__ == "<lambda>":
                self._add_constant(module, name)
                return
            self._add_object(value)
            return
        if _top(module.__name__) != self.package or isinstance(value, types.ModuleType):
            return
        if not self._add_constant(module, name) and _is_literal(value):
            # Imported from a sibling module (``from pkg.settings import N_FACTORS``).
            self.seen.add((module.__name__, name))
            self.sections.append((f"value {module.__name__}:{name}", repr(value)))

    def _add_declared(self, item: Any) -> None:
        if isinstance(item, str):
            item = _import_dotted(item, self.cls)
        if isinstance(item, types.ModuleType):
            self._add_module(item)
        elif inspect.isfunction(item) or inspect.isclass(item):
            self._add_object(item)
        else:
            raise _declared_error(self.cls, "code_dependencies", item)

    def _add_library(self, dist: Any) -> None:
        if not isinstance(dist, str):
            raise _declared_error(self.cls, "library_versions", dist)
        self.sections.append((f"library {dist}", _library_version(dist)))

    def _add_file(self, path: Any) -> None:
        if not isinstance(path, str | os.PathLike):
            raise _declared_error(self.cls, "data_files", path)
        self.sections.append((f"file {os.fspath(path)}", _file_digest(os.fspath(path))))


def _is_literal(value: Any) -> bool:
    if value is None or isinstance(value, bool | int | float | str | bytes):
        return True
    if isinstance(value, list | tuple):  # not sets: their order follows str hashing
        return len(value) <= 1000 and all(_is_literal(v) for v in value)
    if isinstance(value, dict):
        return len(value) <= 1000 and all(
            _is_literal(k) and _is_literal(v) for k, v in value.items()
        )
    return False


def _declared(cls: type[Task], attr: str) -> tuple[Any, ...]:
    value = getattr(cls, attr, ())
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
        raise TaskError(
            f"{cls.__module__}:{cls.__qualname__}.{attr} must be a tuple, got "
            f"{type(value).__name__} {value!r}; write {attr} = ({value!r},)",
            task=f"{cls.__module__}:{cls.__qualname__}",
        )
    return tuple(value)


def _declared_error(cls: type[Task], attr: str, item: Any) -> TaskError:
    allowed = {
        "code_dependencies": "functions, classes, modules, or their dotted names "
        "('pkg.helpers' or 'pkg.helpers:clean')",
        "library_versions": "distribution names as pip knows them ('scikit-learn')",
        "data_files": "paths of files (str or pathlib.Path)",
    }[attr]
    name = f"{cls.__module__}:{cls.__qualname__}"
    return TaskError(
        f"{name}.{attr} holds {type(item).__name__} {item!r}; it may hold {allowed}",
        task=name,
        value=repr(item),
    )


def _import_dotted(path: str, cls: type[Task]) -> Any:
    try:
        return import_path(path, bare_module=True)
    except (ImportError, AttributeError) as exc:
        name = f"{cls.__module__}:{cls.__qualname__}"
        raise TaskError(
            f"{name}.code_dependencies names {path!r}, which cannot be imported ({exc}). "
            "Write a module ('pkg.helpers') or a name in one ('pkg.helpers:clean').",
            task=name,
            value=path,
        ) from exc


_VERSIONS: dict[str, str] = {}


def _library_version(dist: str) -> str:
    """The installed version of ``dist``, looked up once per process."""
    version = _VERSIONS.get(dist)
    if version is None:
        version = _VERSIONS[dist] = _distribution_version(dist)
    return version


def _distribution_version(dist: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


_FILES: dict[tuple[str, int, int], str] = {}


def _file_digest(path: str) -> str:
    """xxh3 of a file's bytes, remembered per (path, size, mtime) within the process."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "missing"
    key = (os.path.abspath(path), st.st_size, st.st_mtime_ns)
    digest = _FILES.get(key)
    if digest is None:
        hasher = xxhash.xxh3_64()
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                hasher.update(chunk)
        digest = _FILES[key] = f"{st.st_size} bytes, xxh3 {hasher.hexdigest()}"
    return digest


def forget() -> None:
    """Drop every cached fingerprint and parsed module (tests that rewrite modules)."""
    _FINGERPRINTS.clear()
    _TREES.clear()
    _CODES.clear()
    _FILES.clear()
    _VERSIONS.clear()
