"""Code fingerprints: what the code of a task is, normalised so that only behaviour counts.

A task's output depends on its parameters (in the unique id) and on its code, which the id
leaves out so that ids stay stable across machines and edits that change nothing. The code
is covered here instead, and the runner compares it with the run record on every build.

What the fingerprint of a task class covers, as normalised text (``ast.unparse`` of the
parsed source with docstrings removed, so comments, docstrings, blank lines, quotes and line
wrapping never count):

- the class statement of the task and of each of its task base classes (tasuki's own classes
  excepted: they change with tasuki's version, like any library);
- every function, class or module-level constant the task's code names that is the
  project's code (the task's own top-level package, or any module whose file is not under
  site-packages or the interpreter's lib folder; tasuki's own code excepted), followed
  transitively through what those name in turn; other task classes are left out (their code
  reaches the output through the upstream key, below);
- for each of those names, every other module-level statement that binds or changes it
  (:mod:`tasuki.core._bindings`: a decorator that replaced a function, ``ITEMS += ...``,
  ``@helper.register``...), and the files of the package modules a function imports for
  itself (read, not imported);
- for code without a source file (a notebook cell), its bytecode, names and constants, and
  what those names are bound to;
- what the task declares in ``code_dependencies`` (functions, classes, modules, or their
  dotted names), ``library_versions`` (installed distributions' versions) and
  ``data_files`` (the bytes of files).

The *code key* of a task in a graph is the fingerprint of its own code combined with the
code keys of everything it requires and of the tasks it holds as parameters without requiring
them (Merkle style): a change of code anywhere upstream moves it, so the runner finds an
out-of-date output by reading the root's record alone. Each build walks the code again
(:func:`refresh_fingerprints`): what a name is bound to can change between two builds in one
process.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import logging
import os
import sys
import time
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import xxhash

from tasuki._registry import import_path
from tasuki.core._base import UID, TaskBase, param_tasks
from tasuki.core._bindings import import_origin, resolve_module
from tasuki.core._file_hash import file_digest, forget_file_digests
from tasuki.core._live import (
    changed_text,
    class_literals,
    defined_in,
    function_of,
    plain_text,
    statement_literal,
    unbound_text,
)
from tasuki.core._source import (
    Fact,
    Names,
    also_of,
    assignment,
    definition,
    definition_in,
    facts_for,
    forget_sources,
    module_tree,
    names_in,
    normalise,
    normalise_text,
    save_facts,
)
from tasuki.errors import TaskError

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    # This module sits below task.py and graph.py (it fingerprints what they describe), so
    # it names task classes by their base and graphs by the shape it reads.
    Task = TaskBase

__all__ = [
    "CodeFingerprint",
    "class_fingerprint",
    "code_fingerprint",
    "code_key_of",
    "code_keys",
    "code_of",
    "combine_code_key",
    "refresh_fingerprints",
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
        save_facts()  # what this walk parsed, for the next process (see tasuki.core._source)
    return cached


def refresh_fingerprints() -> None:
    """Forget the fingerprints of earlier builds in this process (each build and each
    ``why`` starts with this): a helper redefined in a notebook cell or a module reloaded
    since then must count, and what names are bound to is only known by walking again. The
    parsed sources stay cached by file stamp (see :mod:`tasuki.core._source`), so a walk
    costs tens of microseconds per task class."""
    _FINGERPRINTS.clear()
    _FILES_OF.clear()  # a module file may have appeared or moved since


def code_fingerprint(cls: type[Task]) -> str:
    """16 hex characters that change when the code of ``cls`` changes (see the module doc)."""
    return code_of(cls).digest


def class_fingerprint(cls: type[Any]) -> CodeFingerprint:
    """The fingerprint of a class that is not a task (a dataset builder, a model wrapper):
    its statement and what it names in its own package, normalised as a task's code is."""
    if _is_task_class(cls):
        return code_of(cls)
    collector = _Collector(cls)
    collector._add_object(cls)
    found = collector.fingerprint()
    save_facts()
    return found


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
        upstream = [keys[d] for d in node.deps]
        held = param_tasks(node.task)
        if held:
            upstream += _held_keys(held, node.deps, keys)
        keys[uid] = combine_code_key(fp, upstream) if upstream else fp
    return keys


def _held_keys(held: list[Any], deps: Sequence[str], keys: Mapping[str, str]) -> list[str]:
    """Code keys of the tasks a task holds as parameters without requiring them (a scorer
    whose methods it calls): their code reaches its output as much as its own does."""
    out = []
    for other in held:
        uid = other.__dict__.get(UID)
        if uid in deps:
            continue  # required: its code key is upstream already
        key = keys.get(uid) if uid is not None else None
        out.append(key if key is not None else code_key_of(other))
    return out


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
    """When this process started, a second early (Linux: its start in /proc/self/stat, in
    clock ticks since boot, set against the time since boot now); elsewhere when tasuki was
    imported."""
    try:
        with open("/proc/self/stat", "rb") as f:  # bytes: no codec module to import
            ticks = int(f.read().rsplit(b")", 1)[1].split()[19])
        ago = time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
        return int((time.time() - ago - 1.0) * 1e9)
    except (OSError, ValueError, IndexError, AttributeError):
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


_CODES: dict[str, tuple[ast.Module, dict[str, types.CodeType] | None]] = {}


def _module_codes(module: types.ModuleType | None) -> dict[str, types.CodeType] | None:
    """Every function and class body the module's file compiles to now, by qualified name."""
    parsed = module_tree(module)
    if parsed is None or module is None:
        return None
    filename = str(module.__file__)
    cached = _CODES.get(filename)
    if cached is not None and cached[0] is parsed[1]:  # the same parse of the same text
        return cached[1]
    found: dict[str, types.CodeType] | None
    try:
        top = compile("".join(parsed[0]), filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        found = None
    else:
        found = {}
        stack = _codes(top)
        while stack:
            code = stack.pop(0)
            found[code.co_qualname] = code  # later definitions of a name win, as at import
            stack.extend(_codes(code))
    _CODES[filename] = (parsed[1], found)
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
    found = definition(klass)
    return None if found is None else found[0]


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
        elif _class_data(attr):  # ``WEIGHTS = {...}`` in the class body; sets sorted
            text = repr(value) if _is_literal(value) else plain_text(value)
            if text is not None:
                parts.append(f"{attr} = {text}")
    return "\n".join(parts)


def _class_data(attr: str) -> bool:
    """Whether a class attribute is the user's (not Python's or tasuki's bookkeeping)."""
    return bool(attr) and not attr.startswith(("__", "_tasuki"))


def _code_names(obj: Any) -> Names:
    """The global names the functions of ``obj`` (a class or a function) read, from their
    bytecode (and the bases of a class): what a fingerprint without source follows."""
    found: set[str] = set()
    holders = list(vars(obj).values()) if isinstance(obj, type) else [obj]
    if isinstance(obj, type):
        found.update(base.__name__ for base in obj.__bases__)
    for value in holders:
        fn = inspect.unwrap(getattr(value, "__func__", getattr(value, "fget", value)))
        code = getattr(fn, "__code__", None)
        stack = [code] if isinstance(code, types.CodeType) else []
        while stack:
            current = stack.pop()
            found.update(current.co_names)
            stack.extend(_codes(current))
    return tuple((name, None) for name in sorted(found))


def _describe_code(code: types.CodeType) -> str:
    # Nested code objects (comprehensions, inner functions) by their own content: their repr
    # holds a memory address, which would differ in every process.
    consts = [_const_text(c) for c in code.co_consts]
    return f"{code.co_code.hex()} {code.co_names!r} [{', '.join(consts)}]"


def _const_text(const: Any) -> str:
    """A constant of compiled code, the same in every process: ``x in {"a", "b"}`` compiles
    to a frozenset, whose repr follows string hashing (``PYTHONHASHSEED``), so its items
    are sorted; code objects are described by content (their repr holds an address)."""
    if isinstance(const, types.CodeType):
        return _describe_code(const)
    if isinstance(const, frozenset):
        return f"frozenset({{{', '.join(sorted(_const_text(c) for c in const))}}})"
    if type(const) is tuple:  # as repr() writes it, with the items made stable
        items = [_const_text(c) for c in const]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    return repr(const)


class _Collector:
    """Walks from a task class to the code it depends on, writing one section per piece."""

    def __init__(self, cls: type[Task]) -> None:
        self.cls = cls
        self.package = _top(cls.__module__)
        self.sections: list[tuple[str, str]] = []
        self.seen: set[tuple[str, str]] = set()
        self.also: dict[tuple[str, str], bool] = {}  # whether a name had other statements
        self.objects: dict[tuple[str, str], Any] = {}  # the object each seen name stood for
        self.others: list[Any] = []  # objects added under a name another one had

    def _ours(self, module_name: str) -> bool:
        """Whether code of ``module_name`` is the project's, to follow: the task's own
        package, or any module whose file is not a library's (not under site-packages or
        the interpreter's own lib folder): a script's or notebook's tasks call helpers of
        the project's packages beside them. tasuki's own code counts as a library."""
        top = _top(module_name)
        return top == self.package or (top != "tasuki" and _project_package(top))

    def fingerprint(self) -> CodeFingerprint:
        for klass in self.cls.__mro__:
            # tasuki's own task classes (QueryTask, WriteTableTask, a dataset's shards...)
            # are a library's code, the task itself or a base: they change with tasuki's
            # version, and following their imports would walk a hundred tasuki modules.
            if klass.__module__.startswith("tasuki.") or not _is_task_class(klass):
                continue
            self._add_object(klass)
            home = sys.modules.get(klass.__module__)
            if home is not None and klass.__qualname__ == klass.__name__:
                self._add_also(home, klass.__name__, "def")  # ``Train.WEIGHTS = ...`` later
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
        kind = "class" if isinstance(obj, type) else "function"
        head = f"{kind} {module_name}:{key[1]}"
        if key in self.seen:
            first = self.objects.get(key)
            if first is None or first is obj or any(o is obj for o in self.others):
                return
            # Another object of the same name: a function redefined in a notebook cell while
            # a list still holds the old one. Both run, so both count.
            self.others.append(obj)
            head += " (another object of this name)"
        else:
            self.seen.add(key)
            self.objects[key] = obj
        module = sys.modules.get(module_name)
        facts = facts_for(module)
        fact = facts.definition(key[1]) if facts is not None else _fact_of(definition(obj))
        if fact is None:
            self.sections.append((head, _bytecode(obj)))
            self._follow_bytecode(obj, module)  # a notebook cell's helpers and constants
            return
        if not _runs_its_source(obj):
            self._add_running(head, obj, module)
            return
        text, names = fact
        self.sections.append((head, text))
        if isinstance(obj, type):
            self._add_class_values(obj, head, text)
        self._follow(names, module)

    def _add_class_values(self, klass: type[Any], head: str, text: str) -> None:
        """What the class holds that its statement does not say: plain data other than
        its literals (``Train.lr = 0.7`` before a build: :mod:`tasuki.core._live`), and
        methods set from outside (``Train.score = other.score``)."""
        literals, bound = class_literals(text)
        fields = getattr(klass, "__dataclass_fields__", {})
        for name, live in vars(klass).items():
            if name.startswith("__"):
                continue  # Python's and the dataclass machinery's
            method = function_of(live)
            if method is not None:
                if not defined_in(method, klass, name):
                    self._add_method(head, name, method)
                continue
            if name[0] == "_" or name in fields:
                continue  # private, or a parameter (its value is in the unique id)
            if name in literals:
                changed = changed_text(name, live, literals[name])
            elif name in bound:
                continue  # computed by the class body: no literal to compare with
            else:
                changed = unbound_text(name, live)
            if changed is not None:
                self.sections.append((f"{head}, at run time", changed))

    def _add_method(self, head: str, name: str, method: Any) -> None:
        """A function set on a class from outside its statement: the project's is followed
        as code; a library's counts by name (its version by ``library_versions``)."""
        where = f"{method.__module__}:{method.__qualname__}"
        self.sections.append((f"{head}, at run time", f"{name} = {where}"))
        if self._ours(method.__module__ or ""):
            self._add_object(method)

    def _add_running(self, head: str, obj: Any, module: types.ModuleType | None) -> None:
        """``obj`` runs other code than its file now holds (edited, not reloaded): its
        bytecode stands for it, and what that names is followed."""
        logger.warning(
            "the source of %s changed after it was imported; its fingerprint follows the "
            "code that runs. Reload the module (or restart) to run the code on disk.",
            obj.__qualname__,
        )
        self.sections.append((f"{head} (running code, not the file)", _bytecode(obj)))
        self._follow_bytecode(obj, module)

    def _follow_bytecode(self, obj: Any, module: types.ModuleType | None) -> None:
        """Follow the global names ``obj``'s bytecode reads. Bytecode does not say which
        attribute of a module it reads (``util.f`` is ``util`` and ``f`` apart), so a
        project module it names counts whole, from its file."""
        if module is None:
            return
        names = _code_names(obj)
        namespace = vars(module)
        for name, _ in names:
            value = namespace.get(name)
            if isinstance(value, types.ModuleType) and self._ours(value.__name__):
                self._add_module_file(value.__name__)
        self._follow(names, module)

    def _add_module(self, module: types.ModuleType) -> None:
        key = (module.__name__, "")
        if key in self.seen:
            return
        self.seen.add(key)
        facts = facts_for(module)
        if facts is not None:
            body = facts.whole()
        else:
            parsed = module_tree(module)
            body = normalise(parsed[1]) if parsed else ""
        self.sections.append((f"module {module.__name__}", body))

    def _add_constant(self, module: types.ModuleType, name: str) -> bool:
        key = (module.__name__, name)
        if key in self.seen:
            return True
        facts = facts_for(module)
        if facts is not None:
            fact = facts.assignment(name)
        else:
            parsed = module_tree(module)
            stmt = assignment(parsed[1], name) if parsed else None
            fact = None if stmt is None else (normalise(stmt), tuple(names_in(stmt)))
        if fact is None:
            return False
        self.seen.add(key)
        text, names = fact
        self.sections.append((f"value {module.__name__}:{name}", text))
        self._add_environment_value(module, name, text)
        live = vars(module).get(name, _MISSING)
        changed = changed_text(name, live, statement_literal(text))
        if changed is not None:  # ``config.THRESH = 0.9`` in a notebook cell
            self.sections.append((f"value {module.__name__}:{name}, at run time", changed))
        self._follow(names, module)
        self._add_also(module, name, "assign")
        return True

    def _add_environment_value(self, module: types.ModuleType, name: str, text: str) -> None:
        """The value of a constant set from the process environment at import
        (``THRESH = float(os.environ.get("THRESH", "0.5"))``): the statement's text stays
        the same whatever the variable says, so the value is what tells a change.

        Numbers and flags only (alone, or in lists and dicts): text from the environment is
        mostly where things are (URLs, paths) and secrets, which differ between a laptop, CI
        and a worker without changing what a task makes, and which must never be written
        into the workspace's code texts. A value computed from the file's own place
        (``ROOT = dirname(__file__)``) does not count either."""
        reads = "environ" in text or "getenv" in text  # os.environ[...], os.getenv(...)
        if not reads or (module.__name__, f"{name} (env)") in self.seen:
            return
        value = vars(module).get(name)
        if _numbers_only(value):
            self.seen.add((module.__name__, f"{name} (env)"))
            self.sections.append((f"environment value {module.__name__}:{name}", repr(value)))

    def _add_also(self, module: types.ModuleType, name: str, primary: str) -> bool:
        """Add the other module-level statements that bind or change ``name`` (a decorator's
        registration, ``ITEMS += [...]``, a loop filling it: :mod:`tasuki.core._bindings`)."""
        key = (module.__name__, name)
        if key in self.also:
            return self.also[key]
        facts = facts_for(module)
        fact = facts.also(name, primary) if facts is not None else also_of(module, name, primary)
        self.also[key] = fact is not None
        if fact is None:
            return False
        text, names = fact
        self.sections.append((f"also {module.__name__}:{name}", text))
        self._add_environment_value(module, name, text)
        self._follow(names, module)
        return True

    def _add_definition(self, module: types.ModuleType, name: str, value: Any) -> bool:
        """Add the ``def`` or ``class`` statement that bound ``name`` to ``value``, an object
        that is not a function: a decorator replaced it (``functools.cache``, a class)."""
        key = (module.__name__, name)
        if key in self.seen:
            return True
        facts = facts_for(module)
        if facts is not None:
            fact = facts.definition(name)
        else:
            fact = _fact_of(definition_in(module, name))
        if fact is None:
            return False
        self.seen.add(key)
        head = f"function {module.__name__}:{name}"
        wrapped = inspect.unwrap(value) if hasattr(value, "__wrapped__") else None
        if inspect.isfunction(wrapped) and not _runs_its_source(wrapped):
            self._add_running(head, wrapped, module)
            return True
        text, names = fact
        self.sections.append((head, text))
        self._follow(names, module)
        self._add_also(module, name, "def")
        return True

    def _add_imported(self, module: types.ModuleType, name: str, value: Any) -> bool:
        """Follow ``name`` to the module of the package it was imported from (``from
        pkg.lists import OPS``), where its value was made; True when an import bound it
        (from a library too: nothing to add then)."""
        facts = facts_for(module)
        if facts is not None:
            origins = facts.origins(name)
        else:
            parsed = module_tree(module)
            origins = import_origin(parsed[1], name) if parsed else []
        for written, original in origins:
            source = resolve_module(written, module.__package__)
            home = sys.modules.get(source) if source is not None else None
            if source is None or home is None or home is module:
                continue
            if original == "*":
                if vars(home).get(name, _MISSING) is not value:
                    continue
                original = name
            if self._ours(source):
                self._resolve(home, original)
            # else a library's object: its version is what library_versions declares
            return True
        return False

    def _follow(self, names: Names, module: types.ModuleType | None) -> None:
        """Add what a piece of code names (its global ``names``, with the attribute read from
        each) that lives in the task's package. Which object a name is bound to is looked up
        here, in this process, every time: only the names come from the source."""
        if module is None:
            return
        namespace = vars(module)
        for name, attr in names:
            if name.startswith("<"):
                if attr is not None:
                    self._follow_import(name, attr, module.__package__)
                continue
            value = namespace.get(name, _MISSING)
            if value is _MISSING:
                continue
            if isinstance(value, types.ModuleType):
                if attr is not None:
                    self._follow_attributes(value, attr)
                continue
            self._resolve(module, name)

    def _follow_attributes(self, value: types.ModuleType, chain: str) -> None:
        """Follow ``pkg.util.clean`` from module ``pkg`` down to what it names in the package."""
        for attr in chain.split("."):
            if not self._ours(value.__name__):
                return
            inner = getattr(value, attr, _MISSING)
            if not isinstance(inner, types.ModuleType):
                if inner is not _MISSING:
                    self._resolve(value, attr)
                return
            value = inner

    def _follow_import(self, marker: str, attr: str, package: str | None) -> None:
        """Follow an import made inside a function (``from pkg.util import f`` in ``run()``):
        the files of the modules it names, whole, read without importing them. Importing
        them here would run what the function defers on purpose (a heavy library, a GPU
        runtime) in the process that plans and forks; and their text, unlike their objects,
        is the same whether or not an earlier build in this process imported them."""
        kind, _, written = marker[1:].partition(">")
        source = resolve_module(written, package)
        if source is None or not self._ours(source):
            return
        self._add_module_file(source)
        home = _module_file(source)
        if kind == "from" and home is not None and home.__package__ == source:
            # ``from pkg import util``: in a package, util may be a module of its own (asked
            # of a plain module, the import system would import it to look inside).
            self._add_module_file(f"{source}.{attr.partition(':')[0]}")

    def _add_module_file(self, name: str) -> None:
        """The normalised text of module ``name``'s file, and the modules of the package it
        imports in turn; nothing when ``name`` is not a module of a source file."""
        if (name, "(file)") in self.seen:
            return
        self.seen.add((name, "(file)"))
        module = _module_file(name)
        if module is None:
            return
        facts = facts_for(module)
        if facts is None:
            return
        self.sections.append((f"module file {name}", facts.whole()))
        for marker, attr in facts.imports():
            self._follow_import(marker, attr, module.__package__)

    def _resolve(self, module: types.ModuleType, name: str) -> None:
        if name in _WHERE_THE_MODULE_LIVES:
            return
        value = vars(module).get(name)
        if _is_task_class(value):
            return
        if inspect.isfunction(value) or inspect.isclass(value):
            home = getattr(value, "__module__", "") or ""
            if not self._ours(home):
                return  # a library's code: declare its version in library_versions
            if home == module.__name__ and value.__name__ == "<lambda>":
                self._add_constant(module, name)
                return
            self._add_object(value)
            here = home == module.__name__ and value.__qualname__ == name
            self._add_also(module, name, "def" if here else "none")
            owner = sys.modules.get(home)
            if not here and owner is not None and value.__qualname__ == value.__name__:
                self._add_also(owner, value.__name__, "def")
            return
        if not self._ours(module.__name__) or isinstance(value, types.ModuleType):
            return
        if facts_for(module) is None and module_tree(module) is None:
            # No source (a notebook's ``__main__``, ``exec``): what the value holds stands for
            # it, as bytecode stands for its functions.
            self._add_contents(module, name, value)
            return
        if self._add_constant(module, name):
            return
        if _is_literal(value):
            # Imported from a sibling module (``from pkg.settings import N_FACTORS``).
            self.seen.add((module.__name__, name))
            self.sections.append((f"value {module.__name__}:{name}", repr(value)))
            self._add_also(module, name, "none")
            return
        if self._add_definition(module, name, value) or self._add_imported(module, name, value):
            return
        if self._add_also(module, name, "none"):
            return  # bound by statements that are not assignments (a loop, ``with ... as``)
        # Bound in a way the source does not show (``globals()[...]``, ``exec``): the whole
        # module stands for it, so that no edit of it can leave an output passing as current.
        self._add_module(module)

    def _add_contents(self, module: types.ModuleType, name: str, value: Any) -> None:
        """A value of a module without source: the functions and classes it wraps or holds
        (``functools.cache``, a list of helpers, a dict of them by name), the literals it
        holds (a dict's keys too) and its type."""
        key = (module.__name__, f"{name} (value)")
        if key in self.seen:
            return
        self.seen.add(key)
        if isinstance(value, dict):
            held = [
                f"{self._describe_item(k)}: {self._describe_item(v)}"
                for k, v in list(value.items())[:1000]
            ]
        else:
            items = list(value) if isinstance(value, list | tuple | set | frozenset) else [value]
            held = [self._describe_item(item) for item in items[:1000]]
        if isinstance(value, set | frozenset):
            held.sort()  # a set's order follows hashing, which differs between processes
        self.sections.append((f"value {module.__name__}:{name}", ", ".join(held)))

    def _describe_item(self, item: Any) -> str:
        """One item of a value without source, by what it is: a function or class by name
        (the project's followed as code), plain data by its text, anything else by type."""
        inner = inspect.unwrap(item) if hasattr(item, "__wrapped__") else item
        if inspect.isfunction(inner) or inspect.isclass(inner):
            if self._ours(getattr(inner, "__module__", "") or ""):
                self._add_object(inner)
            return f"{inner.__module__}:{inner.__qualname__}"
        text = plain_text(inner)
        return type(inner).__qualname__ if text is None else text

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
        if isinstance(path, str) and _GLOB_CHARS.intersection(path) and not os.path.exists(path):
            self._add_pattern(path)
            return
        if os.path.isdir(path):
            name = f"{self.cls.__module__}:{self.cls.__qualname__}"
            raise TaskError(
                f"{name}.data_files names {os.fspath(path)!r}, a folder: data_files holds "
                "files. List the files, give a pattern ('data/*.csv', 'data/**/*.json'), or "
                "require the folder as tasuki.FileInput(path=..., as_='path') (its id "
                "follows every file in it)",
                task=name,
                path=os.fspath(path),
            )
        digest = _file_digest(os.fspath(path))
        if digest == "missing":
            # Hashed as "missing" for good, a mistyped or misplaced file never counted: its
            # edits left the task's output in place.
            name = f"{self.cls.__module__}:{self.cls.__qualname__}"
            raise TaskError(
                f"{name}.data_files names {os.fspath(path)!r}, which is not there (looked for "
                f"{os.path.abspath(path)}): a file the task declares must exist for its "
                "changes to count. Fix the path; a relative one is read from the current "
                "folder, so make it absolute to run from anywhere "
                "(Path(__file__).parent / 'data' / ...)",
                task=name,
                path=os.fspath(path),
            )
        self.sections.append((f"file {self._file_label(os.fspath(path))}", digest))

    def _add_pattern(self, pattern: str) -> None:
        """Every file a glob pattern matches now, by name and bytes: a file added, removed
        or renamed under it changes the fingerprint as an edit does."""
        import glob

        found = sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
        if not found:
            # As a missing file: a pattern that matches nothing would never count.
            name = f"{self.cls.__module__}:{self.cls.__qualname__}"
            raise TaskError(
                f"{name}.data_files pattern {pattern!r} matches no file (looked in "
                f"{os.path.abspath(os.path.dirname(pattern) or '.')}): the files a task "
                "declares must exist for their changes to count. Fix the pattern; a relative "
                "one is read from the current folder, so make it absolute to run from anywhere "
                "(str(Path(__file__).parent / 'data' / '*.csv'))",
                task=name,
                path=pattern,
            )
        self.sections.append(
            (f"files {self._file_label(pattern)}", " ".join(self._file_label(p) for p in found))
        )
        for match in found:
            self._add_file(match)

    def _file_label(self, path: str) -> str:
        """The path as the project sees it: an absolute path inside the folder that holds the
        task's top package (or script) is taken relative to it, so a checkout in another
        folder (a teammate's, CI's) keeps the fingerprint (``Path(__file__).parent / ...``)."""
        if not os.path.isabs(path):
            return path
        module = sys.modules.get(self.cls.__module__)
        file = getattr(module, "__file__", None)
        if not file:
            return path
        here = Path(file).resolve()
        root = here.parent
        depth = self.cls.__module__.count(".") + (here.name == "__init__.py")
        for _ in range(depth):
            root = root.parent
        try:
            return Path(path).resolve().relative_to(root).as_posix()
        except ValueError:  # outside the project: the path itself
            return path


_MISSING = object()
_GLOB_CHARS = frozenset("*?[")


_FILES_OF: dict[str, types.ModuleType | None] = {}


def _module_file(name: str) -> types.ModuleType | None:
    """A stand-in for module ``name`` that knows its source file (``__file__``,
    ``__package__``) and was not run; found through the import system without importing
    ``name`` itself (its parent package is imported, as any import of it would)."""
    if name in _FILES_OF:
        return _FILES_OF[name]
    import importlib.util

    loaded = sys.modules.get(name)
    origin = getattr(loaded, "__file__", None) if loaded is not None else None
    is_package = hasattr(loaded, "__path__")
    if loaded is None:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError, AttributeError):
            spec = None  # an attribute of a module, not a module (``from pkg.util import f``)
        if spec is not None and spec.has_location:
            origin, is_package = spec.origin, spec.submodule_search_locations is not None
    stand_in = None
    if origin and origin.endswith(".py"):
        stand_in = types.ModuleType(name)
        stand_in.__file__ = origin
        stand_in.__package__ = name if is_package else name.rpartition(".")[0]
    _FILES_OF[name] = stand_in
    return stand_in


_PROJECT: dict[str, bool] = {}
_LIBRARY_ROOTS: list[str] = []


def _project_package(top: str) -> bool:
    """Whether the top-level module ``top`` lives in the project's files rather than in an
    installed library, the standard library or the interpreter (cached per process)."""
    known = _PROJECT.get(top)
    if known is not None:
        return known
    module = sys.modules.get(top)
    try:  # a package's folders; a lazy or odd module may hold anything there
        folders = list(getattr(module, "__path__", None) or [])
    except TypeError:
        folders = []
    files = [getattr(module, "__file__", None), *folders]
    paths = [os.path.realpath(f) for f in files if isinstance(f, str) and f]
    ours = bool(paths) and not any(_in_library(p) for p in paths)
    _PROJECT[top] = ours
    return ours


def _in_library(path: str) -> bool:
    if not _LIBRARY_ROOTS:
        prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
        _LIBRARY_ROOTS.extend(
            os.path.realpath(os.path.join(p, "lib")) + os.sep for p in prefixes if p
        )
        _LIBRARY_ROOTS.extend(
            os.path.realpath(os.path.join(p, "Lib")) + os.sep for p in prefixes if p
        )
    parts = set(path.split(os.sep))
    if "site-packages" in parts or "dist-packages" in parts:
        return True
    return any(path.startswith(root) for root in _LIBRARY_ROOTS)


def _numbers_only(value: Any, depth: int = 0) -> bool:
    """Numbers and flags, alone or in (small) lists, tuples and dicts keyed by names."""
    if isinstance(value, bool | int | float):
        return True
    if depth > 3:
        return False
    if isinstance(value, list | tuple):
        return len(value) <= 1000 and all(_numbers_only(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return len(value) <= 1000 and all(
            isinstance(k, str | int) and _numbers_only(v, depth + 1) for k, v in value.items()
        )
    return False


# Where a module's file is, not what its code says: a checkout in another folder (a
# teammate's, CI's) must not make every task that builds a path from __file__ run again.
_WHERE_THE_MODULE_LIVES = frozenset({"__file__", "__cached__", "__path__", "__spec__"})


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


def _file_digest(path: str) -> str:
    """Size and xxh3 of a file's bytes (remembered while the file stays as it was hashed:
    :mod:`tasuki.core._file_hash`), or ``"missing"``."""
    found = file_digest(path)
    return "missing" if found is None else f"{found[0]} bytes, xxh3 {found[1]}"


def _fact_of(found: tuple[str, ast.stmt] | None) -> Fact:
    """A definition's normalised text and names, for a module without a source file of its
    own (nothing to cache them by)."""
    return None if found is None else (normalise_text(found[0]), tuple(names_in(found[1])))


def forget() -> None:
    """Drop every cached fingerprint and parsed module (tests that rewrite modules)."""
    _FINGERPRINTS.clear()
    _FILES_OF.clear()
    _PROJECT.clear()
    forget_sources()
    _CODES.clear()
    forget_file_digests()
    _VERSIONS.clear()
