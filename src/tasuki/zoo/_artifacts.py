"""Turning what is pushed into artifact files, and artifact files back into a model.

A push stages the model's files in a local folder first (``stage``): a Python object saved
through a tasuki format (``.pkl`` by default), a save function or an MLflow flavour; a file
or folder copied as it is; or the output of a finished tasuki task, read from its workspace
and checked against its run record. The files are hashed there (xxh3-128 each) and only then
uploaded, so the hash in ``version.json`` is of the bytes that were sent.

Loading (``load_files``) verifies every file against ``version.json`` before the loader sees
a byte, then calls the recorded loader; a loader that raises becomes a
:class:`~tasuki.zoo.ModelLoadError` naming the version and the loader.
"""

from __future__ import annotations

import io
import math
import os
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xxhash

from tasuki.errors import ConfigError, FormatError
from tasuki.zoo._errors import CorruptModelError, ModelLoadError
from tasuki.zoo._version import FileEntry, ModelVersion

if TYPE_CHECKING:
    from tasuki.config import Settings
    from tasuki.core.task import Task

__all__ = [
    "Staged",
    "check_bytes",
    "corrupt",
    "function_path",
    "hash_file",
    "load_files",
    "stage",
    "verify_files",
]

_CHUNK = 1 << 20
MLMODEL = "MLmodel"


@dataclass
class Staged:
    """A model's files in a local folder, ready to upload, and what the version records."""

    folder: Path
    loader: dict[str, Any]
    task: dict[str, Any] | None = None
    datasets: list[str] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)

    def files(self) -> list[FileEntry]:
        """Every file under the folder with its size and xxh3-128, in path order."""
        entries = []
        for path in sorted(p for p in self.folder.rglob("*") if p.is_file()):
            rel = path.relative_to(self.folder).as_posix()
            entries.append(FileEntry(rel, path.stat().st_size, hash_file(path)))
        return entries


def hash_file(path: str | os.PathLike[str]) -> str:
    """xxh3-128 of a file's bytes, read in 1 MiB chunks."""
    hasher = xxhash.xxh3_128()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def function_path(fn: Callable[..., Any], what: str) -> str:
    """``module:qualname`` of a module-level function, the form kept in ``version.json``."""
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    if not module or not qualname or "<" in qualname or module == "__main__":
        raise ConfigError(
            f"{what} {fn!r} cannot be recorded in a model version: a version names its load "
            "function as 'module:function' so another process can import it. Define it at "
            "the top level of an importable module (not in __main__, a lambda or a closure).",
            function=repr(fn),
        )
    return f"{module}:{qualname}"


def stage(
    source: Any,
    folder: Path,
    *,
    format: str | None,
    flavor: str | None,
    save_function: Callable[[Any, Path], Any] | None,
    load_function: Callable[[Path], Any] | str | None,
    output: str | None,
    settings: Settings,
) -> Staged:
    """Write what ``source`` is into ``folder`` (see the module docstring)."""
    from tasuki.core.task import Task

    folder.mkdir(parents=True, exist_ok=True)
    loader_fn = (
        load_function
        if isinstance(load_function, str) or load_function is None
        else function_path(load_function, "load_function")
    )
    if isinstance(source, Task):
        return _stage_task(source, folder, output=output, settings=settings)
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.exists():
            raise ConfigError(
                f"zoo.push: {os.fspath(source)!r} is not an existing file or folder. Pass a "
                "path that exists, a Python object (saved as .pkl unless format= says "
                "otherwise) or a finished tasuki Task whose output is the model.",
                path=os.fspath(source),
            )
        return _stage_path(path, folder, loader_fn)
    if flavor is not None:
        return _stage_flavor(source, folder, flavor)
    if save_function is not None:
        if loader_fn is None:
            raise ConfigError(
                "zoo.push: save_function= needs load_function= too, so the version records "
                "how to read the files back"
            )
        save_function(source, folder)
        if not any(p.is_file() for p in folder.rglob("*")):
            raise FormatError(
                f"zoo.push: save_function {getattr(save_function, '__name__', '?')} wrote no "
                "file into the folder it was given; it must save the model there"
            )
        return Staged(folder, {"kind": "function", "function": loader_fn})
    from tasuki.formats import format_for

    ext = format or ".pkl"
    ext = ext if ext.startswith(".") else f".{ext}"
    fmt = format_for(f"model{ext}")
    with open(folder / f"model{ext}", "wb") as f:
        fmt.dump(source, f)
    return Staged(folder, {"kind": "format", "format": ext})


def _format_ext(name: str) -> str | None:
    """The full suffix of ``name`` (``.csv.gz``) when a tasuki format reads it, else None."""
    from tasuki.formats import format_for

    _, dot, ext = name.partition(".")
    if not dot:
        return None
    try:
        format_for(name)
    except FormatError:
        return None
    return f".{ext}"


def _stage_path(path: Path, folder: Path, load_function: str | None) -> Staged:
    if path.is_file():
        shutil.copyfile(path, folder / path.name)
        if load_function is not None:
            return Staged(folder, {"kind": "function", "function": load_function})
        ext = _format_ext(path.name)
        if ext is not None:
            return Staged(folder, {"kind": "format", "format": ext, "file": path.name})
        return Staged(folder, {"kind": "path", "file": path.name})
    shutil.copytree(path, folder, dirs_exist_ok=True)
    if load_function is not None:
        return Staged(folder, {"kind": "function", "function": load_function})
    if (folder / MLMODEL).is_file():
        return Staged(folder, {"kind": "mlflow", "flavor": _mlmodel_flavor(folder / MLMODEL)})
    return Staged(folder, {"kind": "path"})


def _mlmodel_flavor(mlmodel: Path) -> str:
    """``sklearn`` when an MLflow model folder has that flavour, else ``pyfunc``."""
    import yaml

    doc = yaml.safe_load(mlmodel.read_text()) or {}
    flavors = doc.get("flavors") or {}
    return "sklearn" if "sklearn" in flavors else "pyfunc"


_FLAVORS = ("sklearn", "pyfunc")


def _mlflow_module(flavor: str) -> Any:
    if flavor not in _FLAVORS:
        raise ConfigError(
            f"MLflow flavour {flavor!r} is not supported by the zoo; use one of {list(_FLAVORS)}",
            flavor=flavor,
        )
    try:
        import mlflow.pyfunc
        import mlflow.sklearn
    except ImportError as exc:
        raise ConfigError(
            f"MLflow flavour {flavor!r} needs mlflow: pip install 'tasuki[mlflow]'", flavor=flavor
        ) from exc
    return mlflow.sklearn if flavor == "sklearn" else mlflow.pyfunc


def _stage_flavor(model: Any, folder: Path, flavor: str) -> Staged:
    import importlib.metadata

    module = _mlflow_module(flavor)
    # Requirements named here: MLflow infers them by loading the model in a subprocess,
    # which took 15 s per push on this machine for a two-coefficient regression.
    if flavor == "pyfunc":
        pins = [f"cloudpickle=={importlib.metadata.version('cloudpickle')}"]
        module.save_model(str(folder / "model"), python_model=model, pip_requirements=pins)
    else:
        pins = [f"scikit-learn=={importlib.metadata.version('scikit-learn')}"]
        module.save_model(model, str(folder / "model"), pip_requirements=pins)
    moved = folder / "model"
    for child in moved.iterdir():  # the MLflow model folder is the artifact root
        child.rename(folder / child.name)
    moved.rmdir()
    return Staged(folder, {"kind": "mlflow", "flavor": flavor})


def _stage_task(task: Task, folder: Path, *, output: str | None, settings: Settings) -> Staged:
    from tasuki.core.records import RunRecord
    from tasuki.core.targets import DirectoryTarget, FileTarget, ModelTarget, targets_of
    from tasuki.storage import open_store

    name = type(task).task_name()
    store = open_store(settings.workspace)
    try:
        record = RunRecord.read(store, task.unique_id)
    except FileNotFoundError:
        record = None
    if record is None or not record.done:
        raise ConfigError(
            f"zoo.push: {name} [{task.unique_id[:12]}] has not finished in the workspace "
            f"{store.url}: build it first (tasuki run {name}), then push it",
            task=name,
            unique_id=task.unique_id,
        )
    outputs = task.output()
    if output is not None:
        if not isinstance(outputs, dict) or output not in outputs:
            known = list(outputs) if isinstance(outputs, dict) else []
            raise ConfigError(
                f"zoo.push: {name}.output() has no entry {output!r}; entries: {known}",
                task=name,
            )
        outputs = outputs[output]
    targets = targets_of(outputs)
    if len(targets) != 1:
        keys = list(outputs) if isinstance(outputs, dict) else []
        raise ConfigError(
            f"zoo.push: {name}.output() declares {len(targets)} outputs; say which one is "
            f"the model with output=NAME (entries: {keys})",
            task=name,
        )
    target = targets[0]
    recorded = {o.get("key"): o for o in record.outputs}.get(target.key, {})
    if isinstance(target, ModelTarget):
        data = _checked_bytes(store, target.key, recorded, name)
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            zf.extractall(folder)
        loader = {
            "kind": "function",
            "function": function_path(target.load_function, "load_function"),
        }
    elif isinstance(target, FileTarget):
        base = target.key.rsplit("/", 1)[-1]
        stem, dot, ext = base.partition(".")
        plain = stem.removesuffix(f"_{task.unique_id}") + dot + ext
        (folder / plain).write_bytes(_checked_bytes(store, target.key, recorded, name))
        loader = {"kind": "format", "format": f"{dot}{ext}", "file": plain}
    elif isinstance(target, DirectoryTarget):
        parts = []
        for key in sorted(store.list(target.key)):
            rel = key[len(target.key) + 1 :]
            dest = folder / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            data = store.read_bytes(key)
            dest.write_bytes(data)
            parts.append((rel, len(data), xxhash.xxh3_64_hexdigest(data)))
        _check_folder(target.key, recorded, parts, name)
        loader = {"kind": "dataset", "as": target.as_}
    else:
        raise ConfigError(
            f"zoo.push: {name}'s output is a {type(target).__name__}; the zoo takes a file "
            "(make_target), a model (make_model_target) or a folder (make_directory_target)",
            task=name,
        )
    from tasuki.core.params import to_jsonable

    task_doc = {
        "unique_id": task.unique_id,
        "name": name,
        "params": {k: to_jsonable(v) for k, v in task.param_values.items()},
        "requires": list(record.requires),
        "code_fingerprint": record.code_fingerprint,
        "workspace": store.url,
    }
    return Staged(
        folder,
        loader,
        task=task_doc,
        datasets=datasets_of(task),
        metrics={**metrics_of(record.task_log), **logged_metrics(record.metrics)},
    )


def _checked_bytes(store: Any, key: str, recorded: dict[str, Any], task: str) -> bytes:
    """The output's bytes, refused when they differ from what the task's run record says."""
    data: bytes = store.read_bytes(key)
    _check_recorded(key, recorded, len(data), xxhash.xxh3_64_hexdigest(data), task)
    return data


def _check_folder(
    key: str, recorded: dict[str, Any], parts: list[tuple[str, int, str]], task: str
) -> None:
    """Refuse a folder whose files differ from what the task's run record says (a record
    older than folder hashes has sizes only)."""
    from tasuki.formats._dataset import folder_digest

    _check_recorded(key, recorded, sum(p[1] for p in parts), folder_digest(parts), task)


def _check_recorded(key: str, recorded: dict[str, Any], size: int, found: str, task: str) -> None:
    from tasuki.errors import CorruptOutputError

    want, digest = recorded.get("size"), recorded.get("xxh3")
    if (want is not None and want != size) or (digest is not None and digest != found):
        raise CorruptOutputError(
            f"zoo.push: output {key} of {task} differs from its run record ({want} bytes, "
            f"xxh3 {digest}; it has {size} bytes, xxh3 {found}); rebuild the task before "
            "pushing it",
            key=key,
            task=task,
            expected=f"{want} bytes, xxh3 {digest}",
            found=f"{size} bytes, xxh3 {found}",
        )


def metrics_of(task_log: dict[str, Any]) -> dict[str, float]:
    """The numbers a run recorded: top-level numbers of its task log and of a nested
    ``metrics`` mapping (where ``self.log_metric`` may keep them)."""
    out: dict[str, float] = {}
    nested = task_log.get("metrics")
    for source in (task_log, nested if isinstance(nested, dict) else {}):
        for key, value in source.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                out[str(key)] = float(value)
    return out


def logged_metrics(entries: list[dict[str, Any]]) -> dict[str, float]:
    """The last value of each metric ``self.log_metric`` kept in a run record (``metrics``:
    entries with ``key``, ``value``, ``step``), as MLflow shows a metric's latest value.
    Values that are not finite numbers (kept as ``"NaN"`` and the like) are left out."""
    out: dict[str, float] = {}
    for entry in entries:
        key, value = entry.get("key"), entry.get("value")
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if isinstance(key, str) and number and math.isfinite(value):  # type: ignore[arg-type]
            out[key] = float(value)  # type: ignore[arg-type]
    return out


def datasets_of(task: Task) -> list[str]:
    """The dataset versions ``task`` reads: every dataset-input task among its parameters
    and requirements, transitively, as ``<version>@<content hash>`` strings
    (``product_a/clicks#default:1.2.0@9c1f...``).

    The zoo does not import :mod:`tasuki.datasets` (siblings never import each other): a
    dataset input is recognised by its class name (``DatasetInput``) and read through its
    parameters: ``resolved`` (the exact version a reference such as ``1.*`` resolved to),
    else ``ref``, else its first text parameter; and ``content_hash``, else the first
    parameter whose name holds ``hash``.
    """
    from tasuki.core.task import Task, flatten

    found: list[str] = []
    seen: set[str] = set()
    stack: list[Any] = [task]
    while stack:
        item = stack.pop()
        if not isinstance(item, Task):
            continue
        uid = item.unique_id
        if uid in seen:
            continue
        seen.add(uid)
        values = item.param_values
        if type(item).__name__ == "DatasetInput":
            texts = [v for v in values.values() if isinstance(v, str) and v]
            ref = values.get("resolved") or values.get("ref") or (texts[0] if texts else uid)
            hashes = [v for k, v in values.items() if "hash" in k and isinstance(v, str) and v]
            digest = values.get("content_hash") or (hashes[0] if hashes else "")
            found.append(f"{ref}@{digest}" if digest else str(ref))
        for value in values.values():
            stack.extend(_tasks_in(value))
        stack.extend(flatten(item.requires()))
    return sorted(set(found))


def _tasks_in(value: Any) -> list[Any]:
    if isinstance(value, list | tuple):
        return [t for v in value for t in _tasks_in(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tasks_in(v)]
    return [value]


def verify_files(version: ModelVersion, root: Path) -> None:
    """Check every artifact file under ``root`` against ``version``; CorruptModelError."""
    for entry in version.files:
        path = root / entry.path
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise corrupt(version, entry, "no such file") from None
        if size != entry.size:
            raise corrupt(version, entry, f"{size} bytes")
        digest = hash_file(path)
        if digest != entry.xxh3_128:
            raise corrupt(version, entry, f"{size} bytes, xxh3-128 {digest}")


def check_bytes(version: ModelVersion, entry: FileEntry, data: bytes) -> None:
    """Check one artifact file's bytes against ``version``; CorruptModelError."""
    if len(data) != entry.size:
        raise corrupt(version, entry, f"{len(data)} bytes")
    digest = xxhash.xxh3_128_hexdigest(data)
    if digest != entry.xxh3_128:
        raise corrupt(version, entry, f"{len(data)} bytes, xxh3-128 {digest}")


def corrupt(version: ModelVersion, entry: FileEntry, found: str) -> CorruptModelError:
    """The error for an artifact file that differs from its version.json."""
    want = f"{entry.size} bytes, xxh3-128 {entry.xxh3_128}"
    return CorruptModelError(
        f"model {version.ref}: artifact {entry.path} does not match its version.json "
        f"(expected {want}, found {found}). The file was changed or truncated after the push; "
        f"versions are immutable, so push the model again as a new version.",
        model=version.name,
        version=version.version,
        path=entry.path,
        expected=want,
        found=found,
    )


def load_files(version: ModelVersion, root: Path) -> Any:
    """The model from its verified files under ``root``, through the recorded loader."""
    loader = version.loader
    kind = loader.get("kind")
    try:
        if kind == "format":
            from tasuki.formats import format_for

            name = loader.get("file") or f"model{loader['format']}"
            with open(root / name, "rb") as f:
                return format_for(name).load(f)
        if kind == "function":
            from tasuki._registry import import_path

            fn = import_path(str(loader["function"]))
            return fn(root)
        if kind == "mlflow":
            return _mlflow_module(str(loader.get("flavor"))).load_model(str(root))
        if kind == "dataset":
            from tasuki.formats import read_dataset

            return read_dataset(str(root), None, as_=loader.get("as", "arrow"))
        if kind == "path":
            file = loader.get("file")
            return root / file if file else root
    except Exception as exc:
        raise ModelLoadError(
            f"model {version.ref} (content {version.content_hash[:12]}) could not be loaded "
            f"through its {version.describe_loader()}: {type(exc).__name__}: {exc}. Check "
            "that the package defining the loader (and the model's libraries) is installed "
            "in the versions the model was saved with.",
            model=version.name,
            version=version.version,
            loader=version.describe_loader(),
        ) from exc
    raise ModelLoadError(
        f"model {version.ref} records a loader of kind {kind!r}, which this tasuki does not "
        "know; upgrade tasuki",
        model=version.name,
        version=version.version,
        loader=repr(loader),
    )
